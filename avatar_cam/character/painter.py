"""The drawing interface the character is painted through: paths, fills, gradients, clips.

A path is a (3k+1, 2) float array of pixel points: a start point, then k cubic Bezier segments
(control, control, end). Paints are plain data. `Painter` implementations (`skia_painter`,
`qt_painter`) are the only modules that import a drawing library; `backends.make_painter` picks
one by name. Both draw into a BGRA buffer that the caller owns, so the picture needs no extra
copy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

RGBA = tuple[int, int, int, int]


@dataclass(frozen=True)
class Solid:
    colour: RGBA


@dataclass(frozen=True)
class Linear:
    """A gradient from `start` to `end` (pixels) through evenly spaced `colours`."""

    start: tuple[float, float]
    end: tuple[float, float]
    colours: tuple[RGBA, ...]


@dataclass(frozen=True)
class Radial:
    centre: tuple[float, float]
    radius: float
    colours: tuple[RGBA, ...]


Paint = Solid | Linear | Radial


class Painter(Protocol):
    """Draws paths into `target`, a (h, w, 4) uint8 BGRA array (premultiplied, opaque)."""

    name: str

    def fill(self, path: np.ndarray, paint: Paint) -> None:
        """Fill the closed `path`."""
        ...

    def stroke(self, path: np.ndarray, paint: Paint, width: float, closed: bool = False) -> None:
        """Stroke `path` with round caps and joins."""
        ...

    def clipped(self, path: np.ndarray) -> AbstractContextManager[None]:
        """Inside the `with`, drawing is kept within the closed `path`."""
        ...

    def close(self) -> None:
        """Finish: everything drawn is in the target buffer."""
        ...


def segments(path: np.ndarray) -> Iterator[tuple[float, float, float, float, float, float]]:
    """The cubic segments of `path` as plain floats (c1x, c1y, c2x, c2y, x, y)."""
    rest = path[1:].reshape(-1, 6).tolist()
    yield from rest
