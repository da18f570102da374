"""Mesh-conditioned styles: the generator sees a drawing of the face mesh, never the camera crop.

A style file whose metadata says `input=face_mesh_drawing` (trained by
`training/models/mesh_conditioned.py`) is run by `MeshStylizer`: Face Mesh on the aligned crop
(padded, as in training), `draw_face_mesh`, then the ONNX generator on that drawing. The camera
pixels stop at the mesh: about 1,400 numbers a frame cross, none of them colour or texture.

Before drawing, `MotionGain` draws two small motions larger, as cartoons do (issue 27): iris
shifts of half a pixel and head nods of a degree or two are lost between the generator and a
viewer. Gaze is scaled about each eye's centre, nods about the person's own running average over
a few seconds, so a resting head is drawn as it is.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from avatar_cam.expression import ExpressionAnalyzer, measures_from_landmarks
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_drawing import LEFT_IRIS, RIGHT_IRIS, crop_landmarks, draw_face_mesh, nod_field
from avatar_cam.styles import StyleInfo

MESH_INPUT = "face_mesh_drawing"
# gains chosen with the motion check on the shared clips (docs/training.md, "Gaze, brows and pitch")
GAZE_GAIN = 2.0
PITCH_GAIN = 2.5
NEUTRAL_S = 3.0  # time constant of the running average that pitch is scaled about
EYE_CORNERS = ((33, 133), (263, 362))  # (outer, inner) for the right and the left eye


class MotionGain:
    """(478, 3) crop landmarks -> the same with gaze and head nods drawn larger.

    Gaze: each iris moves along the eye line to `gaze` times its offset from the eye's centre (no
    memory). Pitch: its departure from a running average (time constant `neutral_s`) is drawn
    `pitch` times as large, the face's middle moved up or down against forehead and chin as
    training turned its cartoon pairs (`nod_field`, which keeps the mouth's opening; turning the
    3D points instead changed it); a still (`t` None, or after `reset`) has no history, so only
    its gaze is scaled."""

    def __init__(self, gaze: float = GAZE_GAIN, pitch: float = PITCH_GAIN, neutral_s: float = NEUTRAL_S):
        self.gaze, self.pitch, self.neutral_s = gaze, pitch, neutral_s
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._neutral: float | None = None

    def __call__(self, landmarks: np.ndarray, t: float | None = None) -> np.ndarray:
        lm = np.array(landmarks, dtype=np.float64)
        for iris, (outer, inner) in zip((RIGHT_IRIS, LEFT_IRIS), EYE_CORNERS, strict=True):
            axis = lm[inner, :2] - lm[outer, :2]
            axis /= max(float(np.linalg.norm(axis)), 1e-6)
            off = float((lm[iris[0], :2] - (lm[outer, :2] + lm[inner, :2]) / 2) @ axis)
            lm[iris, :2] += (self.gaze - 1.0) * off * axis
        if t is None:
            return lm
        pitch = measures_from_landmarks(lm).pitch
        a = 1.0 if self._t is None else 1.0 - math.exp(-max(t - self._t, 0.0) / self.neutral_s)
        self._t = t
        self._neutral = pitch if self._neutral is None else self._neutral + a * (pitch - self._neutral)
        # Face Mesh's pitch grows as the face's middle moves up (nod_field's negative angles)
        lm[:, 1] += nod_field(lm, -(self.pitch - 1.0) * (pitch - self._neutral))(lm[:, 0], lm[:, 1])
        return lm


def outside_face(drawing_rgb: np.ndarray) -> np.ndarray:
    """(size, size) float32: 1 outside the drawing's face (its unlit background, where a
    generator draws hair), 0 inside, feathered over about a tenth of the side."""
    unlit = cv2.inRange(drawing_rgb, (0, 0, 0), (0, 0, 0))  # 255 where all three are 0
    k = max(3, drawing_rgb.shape[0] // 16)
    soft = cv2.blur(cv2.blur(unlit, (k, k)), (k, k))  # two box passes: a Gaussian's shape, cheaply
    return soft.astype(np.float32) * (1 / 255)


class NoFaceMesh(LookupError):
    """Face Mesh found no face in the crop (the frame is treated like one without a face)."""


def takes_mesh(style: StyleInfo) -> bool:
    return style.metadata.get("input") == MESH_INPUT


class MeshStylizer:
    """A `StyleRenderer` (avatar_cam/renderers.py) for mesh-conditioned styles: draws the
    pipeline's crop landmarks (`Frame.landmarks`) and runs the generator on that drawing."""

    needs_landmarks = True
    draws_frame = False

    def __init__(self, stylizer: Stylizer, gain: MotionGain | None = None):
        self.stylizer = stylizer
        self.gain = gain or MotionGain()
        self._analyzer: ExpressionAnalyzer | None = None  # previews only (no pipeline landmarks)

    @property
    def style(self) -> StyleInfo:
        return self.stylizer.style

    @property
    def size(self) -> int:
        return self.stylizer.size

    @property
    def provider(self) -> str:
        return self.stylizer.provider

    @property
    def style_code(self) -> np.ndarray | None:
        return self.stylizer.style_code

    def set_style_code(self, code: np.ndarray) -> None:
        self.stylizer.set_style_code(code)

    def render(self, frame: Frame) -> np.ndarray:
        if frame.landmarks is None:
            raise NoFaceMesh("no face mesh in the crop")
        lm = self.gain(frame.landmarks, frame.timestamp)
        return self.cartoon(np.ascontiguousarray(draw_face_mesh(lm, self.size)[..., ::-1]))

    def cartoon(self, drawing_rgb: np.ndarray) -> np.ndarray:
        """The generator's cartoon of a mesh drawing (a look's colour match told where the face is)."""
        outside = None if self.stylizer.colour_match is None else outside_face(drawing_rgb)
        return self.stylizer(drawing_rgb, outside)

    def drawing(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The RGB mesh drawing of a crop found on its own (static Face Mesh, padded crop)."""
        if self._analyzer is None:
            self._analyzer = ExpressionAnalyzer()
        lm = crop_landmarks(self._analyzer, np.ascontiguousarray(crop_rgb[..., ::-1]))
        if lm is None:
            raise NoFaceMesh("no face mesh in the crop")
        return np.ascontiguousarray(draw_face_mesh(self.gain(lm), crop_rgb.shape[0])[..., ::-1])

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        return self.cartoon(self.drawing(crop_rgb))

    def reset(self) -> None:
        """Forget the running average pitch is scaled about (the next frame is a still or
        unrelated to the last)."""
        self.gain.reset()
