"""The neck and the clothes on the shoulders (drawn upright: the head rolls on the neck, the body
does not). Shoulders sit `SHOULDER_Y` head units below the head centre, breathe, and follow the
head's position with a lag (`Motion.body`).

The neck's top is fixed to the head and its foot to the body, so it bends when the head moves
or tilts; a clothing style draws what is behind the neck (a hood, a collar's back), then the
torso and what lies on it. Colours: `colour` is the garment, `accent` its trim (the neck band,
the collar, the shirt under a blazer or overalls)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatar_cam.character.face_parts import head_path
from avatar_cam.character.geometry import ellipse, polyline, smooth
from avatar_cam.character.scene import RGB, Scene, shade

SHOULDER_Y = 1.02
BOTTOM = 3.0  # body units: below a landscape frame; clothes reach the picture's floor if lower
LINE = 0.012
NECK_TOP = 0.3  # head units: the neck starts behind the jaw
NECK_HALF = 0.19
CHIN_SHADOW = 0.18  # head units the chin's shadow reaches below the jaw

Draw = Callable[[Scene], None]


def bottom(s: Scene) -> float:
    """How far down the clothes go: past the picture's bottom edge (a small head in a tall
    picture left a strip of background under a flat-cut torso)."""
    return max(BOTTOM, s.floor)


def _torso(neckline: float = 0.1, v: float = 0.0) -> np.ndarray:
    """The torso's top edge (body units), arm to arm: upper arms, sloping shoulders, and the
    neckline round the neck (`neckline` deep at the middle, or a V `v` deep)."""
    y = SHOULDER_Y
    right = [(0.27, y - 0.07), (0.6, y + 0.02), (1.05, y + 0.15), (1.36, y + 0.32), (1.54, y + 0.66),
             (1.62, y + 1.3)]
    left = [(-x, yy) for x, yy in reversed(right)]
    if v > 0:
        middle = [(0.0, y + v)]
    else:
        middle = [(-0.2, y - 0.01 + neckline * 0.3), (0.0, y + neckline), (0.2, y - 0.01 + neckline * 0.3)]
    return np.array([*left, *middle, *right])


def _body_shape(s: Scene, top: np.ndarray, colour: RGB, tension: float = 0.6) -> None:
    """The torso: filled down out of the frame, outlined along its top edge only (the sides run
    off the picture: stroking them would cost time for nothing seen). Where the arms' ends, the
    outline's, are below the picture too, every edge of the fill that shows is under the line."""
    edge = smooth(top, closed=False, tension=tension)
    low = bottom(s)
    down = polyline(np.array([top[-1], (top[-1][0] + 0.04, low), (top[0][0] - 0.04, low), top[0]]),
                    closed=False)
    hidden = s.aliased_under(LINE) and min(top[0][1], top[-1][1]) >= s.floor
    s.fill(s.body(np.concatenate([edge, down[1:]])), colour, aa=not hidden)
    s.stroke(s.body(edge), shade(colour, 0.5), LINE)


def _neckline(neckline: float = 0.1) -> np.ndarray:
    y = SHOULDER_Y
    return np.array([(-0.27, y - 0.07), (-0.2, y - 0.01 + neckline * 0.3), (0.0, y + neckline),
                     (0.2, y - 0.01 + neckline * 0.3), (0.27, y - 0.07)])


