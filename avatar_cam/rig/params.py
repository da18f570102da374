"""Face Mesh landmarks -> the rig's parameters, and their smoothing.

Raw measures come from `avatar_cam.expression` (the same ones avatar-eval uses) plus brows,
mouth width and smile; each is mapped to a unit range with constants measured on real clips
(eyes: ~0.3 open, < 0.1 closed; mouth gap ~0 closed, ~0.4 wide open)."""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields

import numpy as np

from avatar_cam.expression import (
    LEFT_EYE_TOP,
    MOUTH_LEFT_CORNER,
    MOUTH_RIGHT_CORNER,
    RIGHT_EYE_TOP,
    measures_from_landmarks,
)
from avatar_cam.face import OneEuroFilter

RIGHT_BROW = (70, 63, 105, 66, 107)  # the person's right brow, outer to inner
LEFT_BROW = (300, 293, 334, 296, 336)
UPPER_LIP_TOP, LOWER_LIP_BOTTOM = 0, 17

# (neutral, span): parameter = (measure - neutral) / span, clipped
EYE_CLOSED, EYE_OPEN = 0.10, 0.26
MOUTH_CLOSED, MOUTH_WIDE = 0.03, 0.45
MOUTH_WIDTH = (0.38, 0.08)  # mouth width / face width
SMILE = (0.06, 0.12)  # (lip centre y - corner y) / mouth width
BROW = (0.12, 0.05)  # (eye top y - brow y) / face width
GAZE = ((0.0, 0.12), (-0.06, 0.07))  # iris offset in eye widths, (x, y)
YAW_SPAN, PITCH = 30.0, (0.0, 25.0)  # degrees


@dataclass(frozen=True)
class RigParams:
    """One face's pose and expression. Angles in degrees; the rest unit-scaled: openness 0..1,
    others -1..1 with 0 neutral. "right" is the person's right (image-left)."""

    yaw: float = 0.0  # + turned towards image right
    pitch: float = 0.0  # + looking up
    roll: float = 0.0  # + clockwise on screen (eye line going down to image right)
    eye_open_r: float = 1.0
    eye_open_l: float = 1.0
    gaze_x: float = 0.0  # + towards image right
    gaze_y: float = 0.0  # + down
    brow_r: float = 0.0  # + raised
    brow_l: float = 0.0
    mouth_open: float = 0.0
    mouth_width: float = 0.0  # + wider than at rest
    smile: float = 0.0  # + corners up
    head_x: float = 0.0  # face centre offset in the crop, crop widths
    head_y: float = 0.0
    head_scale: float = 1.0  # face width / its width in a default crop

    def vector(self) -> np.ndarray:
        return np.array(astuple(self), np.float64)

    @classmethod
    def from_vector(cls, v: np.ndarray) -> RigParams:
        return cls(*(float(x) for x in v))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


DEFAULT_FACE_WIDTH = 0.55  # cheek-to-cheek / crop side with the default CropSpec (measured)
DEFAULT_FACE_Y = 0.06  # landmark centre below the crop centre (the crop leaves room for hair)


def _unit(x: float, neutral: float, span: float, lo: float = -1.0) -> float:
    return float(np.clip((x - neutral) / span, lo, 1.0))


def params_from_landmarks(lm: np.ndarray, crop_size: int, crop_roll: float = 0.0) -> RigParams:
    """Parameters of (478, 3) landmarks in crop pixels. `crop_roll` (degrees) is the rotation the
    crop took out of the image (it levels the eye line); it is added back so tilt shows."""
    e = measures_from_landmarks(lm)
    n = e.normalized()  # eye line level, face width 1, origin between the eyes
    mouth_w = float(np.linalg.norm(n[MOUTH_LEFT_CORNER] - n[MOUTH_RIGHT_CORNER]))
    corners_y = (n[MOUTH_LEFT_CORNER, 1] + n[MOUTH_RIGHT_CORNER, 1]) / 2
    centre_y = (n[UPPER_LIP_TOP, 1] + n[LOWER_LIP_BOTTOM, 1]) / 2
    brow_r = n[RIGHT_EYE_TOP, 1] - n[list(RIGHT_BROW), 1].mean()
    brow_l = n[LEFT_EYE_TOP, 1] - n[list(LEFT_BROW), 1].mean()
    centre = lm[:, :2].mean(axis=0) / crop_size - 0.5
    return RigParams(
        yaw=float(np.clip(e.yaw, -YAW_SPAN * 1.5, YAW_SPAN * 1.5)),
        pitch=float(np.clip(e.pitch - PITCH[0], -PITCH[1] * 1.5, PITCH[1] * 1.5)),
        roll=e.roll + crop_roll,
        eye_open_r=_unit(e.eye_open[0], EYE_CLOSED, EYE_OPEN - EYE_CLOSED, 0.0),
        eye_open_l=_unit(e.eye_open[1], EYE_CLOSED, EYE_OPEN - EYE_CLOSED, 0.0),
        gaze_x=_unit(e.gaze[0], *GAZE[0]),
        gaze_y=_unit(e.gaze[1], *GAZE[1]),
        brow_r=_unit(brow_r, *BROW),
        brow_l=_unit(brow_l, *BROW),
        mouth_open=_unit(e.mouth_open, MOUTH_CLOSED, MOUTH_WIDE - MOUTH_CLOSED, 0.0),
        mouth_width=_unit(mouth_w, *MOUTH_WIDTH),
        smile=_unit((centre_y - corners_y) / max(mouth_w, 1e-6), *SMILE),
        head_x=float(centre[0]),
        head_y=float(centre[1] - DEFAULT_FACE_Y),
        head_scale=float(e.face_size / crop_size / DEFAULT_FACE_WIDTH),
    )


def crop_rotation(crop_matrix: np.ndarray | None) -> float:
    """The eye-line angle (degrees, + clockwise on screen) that an image -> crop affine levelled."""
    if crop_matrix is None:
        return 0.0
    return -math.degrees(math.atan2(crop_matrix[1, 0], crop_matrix[0, 0]))


class ParamSmoother:
    """One-Euro filter over the parameter vector: steady when still, quick for blinks.

    Angles are divided by `ANGLE_SCALE` first so one speed threshold fits every parameter."""

    ANGLE_SCALE = 30.0

    def __init__(self, min_cutoff: float = 2.0, beta: float = 1.5):
        self._filter = OneEuroFilter(min_cutoff, beta)
        self._scale = np.ones(len(RigParams.names()))
        self._scale[:3] = self.ANGLE_SCALE

    def reset(self) -> None:
        self._filter.reset()

    def __call__(self, p: RigParams, t: float) -> RigParams:
        return RigParams.from_vector(self._filter(p.vector() / self._scale, t) * self._scale)
