"""`Painter` on Skia (skia-python): analytic anti-aliasing on the CPU raster backend. Paths are
handed over in Skia's own serialised form, written with numpy (one call into the binding a path,
where building it cubic by cubic took one a cubic); paints are set up once per painter. A frame's
calls are recorded into a picture and drawn in one pass at `close`: Skia's rasteriser then runs
with its code and data in the cache, not between stretches of our Python geometry (3% of a
frame, the same pixels); the ground (`Painter`) is laid just before that pass, so the fresh
background is still in the cache when drawn on."""

from __future__ import annotations

import functools
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import skia

from avatar_cam.character.painter import Paint, Path, Radial, Solid, pieces, segments


@functools.lru_cache(maxsize=512)
def _colour(c: tuple[int, int, int, int]) -> int:
    return skia.Color(c[0], c[1], c[2], c[3])


def _path_by_calls(shape: Path, closed: bool) -> skia.Path:
    path = skia.Path()
    for pts in pieces(shape):
        path.moveTo(float(pts[0, 0]), float(pts[0, 1]))
        cubic = path.cubicTo
        for c1x, c1y, c2x, c2y, x, y in segments(pts):
            cubic(c1x, c1y, c2x, c2y, x, y)
        if closed:
            path.close()
    return path


_MOVE, _CUBIC, _CLOSE = b"\x00", b"\x04", b"\x05"  # SkPath's verbs


@functools.lru_cache(maxsize=1024)
def _framing(lengths: tuple[int, ...], closed: bool) -> tuple[bytes, bytes]:
    """The header and the verb bytes (padded to 4) of SkPath's serialised form for chains of
    `lengths` points: the points go between them."""
    verbs = b"".join(_MOVE + _CUBIC * ((n - 1) // 3) + (_CLOSE if closed else b"") for n in lengths)
    header = struct.pack("<4i", 5, sum(lengths), 0, len(verbs))  # version 5, winding fill, verb count
    return header, verbs + b"\x00" * (-len(verbs) % 4)


def _read(shape: Path, closed: bool) -> skia.Path | None:
    """The path read from SkPath's serialised form, made with numpy (None: Skia refused it)."""
    # `pieces` inline: ~40 paths a frame, and its call and list were 0.6% of a frame's instructions
    if isinstance(shape, list):
        pts, lengths = (shape[0] if len(shape) == 1 else np.concatenate(shape)), tuple(map(len, shape))
    else:
        pts, lengths = shape, (len(shape),)
    header, verbs = _framing(lengths, closed)
    path = skia.Path()
    return path if path.readFromMemory(header + pts.astype("<f4").tobytes() + verbs) else None


def _path_from_memory(shape: Path, closed: bool) -> skia.Path:
    """One call into Skia a path instead of one a cubic (each call through the binding costs
    ~4,000 instructions; a frame has ~430 cubics)."""
    path = _read(shape, closed)
    return _path_by_calls(shape, closed) if path is None else path


def _reads_back() -> bool:
    """Whether this Skia reads our serialised paths as the paths built call by call (the format
    is Skia's own and may change between releases)."""
    sample = [np.array([[0, 0], [1, 2], [3, 4], [5, 6]], np.float64),
              np.array([[7.25, 8], [9, 10], [11, 12.5], [13, 14], [15, 16], [17, 18], [19, 20]], np.float64)]
    try:
        read = [(_read(sample, closed), closed) for closed in (False, True)]
    except (ValueError, RuntimeError, struct.error):
        return False
    return all(path is not None
               and bytes(path.serialize()) == bytes(_path_by_calls(sample, closed).serialize())
               for path, closed in read)


_path = _path_from_memory if _reads_back() else _path_by_calls


class _Paints(threading.local):
    """One paint per use, made once per thread (a frame then changes only colours, widths and
    gradients; each draw sets what it uses, so nothing carries over between painters)."""

    def __init__(self) -> None:
        fill, line = skia.Paint.kFill_Style, skia.Paint.kStroke_Style
        self.fill, self.aliased, self.shaded_fill = (
            skia.Paint(AntiAlias=aa, Style=fill) for aa in (True, False, True))
        cap, join = skia.Paint.kRound_Cap, skia.Paint.kRound_Join
        self.line, self.shaded_line = (
            skia.Paint(AntiAlias=True, Style=line, StrokeCap=cap, StrokeJoin=join) for _ in range(2))


_PAINTS = _Paints()


class SkiaPainter:
    """Records the calls (`_canvas` is a picture recorder's); `close` draws them into `target`."""

    name = "skia"

    def __init__(self, target: np.ndarray, ground: Callable[[np.ndarray], None] | None = None):
        self._target = target
        self._ground = ground
        self._recorder = skia.PictureRecorder()
        self._canvas = self._recorder.beginRecording(target.shape[1], target.shape[0])
        self._paints = _PAINTS

    @staticmethod
    def _shade(p: skia.Paint, paint: Radial) -> skia.Paint:
        p.setShader(skia.GradientShader.MakeRadial(
            skia.Point(*paint.centre), max(paint.radius, 1e-3), [_colour(c) for c in paint.colours]))
        return p

    def fill(self, path: Path, paint: Paint, aa: bool = True) -> None:
        if isinstance(paint, Solid):
            p = self._paints.fill if aa else self._paints.aliased
            p.setColor(_colour(paint.colour))
        else:
            p = self._shade(self._paints.shaded_fill, paint)
        self._canvas.drawPath(_path(path, True), p)

    def stroke(self, path: Path, paint: Paint, width: float, closed: bool = False) -> None:
        if isinstance(paint, Solid):
            p = self._paints.line
            p.setColor(_colour(paint.colour))
        else:
            p = self._shade(self._paints.shaded_line, paint)
        p.setStrokeWidth(max(width, 0.5))
        self._canvas.drawPath(_path(path, closed), p)

    @contextmanager
    def clipped(self, path: Path, aa: bool = True) -> Iterator[None]:
        self._canvas.save()
        self._canvas.clipPath(_path(path, True), skia.ClipOp.kIntersect, aa)
        try:
            yield
        finally:
            self._canvas.restore()

    def close(self) -> None:
        if self._ground is not None:
            self._ground(self._target)
        surface = skia.Surface(self._target, colorType=skia.kBGRA_8888_ColorType,
                               alphaType=skia.kPremul_AlphaType)
        self._recorder.finishRecordingAsPicture().playback(surface.getCanvas())
        surface.flushAndSubmit()
