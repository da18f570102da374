"""`Painter` on Skia (skia-python): analytic anti-aliasing on the CPU raster backend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import skia

from avatar_cam.character.painter import Linear, Paint, Path, Solid, pieces, segments


def _colour(c: tuple[int, int, int, int]) -> int:
    return skia.Color(c[0], c[1], c[2], c[3])


def _path(shape: Path, closed: bool) -> skia.Path:
    path = skia.Path()
    for pts in pieces(shape):
        path.moveTo(float(pts[0, 0]), float(pts[0, 1]))
        cubic = path.cubicTo
        for c1x, c1y, c2x, c2y, x, y in segments(pts):
            cubic(c1x, c1y, c2x, c2y, x, y)
        if closed:
            path.close()
    return path


class SkiaPainter:
    name = "skia"

    def __init__(self, target: np.ndarray):
        self._surface = skia.Surface(target, colorType=skia.kBGRA_8888_ColorType,
                                     alphaType=skia.kPremul_AlphaType)
        self._canvas = self._surface.getCanvas()
        self._solid, self._shaded, self._aliased = (skia.Paint(AntiAlias=aa) for aa in (True, True, False))
        for p in (self._solid, self._shaded):
            p.setStrokeCap(skia.Paint.kRound_Cap)
            p.setStrokeJoin(skia.Paint.kRound_Join)

    def _set(self, paint: Paint) -> skia.Paint:
        if isinstance(paint, Solid):
            self._solid.setColor(_colour(paint.colour))
            return self._solid
        p = self._shaded
        if isinstance(paint, Linear):
            p.setShader(skia.GradientShader.MakeLinear(
                [skia.Point(*paint.start), skia.Point(*paint.end)], [_colour(c) for c in paint.colours]))
        else:
            p.setShader(skia.GradientShader.MakeRadial(
                skia.Point(*paint.centre), max(paint.radius, 1e-3), [_colour(c) for c in paint.colours]))
        return p

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        if not aa and isinstance(paint, Solid):
            self._aliased.setColor(_colour(paint.colour))
            self._canvas.drawPath(_path(path, True), self._aliased)
            return
        p = self._set(paint)
        p.setStyle(skia.Paint.kFill_Style)
        self._canvas.drawPath(_path(path, True), p)

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        p = self._set(paint)
        p.setStyle(skia.Paint.kStroke_Style)
        p.setStrokeWidth(max(width, 0.5))
        self._canvas.drawPath(_path(path, closed), p)

    @contextmanager
    def clipped(self, path: Path) -> Iterator[None]:
        self._canvas.save()
        self._canvas.clipPath(_path(path, True), skia.ClipOp.kIntersect, True)
        try:
            yield
        finally:
            self._canvas.restore()

    def close(self) -> None:
        self._surface.flushAndSubmit()
