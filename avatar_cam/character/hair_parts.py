"""Hair (a back layer behind the head and body, a front layer over the forehead) and headwear.

Hair hangs off the skull: `Scene.draped` slides each point by its depth on the head, so a fringe
moves with the face while back hair, behind the head's axis, moves the other way."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatar_cam.character.geometry import ellipse, smooth
from avatar_cam.character.scene import Scene, shade

Draw = Callable[[Scene], None]
BACK_DEPTH = -0.35


def _mirror(right: list[tuple[float, float]]) -> np.ndarray:
    """A closed outline from its right half (top centre first, ending on the centre line)."""
    r = np.array(right, np.float64)
    left = r[-2:0:-1] * [-1, 1]
    return np.concatenate([r, left])


def _cap(fringe_y: float, side_y: float = 0.0, volume: float = 0.0, sweep: float = 0.0) -> np.ndarray:
    """The hair over the skull: from ear to ear over the top, inner edge along a hairline at
    `fringe_y` (the middle) and `side_y` (the temples). `sweep` tilts the fringe to one side."""
    v = volume
    outer = [(-0.55 - v, side_y), (-0.58 - v, -0.32), (-0.45 - v, -0.7 - v * 0.5), (-0.2, -0.86 - v),
             (0.2, -0.86 - v), (0.45 + v, -0.7 - v * 0.5), (0.58 + v, -0.32), (0.55 + v, side_y)]
    inner = [(0.47, side_y), (0.46, -0.3), (0.3, fringe_y - 0.06 + sweep), (0.0, fringe_y + sweep * 0.2),
             (-0.3, fringe_y + 0.04 - sweep), (-0.46, -0.3)]
    return np.array(outer + inner)


def _fill_hair(s: Scene, pts: np.ndarray, depth: float | None = None, tension: float = 0.85) -> np.ndarray:
    c = s.colour("hair")
    path = smooth(pts, tension=tension)
    px = s.flat(path, depth) if depth is not None else s.draped(path)
    s.fill(px, c)
    s.stroke(px, shade(c, 0.55), 0.01, closed=True)
    return px


def _shine(s: Scene, x: float = -0.22, y: float = -0.62) -> None:
    c = s.colour("hair")
    streak = np.array([[x - 0.12, y + 0.06], [x, y - 0.05], [x + 0.14, y - 0.02], [x + 0.02, y + 0.04]])
    s.tint(s.draped(smooth(streak, tension=0.7)), shade(c, 1.6), 90)


@dataclass(frozen=True)
class HairStyle:
    back: Draw | None
    front: Draw | None


def _back_shape(bottom: float, width: float, flare: float = 0.0) -> Draw:
    def draw(s: Scene) -> None:
        pts = _mirror([(0.0, -0.86), (0.46, -0.74), (0.6, -0.35), (width, 0.2),
                       (width + flare, bottom - 0.1), (width * 0.7 + flare, bottom), (0.0, bottom - 0.04)])
        _fill_hair(s, pts, BACK_DEPTH)
    return draw


def _front_cap(fringe_y: float, side_y: float = 0.0, volume: float = 0.0, sweep: float = 0.0,
               shine: bool = True) -> Draw:
    def draw(s: Scene) -> None:
        _fill_hair(s, _cap(fringe_y, side_y, volume, sweep))
        if shine:
            _shine(s)
    return draw


def _bangs(s: Scene, bottom: float, strands: int = 5) -> None:
    """A straight fringe cut in soft points."""
    xs = np.linspace(-0.5, 0.5, strands + 1)
    pts = [(-0.56, 0.0), (-0.58, -0.35), (-0.44, -0.72), (0.0, -0.88), (0.44, -0.72), (0.58, -0.35),
           (0.56, 0.0)]
    edge = []
    for i in range(strands, 0, -1):
        mid = (xs[i] + xs[i - 1]) / 2
        edge += [(xs[i], bottom - 0.05), (mid, bottom + 0.02 * (1 - abs(mid)))]
    edge += [(xs[0], bottom - 0.05)]
    _fill_hair(s, np.array(pts + edge), tension=0.6)
    _shine(s)


def _curls(cx: float, cy: float, rx: float, ry: float, n: int, bump: float) -> np.ndarray:
    t = np.linspace(0, 2 * math.pi, n * 4, endpoint=False)
    r = 1 + bump * np.abs(np.sin(t * n / 2))
    return np.stack([cx + rx * r * np.cos(t), cy + ry * r * np.sin(t)], 1)


def _afro_back(s: Scene) -> None:
    _fill_hair(s, _curls(0.0, -0.3, 0.78, 0.72, 14, 0.06), BACK_DEPTH * 0.5, tension=1.0)


def _curly_back(s: Scene) -> None:
    _fill_hair(s, _curls(0.0, -0.22, 0.66, 0.66, 12, 0.07), BACK_DEPTH, tension=1.0)


def _curly_front(s: Scene) -> None:
    """A cap whose hairline is a row of curls."""
    outer = _cap(-0.46, -0.1, 0.06)[:8]
    xs = np.linspace(0.5, -0.5, 15)
    ys = -0.44 + 0.035 * np.abs(np.sin(np.linspace(0, 7 * math.pi, 15))) - 0.06 * (1 - np.abs(xs) / 0.5) ** 2
    edge = np.stack([xs, ys], 1)
    edge[[0, -1], 1] = -0.12
    _fill_hair(s, np.concatenate([outer, edge]), tension=0.9)


def _bun_back(s: Scene) -> None:
    _fill_hair(s, ellipse(0.0, -0.98, 0.2, 0.17)[:-1], BACK_DEPTH * 0.3)


def _ponytail_back(s: Scene) -> None:
    tail = np.array([[0.3, -0.6], [0.6, -0.45], [0.72, 0.0], [0.66, 0.5], [0.55, 0.75], [0.5, 0.35],
                     [0.48, -0.1], [0.25, -0.4]])
    _fill_hair(s, tail, BACK_DEPTH)


def _braids_back(s: Scene) -> None:
    _back_shape(0.1, 0.58)(s)
    c = s.colour("hair")
    for side in (-1, 1):
        for k in range(7):
            y = 0.15 + 0.17 * k
            seg = ellipse(side * 0.56, y, 0.075 - 0.004 * k, 0.1)
            px = s.flat(seg, BACK_DEPTH)
            s.fill(px, shade(c, 1.0 if k % 2 else 0.9))
            s.stroke(px, shade(c, 0.55), 0.008, closed=True)


def _locs_back(s: Scene) -> None:
    _back_shape(0.2, 0.6)(s)
    c = s.colour("hair")
    for i, x in enumerate(np.linspace(-0.62, 0.62, 9)):
        if abs(x) < 0.4:
            continue
        length = 0.9 + 0.12 * (i % 3)
        strand = np.array([[x - 0.04, 0.0], [x + 0.04, 0.0], [x * 1.05 + 0.03, length],
                           [x * 1.05 - 0.03, length]])
        px = s.flat(smooth(strand, tension=0.5), BACK_DEPTH)
        s.fill(px, shade(c, 0.95 + 0.05 * (i % 2)))
        s.stroke(px, shade(c, 0.55), 0.008, closed=True)


def _spiky_front(s: Scene) -> None:
    pts = [(-0.55, -0.05), (-0.6, -0.4)]
    for i, x in enumerate(np.linspace(-0.5, 0.5, 7)):
        pts += [(x - 0.06, -0.82 - 0.04 * (i % 2)), (x + 0.02, -1.02 - 0.05 * (i % 3))]
    pts += [(0.6, -0.4), (0.55, -0.05), (0.46, -0.3), (0.2, -0.5), (-0.1, -0.46), (-0.46, -0.3)]
    _fill_hair(s, np.array(pts), tension=0.35)


def _buzz_front(s: Scene) -> None:
    c = s.colour("hair")
    path = s.draped(smooth(_cap(-0.55, -0.1, -0.03), tension=0.85))
    s.tint(path, c, 150)


def _hijab_back(s: Scene) -> None:
    c = s.colour("hair")
    drape = _mirror([(0.0, -0.98), (0.5, -0.86), (0.72, -0.4), (0.74, 0.3), (0.9, 0.95), (1.2, 1.6),
                     (0.0, 1.7)])
    px = s.flat(smooth(drape, tension=0.8), BACK_DEPTH * 0.3)
    s.fill(px, shade(c, 0.92))
    s.stroke(px, shade(c, 0.6), 0.01, closed=True)


def _hijab_front(s: Scene) -> None:
    c = s.colour("hair")
    opening = ellipse(0.0, 0.02, 0.5, 0.7)
    band = _mirror([(0.0, -0.98), (0.5, -0.86), (0.66, -0.4), (0.64, 0.3), (0.5, 0.74), (0.0, 0.86)])
    outer = s.draped(smooth(band, tension=0.8))
    # the scarf frames the face: fill the band, then stroke the face opening's edge
    with s.painter.clipped(outer):
        s.fill(outer, shade(c, 1.0))
    s.stroke(outer, shade(c, 0.6), 0.01, closed=True)
    s.stroke(s.draped(opening), shade(c, 0.75), 0.03, closed=True)


HAIR_STYLES: dict[str, HairStyle] = {
    "short": HairStyle(None, _front_cap(-0.48, -0.12, 0.0, 0.05)),
    "side_part": HairStyle(None, _front_cap(-0.42, -0.1, 0.02, 0.12)),
    "fringe": HairStyle(None, lambda s: _bangs(s, -0.32)),
    "bob": HairStyle(_back_shape(0.5, 0.62, 0.04), lambda s: _bangs(s, -0.34, 6)),
    "long": HairStyle(_back_shape(1.35, 0.64, 0.1), _front_cap(-0.5, 0.25, 0.04, 0.0)),
    "curly": HairStyle(_curly_back, _curly_front),
    "afro": HairStyle(_afro_back, _front_cap(-0.5, -0.15, 0.06, 0.0, shine=False)),
    "braids": HairStyle(_braids_back, _front_cap(-0.5, -0.05, 0.0, 0.0)),
    "locs": HairStyle(_locs_back, _front_cap(-0.5, -0.05, 0.03, 0.0, shine=False)),
    "bun": HairStyle(_bun_back, _front_cap(-0.52, -0.1, 0.0, 0.0)),
    "ponytail": HairStyle(_ponytail_back, _front_cap(-0.46, -0.1, 0.0, 0.08)),
    "buzz": HairStyle(None, _buzz_front),
    "spiky": HairStyle(None, _spiky_front),
    "bald": HairStyle(None, None),
    "hijab": HairStyle(_hijab_back, _hijab_front),
}


# -- headwear ---------------------------------------------------------------------------------------
def _beanie(s: Scene) -> None:
    c = s.colour("headwear")
    dome = _mirror([(0.0, -1.0), (0.42, -0.92), (0.6, -0.6), (0.6, -0.42), (0.0, -0.42)])
    px = s.draped(smooth(dome, tension=0.8))
    s.fill(px, c)
    brim = np.array([[-0.64, -0.56], [0.64, -0.56], [0.64, -0.38], [-0.64, -0.38]])
    s.fill(s.draped(smooth(brim, tension=0.4)), shade(c, 0.85))
    s.stroke(px, shade(c, 0.55), 0.01, closed=True)


def _cap_hat(s: Scene) -> None:
    c = s.colour("headwear")
    dome = _mirror([(0.0, -0.98), (0.44, -0.9), (0.58, -0.6), (0.58, -0.46), (0.0, -0.5)])
    px = s.draped(smooth(dome, tension=0.8))
    s.fill(px, shade(c, 1.0))
    s.stroke(px, shade(c, 0.55), 0.01, closed=True)
    bill = np.array([[-0.52, -0.5], [0.52, -0.5], [0.62, -0.4], [0.0, -0.3], [-0.62, -0.4]])
    bp = s.face(smooth(bill, tension=0.6), lift=0.15)
    s.fill(bp, shade(c, 0.8))
    s.stroke(bp, shade(c, 0.5), 0.01, closed=True)


def _sunhat(s: Scene) -> None:
    c = s.colour("headwear")
    brim = s.draped(ellipse(0.0, -0.6, 1.0, 0.2))
    s.fill(brim, shade(c, 0.92))
    s.stroke(brim, shade(c, 0.55), 0.01, closed=True)
    crown = _mirror([(0.0, -1.06), (0.4, -1.0), (0.5, -0.66), (0.0, -0.6)])
    px = s.draped(smooth(crown, tension=0.7))
    s.fill(px, c)
    s.stroke(px, shade(c, 0.55), 0.01, closed=True)
    band = np.array([[-0.5, -0.74], [0.5, -0.74], [0.5, -0.64], [-0.5, -0.64]])
    s.fill(s.draped(smooth(band, tension=0.3)), shade(c, 0.6))


def _headband(s: Scene) -> None:
    c = s.colour("headwear")
    band = np.array([[-0.58, -0.44], [-0.4, -0.72], [0.0, -0.82], [0.4, -0.72], [0.58, -0.44], [0.52, -0.38],
                     [0.36, -0.62], [0.0, -0.71], [-0.36, -0.62], [-0.52, -0.38]])
    px = s.draped(smooth(band, tension=0.7))
    s.fill(px, c)
    s.stroke(px, shade(c, 0.55), 0.008, closed=True)


def _bow(s: Scene) -> None:
    c = s.colour("headwear")
    for side in (-1, 1):
        loop = np.array([[0.28, -0.8], [0.28 + side * 0.16, -0.92], [0.28 + side * 0.17, -0.7]])
        px = s.draped(smooth(loop, tension=0.6))
        s.fill(px, c)
        s.stroke(px, shade(c, 0.55), 0.008, closed=True)
    knot = s.draped(ellipse(0.28, -0.8, 0.04, 0.045))
    s.fill(knot, shade(c, 0.8))


def _flower(s: Scene) -> None:
    c = s.colour("headwear")
    cx, cy = 0.34, -0.7
    for k in range(5):
        a = k * 2 * math.pi / 5
        petal = s.draped(ellipse(cx + 0.06 * math.cos(a), cy + 0.06 * math.sin(a), 0.055, 0.055))
        s.fill(petal, c)
        s.stroke(petal, shade(c, 0.6), 0.006, closed=True)
    s.fill(s.draped(ellipse(cx, cy, 0.04, 0.04)), (250, 210, 80))


HEADWEAR_STYLES: dict[str, Draw | None] = {
    "none": None, "beanie": _beanie, "cap": _cap_hat, "sunhat": _sunhat, "headband": _headband,
    "bow": _bow, "flower": _flower,
}
