"""Hair (a back layer behind the head and body, a front layer over the forehead) and headwear.

Hair hugs the skull: silhouettes are the face shape's own outline grown outwards (`arc`), so a
style fits every face shape. Front hair hangs off the skull through `Scene.draped` (each point
slides by its depth on the head, so a fringe moves with the face); back hair slides as the front
hair's silhouette does, so a turn never opens a gap between them. Hair below the jaw hangs: the
head's roll fades out along it (`_hang`), so long hair, braids and a scarf fall towards the
shoulders when the head tilts. Fills are flat and opaque (cel shading: a darker back layer, a
few strand lines)."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from avatar_cam.character.face_parts import as_outline, head_path, outline_points
from avatar_cam.character.geometry import Pose2D, apply, ellipse, join, polyline, reverse, smooth
from avatar_cam.character.scene import RGB, Scene, shade

Draw = Callable[[Scene], None]
BACK_DEPTH = 0.1  # back hair slides with the front hair's silhouette: no gap opens between them
CENTRE = np.array([0.0, -0.05])  # the skull's centre for `arc` (head units)
PIVOT = np.array(Pose2D(1.0, (0.0, 0.0)).pivot)  # where the head rolls about (the neck)
LINE = 0.012  # outline width, as the head's
UNIT_CIRCLE = ellipse(0.0, 0.0, 1.0, 1.0)


# -- geometry -------------------------------------------------------------------------------------
def _dense(path: np.ndarray, k: int) -> np.ndarray:
    """`k` points per cubic segment of `path`."""
    n = (len(path) - 1) // 3
    t = np.linspace(0.0, 1.0, k, endpoint=False)[:, None]
    out = []
    for i in range(n):
        p0, c1, c2, p1 = path[3 * i: 3 * i + 4]
        g = 1 - t
        out.append(g**3 * p0 + 3 * g * g * t * c1 + 3 * g * t * t * c2 + t**3 * p1)
    return np.concatenate(out)


@functools.cache
def _radius_table(shape: str) -> tuple[np.ndarray, np.ndarray]:
    """The head outline of `shape` at rest as radius by angle about `CENTRE` (sorted angles)."""
    d = _dense(smooth(outline_points(shape, 0.0)), 16) - CENTRE
    ang, r = np.arctan2(d[:, 1], d[:, 0]), np.hypot(d[:, 0], d[:, 1])
    order = np.argsort(ang)
    return ang[order], r[order]


def skull_radius(shape: str, theta: np.ndarray) -> np.ndarray:
    """The head outline's distance from `CENTRE` at angles `theta` (radians, 0 = right, -pi/2 =
    top: screen y points down)."""
    ang, r = _radius_table(shape)
    return np.interp((theta + math.pi) % (2 * math.pi) - math.pi, ang, r, period=2 * math.pi)


def arc(s: Scene, deg0: float, deg1: float, grow: float, n: int = 11, top: float = 0.0,
        bumps: int = 0, bump: float = 0.0) -> np.ndarray:
    """Points along the head outline grown by `grow` from angle `deg0` to `deg1` (degrees; -90 is
    the top; going from 10 to -190 passes over the head from the right temple to the left). `top`
    adds volume on the crown; `bumps` scallops of height `bump` make curls. (The same for every
    frame of a character: made once.)"""
    return _arc(s.parts["face"]["shape"], deg0, deg1, grow, n, top, bumps, bump)


@functools.lru_cache(maxsize=256)
def _arc(shape: str, deg0: float, deg1: float, grow: float, n: int, top: float, bumps: int,
         bump: float) -> np.ndarray:
    th = np.radians(np.linspace(deg0, deg1, n if not bumps else 4 * bumps + 1))
    r = skull_radius(shape, th) + grow + top * np.clip(-np.sin(th), 0, 1) ** 2
    if bumps:
        r = r + bump * np.abs(np.sin(np.linspace(0.0, bumps * math.pi, len(th))))
    out = CENTRE + r[:, None] * np.stack([np.cos(th), np.sin(th)], 1)
    out.flags.writeable = False  # shared between frames
    return out


@functools.cache
def _width(shape: str) -> float:
    return float(skull_radius(shape, np.array([0.0]))[0] / 0.53)


def width(s: Scene) -> float:
    """The face's half-width over the round face's (hairlines are drawn for the round face)."""
    return _width(s.parts["face"]["shape"])


def smooth_many(pts: np.ndarray, tension: float = 1.0) -> np.ndarray:
    """`geometry.smooth` (closed) of m outlines at once: (m, n, 2) -> (m, 3n+1, 2). Many small
    shapes (locs, curls, braid links) cost one numpy pass instead of m."""
    ring = np.concatenate([pts[:, -1:], pts, pts[:, :2]], 1)
    prev, nxt, nxt2 = ring[:, :-3], ring[:, 2:-1], ring[:, 3:]
    out = np.empty((pts.shape[0], 3 * pts.shape[1] + 1, 2))
    out[:, 0] = pts[:, 0]
    out[:, 1::3] = pts + (nxt - prev) * (tension / 6)
    out[:, 2::3] = nxt - (nxt2 - pts) * (tension / 6)
    out[:, 3::3] = nxt
    return out


def fit(s: Scene, pts: list[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """Hairline points drawn for the round face, narrowed to this face's width."""
    return np.asarray(pts, np.float64) * [width(s), 1.0]


