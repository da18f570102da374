"""The character's parameters (the Live2D idea: named, ranged numbers that deform parts), how the
tracked face sets them, and what they do when tracking drops.

    landmarks (crop) + face box (camera) ─▶ `Measures` ─▶ `Calibration` (neutral, gain) ─▶ `Pose`
    ─▶ `Motion` (One-Euro smoothing per group, shoulders lag, breathing, idle when lost)

Raw measures come from `avatar_cam.expression` (the same ones the motion check reads back). Each
parameter is its measure's distance from the person's neutral face over a span measured on real
clips, times the expressiveness gain, clipped to its range."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from avatar_cam.expression import (
    LEFT_EYE_BOTTOM,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LEFT_EYE_TOP,
    RIGHT_EYE_BOTTOM,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    RIGHT_EYE_TOP,
    measures_from_landmarks,
)
from avatar_cam.face import OneEuroFilter

INNER_BROWS = (107, 336)  # the inner ends of the right and left brow
# the four lip lines, each from the person's right corner (image left) to the left corner
LIP_LINES = ((78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),  # inner upper
             (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),  # inner lower
             (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),  # outer upper
             (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291))  # outer lower
MOUTH_CORNERS = (61, 291)
assert LIP_LINES[2][0] == MOUTH_CORNERS[0] and LIP_LINES[2][-1] == MOUTH_CORNERS[1]
_LEVELLED = np.concatenate([INNER_BROWS, np.ravel(LIP_LINES)])  # what `measure` levels (not all 478)


@dataclass(frozen=True)
class Parameter:
    name: str
    low: float
    high: float
    default: float
    meaning: str


PARAMETERS = (
    Parameter("yaw", -45.0, 45.0, 0.0, "head turn in degrees, + towards image right"),
    Parameter("pitch", -35.0, 35.0, 0.0, "head nod in degrees, + looking up"),
    Parameter("roll", -40.0, 40.0, 0.0, "head tilt in degrees, + clockwise on screen"),
    Parameter("eye_r", 0.0, 1.5, 1.0, "the person's right eye (image left): 0 shut, 1 neutral, 1.5 wide"),
    Parameter("eye_l", 0.0, 1.5, 1.0, "the person's left eye"),
    Parameter("gaze_x", -1.0, 1.0, 0.0, "irises, + towards image right"),
    Parameter("gaze_y", -1.0, 1.0, 0.0, "irises, + down"),
    Parameter("brow_r", -1.0, 1.0, 0.0, "right brow, + raised, - lowered"),
    Parameter("brow_l", -1.0, 1.0, 0.0, "left brow"),
    Parameter("frown", 0.0, 1.0, 0.0, "inner brow ends pulled down and together"),
    Parameter("mouth_open", 0.0, 1.0, 0.0, "jaw drop: 0 closed, 1 wide open"),
    Parameter("mouth_width", -1.0, 1.0, 0.0, "- rounded lips (O, U), + spread (E, I)"),
    Parameter("smile", -1.0, 1.0, 0.0, "mouth corners, + up, - down"),
    Parameter("head_x", -1.0, 1.0, 0.0, "head centre across the frame, -1 left edge .. 1 right edge"),
    Parameter("head_y", -1.0, 1.0, 0.0, "head centre down the frame"),
    Parameter("head_scale", 0.6, 1.6, 1.0, "head size: the person's distance from the camera"),
)
_LOW = np.array([p.low for p in PARAMETERS])
_HIGH = np.array([p.high for p in PARAMETERS])


@dataclass(frozen=True)
class Pose:
    """One value per `PARAMETERS` entry (same names and order)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    eye_r: float = 1.0
    eye_l: float = 1.0
    gaze_x: float = 0.0
    gaze_y: float = 0.0
    brow_r: float = 0.0
    brow_l: float = 0.0
    frown: float = 0.0
    mouth_open: float = 0.0
    mouth_width: float = 0.0
    smile: float = 0.0
    head_x: float = 0.0
    head_y: float = 0.0
    head_scale: float = 1.0

    def vector(self) -> np.ndarray:
        return np.array(list(self.__dict__.values()), np.float64)  # the fields, in order

    @classmethod
    def from_vector(cls, v: np.ndarray) -> Pose:
        return cls(*np.minimum(np.maximum(v, _LOW), _HIGH).tolist())

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


