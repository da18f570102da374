"""The face: head shape, ears, eyes, brows, nose, mouth, cheeks, snout, markings, facial hair,
glasses. Each style is a function of the `Scene`; the registries (`FACE_SHAPES`, `EYE_SHAPES`, ...)
are the choices a character file may name.

Sizes are chosen for the picture a classmate sees at 1280x720 (face ~270 px wide): a fully open
mouth is ~55 px tall, a raised brow moves ~16 px, the irises travel half an eye width."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from avatar_cam.character.geometry import apply, ellipse, join, polyline, reverse, smooth, xy
from avatar_cam.character.params import Pose
from avatar_cam.character.scene import Scene, shade, split_points

EYE_X, EYE_Y = 0.215, 0.0
BROW_Y = -0.13  # Face Mesh reads a raised brow only up to ~0.2 face widths over the eye
NOSE_Y = 0.2
MOUTH_Y = 0.4
CHIN_Y = 0.64
JAW_DROP = 0.09  # head units the chin moves at mouth_open 1
HEAD_LINE = 0.012  # head units: the head outline's width

# -- head shape ---------------------------------------------------------------------------------
# right half of each outline, top centre to chin (x >= 0); mirrored for the left
_OUTLINES = {
    "round": [(0.0, -0.74), (0.33, -0.66), (0.49, -0.38), (0.53, -0.02), (0.49, 0.3), (0.36, 0.52),
              (0.18, 0.62)],
    "oval": [(0.0, -0.76), (0.31, -0.68), (0.47, -0.4), (0.5, -0.02), (0.45, 0.31), (0.31, 0.53),
             (0.15, 0.64)],
    "square": [(0.0, -0.74), (0.36, -0.68), (0.5, -0.4), (0.52, -0.02), (0.51, 0.3), (0.43, 0.5),
               (0.24, 0.61)],
    "heart": [(0.0, -0.72), (0.37, -0.66), (0.53, -0.38), (0.53, -0.02), (0.44, 0.3), (0.26, 0.52),
              (0.1, 0.64)],
    "long": [(0.0, -0.8), (0.3, -0.72), (0.45, -0.44), (0.48, -0.02), (0.45, 0.34), (0.32, 0.57),
             (0.15, 0.68)],
}
FACE_SHAPES = tuple(_OUTLINES)


def outline_points(shape: str, jaw: float) -> np.ndarray:
    """The closed head outline (n, 2) in head units; the lower face stretches with `jaw`."""
    pts, low = _outline_at_rest(shape)
    out = pts.copy()
    out[:, 1] += (JAW_DROP * drawn_opening(jaw)) * low
    return out


@functools.lru_cache(maxsize=16)
def _outline_at_rest(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """The head outline with the mouth shut, and how much of the jaw's drop each point takes."""
    right = np.array(_OUTLINES[shape])
    left = right[:0:-1] * [-1, 1]
    pts = np.concatenate([right, [(0.0, right[-1, 1] + 0.02)], left])
    low = np.clip(pts[:, 1] / 0.6, 0, 1) ** 1.5
    pts.flags.writeable = low.flags.writeable = False
    return pts, low


def head_path(s: Scene, chin: float = 0.0) -> np.ndarray:
    """The outline turns little (it is the skull's silhouette), the chin more: it sticks out.
    `chin` > 0 grows the lower face by that many head units (the region a beard may cover).
    Made once a frame per `chin` (the head, its clip and the markings share it)."""
    key = ("head_path", chin)
    if key not in s.memo:
        s.memo[key] = _head_path(s, chin)
    return s.memo[key]


def _head_path(s: Scene, chin: float) -> np.ndarray:
    pts = outline_points(s.parts["face"]["shape"], s.pose.mouth_open)
    if chin:
        low = np.clip(pts[:, 1] / 0.64, 0, 1) ** 2
        pts = pts + chin * low[:, None] * [[0.4, 1.0]] * np.stack([np.sign(pts[:, 0]), np.ones(len(pts))], 1)
    return as_outline(s, smooth(pts))


def as_outline(s: Scene, pts: np.ndarray) -> np.ndarray:
    """Head units to pixels as the head's outline turns: little (it is the skull's silhouette),
    the chin more (it sticks out)."""
    depth = 0.08 + 0.22 * np.clip(pts[:, 1] / 0.64, 0, 1) ** 2
    return apply(s.head_m, pts + depth[:, None] * s.head.shift(1.0))


def draw_head(s: Scene) -> None:
    skin = s.colour("face", "skin")
    path = head_path(s)
    s.outlined(path, skin, s.outline, HEAD_LINE)  # flat: a large gradient fill costs ~20x a flat one


# -- ears -----------------------------------------------------------------------------------------
def _human_ears(s: Scene) -> None:
    """Ears on the sides of the head: the far one turns in behind the head, the near one stays on
    the silhouette and shows more of itself (seen from the side)."""
    skin = s.colour("face", "skin")
    inner = s.colour("ears", "inner")
    turn = math.sin(math.radians(s.pose.yaw))
    for side in (-1, 1):
        near = max(0.0, -side * turn)  # 0 facing the camera, ~0.7 at a full turn
        anchor = (side * 0.5, 0.04)
        ear = ellipse(side * 0.535, 0.04, 0.085 * (1 + 0.5 * near), 0.13)
        curl = np.array([[side * 0.5, -0.04], [side * 0.56, -0.02], [side * 0.57, 0.05], [side * 0.52, 0.1]])
        # the near ear blends from turning round the axis to sliding with the silhouette
        k = min(1.0, 4 * near)
        both = np.concatenate([ear, smooth(curl, closed=False)])
        # k = 0 (the far ear; both facing the camera): turning round the axis only; k = 1: sliding
        # with the silhouette. Each way moves every point alike, so the blend is one move
        (ax, ay), (fx, fy) = s.anchor_shift(anchor, -0.05), s.head.shift(0.08).tolist()
        placed = apply(s.head_m, both + ((1 - k) * ax + k * fx, (1 - k) * ay + k * fy))
        path, curl_px = placed[:len(ear)], placed[len(ear):]
        s.outlined(path, skin, s.outline, 0.012)
        s.stroke(curl_px, shade(inner, 0.85), 0.014)