def _tube_sides(s: Scene, top_y: float, top_half: float, bottom_y: float, bottom_half: float,
                pinch: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The ends (pixels, left to right at the top, right to left at the bottom) and the sides
    (top to bottom on the right, bottom to top on the left) of `tube`."""
    top = s.face(np.array([[-top_half, top_y], [top_half, top_y]]), surface=0.0)
    bottom = s.body(np.array([[bottom_half, bottom_y], [-bottom_half, bottom_y]]))
    mid_r, mid_l = (top[1] + bottom[0]) / 2, (top[0] + bottom[1]) / 2
    centre = (mid_r + mid_l) / 2
    mid_r, mid_l = mid_r + (centre - mid_r) * pinch, mid_l + (centre - mid_l) * pinch
    right = smooth(np.stack([top[1], mid_r, bottom[0]]), closed=False)
    left = smooth(np.stack([bottom[1], mid_l, top[0]]), closed=False)
    return top, bottom, right, left


def _closed_tube(top: np.ndarray, bottom: np.ndarray, right: np.ndarray, left: np.ndarray) -> np.ndarray:
    return np.concatenate([top[:1], polyline(top, closed=False)[1:], right[1:],
                           polyline(bottom, closed=False)[1:], left[1:]])


def tube(s: Scene, top_y: float, top_half: float, bottom_y: float, bottom_half: float,
         pinch: float = 0.08) -> np.ndarray:
    """A closed tube from the head (a band `top_half` wide at `top_y`, head units, fixed to the
    head) to the body (at `bottom_y`, body units): the neck, a turtleneck."""
    return _closed_tube(*_tube_sides(s, top_y, top_half, bottom_y, bottom_half, pinch))


def draw_neck(s: Scene) -> None:
    """The neck, with the chin's shadow on it: the head's outline moved down the face by
    `CHIN_SHADOW` and kept inside the neck, so its edge follows the jaw (and drops with it).
    Only its sides are outlined: its top lies under the head and its foot under the clothes (the
    whole outline cost twice the stroking for nothing seen)."""
    skin = s.colour("face", "skin")
    sides = _tube_sides(s, NECK_TOP, NECK_HALF, SHOULDER_Y + 0.15, NECK_HALF * 1.15, 0.08)
    neck = _closed_tube(*sides)
    s.fill(neck, shade(skin, 0.9), aa=False)
    with s.painter.clipped(neck, aa=not s.aliased_under(LINE)):  # under its lines, the head, the clothes
        s.fill(head_path(s) + CHIN_SHADOW * s.head_m[:, 1], shade(skin, 0.78))
    s.stroke([sides[2], sides[3]], s.outline, LINE)


def _garment(s: Scene, pts: np.ndarray, colour: RGB, tension: float = 0.6) -> np.ndarray:
    px = s.body(smooth(pts, tension=tension))
    s.outlined(px, colour, shade(colour, 0.5), LINE)
    return px


def _seam(s: Scene, pts: np.ndarray, colour: RGB, width: float = 0.01, closed: bool = False) -> None:
    s.stroke(s.body(smooth(pts, closed=closed)), colour, width)


@dataclass(frozen=True)
class Clothing:
    """A clothing style: `behind` is drawn before the neck, `front` after it."""

    front: Draw
    behind: Draw | None = None


def _tshirt(s: Scene) -> None:
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    _body_shape(s, _torso(0.12), c)
    s.stroke(s.body(smooth(_neckline(0.12), closed=False)), accent, 0.045)


def _vneck(s: Scene) -> None:
    """The V shows the chest below the neck (the neck's foot is above the V's point: the picture's
    background showed through it)."""
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    chest = np.array([[-0.2, SHOULDER_Y + 0.05], [0.2, SHOULDER_Y + 0.05], [0.0, SHOULDER_Y + 0.45]])
    s.fill(s.body(polyline(chest)), shade(s.colour("face", "skin"), 0.9), aa=False)
    _body_shape(s, _torso(v=0.4), c, tension=0.5)
    v = np.array([[-0.27, SHOULDER_Y - 0.07], [0.0, SHOULDER_Y + 0.4], [0.27, SHOULDER_Y - 0.07]])
    s.stroke(s.body(polyline(v, closed=False)), accent, 0.04)


def _collar_back(s: Scene) -> None:
    accent = s.colour("clothing", "accent")
    band = np.array([[-0.3, SHOULDER_Y - 0.04], [-0.26, SHOULDER_Y - 0.17], [0.0, SHOULDER_Y - 0.22],
                     [0.26, SHOULDER_Y - 0.17], [0.3, SHOULDER_Y - 0.04]])
    _garment(s, band, shade(accent, 0.85), tension=0.7)


def _collar(s: Scene) -> None:
    """A shirt: the collar stands round the neck and its points lie on the chest."""
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    _body_shape(s, _torso(0.14), c)
    y = SHOULDER_Y
    _seam(s, np.array([[0.0, y + 0.16], [0.0, y + 1.6]]), shade(c, 0.7))
    for k in range(3):
        s.fill(s.body(ellipse(0.04, y + 0.38 + 0.34 * k, 0.022, 0.022)), shade(c, 0.7))
    for side in (-1, 1):
        flap = np.array([[side * 0.02, y + 0.14], [side * 0.2, y - 0.04], [side * 0.31, y - 0.1],
                         [side * 0.36, y + 0.06], [side * 0.2, y + 0.3]])
        _garment(s, flap, accent, tension=0.3)


def _hood_back(s: Scene) -> None:
    c = s.colour("clothing")
    hood = np.array([[-0.62, SHOULDER_Y + 0.06], [-0.5, SHOULDER_Y - 0.26], [0.0, SHOULDER_Y - 0.34],
                     [0.5, SHOULDER_Y - 0.26], [0.62, SHOULDER_Y + 0.06]])
    _garment(s, hood, shade(c, 0.8), tension=0.8)


def _hoodie(s: Scene) -> None:
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    _body_shape(s, _torso(0.1), c)
    y = SHOULDER_Y
    for side in (-1, 1):  # the hood's front edges, crossing at the middle
        edge = np.array([[side * 0.6, y + 0.04], [side * 0.36, y - 0.02], [side * 0.1, y + 0.2],
                         [-side * 0.06, y + 0.34], [side * 0.16, y + 0.26], [side * 0.42, y + 0.14]])
        _garment(s, edge, shade(c, 0.92), tension=0.6)
    for side in (-1, 1):
        cord = np.array([[side * 0.14, y + 0.24], [side * 0.16, y + 0.5], [side * 0.15, y + 0.7]])
        s.stroke(s.body(smooth(cord, closed=False)), accent, 0.02)
        s.fill(s.body(ellipse(side * 0.15, y + 0.72, 0.025, 0.035)), shade(accent, 0.8))


def _turtleneck(s: Scene) -> None:
    c = s.colour("clothing")
    _body_shape(s, _torso(0.05), c)
    top, bottom = (0.5, NECK_HALF + 0.04), (SHOULDER_Y + 0.06, NECK_HALF * 1.35)
    roll = tube(s, top[0], top[1], bottom[0], bottom[1], pinch=0.02)
    s.outlined(roll, shade(c, 0.94), shade(c, 0.5), LINE)
    ends = np.stack([s.face(np.array([[-top[1], top[0]], [top[1], top[0]]]), surface=0.0),
                     s.body(np.array([[-bottom[1], bottom[0]], [bottom[1], bottom[0]]]))])
    for t in (0.3, 0.55, 0.8):  # folds of the rolled collar
        left, right = (1 - t) * ends[0] + t * ends[1]
        sag = np.array([0.0, s.px(0.03)])
        s.stroke(smooth(np.stack([left, (left + right) / 2 + sag, right]), closed=False), shade(c, 0.75),
                 0.01)


def _blazer(s: Scene) -> None:
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    _body_shape(s, _torso(0.12), c)
    y = SHOULDER_Y
    low = bottom(s)
    shirt = np.array([[-0.27, y - 0.07], [0.0, y + 0.12], [0.27, y - 0.07], [0.16, low], [-0.16, low]])
    _garment(s, shirt, accent, tension=0.3)
    for side in (-1, 1):
        point = np.array([[side * 0.27, y - 0.08], [side * 0.02, y + 0.14], [side * 0.16, y + 0.22]])
        _garment(s, point, shade(accent, 0.92), tension=0.2)
        lapel = np.array([[side * 0.3, y - 0.06], [side * 0.44, y + 0.2], [side * 0.36, y + 0.26],
                          [side * 0.4, y + 0.34], [side * 0.12, BOTTOM * 0.6], [side * 0.16, y + 0.3]])
        _garment(s, lapel, shade(c, 0.85), tension=0.2)
    s.fill(s.body(ellipse(0.0, y + 1.2, 0.03, 0.03)), shade(c, 0.6))


def _overalls(s: Scene) -> None:
    c, accent = s.colour("clothing"), s.colour("clothing", "accent")
    _body_shape(s, _torso(0.12), accent)
    y = SHOULDER_Y
    s.stroke(s.body(smooth(_neckline(0.12), closed=False)), shade(accent, 0.8), 0.04)
    low = bottom(s)
    bib = np.array([[-0.5, y + 0.85], [0.5, y + 0.85], [0.56, low], [-0.56, low]])
    _garment(s, bib, c, tension=0.1)
    for side in (-1, 1):
        strap = np.array([[side * 0.5, y + 0.01], [side * 0.7, y + 0.05], [side * 0.54, y + 0.92],
                          [side * 0.36, y + 0.92]])
        _garment(s, strap, c, tension=0.1)
        s.fill(s.body(ellipse(side * 0.44, y + 0.8, 0.05, 0.05)), (236, 200, 90))
    _seam(s, np.array([[-0.3, y + 1.1], [0.3, y + 1.1], [0.3, y + 1.5], [-0.3, y + 1.5]]), shade(c, 0.7),
          0.01,
          closed=True)


CLOTHING_STYLES: dict[str, Clothing] = {
    "tshirt": Clothing(_tshirt), "vneck": Clothing(_vneck), "collar": Clothing(_collar, _collar_back),
    "hoodie": Clothing(_hoodie, _hood_back), "turtleneck": Clothing(_turtleneck), "blazer": Clothing(_blazer),
    "overalls": Clothing(_overalls),
}


def draw_body(s: Scene) -> None:
    """What is behind the neck, the neck, then the clothes."""
    style = CLOTHING_STYLES[s.parts["clothing"]["style"]]
    if style.behind:
        style.behind(s)
    draw_neck(s)
    style.front(s)
