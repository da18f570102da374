"""Cubic Bezier paths as numpy arrays (see `painter`): ellipses, smooth curves through points,
and the 2.5D head: points on the face surface turned by yaw and pitch, then rolled and placed."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

KAPPA = 0.5522847498  # control length of a quarter circle of radius 1


def xy(x: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """(n, 2) points from their x and y (cheaper than np.stack, which these small arrays feel)."""
    out = np.empty((len(x), 2))
    out[:, 0], out[:, 1] = x, y
    return out


def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """A closed ellipse as 4 cubic segments, starting at its right end, clockwise on screen."""
    return _UNIT_ELLIPSE * (rx, ry) + (cx, cy)


_K = KAPPA
_UNIT_ELLIPSE = np.array([(1, 0), (1, _K), (_K, 1), (0, 1), (-_K, 1), (-1, _K), (-1, 0), (-1, -_K),
                          (-_K, -1), (0, -1), (_K, -1), (1, -_K), (1, 0)], np.float64)


@functools.lru_cache(maxsize=256)
def _catmull_rom(n: int, closed: bool, tension: float) -> np.ndarray:
    """The matrix that turns n points into their Catmull-Rom curve's cubic chain: the curve is
    linear in the points, so a frame's every smooth curve costs one small matrix product."""
    k = tension / 6
    segs = n if closed else n - 1
    m = np.zeros((3 * segs + 1, n))
    m[0, 0] = 1.0
    for i in range(segs):
        if closed:
            prev, cur, nxt, nxt2 = (i - 1) % n, i, (i + 1) % n, (i + 2) % n
            m[3 * i + 1, [cur, nxt, prev]] += (1.0, k, -k)
            m[3 * i + 2, [nxt, nxt2, cur]] += (1.0, -k, k)
        else:  # the ends are extended by reflection: p[-1] = 2 p[0] - p[1], p[n] = 2 p[n-1] - p[n-2]
            def at(j: int) -> dict[int, float]:
                if j < 0:
                    return {0: 2.0, 1: -1.0}
                if j >= n:
                    return {n - 1: 2.0, n - 2: -1.0}
                return {j: 1.0}
            for col, w in at(i).items():
                m[3 * i + 1, col] += w
            for col, w in at(i + 1).items():
                m[3 * i + 1, col] += k * w
                m[3 * i + 2, col] += w
            for col, w in at(i - 1).items():
                m[3 * i + 1, col] -= k * w
            for col, w in at(i + 2).items():
                m[3 * i + 2, col] -= k * w
            for col, w in at(i).items():
                m[3 * i + 2, col] += k * w
        m[3 * i + 3, (i + 1) % n] = 1.0
    m.flags.writeable = False
    return m


def smooth(points: np.ndarray, closed: bool = True, tension: float = 1.0) -> np.ndarray:
    """A Catmull-Rom curve through `points` (n, 2) as cubic segments. `tension` < 1 rounds less."""
    p = np.asarray(points, np.float64)
    return _catmull_rom(len(p), closed, float(tension)) @ p


@functools.lru_cache(maxsize=32)
def _points_and_middles(n: int) -> np.ndarray:
    """(2k, n) weights giving a closed chain of n = 3k + 1 points' curve points and each
    cubic's middle, in order (`sample` at every half segment, as one matrix product)."""
    halves = 2 * ((n - 1) // 3)
    m = np.stack([sample(np.eye(n), j / halves) for j in range(halves)])
    m.flags.writeable = False
    return m


def convex_polygon(outline: np.ndarray) -> np.ndarray | None:
    """The polygon (float32) through the closed curve `outline`'s points and its segments'
    middles, which lies inside the curve where the curve is convex; None if it is not convex."""
    polygon = (_points_and_middles(len(outline)) @ outline).astype(np.float32)
    return polygon if cv2.isContourConvex(polygon) else None


def inside_polygon(polygon: np.ndarray, points: np.ndarray, margin: float) -> bool:
    """Whether every point lies at least `margin` pixels inside the convex `polygon`: judged on
    the points' convex hull, which is inside a convex region exactly when all the points are."""
    if not len(points):
        return True
    hull = cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).tolist()
    return all(cv2.pointPolygonTest(polygon, (x, y), True) >= margin for x, y in hull)


def polyline(points: np.ndarray, closed: bool = True) -> np.ndarray:
    """Straight segments through `points` as cubic segments (controls at the thirds)."""
    p = np.asarray(points, np.float64)
    q = np.concatenate([p, p[:1]]) if closed else p
    out = np.empty((3 * len(q) - 2, 2))
    out[::3] = q
    third = np.subtract(q[1:], q[:-1]) / 3
    np.add(q[:-1], third, out=out[1::3])
    np.subtract(q[1:], third, out=out[2::3])
    return out


def join(*paths: np.ndarray) -> np.ndarray:
    """Paths end to end (each starts where the last ended, or a straight segment joins them)."""
    out = [paths[0]]
    for p in paths[1:]:
        a = out[-1][-1]
        out += [a + _THIRDS * (p[0] - a), p[1:]]  # the gap's controls at its thirds, then its end
    return np.concatenate(out)