assert Pose.names() == tuple(p.name for p in PARAMETERS)


@dataclass(frozen=True)
class Measures:
    """Raw measures of one tracked face (units of `avatar_cam.expression`; angles in degrees)."""

    yaw: float
    pitch: float
    roll: float
    eye_r: float
    eye_l: float
    gaze_x: float
    gaze_y: float
    brow_r: float
    brow_l: float
    brow_gap: float  # inner brow ends apart, face widths
    mouth_open: float
    mouth_width: float
    smile: float
    face_x: float  # face centre in the camera image, -1..1 across
    face_y: float
    face_size: float  # face box height / image height

    def vector(self) -> np.ndarray:
        return np.array(list(self.__dict__.values()), np.float64)  # the fields, in order


# an eye's width on the picture over its width in Face Mesh's 3D on a frontal face (its outer
# corner lies deeper than its inner): the median over the 152 frontal faces (turn under 5 degrees,
# nod under 8) of 600 UTKFace photos, 0.98 for each eye
FRONTAL_EYE_WIDTH = 0.98


def own_openness(landmarks: np.ndarray, top: int, bottom: int, outer: int, inner: int) -> float:
    """An eye's openness as if it faced the camera: its lids' distance on the picture over its
    width in Face Mesh's 3D (x, y, z in pixels), which a turn does not narrow, that width scaled
    by `FRONTAL_EYE_WIDTH` so that facing the camera the openness is the one on the picture."""
    (tx, ty, _), (bx, by, _), (ox, oy, oz), (ix, iy, iz) = landmarks[[top, bottom, outer, inner]].tolist()
    width = math.sqrt((ox - ix) ** 2 + (oy - iy) ** 2 + (oz - iz) ** 2)
    return math.hypot(tx - bx, ty - by) / max(FRONTAL_EYE_WIDTH * width, 1e-6)


def measure(landmarks: np.ndarray, crop_roll: float, face_box: tuple[float, float, float, float],
            image_size: tuple[int, int]) -> tuple[Measures, np.ndarray]:
    """`Measures` and the lip shape (`mouth_shape`) from (478, 3) crop landmarks, the roll the
    crop took out (degrees), and the tracked face box in the camera image (x, y, w, h) of an image
    (width, height).

    Each eye's openness is the eye's own, as if it faced the camera: its height over its width in
    3D (`own_openness`), not on the picture. A turned head's far eye is narrower on the picture, so its
    height over that width reads more open; the character's own turn narrows the drawn eye again,
    and the far eye was opened twice (read back from the output, the demo clip's eyes opened and
    closed with the turn, 0.002 a degree, on top of the pose they were drawn from)."""
    e = measures_from_landmarks(landmarks)
    n = e.normalized(_LEVELLED)  # the inner brows, then the lips (`mouth_shape`'s points)
    x, y, w, h = face_box
    iw, ih = image_size
    eye_r = own_openness(landmarks, RIGHT_EYE_TOP, RIGHT_EYE_BOTTOM, RIGHT_EYE_OUTER, RIGHT_EYE_INNER)
    eye_l = own_openness(landmarks, LEFT_EYE_TOP, LEFT_EYE_BOTTOM, LEFT_EYE_OUTER, LEFT_EYE_INNER)
    return Measures(
        yaw=e.yaw, pitch=e.pitch, roll=e.roll + crop_roll, eye_r=eye_r, eye_l=eye_l,
        gaze_x=e.gaze[0], gaze_y=e.gaze[1], brow_r=e.brows[0], brow_l=e.brows[1],
        brow_gap=float(np.linalg.norm(n[0] - n[1])),
        mouth_open=e.mouth_open, mouth_width=e.mouth_width, smile=e.smile,
        face_x=float((x + w / 2) / iw * 2 - 1), face_y=float((y + h / 2) / ih * 2 - 1),
        face_size=float(h / ih)), mouth_shape(n[2:])