def _pointed(tip: tuple[float, float], base_in: float, base_out: float, base_y: float, out_y: float,
             side: int) -> np.ndarray:
    return np.array([[side * base_in, base_y], [side * tip[0], tip[1]], [side * base_out, out_y]])


def _animal_ears(kind: str) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        skin = s.colour("face", "skin")
        inner = s.colour("ears", "inner")
        for side in (-1, 1):
            if kind in ("cat", "fox"):
                big = 1.25 if kind == "fox" else 1.0
                tri = _pointed((0.4, -0.72 - 0.3 * big), 0.12, 0.5, -0.6, -0.2, side)
                outer = smooth(tri, tension=0.35)
                inn = smooth(tri * 0.72 + tri.mean(0) * 0.28, tension=0.35)
            elif kind == "bunny":
                outer = ellipse(side * 0.2, -1.05, 0.11, 0.4)
                inn = ellipse(side * 0.2, -1.02, 0.055, 0.3)
            elif kind == "dog":
                outer = smooth(np.array([[side * 0.36, -0.62], [side * 0.62, -0.5], [side * 0.7, -0.05],
                                         [side * 0.6, 0.2], [side * 0.48, -0.1], [side * 0.4, -0.45]]))
                inn = None
            else:  # bear, mouse: round ears on top
                r = 0.24 if kind == "mouse" else 0.16
                outer = ellipse(side * 0.4, -0.62, r, r)
                inn = ellipse(side * 0.4, -0.6, r * 0.58, r * 0.58)
            anchor = (side * 0.38, -0.62)
            path = s.anchored(outer, anchor, 0.0)
            s.outlined(path, shade(skin, 0.92) if kind == "dog" else skin, s.outline, 0.012)
            if inn is not None:
                s.fill(s.anchored(inn, anchor, 0.0), inner)
    return draw


EAR_STYLES: dict[str, Callable[[Scene], None]] = {
    "human": _human_ears, "cat": _animal_ears("cat"), "fox": _animal_ears("fox"),
    "bear": _animal_ears("bear"), "mouse": _animal_ears("mouse"), "bunny": _animal_ears("bunny"),
    "dog": _animal_ears("dog"), "none": lambda s: None,
}


# -- eyes -----------------------------------------------------------------------------------------
# (half-width, open half-height over the eye line, lower lid depth, outer corner lift, lid weight)
EYE_SHAPES = {
    "round": (0.1, 0.085, 0.5, 0.0, 1.0),
    "almond": (0.11, 0.07, 0.4, 0.018, 1.1),
    "wide": (0.105, 0.095, 0.6, 0.0, 0.9),
    "sleepy": (0.105, 0.065, 0.45, -0.008, 1.3),
    "narrow": (0.11, 0.055, 0.35, 0.012, 1.2),
}
_U = np.linspace(-1.0, 1.0, 7)  # across the eye, inner corner (-1) to outer (+1)
_EYE_BULGE = np.sqrt(np.maximum(1 - _U**2, 0))
_ZERO_X = np.zeros_like(_U)  # a lid moved straight up or down: no x offsets
_UNIT_CIRCLE = ellipse(0.0, 0.0, 1.0, 1.0)