def mirror(right: list[tuple[float, float]]) -> np.ndarray:
    """A closed outline from its right half (top centre first, ending on the centre line)."""
    r = np.array(right, np.float64)
    return np.concatenate([r, r[-2:0:-1] * [-1, 1]])


def _hang(s: Scene, pts: np.ndarray, depth: float, start: float = 0.3, span: float = 1.0) -> np.ndarray:
    """Hair or cloth lying behind/over the head (`Scene.flat` at `depth`) whose part below `start`
    hangs: the head's roll fades out over `span` head units, as hair falls with gravity."""
    moved = pts + s.head.shift(depth)
    rolled = apply(s.head_m, moved)
    pivot_px = apply(s.head_m, PIVOT[None])[0]
    upright = pivot_px + (moved - PIVOT) * s.scale
    w = np.clip((pts[:, 1] - start) / span, 0.0, 1.0)[:, None] * 0.9
    return rolled * (1 - w) + upright * w


def _hang_draped(s: Scene, pts: np.ndarray, start: float = 0.3, span: float = 1.0) -> np.ndarray:
    """Front hair (draped over the skull) whose part below `start` hangs like `_hang`."""
    rolled = s.draped(pts)
    pivot_px = apply(s.head_m, PIVOT[None])[0]
    d = 0.1 + 0.6 * s.head.depth(pts)
    upright = pivot_px + (pts + d[:, None] * s.head.shift(1.0) - PIVOT) * s.scale
    w = np.clip((pts[:, 1] - start) / span, 0.0, 1.0)[:, None] * 0.9
    return rolled * (1 - w) + upright * w


# -- paint ----------------------------------------------------------------------------------------
def _colours(s: Scene) -> tuple[RGB, RGB, RGB]:
    """Hair colour, its back-layer shade and its outline."""
    c = s.colour("hair")
    return c, shade(c, 0.78), shade(c, 0.5)


def _shape(s: Scene, px: np.ndarray, colour: RGB, line: RGB | None = None) -> None:
    s.outlined(px, colour, line or shade(colour, 0.5), LINE)


def _strands(s: Scene, lines: list[list[tuple[float, float]]], alpha: int = 255) -> None:
    """Thin strand lines over front hair (a shade of the hair, drawn over the skull)."""
    c = shade(s.colour("hair"), 0.68)
    for strand in s.draped_all([smooth(fit(s, pts), closed=False) for pts in lines]):
        s.stroke(strand, c, 0.008, alpha=alpha)  # one by one: translucent strands cross


def _shine(s: Scene, x: float = -0.24, y: float = -0.64, size: float = 1.0) -> None:
    """A small highlight on the crown (a translucent shape: small, so it is cheap)."""
    c = s.colour("hair")
    streak = np.array([[x - 0.1 * size, y + 0.06 * size], [x, y - 0.03 * size],
                       [x + 0.12 * size, y - 0.03 * size], [x + 0.01 * size, y + 0.03 * size]])
    s.tint(s.draped(smooth(fit(s, streak), tension=0.7)), shade(c, 1.7), 80)


def _front(s: Scene, outer: np.ndarray, hairline: list[tuple[float, float]] | np.ndarray,
           tension: float = 0.75) -> np.ndarray:
    """Front hair: `outer` (right temple, over the top, to the left) then the `hairline` (left
    to right, drawn for the round face)."""
    px = s.draped(smooth(np.concatenate([outer, fit(s, hairline)]), tension=tension))
    c, _, line = _colours(s)
    _shape(s, px, c, line)
    return px


def _back(s: Scene, pts: np.ndarray, hang: bool = False, tension: float = 0.8) -> None:
    _, back, line = _colours(s)
    path = smooth(pts, tension=tension)
    _shape(s, _hang(s, path, BACK_DEPTH) if hang else s.flat(path, BACK_DEPTH), back, line)


def _skull_back(grow: float) -> Draw:
    """Hair behind the top of the head (as far down as the ears): fills any gap a turn or tilt
    opens between the front hair and the head. Outlined like the rest of the hair: below the ears
    and past a turned head's far side it shows (a flat patch of colour there read as a smudge)."""
    def draw(s: Scene) -> None:
        _back(s, np.concatenate([arc(s, 25, -205, grow, n=10), [(0.0, -0.1)]]))
    return draw


@dataclass(frozen=True)
class HairStyle:
    back: Draw | None
    front: Draw | None
    volume: float = 0.0  # how far the hair stands off the skull (hats sit on it)


