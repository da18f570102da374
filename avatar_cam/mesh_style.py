"""Mesh-conditioned styles: the generator sees a drawing of the face mesh, never the camera crop.

A style file whose metadata says `input=face_mesh_drawing` (trained by
`training/models/mesh_conditioned.py`) is run by `MeshStylizer`: Face Mesh on the aligned crop
(padded, as in training), `draw_face_mesh`, then the ONNX generator on that drawing. The camera
pixels stop at the mesh: about 1,400 numbers a frame cross, none of them colour or texture.

Before drawing, `MotionGain` draws three small motions larger, as cartoons do (issue 27): iris
shifts of half a pixel, brow raises of a pixel or two and head nods of a degree or two are lost
between the generator and a viewer. Each is scaled about the person's own running average over a
few seconds, so a resting face is drawn as it is.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from avatar_cam.expression import ExpressionAnalyzer, measures_from_landmarks
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_drawing import (
    LEFT_BROW,
    LEFT_EYE,
    LEFT_IRIS,
    RIGHT_BROW,
    RIGHT_EYE,
    RIGHT_IRIS,
    crop_landmarks,
    draw_face_mesh,
    nod_field,
)
from avatar_cam.styles import StyleInfo

# gains chosen with the motion check on the shared clips (docs/styles.md, "Gaze, brows and pitch")
GAZE_GAIN = 3.0  # a stream's iris motion about the person's running average
GAZE_LIMIT = 0.3  # an iris's drawn offset from its eye's centre saturates at this many eye widths
STILL_GAZE_GAIN = 2.0  # a still's gaze about each eye's centre (it has no history)
BROW_GAIN = 2.0  # brow height over the eye's corners about its running average
PITCH_GAIN = 2.75  # head nods about their running average
NEUTRAL_S = 3.0  # time constant of the running averages
EYE_CORNERS = ((33, 133), (263, 362))  # (outer, inner) for the right and the left eye
# what moves with each eye's corners when a nod is drawn larger: its lids, iris and brow
EYE_PARTS = (RIGHT_EYE + RIGHT_IRIS + RIGHT_BROW, LEFT_EYE + LEFT_IRIS + LEFT_BROW)


def _eye_motions(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per eye (right, left): its axis (unit, outer -> inner), its width, its iris's offset from
    the eye's centre along the axis (eye widths) and its brow's height over the eye's corners;
    and the face's up (unit, square to the line between the eyes' outer corners) times that
    line's length, the unit of the brows' heights."""
    corners = lm[np.array(EYE_CORNERS), :2]  # (eye, outer/inner, xy)
    axis = corners[:, 1] - corners[:, 0]
    width = np.maximum(np.linalg.norm(axis, axis=1), 1e-6)
    axis /= width[:, None]
    centre = corners.mean(axis=1)
    iris = lm[[RIGHT_IRIS[0], LEFT_IRIS[0]], :2]
    gaze = np.einsum("ij,ij->i", iris - centre, axis) / width
    line = lm[EYE_CORNERS[1][0], :2] - lm[EYE_CORNERS[0][0], :2]
    span = max(float(np.linalg.norm(line)), 1e-6)
    up = np.array([line[1], -line[0]]) / span
    brows = [(lm[b, :2].mean(0) - c) @ up for b, c in zip((RIGHT_BROW, LEFT_BROW), centre, strict=True)]
    return axis, width, gaze, np.array(brows) / span, up * span


class MotionGain:
    """(478, 3) crop landmarks -> the same with gaze, brows and head nods drawn larger.

    In a stream (`t` given) each motion is scaled about the person's own running average (time
    constant `neutral_s`), so a resting face is drawn as it is and only its movement grows:
    each iris along its eye line (`gaze` times its departure, its offset from the eye's centre
    saturating softly at `limit` eye widths so it stays inside the eye), each brow up or down
    the face (`brows`), and the head's pitch (`pitch`), the face's middle moved up or down
    against forehead and chin as training turned its cartoon pairs (`nod_field`, which keeps the
    mouth's opening) with each eye's lids, iris and brow moved as one with the eye's corners (the
    field's slope between brow and lid read as a brow raise or a blink). The first frame of a
    stream (or after `reset`) is its own average. A still (`t` None) has no history: its irises
    are drawn `still_gaze` times their offset from each eye's centre, nothing else moves."""

    def __init__(self, gaze: float = GAZE_GAIN, pitch: float = PITCH_GAIN, brows: float = BROW_GAIN,
                 neutral_s: float = NEUTRAL_S, still_gaze: float = STILL_GAZE_GAIN,
                 limit: float = GAZE_LIMIT):
        self.gaze, self.pitch, self.brows, self.neutral_s = gaze, pitch, brows, neutral_s
        self.still_gaze, self.limit = still_gaze, limit
        self.reset()

    def reset(self) -> None:
        self._t: float | None = None
        self._neutral: np.ndarray | None = None  # gaze r, gaze l, brow r, brow l, pitch

    def __call__(self, landmarks: np.ndarray, t: float | None = None) -> np.ndarray:
        lm = np.array(landmarks, dtype=np.float64)
        axis, width, gaze, brows, up = _eye_motions(lm)
        if t is None:
            for iris, a, w, g in zip((RIGHT_IRIS, LEFT_IRIS), axis, width, gaze, strict=True):
                lm[iris, :2] += (self.still_gaze - 1.0) * g * w * a
            return lm
        now = np.array([*gaze, *brows, measures_from_landmarks(lm).pitch])
        k = 1.0 if self._t is None else 1.0 - math.exp(-max(t - self._t, 0.0) / self.neutral_s)
        self._t = t
        self._neutral = now if self._neutral is None else self._neutral + k * (now - self._neutral)
        n = self._neutral
        drawn_gaze = self.limit * np.tanh((n[:2] + self.gaze * (gaze - n[:2])) / self.limit)
        for i, (iris, brow) in enumerate(((RIGHT_IRIS, RIGHT_BROW), (LEFT_IRIS, LEFT_BROW))):
            lm[iris, :2] += (drawn_gaze[i] - gaze[i]) * width[i] * axis[i]
            lm[brow, :2] += (self.brows - 1.0) * (brows[i] - n[2 + i]) * up
        # Face Mesh's pitch grows as the face's middle moves up (nod_field's negative angles)
        shift = nod_field(lm, -(self.pitch - 1.0) * (now[4] - n[4]))(lm[:, 0], lm[:, 1])
        for part, corners in zip(EYE_PARTS, EYE_CORNERS, strict=True):
            shift[part] = shift[list(corners)].mean()
        lm[:, 1] += shift
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
