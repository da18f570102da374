"""The drawing interface the character is painted through: paths, fills, gradients, clips.

A path is a (3k+1, 2) float array of pixel points: a start point, then k cubic Bezier segments
(control, control, end), or a list of such arrays: one shape of several pieces (both eyes, both
brows), drawn in one call. Paints are plain data. `Painter` implementations (`skia_painter`,
`qt_painter`) are the only modules that import a drawing library; `backends.make_painter` picks
one by name. Both draw into a BGRA buffer that the caller owns, so the picture needs no extra
copy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

RGBA = tuple[int, int, int, int]
Path = np.ndarray | list[np.ndarray]  # one (3k+1, 2) chain, or several drawn as one shape


@dataclass(frozen=True)
class Solid:
    colour: RGBA


@dataclass(frozen=True)
class Radial:
    """A gradient out from `centre` to `radius` (pixels) through evenly spaced `colours`."""

    centre: tuple[float, float]
    radius: float
    colours: tuple[RGBA, ...]


Paint = Solid | Radial


class Painter(Protocol):
    """Draws paths into `target`, a (h, w, 4) uint8 BGRA array (premultiplied, opaque). Made
    with a `ground(target)` callable, it has that lay what the drawing goes on just before its
    first pixel: at once where each call draws at once (Qt), at `close` where the calls are
    recorded and drawn together (Skia)."""

    name: str

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        """Fill the closed `path`; `aa=False` for a fill whose edge an outline then covers (a
        quarter of the cost of an anti-aliased one)."""
        ...

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        """Stroke `path` with round caps and joins."""
        ...

    def clipped(self, path: Path, aa: bool = True) -> AbstractContextManager[None]:
        """Inside the `with`, drawing is kept within the closed `path`; `aa=False` for a clip whose
        edge a line drawn after it covers: it may then be aliased (Skia's is: drawing through an
        anti-aliased clip costs more), or stay anti-aliased where a backend cannot alias a clip
        alone (Qt)."""
        ...

    def close(self) -> None:
        """Finish: everything drawn is in the target buffer."""
        ...


def pieces(path: Path) -> list[np.ndarray]:
    """The chains of `path`."""
    return path if isinstance(path, list) else [path]


def segments(path: np.ndarray) -> Iterator[tuple[float, float, float, float, float, float]]:
    """The cubic segments of `path` as plain floats (c1x, c1y, c2x, c2y, x, y)."""
    rest = path[1:].reshape(-1, 6).tolist()
    yield from rest


class BoundsPainter:
    """A `Painter` that draws nothing: it keeps, per layer, the box of everything that would be
    drawn (a cubic curve lies inside its control points' box; a stroke grows it by half its
    width; a clip cuts it). Set `layer` before drawing a part. Used to measure a character's
    extent, and by tests to check where each part lands and that every value is finite."""

    name = "bounds"

    def __init__(self) -> None:
        self.layer = ""
        self.boxes: dict[str, np.ndarray] = {}  # layer -> [x0, y0, x1, y1]
        self.not_finite: list[str] = []  # layers that produced a NaN or infinite point
        self._clips: list[np.ndarray] = []

    def _add(self, path: Path, pad: float) -> None:
        path = np.concatenate(pieces(path))
        if not np.isfinite(path).all():
            self.not_finite.append(self.layer)
            return
        box = np.concatenate([path.min(0) - pad, path.max(0) + pad])
        for clip in self._clips:
            box = np.concatenate([np.maximum(box[:2], clip[:2]), np.minimum(box[2:], clip[2:])])
        if (box[2:] < box[:2]).any():
            return  # clipped away entirely
        old = self.boxes.get(self.layer)
        self.boxes[self.layer] = box if old is None else np.concatenate(
            [np.minimum(old[:2], box[:2]), np.maximum(old[2:], box[2:])])

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        self._add(path, 0.0)

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        self._add(path, max(width, 0.5) / 2)

    @contextmanager
    def clipped(self, path: Path, aa: bool = True) -> Iterator[None]:
        pts = np.concatenate(pieces(path))
        self._clips.append(np.concatenate([pts.min(0), pts.max(0)]))
        try:
            yield
        finally:
            self._clips.pop()

    def close(self) -> None:
        pass

    def union(self, layers: Iterable[str] | None = None) -> np.ndarray:
        """The box round `layers` (default: all)."""
        boxes = [b for k, b in self.boxes.items() if layers is None or k in layers]
        return np.concatenate([np.min([b[:2] for b in boxes], 0), np.max([b[2:] for b in boxes], 0)])


class RecordingPainter:
    """A `Painter` that keeps the calls, to replay them on another painter (`replay`), and every
    point a call can reach: all paths' points (a cubic curve lies inside its control points'
    hull) and the widest stroke's half width. `mark` records a layer's name for `on_layer`."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self._points: list[np.ndarray] = []
        self.pad = 0.0  # pixels past the points that a call may draw

    def _keep(self, path: Path) -> None:
        self._points += pieces(path)

    def points(self) -> np.ndarray:
        """(m, 2) every path's points (none: an empty array)."""
        return np.concatenate(self._points) if self._points else np.zeros((0, 2))

    def mark(self, layer: str) -> None:
        self.calls.append(("layer", layer))

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        self.calls.append(("fill", path, paint, aa))
        self._keep(path)

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        self.calls.append(("stroke", path, paint, width, closed))
        self._keep(path)
        self.pad = max(self.pad, max(width, 0.5) / 2)

    @contextmanager
    def clipped(self, path: Path, aa: bool = True) -> Iterator[None]:
        self.calls.append(("clip", path, aa))
        try:
            yield
        finally:
            self.calls.append(("end",))

    def close(self) -> None:
        pass

    def replay(self, painter: Painter, on_layer: Callable[[str], None] | None = None) -> None:
        clips: list[ExitStack] = []
        for kind, *args in self.calls:
            if kind == "fill":
                painter.fill(*args)
            elif kind == "stroke":
                painter.stroke(*args)
            elif kind == "clip":
                clips.append(ExitStack())
                clips[-1].enter_context(painter.clipped(*args))
            elif kind == "end":
                clips.pop().close()
            elif on_layer is not None:
                on_layer(args[0])