# -- short styles -----------------------------------------------------------------------------------
def _short(s: Scene) -> None:
    outer = arc(s, 12, -192, 0.05, top=0.07)
    hairline = [(-0.46, 0.03), (-0.45, -0.2), (-0.38, -0.36), (-0.28, -0.47), (-0.2, -0.39), (-0.08, -0.49),
                (0.04, -0.41), (0.16, -0.5), (0.28, -0.44), (0.38, -0.49), (0.45, -0.3), (0.46, 0.03)]
    _front(s, outer, hairline, tension=0.7)
    _strands(s, [[(-0.3, -0.72), (-0.18, -0.6), (-0.12, -0.5)], [(0.05, -0.78), (0.12, -0.64), (0.14,
                                                                                                -0.54)]])
    _shine(s)


def _side_part(s: Scene) -> None:
    outer = arc(s, 12, -192, 0.055, top=0.08)
    hairline = [(-0.46, 0.03), (-0.45, -0.25), (-0.36, -0.5), (-0.22, -0.6), (-0.05, -0.55), (0.12, -0.48),
                (0.27, -0.38), (0.36, -0.25), (0.41, -0.31), (0.46, -0.18), (0.46, 0.03)]
    _front(s, outer, hairline)
    _strands(s, [[(-0.2, -0.62), (-0.17, -0.78)], [(-0.1, -0.7), (0.1, -0.64), (0.3, -0.48)],
                 [(0.0, -0.6), (0.18, -0.53), (0.33, -0.38)]])
    _shine(s, -0.32, -0.66)


def _bangs_line(bottom: float, n: int, side: float = 0.03) -> list[tuple[float, float]]:
    """A cut fringe from the left temple to the right: `n` soft points at `bottom`."""
    xs = np.linspace(-0.44, 0.44, n + 1)
    pts: list[tuple[float, float]] = [(-0.47, side), (-0.46, bottom - 0.02)]
    for a, b in zip(xs[:-1], xs[1:], strict=True):
        pts += [(float(a), bottom - 0.045), (float((a + b) / 2), bottom + 0.012)]
    return pts + [(0.44, bottom - 0.045), (0.46, bottom - 0.02), (0.47, side)]


def _fringe(s: Scene) -> None:
    _front(s, arc(s, 12, -192, 0.05, top=0.05), _bangs_line(-0.3, 6), tension=0.55)
    _strands(s, [[(-0.2, -0.7), (-0.22, -0.45)], [(0.08, -0.74), (0.1, -0.45)], [(0.3, -0.62), (0.32,
                                                                                                -0.42)]])
    _shine(s)


def _buzz(s: Scene) -> None:
    """Hair cut close: a flat colour between hair and skin (opaque: cheaper than a see-through
    layer), hugging the skull."""
    c, skin = s.colour("hair"), s.colour("face", "skin")
    mix = tuple(int(round(0.6 * a + 0.4 * b)) for a, b in zip(c, skin, strict=True))
    outer = arc(s, 8, -188, 0.015, top=0.01)
    hairline = [(-0.47, -0.02), (-0.44, -0.3), (-0.3, -0.5), (0.0, -0.54), (0.3, -0.5), (0.44, -0.3),
                (0.47, -0.02)]
    px = s.draped(smooth(np.concatenate([outer, fit(s, hairline)]), tension=0.8))
    s.outlined(px, mix, s.outline, LINE)  # type: ignore[arg-type]


def _spiky(s: Scene) -> None:
    outer = []
    top = arc(s, 5, -185, 0.04, n=15)
    for i, p in enumerate(top):
        outer.append(p)
        if 2 <= i < len(top) - 3:
            mid = (top[i] + top[i + 1]) / 2
            out = (mid - CENTRE) / np.linalg.norm(mid - CENTRE)
            outer.append(mid + out * (0.16 + 0.05 * (i % 2)))
    hairline = [(-0.46, 0.0), (-0.42, -0.3), (-0.3, -0.44), (-0.18, -0.38), (-0.06, -0.48), (0.06, -0.4),
                (0.2, -0.48), (0.32, -0.4), (0.43, -0.32), (0.46, 0.0)]
    _front(s, np.array(outer), hairline, tension=0.3)
    _shine(s, -0.2, -0.7)


# -- medium and long ----------------------------------------------------------------------------------
def _bob_back(s: Scene) -> None:
    w = width(s)
    pts = np.concatenate([[(0.3 * w, 0.5), (0.56 * w, 0.53), (0.66 * w, 0.32)], arc(s, 18, -198, 0.12,
                                                                                    top=0.06),
                          [(-0.66 * w, 0.32), (-0.56 * w, 0.53), (-0.3 * w, 0.5), (0.0, 0.46)]])
    _back(s, pts)


def _bob_front(s: Scene) -> None:
    w = width(s)
    outer = np.concatenate([[(0.5 * w, 0.55), (0.6 * w, 0.52), (0.67 * w, 0.3)], arc(s, 15, -195, 0.12,
                                                                                     top=0.06),
                            [(-0.67 * w, 0.3), (-0.6 * w, 0.52), (-0.5 * w, 0.55)]])
    hairline = [(-0.47, 0.42), (-0.47, 0.1)] + _bangs_line(-0.32, 5, side=-0.12)[1:-1] + [(0.47, 0.1), (0.47,
                                                                                                        0.42)]
    _front(s, outer, hairline, tension=0.6)
    _strands(s, [[(-0.56, 0.0), (-0.58, 0.35)], [(0.56, 0.0), (0.58, 0.35)], [(-0.1, -0.74), (-0.12, -0.5)],
                 [(0.16, -0.72), (0.18, -0.5)]])
    _shine(s)


