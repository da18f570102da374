"""`CharacterRenderer`: the `StyleRenderer` for character files. It reads only the crop's Face
Mesh landmarks, the crop's roll and the tracked face box (where the head is in the camera
picture), never a camera pixel, and draws the whole output picture itself (`draws_frame`)."""

from __future__ import annotations

import os

import numpy as np

from avatar_cam.character.backends import BACKENDS
from avatar_cam.character.draw import draw_frame, draw_portrait
from avatar_cam.character.model import Character, load_character
from avatar_cam.character.params import Calibration, Measures, Motion, Pose, breathing, measure
from avatar_cam.frame import Frame
from avatar_cam.styles import StyleInfo

CROP_SIZE = 256  # the face crop Face Mesh reads (its model runs at 192 px)
BACKEND_ENV = "AVATAR_CAM_DRAW_BACKEND"  # "skia" (default) or "qt"


def crop_rotation(crop_matrix: np.ndarray | None) -> float:
    """The eye-line angle (degrees, + clockwise on screen) that an image -> crop affine levelled."""
    if crop_matrix is None:
        return 0.0
    return -float(np.degrees(np.arctan2(crop_matrix[1, 0], crop_matrix[0, 0])))


def frame_measures(frame: Frame) -> tuple[Measures, np.ndarray]:
    """The raw measures and the lip shape of a tracked frame (landmarks, crop and face set by the
    pipeline)."""
    if frame.landmarks is None or frame.face is None:
        raise ValueError("a character needs the crop's landmarks and the tracked face")
    h, w = frame.image.shape[:2]
    return measure(frame.landmarks, crop_rotation(frame.crop_matrix), frame.face.box, (w, h))


class CharacterRenderer:
    """Landmarks -> `Pose` (calibrated, smoothed) -> the character drawn at the output size."""

    needs_landmarks = True
    draws_frame = True
    style_code = None

    def __init__(self, style: StyleInfo, calibration: Calibration | None = None, backend: str | None = None):
        self.style = style
        self.backend = backend or os.environ.get(BACKEND_ENV, "skia")
        if self.backend not in BACKENDS:
            raise ValueError(f"{BACKEND_ENV}={self.backend!r}: the drawing backend is one of "
                             f"{', '.join(BACKENDS)}")
        try:
            self.character: Character = load_character(style.path)
        except ValueError as e:  # the file changed since the catalog read it
            raise ValueError(f"{style.path}: {e}") from None
        self.calibration = calibration or Calibration()
        self.motion = Motion()
        self.last_measures: Measures | None = None

    def set_character(self, character: Character) -> None:
        """Draw `character` from the next frame on, keeping the calibration and the motion (the
        character creator's live preview)."""
        self.character = character

    @property
    def provider(self) -> str:
        return self.backend  # drawn on the CPU; no execution provider involved

    @property
    def size(self) -> int:
        return CROP_SIZE

    @property
    def pose(self) -> Pose:
        """The last pose drawn (the window and avatar-eval read it)."""
        return self.motion.pose

    def _track(self, frame: Frame) -> Pose:
        measures, lips = frame_measures(frame)
        if not np.isfinite(measures.vector()).all():
            raise ValueError("the face measures are not finite numbers")
        self.last_measures = measures
        return self.motion.track(self.calibration.pose(measures), frame.timestamp, lips)

    @property
    def mouth(self) -> np.ndarray | None:
        """The lip shape the mouth is drawn from (None: from the pose's mouth parameters)."""
        return self.calibration.mouth(self.motion.mouth)

    def render(self, frame: Frame) -> np.ndarray:
        """RGB (size, size) portrait of the pose in its scene."""
        pose = self._track(frame)
        return draw_portrait(self.character, pose, self.size, self.backend, self.mouth)

    def render_portrait(self, frame: Frame, n: int,
                        onto: tuple[np.ndarray, tuple[int, int]] | None = None) -> np.ndarray:
        """RGBA (n, n), premultiplied: the pose's portrait without its scene (overlay mode
        pastes it on the face, with the camera's surroundings round it); `onto`: drawn straight
        into the box it is pasted in (`draw_portrait`)."""
        pose = self._track(frame)
        return draw_portrait(self.character, pose, n, self.backend, self.mouth, scene=False, onto=onto)

    def render_frame(self, frame: Frame, size: tuple[int, int],
                     background: np.ndarray | None = None) -> np.ndarray:
        """BGR (h, w) picture: the character framed as the webcam frames the person."""
        pose = self._track(frame)
        return draw_frame(self.character, pose, size, self.motion.body, breathing(frame.timestamp),
                          self.backend, background, self.mouth)

    def idle_frame(self, t: float, size: tuple[int, int],
                   background: np.ndarray | None = None) -> np.ndarray | None:
        """The character idling at time `t` while no face is tracked; None once it is time for
        the placeholder card."""
        pose = self.motion.idle(t)
        if pose is None:
            return None
        return draw_frame(self.character, pose, size, self.motion.body, breathing(t), self.backend,
                          background)

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The character at rest (a thumbnail does not need the sample face's expression)."""
        return draw_portrait(self.character, Pose(), self.size, self.backend, whole=True)

    def reset(self) -> None:
        self.motion.reset()