def mouth_shape(lips: np.ndarray) -> np.ndarray:
    """The lips as measured: (4, 11, 2) points of the four lip lines, origin between the mouth
    corners, in face widths, from the levelled face's (`Expression.normalized`) lip points, (44,
    2) in `LIP_LINES` order. The character's mouth is drawn from this shape (scaled to its own
    mouth), so its opening, width, smile, pout and any lopsided shape are the person's; a face
    tracker then reads the drawing back as it read the person."""
    lines = lips.reshape(len(LIP_LINES), -1, 2)
    # the corners are each outer line's ends
    return lines - (lines[2, 0] + lines[2, -1]) / 2


# population neutral (adults looking at a webcam; measured on the shared clips' calm frames)
NEUTRAL = Measures(yaw=0.0, pitch=0.0, roll=0.0, eye_r=0.29, eye_l=0.29, gaze_x=0.0, gaze_y=-0.06,
                   brow_r=0.15, brow_l=0.15, brow_gap=0.21, mouth_open=0.02, mouth_width=0.38,
                   smile=0.06, face_x=0.0, face_y=0.0, face_size=0.42)
# measure change that moves a parameter through its unit span (one side of its range)
# webcam head turns and nods are small: the character turns and nods more, so a nod reads
TURN_GAIN, NOD_GAIN = 1.0, 1.25
SPAN = {"gaze_x": 0.12, "gaze_y": 0.08, "brow": 0.035, "frown": 0.05, "mouth_open": 0.6,
        "mouth_width": 0.07, "smile": 0.15}


@dataclass(frozen=True)
class Calibration:
    """The person's neutral face and the expressiveness gain (1: as measured; 2: twice as much).
    The gain scales the expression (eyes, brows, frown, mouth, smile, the lip shape); the head's
    turn and nod and the gaze follow as measured: scaled, a 15 degree turn at the slider's 3x was
    drawn at the renderer's 45 degree limit with the eyes rolled up. Stored with the settings as
    `to_dict()`."""

    neutral: Measures = NEUTRAL
    gain: float = 1.0

    def pose(self, m: Measures) -> Pose:
        n, g = self.neutral, self.gain

        def unit(value: float, neutral: float, span: float) -> float:
            return g * (value - neutral) / span

        return Pose.from_vector(np.array([
            TURN_GAIN * (m.yaw - n.yaw), NOD_GAIN * (m.pitch - n.pitch), m.roll,
            1 + g * (m.eye_r / max(n.eye_r, 1e-3) - 1), 1 + g * (m.eye_l / max(n.eye_l, 1e-3) - 1),
            (m.gaze_x - n.gaze_x) / SPAN["gaze_x"], (m.gaze_y - n.gaze_y) / SPAN["gaze_y"],
            unit(m.brow_r, n.brow_r, SPAN["brow"]), unit(m.brow_l, n.brow_l, SPAN["brow"]),
            unit(n.brow_gap, m.brow_gap, SPAN["frown"]),
            unit(m.mouth_open, n.mouth_open, SPAN["mouth_open"]),
            unit(m.mouth_width, n.mouth_width, SPAN["mouth_width"]),
            unit(m.smile, n.smile, SPAN["smile"]),
            m.face_x, m.face_y, m.face_size / max(n.face_size, 1e-3),
        ]))

    def mouth(self, shape: np.ndarray | None) -> np.ndarray | None:
        """A measured lip shape in the person's neutral mouth widths, its opening and lift times
        the gain: what the character's mouth (of width 1 in those units) is drawn from. The lips
        keep their own thickness (scaled with the rest, at 300% they hung to the chin)."""
        if shape is None:
            return None
        out = shape / max(self.neutral.mouth_width, 1e-3)
        thick = out[2:, :, 1] - out[:2, :, 1]  # outer lines over the inner: the lips themselves
        out[:2, :, 1] *= self.gain
        out[2:, :, 1] = out[:2, :, 1] + thick
        return out

    def to_dict(self) -> dict:
        return {"neutral": asdict(self.neutral), "gain": self.gain}

    @classmethod
    def from_dict(cls, data: object) -> Calibration:
        """The stored form back; `ValueError` for anything else."""
        if not isinstance(data, dict) or set(data) != {"neutral", "gain"}:
            raise ValueError("calibration must have 'neutral' and 'gain'")
        raw = data["neutral"]
        names = [f.name for f in fields(Measures)]
        if not isinstance(raw, dict) or sorted(raw) != sorted(names):
            raise ValueError(f"calibration neutral needs exactly: {', '.join(names)}")
        values = [raw[k] for k in names]
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise ValueError("calibration values must be finite numbers")
        gain = data["gain"]
        if not isinstance(gain, int | float) or not 0.25 <= gain <= 3.0:
            raise ValueError("calibration gain must be a number in 0.25..3")
        return cls(Measures(*(float(v) for v in values)), float(gain))

    def with_gain(self, gain: float) -> Calibration:
        return replace(self, gain=float(np.clip(gain, 0.25, 3.0)))