def _long_outer(s: Scene, grow: float = 0.1) -> np.ndarray:
    w = width(s)
    return np.concatenate([[(0.48 * w, 1.42), (0.7 * w, 1.3), (0.74 * w, 0.7), (0.68 * w, 0.2)],
                           arc(s, 8, -188, grow, top=0.06),
                           [(-0.68 * w, 0.2), (-0.74 * w, 0.7), (-0.7 * w, 1.3), (-0.48 * w, 1.42)]])


def _long_back(s: Scene) -> None:
    pts = np.concatenate([_long_outer(s, 0.11), [(0.0, 1.3)]])
    _back(s, pts, hang=True)


def _long_front(s: Scene) -> None:
    """A centre part; two curtains frame the face and fall over the shoulders."""
    w = width(s)
    hairline = [(-0.5, 1.38), (-0.47, 0.9), (-0.47, 0.45), (-0.47, 0.05), (-0.42, -0.32), (-0.22, -0.54),
                (0.04, -0.62), (0.1, -0.58), (0.3, -0.48), (0.43, -0.3), (0.47, 0.05), (0.47, 0.45), (0.47,
                                                                                                      0.9),
                (0.5, 1.38)]
    pts = np.concatenate([_long_outer(s), fit(s, hairline)])
    px = _hang_draped(s, smooth(pts, tension=0.75))
    c, _, line = _colours(s)
    _shape(s, px, c, line)
    strands = [[(-0.6 * w, 0.2), (-0.62 * w, 0.7), (-0.6 * w, 1.2)], [(0.6 * w, 0.2), (0.62 * w, 0.7),
                                                                      (0.6 * w, 1.2)],
               [(0.06, -0.62), (0.04, -0.8)]]
    for pts in strands:
        s.stroke(_hang_draped(s, smooth(np.array(pts), closed=False)), shade(c, 0.68), 0.008)
    _shine(s, -0.28, -0.62)


def _curls(s: Scene, centres: np.ndarray, r: float, colour: RGB, depth: float | None = None) -> None:
    """Overlapping round curls, each filled and outlined in turn: the later ones cover part of the
    earlier outlines, which leaves the arcs that read as curls. Each curl moves as one piece: as
    its centre does over the skull, or flat at `depth` (back hair)."""
    line = shade(s.colour("hair"), 0.5)
    slide = (0.1 + 0.6 * s.head.depth(centres))[:, None] * s.head.shift(1.0) if depth is None else \
        np.broadcast_to(s.head.shift(depth), centres.shape)
    sizes = r * (1.0 + 0.12 * ((np.arange(len(centres)) * 7) % 3 - 1))  # a little variety in size
    half_line = 0.0045
    rings = np.concatenate([sizes + half_line, sizes - half_line])  # outline disc, then the curl on it
    circles = UNIT_CIRCLE[None] * rings[:, None, None] + np.tile(centres + slide, (2, 1))[:, None, :]
    px = apply(s.head_m, circles.reshape(-1, 2)).reshape(circles.shape)
    n = len(centres)
    for i in range(n):  # two flat fills draw an outlined disc for less than a fill and a stroke
        s.fill(px[i], line)
        s.fill(px[n + i], colour)


def _curly_back(s: Scene) -> None:
    _, back, _ = _colours(s)
    w = width(s)
    mass = np.concatenate([[(0.42 * w, 0.5), (0.66 * w, 0.32)], arc(s, 10, -190, 0.14, top=0.06),
                           [(-0.66 * w, 0.32), (-0.42 * w, 0.5), (0.0, 0.45)]])
    s.fill(s.flat(smooth(mass), BACK_DEPTH), back)
    sides = np.concatenate([np.stack([np.full(3, side * 0.6 * w), np.linspace(-0.05, 0.42, 3)], 1)
                            for side in (-1, 1)])
    _curls(s, sides, 0.13, back, BACK_DEPTH)


def _curly_front(s: Scene) -> None:
    """Curls all over: round curls along the crown and down past the temples (outside the face,
    so the eyes stay clear), smaller ones along the hairline over the forehead."""
    c, _, _ = _colours(s)
    cap = np.concatenate([arc(s, 12, -192, 0.1, top=0.05),
                          fit(s, [(-0.5, 0.0), (-0.47, -0.26), (0.0, -0.44), (0.47, -0.26), (0.5, 0.0)])])
    s.fill(s.draped(smooth(cap)), c)
    _curls(s, arc(s, 12, -192, 0.13, n=11, top=0.05), 0.11, c)
    _curls(s, fit(s, [(-0.22, -0.64), (0.04, -0.68), (0.28, -0.62)]), 0.09, c)
    hairline = fit(s, [(-0.38, -0.38), (-0.25, -0.45), (-0.12, -0.48), (0.0, -0.49), (0.12, -0.48),
                       (0.25, -0.45), (0.38, -0.38)])
    _curls(s, hairline, 0.065, c)


