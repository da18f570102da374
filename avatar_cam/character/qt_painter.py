"""`Painter` on Qt's QPainter over a QImage that wraps the caller's buffer (no display needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QRadialGradient,
)

from avatar_cam.character.painter import Paint, Path, Solid, pieces, segments


def _path(shape: Path, closed: bool) -> QPainterPath:
    path = QPainterPath()
    for pts in pieces(shape):
        path.moveTo(QPointF(float(pts[0, 0]), float(pts[0, 1])))
        for c1x, c1y, c2x, c2y, x, y in segments(pts):
            path.cubicTo(c1x, c1y, c2x, c2y, x, y)
        if closed:
            path.closeSubpath()
    return path


def _brush(paint: Paint) -> QBrush:
    if isinstance(paint, Solid):
        return QBrush(QColor(*paint.colour))
    grad = QRadialGradient(QPointF(*paint.centre), paint.radius)
    n = len(paint.colours)
    for i, c in enumerate(paint.colours):
        grad.setColorAt(i / max(n - 1, 1), QColor(*c))
    return QBrush(grad)


class QtPainter:
    name = "qt"

    def __init__(self, target: np.ndarray, ground: Callable[[np.ndarray], None] | None = None):
        if ground is not None:
            ground(target)  # each call draws at once
        h, w = target.shape[:2]
        self._target = target  # the QImage borrows this memory; keep it alive
        self._image = QImage(target.data, w, h, w * 4, QImage.Format.Format_ARGB32_Premultiplied)
        self._p = QPainter(self._image)
        self._p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._p.setPen(Qt.PenStyle.NoPen)

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        self._p.setRenderHint(QPainter.RenderHint.Antialiasing, aa)
        self._p.setPen(Qt.PenStyle.NoPen)
        self._p.setBrush(_brush(paint))
        self._p.drawPath(_path(path, True))

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        self._p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(_brush(paint), max(width, 0.5), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                   Qt.PenJoinStyle.RoundJoin)
        self._p.setPen(pen)
        self._p.setBrush(Qt.BrushStyle.NoBrush)
        self._p.drawPath(_path(path, closed))

    @contextmanager
    def clipped(self, path: Path, aa: bool = True) -> Iterator[None]:
        # Qt applies a clip path with each drawing's own anti-aliasing: `aa` cannot alias it alone
        self._p.save()
        self._p.setClipPath(_path(path, True), Qt.ClipOperation.IntersectClip)
        try:
            yield
        finally:
            self._p.restore()

    def close(self) -> None:
        self._p.end()