class Calibrator:
    """Collects the person's neutral face: after `settle` seconds of tracked frames (left out:
    the person is still turning from the Calibrate button, or the terminal, to the camera),
    `seconds` of them, then `result()`."""

    def __init__(self, seconds: float = 2.0, min_samples: int = 8, settle: float = 0.0):
        self.seconds, self.min_samples, self.settle = seconds, min_samples, settle
        self.samples: list[Measures] = []
        self._t0: float | None = None

    def add(self, m: Measures, t: float) -> bool:
        """Take one frame's measures at time `t`; True once enough were seen."""
        self._t0 = t if self._t0 is None else self._t0
        if t - self._t0 < self.settle:
            return False
        self.samples.append(m)
        return t - self._t0 >= self.settle + self.seconds and len(self.samples) >= self.min_samples

    def result(self) -> Measures:
        return neutral_from(self.samples)


def neutral_from(samples: list[Measures]) -> Measures:
    """A neutral face from a few seconds of measures: the median of each, robust to a blink."""
    if not samples:
        raise ValueError("no face was measured while calibrating")
    return Measures(*np.median(np.stack([s.vector() for s in samples]), axis=0).tolist())


# -- motion: smoothing, idle ----------------------------------------------------------------------
# (min_cutoff Hz, beta) per parameter; speeds in range units so one beta fits angles and unit values
_SMOOTH = {"yaw": (6.0, 0.8), "pitch": (6.0, 0.8), "roll": (6.0, 0.8), "eye_r": (16.0, 2.0),
           "eye_l": (16.0, 2.0), "gaze_x": (8.0, 1.0), "gaze_y": (8.0, 1.0), "brow_r": (8.0, 1.0),
           "brow_l": (8.0, 1.0), "frown": (6.0, 1.0), "mouth_open": (12.0, 2.0),
           "mouth_width": (8.0, 1.0), "smile": (8.0, 1.0), "head_x": (2.0, 0.4), "head_y": (2.0, 0.4),
           "head_scale": (1.0, 0.3)}
_RANGE = _HIGH - _LOW
_EYES = (Pose.names().index("eye_r"), Pose.names().index("eye_l"))
_EYE_RANGE = float(_RANGE[_EYES[0]])
# the eyes' half-difference (a wink) is smoothed apart from their mean (a blink: quick, both together):
# Face Mesh's frame-to-frame disagreement between two eyes drew flashes of winks (the demo clip's
# false winks 2.3% -> 1.5%, mean over three sizes), and a wink is held long enough to show
WINK_SMOOTH = (2.0, 2.0)
IDLE_SECONDS = 3.0  # after tracking drops, the character idles this long, then the card
BLINK_EVERY, BLINK_SECONDS = 3.7, 0.16