AFRO_CENTRE, AFRO_R = (0.0, -0.3), (0.84, 0.78)


def _afro_outline(start: float, end: float, bumps: int) -> np.ndarray:
    th = np.radians(np.linspace(start, end, 4 * bumps + 1))
    r = 1 + 0.055 * np.abs(np.sin(np.linspace(0.0, bumps * math.pi, len(th))))
    return np.stack([AFRO_CENTRE[0] + AFRO_R[0] * r * np.cos(th),
                     AFRO_CENTRE[1] + AFRO_R[1] * r * np.sin(th)], 1)


def _afro_back(s: Scene) -> None:
    _back(s, _afro_outline(0, 360, 22)[:-1], tension=1.0)


def _afro_front(s: Scene) -> None:
    outer = _afro_outline(20, -200, 13)
    hairline = [(-0.62, 0.02), (-0.5, -0.12), (-0.46, -0.32), (-0.3, -0.46), (0.0, -0.5), (0.3, -0.46),
                (0.46, -0.32),
                (0.5, -0.12), (0.62, 0.02)]
    px = s.draped(smooth(np.concatenate([outer, hairline]), tension=0.95))
    c, _, line = _colours(s)
    _shape(s, px, c, line)
    d = shade(c, 0.7)
    rng = np.random.default_rng(7)  # fixed: the same texture every frame
    for x, y in rng.uniform([-0.6, -0.95], [0.6, -0.6], (9, 2)):
        curl = np.array([[x - 0.03, y + 0.015], [x, y - 0.025], [x + 0.03, y + 0.01]])
        s.stroke(s.draped(smooth(curl, closed=False)), d, 0.008)


def _braid(s: Scene, side: int) -> list[tuple[np.ndarray, RGB, bool]]:
    """One plait from behind the ear down over the shoulder: overlapping slanted links, as
    (pixels, colour, outlined) shapes in drawing order."""
    c = _colours(s)[0]
    x0, n = side * 0.56 * width(s), 6
    k = np.arange(n)
    y, w, tilt = 0.2 + 0.16 * k, 0.085 - 0.004 * k, 0.035 * np.where(k % 2, 1.0, -1.0)
    links = np.stack([np.stack([x0 - w, y - 0.02 - tilt], 1), np.stack([np.full(n, x0), y - 0.1], 1),
                      np.stack([x0 + w, y - 0.02 + tilt], 1), np.stack([np.full(n, x0), y + 0.08], 1)], 1)
    paths = smooth_many(links, 0.9)
    shapes = [(px, c if i % 2 else shade(c, 0.9), True)
              for i, px in enumerate(_hang(s, paths.reshape(-1, 2), 0.05).reshape(paths.shape))]
    end = 0.2 + 0.16 * n
    shapes.append((_hang(s, ellipse(x0, end - 0.06, 0.05, 0.025), 0.05), shade(c, 0.45), False))
    tuft = np.array([[x0 - 0.04, end - 0.05], [x0 + 0.04, end - 0.05], [x0 + 0.06, end + 0.1], [x0,
                                                                                                end + 0.06],
                     [x0 - 0.06, end + 0.1]])
    shapes.append((_hang(s, smooth(tuft, tension=0.5), 0.05), c, True))
    return shapes


def _behind_head(s: Scene, shapes: list[np.ndarray]) -> list[np.ndarray]:
    """The region around `shapes` (pixels) less the head's silhouette: a clip for what hangs from
    behind the head (one contour each way round, so the head is a hole under either fill rule)."""
    pts = np.concatenate(shapes)
    (x0, y0), (x1, y1) = pts.min(0) - 4, pts.max(0) + 4
    head = head_path(s)
    box = polyline(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]))
    if _clockwise(box) == _clockwise(head):
        head = reverse(head)
    return [box, head]


def _clockwise(path: np.ndarray) -> bool:
    """Whether the closed chain runs clockwise on the screen (its points' shoelace sign)."""
    x, y = path[:, 0], path[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) > 0


def _parted_cap(s: Scene, grow: float = 0.04) -> None:
    """Hair pulled back flat from a centre part (braids, bun, ponytail)."""
    outer = arc(s, 10, -190, grow, top=0.03)
    hairline = [(-0.47, 0.02), (-0.45, -0.22), (-0.36, -0.42), (-0.18, -0.52), (0.0, -0.56), (0.18, -0.52),
                (0.36, -0.42), (0.45, -0.22), (0.47, 0.02)]
    _front(s, outer, hairline)
    _strands(s, [[(0.0, -0.56), (0.0, -0.8)], [(-0.2, -0.52), (-0.3, -0.7)], [(0.2, -0.52), (0.3, -0.7)]])