def _lids(shape: str, size: float, side: float, opening: float,
          one: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower lid (head units), both inner corner to outer corner, of an eye `shape` of
    `size` on `side`, drawn `opening` open (0..1.5). Linear in `side`, `one` (1 for an eye; the
    unit weights for `_open_eye_basis`) and `opening`."""
    a, b, low, lift, _ = EYE_SHAPES[shape]
    a, b = a * size, b * size
    # inner corner nearest the nose; the outer corner sits higher on almond eyes
    lower = xy(side * (EYE_X + a * _U), one * (EYE_Y + b * low * _EYE_BULGE - lift * (_U + 1) / 2))
    return lower - xy(_ZERO_X, opening * b * (1 + low) * _EYE_BULGE**0.8), lower


# below this openness the eye is drawn shut: a blink or closed eyes measure 0.02-0.09 on Face Mesh
# (openness 0.07-0.3 on the population's neutral 0.29), and drawn as a slit they looked like eyes
# glancing down, not a blink. Just above it the eye is a thin slit (a quarter of its height): an
# eye closing or opening through a blink reads 0.07-0.15 on the person, and the third-open slit
# drawn there before read 0.15 (7154235's frame 14: 0.085 on the camera, 0.148 drawn)
EYE_SHUT = 0.35
EYE_SYNC = 0.8
EYE_TURN = 0.5  # the far eye keeps half its foreshortening: the read-back asymmetry of a real face
# A face tracker reads a turned drawn face's near eye about 15% less open at 20 degrees than facing
# the camera (and the far eye 28% more), which a person's eyes do not do (800 random poses of
# `sunny` at 1280x720, none from a clip: -0.009 / +0.015 a degree). The near eye is drawn that
# much more open (0.0085: where equal eyes, turned 20 degrees either way, level and nodding, read
# back as open as each other; 0.006 when the eyes' measure still carried the person's turn, stop
# 48), faded in from a drawn opening of 0.4 to 0.6 so that a blink's slits keep their height. The
# far eye is not made up: drawn less open it read as a squint at 1280x720.
NEAR_EYE_MAKEUP = 0.0085  # a degree the head turns towards the eye
NEAR_EYE_MAKEUP_TURN = 25.0  # degrees: the bias was measured to here; past it, no more (a big round eye)
# openness parameter -> drawn openness (1: the shape's full height), so that the eye opening a face
# tracker reads back from the drawing is proportional to the parameter (measured on the round eye
# at 1280x720: a thin slit reads as a closed eye, half open as ~0.26, fully open as ~0.46)
_EYE_DRAWN = ((EYE_SHUT, 0.26), (0.375, 0.3), (0.56, 0.4), (0.72, 0.5), (0.875, 0.7), (1.125, 0.85),
              (1.2, 1.0), (1.5, 1.05))


def drawn_openness(openness: float) -> float:
    """How open the eye is drawn; 0 draws the closed lid."""
    if openness < EYE_SHUT:
        return 0.0
    xs, ys = zip(*_EYE_DRAWN, strict=True)
    return float(np.interp(openness, xs, ys))


def eye_openness(pose: Pose, made_up: bool = True) -> dict[int, float]:
    """The drawn openness of each eye by side (-1: the person's right, drawn image-left). Eyes
    move together unless the person winks: two eyes measured close to each other are drawn closer
    still (`EYE_SYNC`: a tracker's small disagreement between them is noise, and a half-shut pair
    drawn a little apart reads as a wink), a wide difference is kept. A blink closes both: when
    one eye is drawn shut and the other is under half open, that one shuts too (eyes cross the
    threshold a frame apart). Both eyes are decided at once, from the same drawn values, so a
    blink never draws one shut and the other open (deciding each eye from the other's raw value
    did, for a frame, in 651's blinks). `made_up`: the near eye of a turned head opened for a
    tracker's read of it (`NEAR_EYE_MAKEUP`)."""
    r, left = pose.eye_r, pose.eye_l
    pull = EYE_SYNC * max(0.0, 1.0 - abs(r - left) / 0.4)
    middle = (r + left) / 2
    r, left = r + pull * (middle - r), left + pull * (middle - left)
    drawn_r, drawn_l = drawn_openness(r), drawn_openness(left)
    if drawn_r == 0.0 and left < 0.6:
        drawn_l = 0.0
    if drawn_l == 0.0 and r < 0.6:
        drawn_r = 0.0
    drawn = {-1: drawn_r, 1: drawn_l}
    return {side: drawn[side] * _turned_width(side, pose.yaw) ** EYE_TURN
            * (_turn_makeup(side, pose.yaw, drawn[side]) if made_up else 1.0) for side in (-1, 1)}


def _turn_makeup(side: int, yaw: float, drawn: float) -> float:
    """What an eye drawn `drawn` open is multiplied by on a head turned `yaw` degrees: the near
    eye opened so that a face tracker reads it as open as facing the camera (`NEAR_EYE_MAKEUP`)."""
    towards = min(-side * yaw, NEAR_EYE_MAKEUP_TURN)  # > 0: the head turns towards it, the near eye
    if towards <= 0:
        return 1.0
    fade = min(max((drawn - 0.4) / 0.2, 0.0), 1.0)
    return 1.0 + fade * (1.0 / (1.0 - NEAR_EYE_MAKEUP * towards) - 1.0)


def _turned_width(side: int, yaw: float) -> float:
    """How much narrower (< 1) or wider an eye is seen on the turned head than facing the camera."""
    at = math.asin(EYE_X / 0.5) * side
    return math.cos(at + math.radians(yaw)) / math.cos(at)


@functools.lru_cache(maxsize=32)
def _open_eye_basis(shape: str, size: float, flicked: bool) -> tuple[np.ndarray, tuple[int, ...]]:
    """An open eye's pieces (ball, top lid, bottom lid, the upper lid's shadow, iris, pupil,
    glint[, the lashes' flick], head units) are linear in five numbers: the side (-1: image-left),
    1, how open it is drawn (0..1.5), and the iris's centre x and y. Returns (5, 2 n) their
    parts, so that a row of those numbers times it is the pieces' n points (one matrix product
    for both eyes), and each piece's point count."""
    iris_r = 0.06 * size
    rows = []
    for side, one, opening, gx, gy in np.eye(5):
        upper, lower = _lids(shape, size, side, opening, one)
        top, bottom = smooth(upper, closed=False), smooth(lower, closed=False)
        # iris, pupil and highlight: one unit circle scaled and moved (on the face, so they turn)
        pieces = [join(top, reverse(bottom)), top, bottom,
                  join(top, reverse(top + (0, 0.022 * size * one))),  # the upper lid's shadow
                  _UNIT_CIRCLE * (iris_r * one) + (gx, gy), _UNIT_CIRCLE * (iris_r * 0.5 * one) + (gx, gy),
                  _UNIT_CIRCLE * (iris_r * 0.24 * one) + (gx + iris_r * 0.35 * one, gy - iris_r * 0.38 * one)]
        if flicked:
            outer = upper[-1]
            tip = outer + [side * 0.03 * size, -0.03 * size * one]
            pieces.append(polyline(np.array([outer, tip]), closed=False))
        rows.append(np.concatenate(pieces).ravel())
    basis = np.stack(rows)
    basis.flags.writeable = False
    return basis, tuple(len(piece) for piece in pieces)


_EYEBALL = (252, 252, 250)


def draw_eyes(s: Scene) -> None:
    """Both eyes, each piece of the two drawn as one shape (half the draw calls of eye by eye).
    Side -1 is the person's right eye, drawn image-left (parameter eye_r)."""
    p = s.pose
    a, b, _, _, weight = EYE_SHAPES[s.parts["eyes"]["shape"]]
    size = float(s.parts["eyes"]["size"])
    line = s.outline
    openness = eye_openness(p, made_up=not s.stand_in)
    shut = [side for side in (-1, 1) if openness[side] == 0.0]
    if shut:  # the lid over the eye, a shade darker than the skin, and the lash line across it
        lids, lashes = [], []
        for side in shut:
            open_lid, lower = _lids(s.parts["eyes"]["shape"], size, side, 1.0)
            lash_line = smooth(lower - xy(_ZERO_X, 0.02 * _EYE_BULGE), closed=False)
            lids.append(s.face(join(smooth(open_lid, closed=False), reverse(lash_line))))
            lashes.append(s.face(lash_line))
        s.fill(lids, shade(s.colour("face", "skin"), 0.9))
        s.stroke(lashes, line, 0.024 * size)
    sides = [side for side in (-1, 1) if openness[side] > 0.0]
    if not sides:
        return
    iris_r = 0.06 * size  # a human-sized iris: Face Mesh reads its position
    iris = s.colour("eyes", "iris")
    flicked = bool(s.parts["eyes"]["lashes"])
    basis, sizes = _open_eye_basis(s.parts["eyes"]["shape"], size, flicked)
    gaze_x, gaze_y = p.gaze_x * a * size * 0.7, EYE_Y - 0.1 * b * size + p.gaze_y * b * size * 0.45
    weights = np.array([(side, 1.0, min(max(openness[side], 0.0), 1.5), side * EYE_X + gaze_x, gaze_y)
                        for side in sides])
    # per eye: ball, top, bottom, shadow, ring, pupil, glint[, flick]
    mapped, per = split_points(s.face((weights @ basis).reshape(-1, 2)), list(sizes) * len(sides)), len(sizes)
    balls, tops, bottoms, shadows, rings, pupils, glints, *rest = (mapped[i::per] for i in range(per))
    flicks = rest[0] if rest else []
    lid = 0.009 * size  # the lower lid's line; the upper's is thicker
    smooth_edge = not s.aliased_under(lid)  # the whites are edged by the lids' lines, drawn last
    s.fill(balls, _EYEBALL, aa=smooth_edge)
    with s.painter.clipped(balls, aa=smooth_edge):
        if s.stand_in:  # a gradient each, centred on its iris
            for ring in rings:
                s.fill(ring, s.glow(ring.mean(0), iris_r, shade(iris, 1.25), shade(iris, 0.7)))
        else:  # flat, as flat avatar art draws them: a gradient cost Skia ~25 us an iris
            s.fill(rings, shade(iris, 0.8))
        s.fill(pupils, (22, 18, 24))
        s.fill(glints, (255, 255, 255))
        s.fill(shadows, shade(_EYEBALL, 0.85))
    s.stroke(bottoms, line, lid)
    lash = 0.016 * weight * size
    s.stroke(tops, line, lash)
    if flicks:
        s.stroke(flicks, line, lash * 0.8)


# -- brows ----------------------------------------------------------------------------------------
# (thickness, arch, length)
BROW_STYLES = {
    "natural": (0.034, 0.03, 0.13), "thick": (0.05, 0.025, 0.14), "thin": (0.018, 0.035, 0.13),
    "arched": (0.03, 0.06, 0.13), "straight": (0.036, 0.0, 0.135), "none": (0.0, 0.0, 0.0),
}
BROW_RAISE, BROW_LOWER = 0.065, 0.045  # head units at brow +1 / -1
_BU = np.linspace(-1.0, 1.0, 7)  # inner (-1) to outer (+1)
_BROW_INNER = (_BU < 0) * (-_BU)  # how far towards the inner end (frowns and raises act there)
_BROW_ARCH = 1 - _BU**2
_BROW_TAPER = (0.75 + 0.25 * np.cos(_BU * math.pi / 2)) * np.where(_BU > 0, 1 - 0.45 * _BU, 1.0)


def draw_brows(s: Scene) -> None:
    """Both brows as one shape."""
    style = BROW_STYLES[s.parts["brows"]["style"]]
    if style[0] > 0:
        s.fill(s.faces(_brows(s.pose, style), lift=0.03), s.colour("brows"))


def _brows(p: Pose, style: tuple[float, float, float]) -> list[np.ndarray]:
    """Both brows' outlines in head units (`style`: thickness, arch, length), right (side -1)
    then left: a brow is linear in five numbers a pose gives (`_brow_shapes`), so the two are one
    small matrix product."""
    weights = []
    for side, v in ((-1, p.brow_r), (1, p.brow_l)):
        dy = -BROW_RAISE * v if v > 0 else -BROW_LOWER * v
        # raised brows lift most at the inner end
        weights.append((side, side * p.frown, BROW_Y + dy, 0.05 * p.frown - 0.02 * max(v, 0.0), 1.0))
    return list((np.array(weights) @ _brow_shapes(style)).reshape(2, -1, 2))


@functools.lru_cache(maxsize=16)
def _brow_shapes(style: tuple[float, float, float]) -> np.ndarray:
    """(5, 2 n) the smoothed brow outline's parts: its x where the side is +1, the frown's pull
    inwards, its height (all points), the inner end's lift, and the rest (arch, slope, thickness):
    a brow is their sum weighted by (side, side x frown, height, inner lift, 1). The outline runs
    along the brow's top, inner to outer, and back along its bottom."""
    thick, arch, length = style
    half = (thick / 2) * _BROW_TAPER
    middle = -arch * _BROW_ARCH + 0.012 * _BU

    def outline(x: np.ndarray, y_top: np.ndarray, y_bottom: np.ndarray) -> np.ndarray:
        pts = xy(np.concatenate([x, x[::-1]]), np.concatenate([y_top, y_bottom[::-1]]))
        return smooth(pts, tension=0.8).ravel()  # smoothing is linear: the sum of smoothed parts

    none = np.zeros_like(_BU)
    shapes = np.stack([outline(EYE_X + 0.01 + length * _BU, none, none),
                       outline(-0.025 * _BROW_INNER, none, none),
                       outline(none, none + 1.0, none + 1.0),
                       outline(none, _BROW_INNER, _BROW_INNER),
                       outline(none, middle - half, middle + half)])
    shapes.flags.writeable = False
    return shapes


# -- nose -----------------------------------------------------------------------------------------
def _nose_button(scale: float) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        skin = s.colour("face", "skin")
        w = 0.055 * scale
        base = np.array([[-w, NOSE_Y + 0.005], [-w * 0.4, NOSE_Y + w * 0.55], [w * 0.4, NOSE_Y + w * 0.55],
                         [w, NOSE_Y + 0.005]])
        shadow, tip, line = s.faces([ellipse(0.0, NOSE_Y - 0.01, w * 1.05, w * 0.8),
                                     ellipse(0.0, NOSE_Y - 0.02, w * 0.75, w * 0.55),
                                     smooth(base, closed=False)], lift=(0.12, 0.16, 0.14))
        s.fill(shadow, shade(skin, 0.88))
        s.fill(tip, shade(skin, 1.06))
        s.stroke(line, s.outline, 0.01 * scale, alpha=200)
    return draw


def _nose_line(s: Scene) -> None:
    pts = np.array([[0.015, 0.02], [0.04, NOSE_Y - 0.02], [0.0, NOSE_Y + 0.02], [-0.03, NOSE_Y + 0.01]])
    s.stroke(s.face(smooth(pts, closed=False), lift=0.14), s.outline, 0.01, alpha=210)


def _nose_animal(s: Scene) -> None:
    tri = np.array([[-0.06, NOSE_Y - 0.035], [0.06, NOSE_Y - 0.035], [0.0, NOSE_Y + 0.03]])
    path = s.face(smooth(tri, tension=0.45), lift=SNOUT_LIFT + 0.03)  # on the snout's pad
    colour = s.colour("snout", "nose") if "snout" in s.parts else (60, 40, 40)
    s.outlined(path, colour, s.outline, 0.008)


NOSE_STYLES: dict[str, Callable[[Scene], None]] = {
    "button": _nose_button(1.0), "round": _nose_button(1.3), "small": _nose_button(0.7),
    "line": _nose_line, "animal": _nose_animal, "none": lambda s: None,
}


# -- mouth ----------------------------------------------------------------------------------------
_MU = np.linspace(-1.0, 1.0, 7)  # across the mouth; few points keep the paths cheap
_MU2 = _MU**2
_MOUTH_BEND = np.clip(1 - _MU2, 0, 1)  # 1 in the middle, 0 at the corners
# the outer lip lines' offsets from the inner ones: the lips' thickness, with a cupid's bow on top
_CUPIDS_BOW = 0.012 * np.exp(-((np.abs(_MU) - 0.28) / 0.2) ** 2)
_UPPER_LIP = xy(np.zeros_like(_MU), 0.022 * _MOUTH_BEND**0.5 + _CUPIDS_BOW)
_LOWER_LIP = xy(np.zeros_like(_MU), 0.034 * _MOUTH_BEND**0.5)
MOUTH_HALF_WIDTH, MOUTH_GAP = 0.175, 0.27
# a measured mouth opens up to 1.6x wider than the person's (legible, read back best), easing off
# for wide-open mouths so a yawn stays on the face
LIPS_OPEN, LIPS_EASE = 1.6, 0.8
LIPS_TOP, CHIN_ROOM = 0.235, 0.025  # a measured mouth reaches no higher (the nose), nor nearer the chin
MOUTH_SHUT_GAP = 0.004  # head units: lips closer than this are drawn as one line
MOUTH_ARCH = 0.05  # head units the lips' middle stands out over their corners
INSIDE_LINE = 0.008  # head units: the line round the open mouth's inside
CORNER_DROP = 0.25  # measured: the read-back smile then barely moves as the mouth opens
TEETH_MAX, TEETH_SHARE = 0.05, 0.3  # the upper teeth: head units at most, share of the gap (a
# larger share hid the gap of a smiling open mouth from a face tracker: 908 mouth 0.87 -> 0.92)


def drawn_opening(mouth_open: float) -> float:
    """How far the mouth is drawn open: a parted mouth starts at a gap a face tracker (and a
    classmate on a small video tile) sees; narrower gaps read as closed lips."""
    return 0.0 if mouth_open < 0.06 else max(mouth_open, 0.2)


def mouth_curves(s: Scene) -> tuple[np.ndarray, np.ndarray, float]:
    """Inner upper and lower lip lines (corner to corner, head units) and the half-width. The gap
    and the corners' lift scale with the width, as the measures they come from are ratios to the
    mouth's width (a rounded "oo" is narrower, not more open)."""
    p = s.pose
    opening = drawn_opening(p.mouth_open)
    rounded = max(-p.mouth_width, 0.0)
    w = MOUTH_HALF_WIDTH * (1 + 0.45 * p.mouth_width)
    gap = 2 * w * MOUTH_GAP / (2 * MOUTH_HALF_WIDTH) * opening
    bend = _MOUTH_BEND ** (0.9 - 0.4 * rounded)
    lift = (w / MOUTH_HALF_WIDTH) * (0.06 * p.smile * _MU2 + 0.012 * p.smile)  # corners up or down
    cy = MOUTH_Y + 0.3 * JAW_DROP * opening
    x = w * _MU
    corners = CORNER_DROP * gap * _MU2  # the jaw carries the corners down as the mouth opens
    upper = cy - lift - 0.12 * gap * bend + corners
    lower = cy - lift + 0.88 * gap * bend + corners + 0.025 * max(p.smile, 0) * bend * (opening > 0)
    return xy(x, upper), xy(x, lower), w


def lip_lines(s: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Inner upper, inner lower, outer upper and outer lower lip lines (corner to corner, head
    units) and the mouth's half-width: from the measured lip shape when the scene has one (the
    person's own mouth, scaled to the character's), else from the pose's mouth parameters. Made
    once a frame (the mouth and the facial hair round it share them)."""
    if "lip_lines" not in s.memo:
        s.memo["lip_lines"] = _lip_lines(s)
    return s.memo["lip_lines"]


def _lip_lines(s: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    if s.mouth is not None:
        pts = s.mouth[:, ::2] * (2 * MOUTH_HALF_WIDTH)  # every other landmark: smooth enough
        mid = (pts[0] + pts[1]) / 2  # the line the lips meet on; the opening grows about it
        ratio = float(np.max(pts[1, :, 1] - pts[0, :, 1])) / (2 * MOUTH_HALF_WIDTH)
        pts[:2] = mid + (pts[:2] - mid) * (LIPS_OPEN / (1 + LIPS_EASE * max(ratio, 0.0)))
        pts = _inside_face(s, pts + (0.0, MOUTH_Y))
        w = float(np.abs(pts[2:, [0, -1], 0]).max())
        return pts[0], pts[1], pts[2], pts[3], w
    upper, lower, w = mouth_curves(s)
    return upper, lower, upper - _UPPER_LIP, lower + _LOWER_LIP, w


def _inside_face(s: Scene, pts: np.ndarray) -> np.ndarray:
    """A measured lip shape (head units) pressed, above and below the mouth's line, to stay under
    the nose and above the chin: the expressiveness gain multiplies its height (at 150% the upper
    lip covered the nose, at 300% the lower one hung past the jaw)."""
    chin = float(outline_points(s.parts["face"]["shape"], s.pose.mouth_open)[:, 1].max())
    top, bottom = float(pts[:, :, 1].min()), float(pts[:, :, 1].max())
    up = min(1.0, (MOUTH_Y - LIPS_TOP) / max(MOUTH_Y - top, 1e-6))
    down = min(1.0, (chin - CHIN_ROOM - MOUTH_Y) / max(bottom - MOUTH_Y, 1e-6))
    if up == down == 1.0:
        return pts
    y = pts[..., 1] - MOUTH_Y
    out = pts.copy()
    out[..., 1] = MOUTH_Y + y * np.where(y < 0, up, down)
    return out


def on_lips(s: Scene, path: np.ndarray) -> np.ndarray:
    """Head units to pixels round the mouth. The lips curve round the teeth: the middle stands
    out, the corners sit back, so turning and nodding move them apart as on a face. Top to bottom
    they stand at the depth of the mouth's line, not on the skull's curve: the lip shape measured
    on the person's picture already carries their nod, and the curve drew it again (a face tracker
    read the same mouth 23% less open at 10 degrees down and 35% more at 10 up)."""
    w = lip_lines(s)[4]
    x = path[:, 0] * (1 / (1.3 * w))
    level = xy(path[:, 0], np.full(len(path), MOUTH_Y))
    return s.face(path, lift=s.head.depth(level) + MOUTH_ARCH * np.maximum(1 - x * x, 0), surface=0.0)


def draw_mouth(s: Scene) -> None:
    """The lips, and when parted the inside with the upper teeth and the tongue (all the mouth's
    shapes mapped to pixels in one `on_lips`)."""
    upper, lower, outer_up, outer_low, w = lip_lines(s)
    lip = s.colour("mouth", "lips")
    line = shade(lip, 0.55)
    gap = float(np.max(lower[:, 1] - upper[:, 1]))
    shapes = [join(smooth(outer_up, closed=False), reverse(smooth(outer_low, closed=False)))]
    if gap > MOUTH_SHUT_GAP:
        teeth_h = min(TEETH_MAX, TEETH_SHARE * gap)
        mid = lower[len(lower) // 2]
        shapes += [join(smooth(upper, closed=False), reverse(smooth(lower, closed=False))),
                   smooth(np.concatenate([upper - [0, 0.02], (upper + [0, teeth_h])[::-1]]), tension=0.5),
                   ellipse(float(mid[0]), float(mid[1]) + 0.01, w * 0.62, max(0.03, 0.35 * gap))]
    else:
        shapes.append(smooth((upper + lower) / 2, closed=False))
    lips, *rest = split_points(on_lips(s, np.concatenate(shapes)), [len(shape) for shape in shapes])
    s.fill(lips, lip)
    if gap > MOUTH_SHUT_GAP:
        inside, teeth, tongue = rest
        smooth_edge = not s.aliased_under(INSIDE_LINE)  # edged by its line, drawn last
        s.fill(inside, (70, 22, 32), aa=smooth_edge)
        with s.painter.clipped(inside, aa=smooth_edge):
            s.fill(teeth, (250, 248, 242))
            s.fill(tongue, (222, 96, 110))
        s.stroke(inside, line, INSIDE_LINE, closed=True)
    else:
        s.stroke(rest[0], line, 0.011)
    s.stroke(lips, shade(lip, 0.75), 0.006, closed=True, alpha=170)


# -- cheeks, freckles ------------------------------------------------------------------------------
def draw_cheeks(s: Scene) -> None:
    blush = float(s.parts["face"]["blush"])
    skin = s.colour("face", "skin")
    if blush > 0:  # flat, opaque pink ovals (a gradient or see-through fill costs several times more)
        pink = _mix(skin, (240, 110, 120), 0.35 * blush)
        for cheek in s.faces([ellipse(side * 0.3, 0.22, 0.085, 0.05) for side in (-1, 1)]):
            s.fill(cheek, pink)  # one by one: Skia's anti-aliasing of two shapes in one path differs
    if s.parts["face"]["freckles"]:
        dots = [(-0.3, 0.14), (-0.25, 0.19), (-0.34, 0.2), (-0.2, 0.15), (0.3, 0.14), (0.25, 0.19),
                (0.34, 0.2), (0.2, 0.15)]
        for dot in s.faces([ellipse(x, y, 0.008, 0.008) for x, y in dots]):
            s.fill(dot, shade(skin, 0.7))


# -- snout (animals) -------------------------------------------------------------------------------
# how far the snout's pad stands out of the face (the nose sits 0.03 in front of it, so the two
# move together when the head turns: the nose stood out 0.2 on a pad at 0.06-0.08 and left it at
# 20 degrees), and the depth the whiskers slide by (drawn flat from the pad's sides)
SNOUT_LIFT = 0.1
SNOUT_WHISKERS = 0.3


def _snout(kind: str) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        colour = s.colour("snout")
        if kind in ("cat", "bunny"):
            pads = [ellipse(side * 0.065, NOSE_Y + 0.07, 0.085, 0.07) for side in (-1, 1)]
            s.fill(s.faces(pads, lift=SNOUT_LIFT), colour)
        else:
            # round the mouth, down with the jaw (the lips sat across its bottom edge and an open
            # mouth spilled onto the fur)
            jaw = 0.6 * JAW_DROP * drawn_opening(s.pose.mouth_open)
            w, h = (0.26, 0.21) if kind == "bear" else (0.24, 0.21)
            s.fill(s.face(ellipse(0.0, NOSE_Y + 0.13 + jaw, w, h + jaw), lift=SNOUT_LIFT - 0.02), colour)
        if kind in ("cat", "bunny"):
            for side in (-1, 1):
                for k in (-1, 0, 1):
                    start = np.array([side * 0.16, NOSE_Y + 0.07 + k * 0.03])
                    end = start + [side * 0.2, k * 0.045 - 0.01]
                    whisker = polyline(np.stack([start, end]), closed=False)
                    s.stroke(s.flat(whisker, SNOUT_WHISKERS), s.outline, 0.006)
    return draw


SNOUT_STYLES: dict[str, Callable[[Scene], None]] = {
    "none": lambda s: None, "cat": _snout("cat"), "dog": _snout("dog"), "bear": _snout("bear"),
    "bunny": _snout("bunny"),
}


# -- markings (animals) ------------------------------------------------------------------------------
# a cheek band is drawn whole seen at least this share of its length, fades out below, and is
# gone at STRIPE_GONE (about 20 and 28 degrees of turn)
STRIPE_SEEN, STRIPE_GONE = 0.55, 0.25


def _stripes(s: Scene) -> None:
    c = s.colour("markings")
    for x in (-0.16, 0.0, 0.16):
        w = 0.045 if x == 0 else 0.035
        tri = np.array([[x - w, -0.68], [x + w, -0.68], [x * 1.1, -0.42]])
        s.fill(s.face(smooth(tri, tension=0.4), surface=0.8), c)
    for side in (-1, 1):
        for k in (0, 1):
            y = 0.08 + 0.09 * k
            band = np.array([[side * 0.53, y - 0.02], [side * 0.38, y], [side * 0.53, y + 0.02]])
            # on a cheek turning away a band shortens into a dot beside the outline (it is round
            # the side of the head there): it fades out as it shortens
            drawn = s.face(smooth(band, tension=0.4), surface=0.6)  # through the band's points
            seen = np.hypot(*(drawn[3] - drawn[0])) / s.px(0.15)  # its outer end to its tip
            alpha = round(255 * min(max((seen - STRIPE_GONE) / (STRIPE_SEEN - STRIPE_GONE), 0.0), 1.0))
            if alpha:
                s.tint(drawn, c, alpha)


def _mask(s: Scene) -> None:
    c = s.colour("markings")
    for side in (-1, 1):
        s.fill(s.face(ellipse(side * EYE_X, EYE_Y + 0.01, 0.17, 0.12)), c)


def _spots(s: Scene) -> None:
    c = s.colour("markings")
    for x, y, r in ((-0.3, -0.45, 0.07), (0.25, -0.5, 0.05), (0.36, 0.05, 0.06), (-0.4, 0.15, 0.045)):
        s.fill(s.face(ellipse(x, y, r, r * 0.85), surface=0.8), c)


def _muzzle(s: Scene) -> None:
    """Pale fur over the cheeks and chin (a fox, a husky), rising to a point between the eyes."""
    jaw = JAW_DROP * drawn_opening(s.pose.mouth_open)
    pts = np.array([(-0.62, 0.12), (-0.36, 0.13), (-0.18, 0.06), (-0.06, -0.08), (0.0, -0.12), (0.06, -0.08),
                    (0.18, 0.06), (0.36, 0.13), (0.62, 0.12), (0.6, 0.5), (0.3, 0.8 + jaw), (-0.3, 0.8 + jaw),
                    (-0.6, 0.5)])
    s.fill(s.face(smooth(pts, tension=0.8), surface=0.8), s.colour("markings"))


def _on_face(draw: Callable[[Scene], None]) -> Callable[[Scene], None]:
    """Markings run to the face's edge: kept inside the head's outline, which is then drawn
    again over them (they covered its inner half: a fox's jaw line thinned to a hairline)."""
    def clipped(s: Scene) -> None:
        head = head_path(s)
        with s.painter.clipped(head):
            draw(s)
        s.stroke(head, s.outline, HEAD_LINE, closed=True)
    return clipped


MARKING_STYLES: dict[str, Callable[[Scene], None]] = {
    "none": lambda s: None, "stripes": _on_face(_stripes), "mask": _on_face(_mask), "spots": _on_face(_spots),
    "muzzle": _on_face(_muzzle),
}


# -- facial hair ------------------------------------------------------------------------------------
BEARD_CHIN = 0.07  # head units a beard may hang below the chin


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round((1 - t) * x + t * y)) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _moustache_points(s: Scene) -> np.ndarray:
    """Over the upper lip, from corner to corner, following the drawn lips as they move."""
    _, _, outer_up, _, w = lip_lines(s)
    xs, lip = outer_up[:, 0] * 1.12, outer_up[:, 1]  # the upper lip's top edge
    top = lip - 0.055 * np.sqrt(np.clip(1 - (outer_up[:, 0] / max(w, 1e-3)) ** 2, 0, 1)) - 0.012
    # the tips end level with the mouth's corners (hanging 0.03 below them, they hid a smile)
    right = [(w + 0.03, lip[-1] + 0.006)]
    left = [(-w - 0.03, lip[0] + 0.006)]
    bottom = xy(xs, lip - 0.004)[-2:0:-1]
    return np.concatenate([left, xy(xs, top)[1:-1], right, bottom])


def _beard_points(s: Scene, full: bool) -> np.ndarray:
    """Below the mouth: the chin (goatee), or the jaw from ear to ear (`full`). Drawn wider than
    the face and kept to the face's outline (grown at the chin) when painted."""
    _, _, _, outer_low, w = lip_lines(s)
    jaw = JAW_DROP * drawn_opening(s.pose.mouth_open)
    xs, under = outer_low[:, 0], outer_low[:, 1] + 0.016  # under the lower lip
    if not full:
        bottom = max(CHIN_Y + jaw, float(under.max()) + 0.08) + BEARD_CHIN
        mid = np.abs(xs) <= 0.55 * w
        edge = np.interp([-0.7 * w, 0.7 * w], xs, under)
        chin = bottom - BEARD_CHIN  # tapering past the chin to a rounded tip (its straight sides and
        # square corners hung below the chin as a slab)
        return np.array([(-w * 0.7, edge[0]), *zip(xs[mid], under[mid], strict=True), (w * 0.7, edge[1]),
                         (w * 0.5, chin - 0.02), (w * 0.22, bottom - 0.015), (0.0, bottom),
                         (-w * 0.22, bottom - 0.015), (-w * 0.5, chin - 0.02)])
    edge = [(0.62, -0.06), (0.5, -0.06), (0.46, 0.16), (0.34, 0.3), (w + 0.04, float(under[-1]) - 0.03)]
    mouth = list(zip(xs[-2:0:-1], under[-2:0:-1], strict=True))
    low = max(0.95 + jaw, float(under.max()) + 0.12)
    outer = [(-0.66, 0.45), (-0.42, low - 0.1), (0.0, low), (0.42, low - 0.1), (0.66, 0.45)]
    left = [(-x, y) for x, y in reversed(edge)]
    return np.array([*edge, *mouth, *left, *outer])


def _on_jaw(s: Scene, pts: np.ndarray) -> np.ndarray:
    """Facial hair (head units) to pixels: near the mouth as the lips move (`on_lips`), at the
    chin, the jaw and the face's sides as the head's outline moves them (`head_path`), blended
    between. Mapped all as face surface, a goatee slid off the chin when the head turned and hung
    below it as a slab, and a full beard's far edge ran up the face as a band; mapped near the
    mouth on the skull's curve (not the lips'), a beard's opening slid across an open mouth at a
    turn and a goatee covered the lower lip of a wide-open one."""
    face, outline = on_lips(s, pts), as_outline(s, pts)
    lips = float(lip_lines(s)[3][:, 1].max()) + 0.016  # under the lower lip: as the lips still
    chin = CHIN_Y + JAW_DROP * drawn_opening(s.pose.mouth_open)
    w = np.maximum(np.clip((pts[:, 1] - lips) / max(chin - lips, 0.05), 0, 1),
                   np.clip((np.abs(pts[:, 0]) - 0.3) / 0.2, 0, 1))[:, None]
    return face + w * (outline - face)


def _in_beard_region(s: Scene, draw: Callable[[], None]) -> None:
    with s.painter.clipped(head_path(s, BEARD_CHIN)):
        draw()


def _hair_shape(s: Scene, pts: np.ndarray, colour: tuple[int, int, int], tension: float = 0.8) -> None:
    path = _on_jaw(s, smooth(pts, tension=tension))
    s.outlined(path, colour, shade(colour, 0.6), 0.008)


def _moustache(s: Scene) -> None:
    _in_beard_region(s, lambda: _hair_shape(s, _moustache_points(s), s.colour("facial_hair"), 0.7))


def _beard(full: bool, moustache: bool) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        c = s.colour("facial_hair")

        def shapes() -> None:
            _hair_shape(s, _beard_points(s, full), c)
            if moustache:
                _hair_shape(s, _moustache_points(s), c, 0.7)
        _in_beard_region(s, shapes)
    return draw


def _stubble(s: Scene) -> None:
    """Short stubble: the beard and moustache area in a colour between skin and hair, no line;
    never lighter than the skin (blond stubble on dark skin was a pale mask: a shade instead)."""
    skin, hair = s.colour("face", "skin"), s.colour("facial_hair")
    c = _mix(skin, hair, 0.3) if sum(hair) < sum(skin) else shade(skin, 0.86)

    def shapes() -> None:
        for pts in (_beard_points(s, True), _moustache_points(s)):
            s.fill(_on_jaw(s, smooth(pts, tension=0.8)), c)
    with s.painter.clipped(head_path(s)):
        shapes()


FACIAL_HAIR_STYLES: dict[str, Callable[[Scene], None]] = {
    "none": lambda s: None, "stubble": _stubble, "moustache": _moustache,
    "goatee": _beard(False, True), "beard": _beard(True, False), "full": _beard(True, True),
}


# -- glasses -------------------------------------------------------------------------------------
def _frame_shape(kind: str, cx: float) -> np.ndarray:
    if kind == "round":
        return ellipse(cx, EYE_Y, 0.125, 0.115)
    if kind == "cat_eye":
        pts = np.array([[cx - 0.13, -0.07], [cx + 0.15, -0.1], [cx + 0.13, 0.06], [cx - 0.1, 0.09]])
        if cx < 0:
            pts[:, 0] = 2 * cx - pts[:, 0]
        return smooth(pts, tension=0.55)
    w, h = (0.135, 0.095) if kind != "aviator" else (0.13, 0.11)
    pts = np.array([[cx - w, -h], [cx + w, -h], [cx + w * 0.95, h * 0.8], [cx - w * 0.9, h]])
    if kind == "aviator":
        pts = np.array([[cx - w, -h * 0.8], [cx + w, -h * 0.8], [cx + w * 0.6, h * 1.1],
                        [cx - w * 0.6, h * 1.1]])
    return smooth(pts, tension=0.35 if kind == "square" else 0.8)


FAR_ARM_YAW = 8.0  # degrees of turn past which the far side's glasses arm is hidden by the face


def _glasses(kind: str, tinted: bool = False) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        c = s.colour("glasses")
        for side in (-1, 1):
            frame = s.face(_frame_shape(kind, side * EYE_X), lift=0.06)
            if tinted:  # dark, but the eyes show through (at 215 a blink changed ~10 levels)
                s.tint(frame, (25, 25, 35), 160)
            s.stroke(frame, c, 0.016, closed=True)
        bridge = np.array([[-EYE_X + 0.11, -0.02], [0.0, -0.045], [EYE_X - 0.11, -0.02]])
        s.stroke(s.face(smooth(bridge, closed=False), lift=0.08), c, 0.014)
    return draw


def draw_glasses_arms(s: Scene) -> None:
    """The glasses' arms, from the lenses back to the sides of the head: a layer under the front
    hair, so hair over the temples or a headscarf covers them (drawn over everything, they ran on
    across the hair or the scarf and ended on it). The far arm goes behind the face once the head
    turns (it was drawn across the cheek from the lens to the mouth)."""
    for side in (-1, 1):
        if side * s.pose.yaw <= FAR_ARM_YAW:
            arm = np.array([[side * (EYE_X + 0.13), -0.03], [side * 0.5, -0.04]])
            s.stroke(s.face(polyline(arm, closed=False), lift=0.04), s.colour("glasses"), 0.014)


GLASSES_STYLES: dict[str, Callable[[Scene], None]] = {
    "none": lambda s: None, "round": _glasses("round"), "square": _glasses("square"),
    "cat_eye": _glasses("cat_eye"), "aviator": _glasses("aviator"),
    "sunglasses": _glasses("square", tinted=True),
}

