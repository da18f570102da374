"""The neck and the clothes on the shoulders (drawn upright: the head rolls on the neck, the body
does not). Shoulders sit `SHOULDER_Y` head units below the head centre, breathe, and follow the
head's position with a lag (`Motion.body`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from avatar_cam.character.geometry import polyline, smooth
from avatar_cam.character.scene import Scene, shade

SHOULDER_Y = 1.02
BOTTOM = 3.0  # well below any frame


def _torso(width: float = 2.6) -> np.ndarray:
    w = width
    return np.array([[-0.2, 0.8], [0.2, 0.8], [0.34, SHOULDER_Y - 0.04], [w * 0.75, SHOULDER_Y + 0.08],
                     [w, SHOULDER_Y + 0.34], [w + 0.1, BOTTOM], [-w - 0.1, BOTTOM], [-w, SHOULDER_Y + 0.34],
                     [-w * 0.75, SHOULDER_Y + 0.08], [-0.34, SHOULDER_Y - 0.04]])


def draw_neck(s: Scene) -> None:
    skin = s.colour("face", "skin")
    top = s.face(np.array([[-0.17, 0.35], [0.17, 0.35]]), surface=0.0)
    bottom = s.body(np.array([[0.19, SHOULDER_Y + 0.05], [-0.19, SHOULDER_Y + 0.05]]))
    s.fill(polyline(np.concatenate([top, bottom])), shade(skin, 0.88))
    chin = s.face(smooth(np.array([[-0.19, 0.42], [0.0, 0.6], [0.19, 0.42], [0.19, 0.75], [-0.19, 0.75]]),
                         tension=0.6), surface=0.0)
    s.fill(chin, shade(skin, 0.76))  # the chin's shadow on the neck (covered by the head above)


def _clothes(neck: str) -> Callable[[Scene], None]:
    def draw(s: Scene) -> None:
        c, accent = s.colour("clothing"), s.colour("clothing", "accent")
        torso = s.body(smooth(_torso(), tension=0.5))
        s.fill(torso, c)
        s.stroke(torso, shade(c, 0.55), 0.012, closed=True)
        y = SHOULDER_Y
        if neck == "crew":
            band = np.array([[-0.24, y - 0.06], [0.0, y + 0.1], [0.24, y - 0.06]])
            s.stroke(s.body(smooth(band, closed=False)), accent, 0.035)
        elif neck == "v":
            v = np.array([[-0.22, y - 0.07], [0.0, y + 0.22], [0.22, y - 0.07]])
            s.fill(s.body(polyline(v)), shade(s.colour("face", "skin"), 0.85))
            s.stroke(s.body(polyline(v, closed=False)), accent, 0.03)
        elif neck == "collar":
            for side in (-1, 1):
                flap = np.array([[side * 0.02, y + 0.1], [side * 0.24, y - 0.08], [side * 0.34, y + 0.06],
                                 [side * 0.12, y + 0.2]])
                px = s.body(smooth(flap, tension=0.3))
                s.fill(px, accent)
                s.stroke(px, shade(accent, 0.6), 0.01, closed=True)
        elif neck == "hoodie":
            hood = np.array([[-0.5, y - 0.02], [-0.26, y - 0.14], [0.26, y - 0.14], [0.5, y - 0.02],
                             [0.3, y + 0.16], [0.0, y + 0.22], [-0.3, y + 0.16]])
            px = s.body(smooth(hood, tension=0.7))
            s.fill(px, shade(c, 0.9))
            s.stroke(px, shade(c, 0.55), 0.01, closed=True)
            for side in (-1, 1):
                cord = np.array([[side * 0.12, y + 0.16], [side * 0.14, y + 0.5]])
                s.stroke(s.body(polyline(cord, closed=False)), accent, 0.018)
        elif neck == "turtleneck":
            roll = np.array([[-0.25, y - 0.22], [0.25, y - 0.22], [0.28, y + 0.04], [-0.28, y + 0.04]])
            px = s.body(smooth(roll, tension=0.4))
            s.fill(px, shade(c, 0.92))
            s.stroke(px, shade(c, 0.55), 0.01, closed=True)
        elif neck == "blazer":
            shirt = np.array([[-0.24, y - 0.06], [0.24, y - 0.06], [0.12, 2.5], [-0.12, 2.5]])
            s.fill(s.body(polyline(shirt)), accent)
            for side in (-1, 1):
                lapel = np.array([[side * 0.24, y - 0.07], [side * 0.05, y + 0.45], [side * 0.42, y + 0.12],
                                  [side * 0.36, y + 0.02]])
                px = s.body(polyline(lapel))
                s.fill(px, shade(c, 0.85))
                s.stroke(px, shade(c, 0.5), 0.01, closed=True)
        elif neck == "overalls":
            for side in (-1, 1):
                strap = np.array([[side * 0.5, y + 0.02], [side * 0.66, y + 0.05], [side * 0.52, 2.5],
                                  [side * 0.36, 2.5]])
                s.fill(s.body(polyline(strap)), accent)
                s.fill(s.body(smooth(np.array([[side * 0.48, y + 0.5], [side * 0.54, y + 0.46],
                                               [side * 0.52, y + 0.54]]))), (240, 210, 90))
            band = np.array([[-0.24, y - 0.06], [0.0, y + 0.1], [0.24, y - 0.06]])
            s.stroke(s.body(smooth(band, closed=False)), shade(c, 0.75), 0.03)
    return draw


CLOTHING_STYLES: dict[str, Callable[[Scene], None]] = {
    "tshirt": _clothes("crew"), "vneck": _clothes("v"), "collar": _clothes("collar"),
    "hoodie": _clothes("hoodie"), "turtleneck": _clothes("turtleneck"), "blazer": _clothes("blazer"),
    "overalls": _clothes("overalls"),
}