def _braids_back(s: Scene) -> None:
    """The rest of the hair, braided back, behind the head down to the shoulders."""
    w = width(s)
    _back(s, np.concatenate([[(0.4 * w, 1.05), (0.62 * w, 0.9), (0.64 * w, 0.3)], arc(s, 10, -190, 0.06),
                             [(-0.64 * w, 0.3), (-0.62 * w, 0.9), (-0.4 * w, 1.05), (0.0, 1.0)]]), hang=True)


def _braids_front(s: Scene) -> None:
    """The plaits hang from behind the ears: the head hides what of them lies over it (turned, the
    far plait was drawn across the cheek)."""
    _parted_cap(s)
    shapes = _braid(s, -1) + _braid(s, 1)
    line = _colours(s)[2]
    with s.painter.clipped(_behind_head(s, [px for px, _, _ in shapes])):
        for px, colour, outlined in shapes:
            if outlined:
                s.outlined(px, colour, line, 0.009)
            else:
                s.fill(px, colour)


LOC_W = 0.06


def _locs(s: Scene, roots: list[tuple[float, float, float, float]], colours: list[RGB], front: bool) -> None:
    """Locs: long rounded strands with a slight wave, each hanging from (x, top) with its length
    and lean; all shaped and placed in one pass, then painted one by one."""
    rows = 5
    x, top, length, lean = (np.array(v)[:, None] for v in zip(*roots, strict=True))
    ys = top + length * np.linspace(0.0, 1.0, rows)[None]
    xs = x + lean * (ys - top) + 0.015 * np.sin(np.linspace(0, 2.5 * math.pi, rows))[None]
    left, right = np.stack([xs - LOC_W / 2, ys], 2), np.stack([xs + LOC_W / 2, ys], 2)
    tip = np.stack([xs[:, -1:], ys[:, -1:] + LOC_W * 0.6], 2)
    paths = smooth_many(np.concatenate([left, tip, right[:, ::-1]], 1), 0.7)
    flat = paths.reshape(-1, 2)
    px = (_hang_draped(s, flat, 0.2) if front else _hang(s, flat, BACK_DEPTH, 0.2)).reshape(paths.shape)
    line = shade(s.colour("hair"), 0.5)
    for shape, colour in zip(px, colours, strict=True):
        s.outlined(shape, colour, line, 0.008)


def _locs_back(s: Scene) -> None:
    w = width(s)
    _back(s, np.concatenate([[(0.5 * w, 1.5), (0.82 * w, 1.4), (0.74 * w, 0.3)], arc(s, 10, -190, 0.09,
                                                                                     top=0.05),
                             [(-0.74 * w, 0.3), (-0.82 * w, 1.4), (-0.5 * w, 1.5), (0.0, 1.45)]]), hang=True)
    _, back, _ = _colours(s)
    xs = (-0.7, 0.7)
    _locs(s, [(x * w, 0.0, 1.0, 0.05 * np.sign(x)) for x in xs], [back] * len(xs), front=False)


def _locs_front(s: Scene) -> None:
    outer = arc(s, 12, -192, 0.08, top=0.06)
    hairline = [(-0.47, 0.0), (-0.44, -0.26), (-0.32, -0.44), (-0.12, -0.5), (0.1, -0.5), (0.32, -0.44),
                (0.44, -0.26), (0.47, 0.0)]
    _front(s, outer, hairline)
    c = s.colour("hair")
    w = width(s)
    roots = ((-0.64, -0.05), (-0.54, -0.2), (-0.46, -0.3), (0.46, -0.3), (0.54, -0.2), (0.64, -0.05))
    colours = [c if i % 2 else shade(c, 0.9) for i in range(len(roots))]
    _locs(s, [(x * w, top, 1.25 + 0.1 * (i % 2) - 0.1 * (abs(x) > 0.6), 0.04 * np.sign(x))
              for i, (x, top) in enumerate(roots)], colours, front=True)
    # locs lying over the top of the head, towards the back
    d = shade(c, 0.68)
    for x in (-0.3, 0.0, 0.3):
        line = np.array([[x * 0.6, -0.82], [x * 0.9, -0.66], [x * 1.2, -0.52]])
        s.stroke(s.draped(smooth(fit(s, line), closed=False)), d, 0.008)


def _bun_back(s: Scene) -> None:
    _skull_back(0.03)(s)
    c, _, line = _colours(s)
    bun = s.flat(ellipse(0.0, -0.9, 0.21, 0.18), 0.0)
    _shape(s, bun, c, line)
    swirl = np.array([[-0.12, -0.92], [-0.02, -1.0], [0.1, -0.94], [0.06, -0.84], [-0.06, -0.86]])
    s.stroke(s.flat(smooth(swirl, closed=False), 0.0), shade(c, 0.68), 0.009)


