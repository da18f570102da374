"""The stage that turns a tracked face into the cartoon: one interface, two kinds behind it.

- `Stylizer` (avatar_cam.inference): an ONNX generator on the face crop (`frame.crop`);
- `RigRenderer`: a character drawn from Face Mesh landmarks (`frame.landmarks`); no pixel of
  the camera frame reaches the output, only ~15 numbers.

A renderer gets the whole `Frame` (camera image, tracked face, crop and its matrix, landmarks
in crop pixels when `needs_landmarks`), so a later kind (e.g. a generator fed a drawing of the
face mesh) only sets `needs_landmarks` and reads what it needs."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_style import MeshStylizer, takes_mesh
from avatar_cam.rig.character import load_character
from avatar_cam.rig.draw import draw_character
from avatar_cam.rig.params import ParamSmoother, RigParams, crop_rotation, params_from_landmarks
from avatar_cam.styles import RIG_KIND, StyleInfo


class StyleRenderer(Protocol):
    """What the pipeline runs for a style. `size`: the crop side it wants and the cartoon side it
    returns. `style_code` is the reference code for styles that take one, else None."""

    style: StyleInfo
    provider: str
    needs_landmarks: bool
    style_code: np.ndarray | None

    @property
    def size(self) -> int: ...

    def render(self, frame: Frame) -> np.ndarray:
        """RGB uint8 (size, size, 3) cartoon for `frame`; raises on a fault (counted upstream)."""
        ...

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The style's picture for a still face crop (thumbnails)."""
        ...

    def reset(self) -> None:
        """Forget temporal state: the next frame is unrelated to the last (stills)."""
        ...


class RigRenderer:
    """Landmarks -> smoothed `RigParams` -> the character drawn at the style's size."""

    needs_landmarks = True
    provider = "rig"  # draws on the CPU with cv2; no execution provider involved
    style_code = None

    def __init__(self, style: StyleInfo):
        self.style = style
        try:
            self.character = load_character(style.path)
        except ValueError as e:  # the file changed since the catalog read it
            raise ValueError(f"{style.path}: {e}") from None
        self._smoother = ParamSmoother()
        self.params = RigParams()  # the last pose drawn, for the window and avatar-eval

    @property
    def size(self) -> int:
        return self.character.size

    def render(self, frame: Frame) -> np.ndarray:
        if frame.landmarks is None or frame.crop is None:
            raise ValueError("the rig needs the crop's landmarks")
        raw = params_from_landmarks(frame.landmarks, frame.crop.shape[0], crop_rotation(frame.crop_matrix))
        self.params = self._smoother(raw, frame.timestamp)
        return draw_character(self.character, self.params)

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The character at rest (a thumbnail does not need the sample face's expression)."""
        return draw_character(self.character, RigParams())

    def reset(self) -> None:
        self._smoother.reset()


def make_renderer(style: StyleInfo, provider: str = "auto", threads: int | None = None) -> StyleRenderer:
    """The renderer for `style`'s kind."""
    if style.kind == RIG_KIND:
        return RigRenderer(style)
    stylizer = Stylizer(style, provider, threads)
    return MeshStylizer(stylizer) if takes_mesh(style) else stylizer
