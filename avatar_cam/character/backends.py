"""The drawing backends by name: Skia (the default: measured faster at 1280x720) or Qt's QPainter."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from avatar_cam.character.painter import Painter

BACKENDS = ("skia", "qt")


def make_painter(backend: str, target: np.ndarray,
                 ground: Callable[[np.ndarray], None] | None = None) -> Painter:
    """A painter drawing into `target` with `backend`; `close()` it when done. `ground(target)`
    lays what the drawing goes on, just before the painter's first pixel (`Painter`)."""
    if backend == "skia":
        from avatar_cam.character.skia_painter import SkiaPainter

        return SkiaPainter(target, ground)
    if backend == "qt":
        from avatar_cam.character.qt_painter import QtPainter

        return QtPainter(target, ground)
    raise ValueError(f"unknown drawing backend {backend!r} ({' or '.join(BACKENDS)})")