def _ponytail_back(s: Scene) -> None:
    _skull_back(0.035)(s)
    w = width(s)
    tail = np.array([[0.26 * w, -0.66], [0.56 * w, -0.56], [0.72 * w, -0.2], [0.74 * w, 0.3], [0.66 * w, 0.8],
                     [0.56 * w, 0.95], [0.48 * w, 0.6], [0.44 * w, 0.1], [0.4 * w, -0.3]])
    c, _, line = _colours(s)
    px = _hang(s, smooth(tail, tension=0.85), BACK_DEPTH, start=0.3)
    _shape(s, px, shade(c, 0.88), line)
    s.stroke(_hang(s, smooth(np.array([[0.6 * w, -0.3], [0.66 * w, 0.3], [0.62 * w, 0.7]]), closed=False),
                   BACK_DEPTH, start=0.3), shade(c, 0.6), 0.008)
    tie = smooth(np.array([[0.5 * w, -0.56], [0.62 * w, -0.5], [0.6 * w, -0.42], [0.47 * w, -0.46]]),
                 tension=0.6)
    s.fill(_hang(s, tie, BACK_DEPTH, start=0.3), shade(c, 0.4))


# -- headscarf ------------------------------------------------------------------------------------
def _scarf_colours(s: Scene) -> tuple[RGB, RGB, RGB]:
    c = s.colour("hair")
    return c, shade(c, 0.8), shade(c, 0.55)


def _hijab_outer(s: Scene) -> np.ndarray:
    w = width(s)
    outer = mirror([(0.0, -0.93), (0.42 * w, -0.84), (0.64 * w, -0.45), (0.68 * w, 0.1), (0.66 * w, 0.55),
                    (0.86, 1.0), (1.18, 1.45), (1.22, 2.2), (0.0, 2.4)])
    return _hang_draped(s, smooth(outer, tension=0.8), start=0.4, span=0.8)


def _hijab_back(s: Scene) -> None:
    """The scarf's inside, behind the head: seen where a turn opens the face opening past the
    face's edge."""
    _, back, _ = _scarf_colours(s)
    s.fill(_hijab_outer(s), back)


def _face_opening(s: Scene) -> np.ndarray:
    """The scarf's opening: the face from the middle of the forehead round under the chin."""
    pts = outline_points(s.parts["face"]["shape"], s.pose.mouth_open).copy()
    pts[:, 0] *= 0.9
    pts[:, 1] = np.maximum(pts[:, 1], -0.5 + 0.1 * (pts[:, 0] / 0.5) ** 2)
    pts[:, 1] += 0.02
    return smooth(pts)


def _hijab_front(s: Scene) -> None:
    """A headscarf: it wraps the head, frames the face and falls over the shoulders and chest.
    One shape with the face opening cut out (the opening runs the other way round)."""
    c, _, line = _scarf_colours(s)
    outer_px = _hijab_outer(s)
    opening = reverse(_face_opening(s))
    # draped round the eyes (a turned face shows its far eye), turned as the face's outline under
    # the cheeks: draped all round, its chin slid off the face's at a turn and showed the neck
    chin = np.clip((opening[:, 1] - 0.2) / 0.35, 0.0, 1.0)[:, None]
    hole = (1 - chin) * s.draped(opening) + chin * as_outline(s, opening)
    ring = join(outer_px, hole, outer_px[:1])
    s.fill(ring, c)
    s.stroke(outer_px, line, LINE, closed=True)
    s.stroke(hole, line, LINE, closed=True)
    # folds: where the scarf turns under the chin and over the shoulders
    fold = shade(c, 0.8)
    for side in (-1, 1):
        crease = np.array([[side * 0.5, 0.5], [side * 0.62, 0.95], [side * 0.82, 1.45]])
        s.stroke(_hang_draped(s, smooth(crease, closed=False), start=0.4, span=0.8), fold, 0.012)
    under = np.array([[-0.4, 0.78], [0.0, 0.92], [0.4, 0.78]])
    s.stroke(_hang_draped(s, smooth(under, closed=False), start=0.4, span=0.8), fold, 0.012)


HAIR_STYLES: dict[str, HairStyle] = {
    "short": HairStyle(_skull_back(0.04), _short, 0.06),
    "side_part": HairStyle(_skull_back(0.045), _side_part, 0.07),
    "fringe": HairStyle(_skull_back(0.04), _fringe, 0.05),
    "bob": HairStyle(_bob_back, _bob_front, 0.1),
    "long": HairStyle(_long_back, _long_front, 0.09),
    "curly": HairStyle(_curly_back, _curly_front, 0.16),
    "afro": HairStyle(_afro_back, _afro_front, 0.3),
    "braids": HairStyle(_braids_back, _braids_front, 0.04),
    "locs": HairStyle(_locs_back, _locs_front, 0.08),
    "bun": HairStyle(_bun_back, lambda s: _parted_cap(s), 0.04),
    "ponytail": HairStyle(_ponytail_back, lambda s: _parted_cap(s, 0.045), 0.045),
    "buzz": HairStyle(None, _buzz, 0.02),
    "spiky": HairStyle(_skull_back(0.03), _spiky, 0.15),
    "bald": HairStyle(None, None, 0.0),
    "hijab": HairStyle(_hijab_back, _hijab_front, 0.12),
}


# -- headwear ---------------------------------------------------------------------------------------
def _hat_scale(s: Scene) -> float:
    """Hats sit on the hair: bigger over voluminous styles."""
    return 1.0 + HAIR_STYLES[s.parts["hair"]["style"]].volume * 0.6


