"""Paint a `Character` in a pose (`RigParams`) with anti-aliased cv2 polygons: no camera pixel.

Shapes are built in head units (fractions of the picture side, origin at the head centre),
moved for the pose (features slide with yaw and pitch by their depth, the far eye narrows, the
whole head rotates with roll) and filled with LINE_AA at 1/16-pixel precision."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from avatar_cam.rig.character import Character
from avatar_cam.rig.params import RigParams

SHIFT = 4  # cv2 fixed-point bits: points are given in 1/16 pixels
HEAD_CENTRE = (0.5, 0.47)
YAW_GAIN = 1.4  # webcam head turns are small; the drawing turns a little more
_T = np.linspace(0.0, 2 * math.pi, 40, endpoint=False)
_X = np.linspace(-1.0, 1.0, 17)


@functools.lru_cache(maxsize=8)
def _plain(colour: tuple[int, int, int], n: int) -> np.ndarray:
    """A plain n x n picture; copying it is ~50x cheaper than filling a 3-channel array."""
    img = cv2.merge([np.full((n, n), c, np.uint8) for c in colour])
    img.flags.writeable = False
    return img


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return np.stack([cx + rx * np.cos(_T), cy + ry * np.sin(_T)], 1)


class _Canvas:
    """The picture plus the pose transform from head units to 1/16 pixels."""

    def __init__(self, ch: Character, p: RigParams):
        self.ch, self.p, self.n = ch, p, ch.size
        self.img = _plain(ch.colours["background"], self.n).copy()
        self.line = max(1, round(0.008 * self.n))
        a = math.radians(p.roll)
        s = self.n * float(np.clip(p.head_scale, 0.8, 1.25))
        self._m = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * s
        self._upright = np.eye(2) * s  # the body does not tilt with the head
        cx = (HEAD_CENTRE[0] + float(np.clip(p.head_x, -0.15, 0.15))) * self.n
        cy = (HEAD_CENTRE[1] + float(np.clip(p.head_y, -0.15, 0.15))) * self.n
        self._o = np.array([cx, cy])
        self.turn = math.sin(math.radians(p.yaw * YAW_GAIN))  # -1..1
        self.nod = -math.sin(math.radians(p.pitch))  # + features move down

    def offset(self, depth: float) -> np.ndarray:
        """How far a feature at `depth` (1: the face plane, 0: the head's axis) slides."""
        head = self.ch.part("head")
        slide = (self.turn * float(head["width"]) * 0.55, self.nod * float(head["height"]) * 0.45)
        return np.array(slide) * depth

    def px(self, pts: np.ndarray, upright: bool = False) -> np.ndarray:
        m = self._upright if upright else self._m
        return np.round((pts @ m.T + self._o) * (1 << SHIFT)).astype(np.int32)

    def fill(self, pts: np.ndarray, colour: str, outline: bool = False, upright: bool = False) -> None:
        q = self.px(pts, upright)
        cv2.fillPoly(self.img, [q], self.ch.colours[colour], cv2.LINE_AA, SHIFT)
        if outline:
            cv2.polylines(self.img, [q], True, self.ch.colours["outline"], self.line, cv2.LINE_AA, SHIFT)

    def stroke(self, pts: np.ndarray, colour: str, width: float, closed: bool = False) -> None:
        w = max(1, round(width * self.n))
        cv2.polylines(self.img, [self.px(pts)], closed, self.ch.colours[colour], w, cv2.LINE_AA, SHIFT)


def _head_outline(ch: Character) -> np.ndarray:
    h = ch.part("head")
    hw, hh, jaw = float(h["width"]), float(h["height"]), float(h["jaw"])
    x, y = hw * np.cos(_T), hh * np.sin(_T)
    low = np.clip(y / hh, 0, 1)
    return np.stack([x * (1 - (1 - jaw) * low**2), y], 1)


def _body(c: _Canvas) -> None:
    h = c.ch.part("head")
    hw, hh = float(h["width"]), float(h["height"])
    top = hh * 0.95
    pts = np.array([[-hw * 0.35, top - 0.05], [hw * 0.35, top - 0.05], [hw * 0.45, top + 0.08],
                    [hw * 1.5, top + 0.16], [hw * 1.7, 0.8], [-hw * 1.7, 0.8], [-hw * 1.5, top + 0.16],
                    [-hw * 0.45, top + 0.08]])
    c.fill(pts + c.offset(-0.15), "skin", outline=True, upright=True)
    shirt = np.array([[-hw * 0.5, top + 0.06], [0.0, top + 0.13], [hw * 0.5, top + 0.06],
                      [hw * 1.55, top + 0.15], [hw * 1.75, 0.8], [-hw * 1.75, 0.8], [-hw * 1.55, top + 0.15]])
    c.fill(shirt + c.offset(-0.15), "body", outline=True, upright=True)


def _ears(c: _Canvas) -> None:
    e, h = c.ch.part("ears"), c.ch.part("head")
    size, hw, hh = float(e["size"]), float(h["width"]), float(h["height"])
    if e["shape"] == "none" or size <= 0:
        return
    for side in (-1, 1):
        shift = c.offset(-0.4)
        if e["shape"] == "round":
            cx = side * hw * 0.97
            c.fill(_ellipse(cx, 0.0, size * 0.75, size) + shift, "skin", outline=True)
            c.fill(_ellipse(cx, 0.0, size * 0.4, size * 0.6) + shift, "ear_inner")
        else:
            base_in, base_out = side * hw * 0.2, side * hw * 0.98
            tip = np.array([side * hw * 0.85, -hh - size * 1.4])
            outer = np.array([[base_in, -hh * 0.85], tip, [base_out, -hh * 0.3]])
            inner = outer * 0.78 + outer.mean(0) * 0.22
            c.fill(outer + shift, "skin", outline=True)
            c.fill(inner + shift, "ear_inner")


def _hair(c: _Canvas) -> None:
    hair, h = c.ch.part("hair"), c.ch.part("head")
    hw, hh = float(h["width"]), float(h["height"])
    shift = c.offset(0.35)
    if hair["shape"] == "fringe":
        t = np.linspace(math.pi * 0.97, math.pi * 2.03, 28)
        cap = np.stack([hw * 1.06 * np.cos(t), hh * 1.08 * np.sin(t) - 0.005], 1)
        xs = np.linspace(hw * 0.98, -hw * 0.98, 9)
        ys = -hh * 0.42 + 0.03 * np.abs(np.sin(np.linspace(0, 4 * math.pi, 9)))
        ys[[0, -1]] = -hh * 0.05
        c.fill(np.concatenate([cap, np.stack([xs, ys], 1)]) + shift, "hair", outline=True)
    elif hair["shape"] == "stripes":
        for x in (-0.35, 0.0, 0.35):
            w = 0.035 if x else 0.045
            pts = np.array([[hw * x - w, -hh * 0.98], [hw * x + w, -hh * 0.98], [hw * x, -hh * 0.62]])
            c.fill(pts + shift, "hair")


def _eye(c: _Canvas, side: int, openness: float) -> None:
    e = c.ch.part("eyes")
    ew = float(e["width"]) * (1 - 0.3 * side * c.turn)  # the eye on the far side narrows
    eh = float(e["height"])
    cx, cy = side * float(e["spacing"]) + c.offset(1.0)[0], float(e["y"]) + c.offset(1.0)[1]
    s = np.sqrt(np.clip(1 - _X**2, 0, 1))
    xs = cx + ew * _X
    if openness < 0.12:  # closed: a lash line along the lower lid
        c.stroke(np.stack([xs, cy + eh * 0.35 * s], 1), "outline", 0.012)
        return
    top = np.stack([xs, cy + eh * s * (1 - 2 * openness)], 1)
    bottom = np.stack([xs[::-1], cy + eh * s[::-1]], 1)
    poly = np.concatenate([top, bottom])
    c.fill(poly, "eye_white")
    # the iris is painted on a copy of the eye's box and kept only inside the eye's shape
    q = c.px(poly)
    x0, y0 = np.maximum(q.min(0) >> SHIFT, 0)
    x1, y1 = np.minimum((q.max(0) >> SHIFT) + 2, c.n)
    if x1 > x0 and y1 > y0:
        roi = c.img[y0:y1, x0:x1]
        painted = roi.copy()
        mask = np.zeros(roi.shape[:2], np.uint8)
        off = np.array([x0, y0]) << SHIFT
        cv2.fillPoly(mask, [q - off], 255, cv2.LINE_AA, SHIFT)
        r = eh * float(e["iris"])
        gx = cx + c.p.gaze_x * ew * 0.5
        gy = cy + c.p.gaze_y * eh * 0.35
        for pts, col in ((_ellipse(gx, gy, r, r), "iris"), (_ellipse(gx, gy, r * 0.5, r * 0.5), "pupil"),
                         (_ellipse(gx + r * 0.35, gy - r * 0.4, r * 0.22, r * 0.22), "eye_white")):
            cv2.fillPoly(painted, [c.px(pts) - off], c.ch.colours[col], cv2.LINE_AA, SHIFT)
        w = (mask.astype(np.float32) * (1 / 255))
        roi[:] = cv2.blendLinear(painted, roi, w, 1 - w)
    c.stroke(poly, "outline", 0.006, closed=True)
    c.stroke(top, "outline", 0.014)


def _brows(c: _Canvas) -> None:
    b, e = c.ch.part("brows"), c.ch.part("eyes")
    bw, th = float(b["width"]), float(b["thickness"])
    if bw <= 0 or th <= 0:
        return
    for side, raise_ in ((-1, c.p.brow_r), (1, c.p.brow_l)):
        cx = side * float(e["spacing"]) + c.offset(1.0)[0]
        cy = float(b["y"]) - 0.025 * raise_ + c.offset(1.0)[1]
        arch = -0.018 - 0.012 * raise_
        x = cx + bw * _X
        y = cy + arch * (1 - _X**2) + side * _X * 0.006 * raise_  # inner end rises when raised
        taper = th * (0.55 + 0.45 * (1 - _X**2))
        c.fill(np.concatenate([np.stack([x, y - taper / 2], 1), np.stack([x, y + taper / 2], 1)[::-1]]),
               "brow")


def _nose(c: _Canvas) -> None:
    n = c.ch.part("nose")
    size = float(n["size"])
    if n["shape"] == "none" or size <= 0:
        return
    o = c.offset(1.3)
    x, y = o[0], float(n["y"]) + o[1]
    if n["shape"] == "dot":
        c.fill(_ellipse(x, y, size * 1.2, size * 0.8), "nose")
    else:
        top = y - size * 0.6
        tri = np.array([[x - size * 1.3, top], [x + size * 1.3, top], [x, y + size * 0.7]])
        c.fill(tri, "nose", outline=True)


def _cheeks(c: _Canvas) -> None:
    ch, e = c.ch.part("cheeks"), c.ch.part("eyes")
    size = float(ch["size"])
    o = c.offset(0.9)
    for side in (-1, 1):
        x = side * float(e["spacing"]) * 1.3 + o[0]
        y = float(e["y"]) + float(e["height"]) + size * 1.2 + o[1]
        if size > 0:
            c.fill(_ellipse(x, y, size * 1.3 * (1 - 0.3 * side * c.turn), size * 0.8), "cheek")
        if ch["whiskers"]:
            for k in (-1, 0, 1):
                start = np.array([x + side * size * 0.6, y + k * 0.012])
                end = start + np.array([side * 0.09, k * 0.025 - 0.006])
                c.stroke(np.stack([start, end]), "outline", 0.004)


def _mouth(c: _Canvas) -> None:
    m, p = c.ch.part("mouth"), c.p
    o = c.offset(1.0)
    w = float(m["width"]) * (1 + 0.25 * p.mouth_width) * (1 - 0.1 * p.mouth_open)
    cx, cy = o[0], float(m["y"]) + o[1]
    bend = (1 - _X**2)
    mid = cy + w * (0.35 * p.smile * bend - 0.1 * p.smile)
    drop = w * 1.5 * p.mouth_open * bend**0.8
    xs = cx + w * _X
    upper, lower = mid - 0.15 * drop, mid + drop
    # lips round the opening: Face Mesh (trained on people) reads a lipless line as parted lips
    lip = w * 0.22 * bend**0.6
    c.fill(np.concatenate([np.stack([xs, upper - lip], 1), np.stack([xs, lower + lip * 1.2], 1)[::-1]]),
           "cheek")
    if p.mouth_open < 0.08:
        c.stroke(np.stack([xs, mid], 1), "outline", 0.006)
        return
    c.fill(np.concatenate([np.stack([xs, upper], 1), np.stack([xs, lower], 1)[::-1]]), "mouth")
    inner = np.abs(_X) < 0.7
    xi, ui, li = xs[inner], upper[inner], lower[inner]
    if p.mouth_open > 0.25:
        teeth = ui + 0.22 * (li - ui)
        c.fill(np.concatenate([np.stack([xi, ui], 1), np.stack([xi, teeth], 1)[::-1]]), "teeth")
    tongue = li - 0.38 * (li - ui)
    c.fill(np.concatenate([np.stack([xi, tongue], 1), np.stack([xi, li], 1)[::-1]]), "tongue")
    c.stroke(np.concatenate([np.stack([xs, upper], 1), np.stack([xs, lower], 1)[::-1]]), "outline",
             0.008, closed=True)


def draw_character(ch: Character, p: RigParams) -> np.ndarray:
    """RGB uint8 (size, size, 3): the character in pose `p`."""
    c = _Canvas(ch, p)
    _body(c)
    _ears(c)
    c.fill(_head_outline(ch) + c.offset(0.12), "skin", outline=True)
    _hair(c)
    _cheeks(c)
    _eye(c, -1, p.eye_open_r)  # the person's right eye is on the image left
    _eye(c, 1, p.eye_open_l)
    _brows(c)
    _nose(c)
    _mouth(c)
    return c.img