_THIRDS = np.array([[1 / 3], [2 / 3], [1.0]])


def reverse(path: np.ndarray) -> np.ndarray:
    """The same curve run backwards (cubic chains reverse point by point)."""
    return path[::-1].copy()


def sample(path: np.ndarray, t: float) -> np.ndarray:
    """The point at parameter t in [0, 1] along the chain (by segment count)."""
    segs = (len(path) - 1) // 3
    u = min(max(t, 0.0), 1.0) * segs
    i = min(int(u), segs - 1)
    f = u - i
    p0, c1, c2, p1 = path[3 * i: 3 * i + 4]
    g = 1 - f
    return g**3 * p0 + 3 * g * g * f * c1 + 3 * g * f * f * c2 + f**3 * p1


@dataclass(frozen=True)
class Pose2D:
    """Where the head goes: pixels per head unit, the head centre in pixels, roll in degrees about
    `pivot` (head units, below the chin: the neck)."""

    scale: float
    centre: tuple[float, float]
    roll: float = 0.0
    pivot: tuple[float, float] = (0.0, 0.75)

    def matrix(self) -> np.ndarray:
        """2x3 affine from head units to pixels."""
        a = math.radians(self.roll)
        c, s = math.cos(a) * self.scale, math.sin(a) * self.scale
        rot = np.array([[c, -s], [s, c]])
        piv = np.array(self.pivot)
        t = np.array(self.centre) + rot @ (-piv) + piv * self.scale
        return np.concatenate([rot, t[:, None]], 1)


def apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The 2x3 affine `m` applied to (n, 2) points (OpenCV's one call costs half numpy's two)."""
    if not len(pts):
        return np.zeros((0, 2))
    return cv2.transform(np.asarray(pts, np.float64).reshape(-1, 1, 2), m).reshape(-1, 2)


@functools.lru_cache(maxsize=64)
def _inverse_squares(rx: float, ry: float, scale: float) -> np.ndarray:
    """(scale / rx^2, scale / ry^2): `Head3D.depth`'s weights, made once per head and scale."""
    weights = np.array([scale / (rx * rx), scale / (ry * ry)])
    weights.flags.writeable = False
    return weights


@dataclass(frozen=True)
class Head3D:
    """Turns head-unit points for yaw and pitch. A point on the face at (x, y) lies on an
    ellipsoid (radii `rx`, `ry`, `rz`); `lift` adds depth (a nose tip, hair standing off the
    head). Rotating that point and dropping z gives where it is seen: features near the middle
    slide most, those near the edge foreshorten, so the far side narrows."""

    yaw: float = 0.0  # degrees, + turns the face towards image right
    pitch: float = 0.0  # degrees, + looks up
    rx: float = 0.5
    ry: float = 0.66
    rz: float = 0.55

    def depth(self, pts: np.ndarray, scale: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
        """How far each point of the face stands out of the rotation axis, times `scale` (into
        `out` when given)."""
        # rz^2 (1 - (x/rx)^2 - (y/ry)^2), scaled, as one product and one subtraction: this runs
        # ~30x a frame on small arrays, where each numpy call's overhead is the cost
        k = self.rz * scale
        q = (pts * pts) @ _inverse_squares(self.rx, self.ry, k * k)
        z = np.sqrt(np.maximum(k * k - q, 0.0, out=q), out=out)
        if k < 0:
            np.negative(z, out=z)
        return z

    def turn_point(self, x: float, y: float, lift: float = 0.0, surface: float = 1.0) -> tuple[float, float]:
        """Where (x, y) is seen with the head turned (`linear`, for one point in plain floats:
        numpy's per-call cost is most of a one-point turn); `lift` and `surface` as in `linear`."""
        q = (x / self.rx) ** 2 + (y / self.ry) ** 2
        z = self.rz * math.sqrt(max(1.0 - q, 0.0)) * surface + lift
        a, b = math.radians(self.yaw), math.radians(self.pitch)
        z1 = -x * math.sin(a) + z * math.cos(a)
        return x * math.cos(a) + z * math.sin(a), y * math.cos(b) - z1 * math.sin(b)

    def linear(self) -> tuple[np.ndarray, np.ndarray]:
        """The turn as (A, b): points (n, 2) are seen at pts @ A + z[:, None] * b, where z is how
        far each stands out of the rotation axis: `depth` times `surface` (1 on the face, ~0.3 for
        the head outline, negative for the back of the head, 0 off the curve) plus a `lift`.
        Callers fold it into one affine with the placement (one matrix product a path)."""
        a, b = math.radians(self.yaw), math.radians(self.pitch)
        ca, sa, cb, sb = math.cos(a), math.sin(a), math.cos(b), math.sin(b)
        return np.array([[ca, sa * sb], [0.0, cb]]), np.array([sa, -ca * sb])

    def shift(self, depth: float) -> np.ndarray:
        """How far a point `depth` in front of the axis slides (for parts drawn flat)."""
        a, b = math.radians(self.yaw), math.radians(self.pitch)
        return np.array([depth * math.sin(a), -depth * math.cos(a) * math.sin(b)])