def _on_head(s: Scene, pts: np.ndarray) -> np.ndarray:
    """A hat's points (drawn for a bare head) scaled round the skull for the hair under it."""
    k = _hat_scale(s)
    base = np.array([0.0, -0.35])
    return s.draped(base + (pts - base) * [k * width(s), k])


def _hat_shape(s: Scene, pts: np.ndarray, colour: RGB) -> np.ndarray:
    px = _on_head(s, pts)
    s.outlined(px, colour, shade(colour, 0.5), LINE)
    return px


def _beanie(s: Scene) -> None:
    c = s.colour("headwear")
    dome = smooth(mirror([(0.0, -1.02), (0.4, -0.95), (0.58, -0.7), (0.62, -0.45), (0.0, -0.46)]),
                  tension=0.8)
    _hat_shape(s, dome, c)
    for x in (-0.22, 0.22):  # knit ribs
        rib = np.array([[x * 0.8, -0.96], [x, -0.75], [x * 1.05, -0.58]])
        s.stroke(_on_head(s, smooth(rib, closed=False)), shade(c, 0.8), 0.01)
    cuff = smooth(np.array([[-0.66, -0.6], [0.0, -0.66], [0.66, -0.6], [0.66, -0.38], [0.0, -0.42],
                            [-0.66, -0.38]]), tension=0.5)
    _hat_shape(s, cuff, shade(c, 0.88))
    pom = ellipse(0.0, -1.06, 0.1, 0.09)
    _hat_shape(s, pom, shade(c, 1.25))


def _cap_hat(s: Scene) -> None:
    c = s.colour("headwear")
    dome = smooth(mirror([(0.0, -0.98), (0.42, -0.9), (0.58, -0.64), (0.6, -0.44), (0.0, -0.5)]), tension=0.8)
    _hat_shape(s, dome, c)
    seam = np.array([[0.0, -0.98], [0.02, -0.7], [0.0, -0.5]])
    s.stroke(_on_head(s, smooth(seam, closed=False)), shade(c, 0.75), 0.01)
    s.fill(_on_head(s, ellipse(0.0, -0.97, 0.04, 0.03)), shade(c, 0.75))
    bill = np.array([[-0.5, -0.5], [0.0, -0.56], [0.5, -0.5], [0.56, -0.42], [0.0, -0.3], [-0.56, -0.42]])
    k = _hat_scale(s)
    pts = np.array([0.0, -0.35]) + (bill - [0.0, -0.35]) * [k * width(s), k]
    px = s.face(smooth(pts, tension=0.6), lift=0.12)
    s.outlined(px, shade(c, 0.82), shade(c, 0.5), LINE)


def _sunhat(s: Scene) -> None:
    c = s.colour("headwear")
    _hat_shape(s, ellipse(0.0, -0.56, 0.98, 0.2), shade(c, 0.92))
    crown = smooth(mirror([(0.0, -1.08), (0.38, -1.02), (0.5, -0.7), (0.52, -0.58), (0.0, -0.54)]),
                   tension=0.7)
    _hat_shape(s, crown, c)
    band = smooth(np.array([[-0.51, -0.76], [0.0, -0.72], [0.51, -0.76], [0.52, -0.62], [0.0, -0.58],
                            [-0.52, -0.62]]), tension=0.5)
    s.fill(_on_head(s, band), shade(c, 0.6))


def _headband(s: Scene) -> None:
    c = s.colour("headwear")
    band = smooth(np.array([[-0.6, -0.34], [-0.44, -0.7], [0.0, -0.84], [0.44, -0.7], [0.6, -0.34], [0.54,
                                                                                                     -0.3],
                            [0.38, -0.62], [0.0, -0.74], [-0.38, -0.62], [-0.54, -0.3]]), tension=0.7)
    _hat_shape(s, band, c)


def _bow(s: Scene) -> None:
    c = s.colour("headwear")
    cx, cy = 0.3, -0.78
    for side in (-1, 1):
        loop = np.array([[cx, cy], [cx + side * 0.17, cy - 0.1], [cx + side * 0.19, cy + 0.08]])
        _hat_shape(s, smooth(loop, tension=0.6), c)
    _hat_shape(s, ellipse(cx, cy, 0.045, 0.05), shade(c, 0.85))


def _flower(s: Scene) -> None:
    c = s.colour("headwear")
    cx, cy = 0.34, -0.7
    for k in range(5):
        a = k * 2 * math.pi / 5 - math.pi / 2
        _hat_shape(s, ellipse(cx + 0.065 * math.cos(a), cy + 0.065 * math.sin(a), 0.055, 0.055), c)
    s.fill(_on_head(s, ellipse(cx, cy, 0.04, 0.04)), (250, 210, 80))


HEADWEAR_STYLES: dict[str, Draw | None] = {
    "none": None, "beanie": _beanie, "cap": _cap_hat, "sunhat": _sunhat, "headband": _headband,
    "bow": _bow, "flower": _flower,
}