class Motion:
    """Smoothed pose while tracked; idle motion (breathing, blinks, eyes to camera, head easing to
    centre) for `IDLE_SECONDS` after the face is lost. `body` is where the shoulders are: they
    follow the head's position with a lag."""

    def __init__(self) -> None:
        names = Pose.names()
        self._filter = OneEuroFilter(np.array([_SMOOTH[n][0] for n in names]),
                                     np.array([_SMOOTH[n][1] for n in names]))
        self._mouth_filter = OneEuroFilter(*_SMOOTH["mouth_open"])
        self._wink_filter = OneEuroFilter(*WINK_SMOOTH)
        self.reset()

    def reset(self) -> None:
        self._filter.reset()
        self._mouth_filter.reset()
        self._wink_filter.reset()
        self.pose = Pose()
        self.mouth: np.ndarray | None = None  # the smoothed measured lip shape, while tracked
        self.body = np.zeros(2)  # shoulders' (x, y) in head_x/head_y units
        self._last_seen: float | None = None
        self._t: float | None = None

    def _advance(self, t: float) -> float:
        dt = 0.0 if self._t is None else min(max(t - self._t, 0.0), 0.25)
        self._t = t
        return dt

    def _follow_body(self, dt: float) -> None:
        k = 1 - math.exp(-dt / 0.35)  # shoulders trail the head by ~a third of a second
        self.body += k * (np.array([self.pose.head_x, self.pose.head_y]) - self.body)

    def track(self, pose: Pose, t: float, mouth: np.ndarray | None = None) -> Pose:
        """The smoothed pose (and `mouth`, a measured lip shape) for a tracked frame at time `t`
        (seconds)."""
        dt = self._advance(t)
        if self._last_seen is None:
            self.body = np.array([pose.head_x, pose.head_y])
        x = pose.vector()
        r, left = x[_EYES[0]], x[_EYES[1]]
        x[list(_EYES)] = (r + left) / 2  # both eyes' slots carry their mean, filtered alike
        v = self._filter(x / _RANGE, t) * _RANGE
        half = float(self._wink_filter(float(r - left) / 2 / _EYE_RANGE, t)) * _EYE_RANGE
        v[_EYES[0]] += half
        v[_EYES[1]] -= half
        self.pose = Pose.from_vector(v)
        self.mouth = None if mouth is None else self._mouth_filter(mouth, t)
        self._last_seen = t
        self._follow_body(dt)
        return self.pose

    def idle(self, t: float) -> Pose | None:
        """The pose for a frame without a face, or None once the idle time is over (or the face
        was never seen)."""
        if self._last_seen is None or t - self._last_seen > IDLE_SECONDS:
            return None
        dt = self._advance(t)
        ease = 1 - math.exp(-dt / 0.5)
        rest = Pose(head_x=self.pose.head_x * 0.6, head_y=self.pose.head_y * 0.6,
                    head_scale=self.pose.head_scale).vector()
        v = self.pose.vector()
        v += ease * (rest - v)
        blink = (t % BLINK_EVERY) < BLINK_SECONDS
        names = Pose.names()
        v[names.index("eye_r")] = v[names.index("eye_l")] = 0.05 if blink else max(
            v[names.index("eye_r")], 0.95)
        self.pose = Pose.from_vector(v)
        self.mouth = None  # idling, the mouth is drawn from the (easing) pose
        self._filter.reset()  # the face comes back where it is, not where it was
        self._mouth_filter.reset()
        self._wink_filter.reset()
        self._follow_body(dt)
        return self.pose


def breathing(t: float) -> float:
    """The chest's rise, -1..1, about 15 breaths a minute."""
    return math.sin(2 * math.pi * t / 4.0)
