"""The stage that turns a tracked face into the cartoon: one interface, three kinds behind it.

- `Stylizer` (avatar_cam.inference): an ONNX generator on the face crop (`frame.crop`);
- `MeshStylizer` (avatar_cam.mesh_style): an ONNX generator on a drawing of the crop's Face Mesh;
- `CharacterRenderer` (avatar_cam.character): a character drawn from the Face Mesh landmarks
  (`frame.landmarks`) at the output size; no pixel of the camera frame reaches the output.

A renderer gets the whole `Frame` (camera image, tracked face, crop and its matrix, landmarks in
crop pixels when `needs_landmarks`) and reads what it needs. One that `draws_frame` paints the
whole output picture (`render_frame`) instead of a crop-sized cartoon the compositor places, and
can idle (`idle_frame`) for a moment when the face is lost."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from avatar_cam.character.params import Calibration, Measures
from avatar_cam.character.renderer import CharacterRenderer
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_style import MeshStylizer
from avatar_cam.styles import CHARACTER_KIND, StyleInfo, takes_mesh


class StyleRenderer(Protocol):
    """What the pipeline runs for a style. `size`: the crop side it wants and the cartoon side it
    returns. `style_code` is the reference code for styles that take one, else None."""

    style: StyleInfo
    provider: str
    needs_landmarks: bool
    draws_frame: bool
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


class FrameRenderer(StyleRenderer, Protocol):
    """A renderer that draws the whole output picture (`draws_frame` is True), from face
    measures it maps through the person's `calibration` (neutral face, expressiveness)."""

    calibration: Calibration
    last_measures: Measures | None  # of the last tracked frame

    def render_frame(self, frame: Frame, size: tuple[int, int],
                     background: np.ndarray | None = None) -> np.ndarray:
        """BGR uint8 (h, w, 3) output picture for `frame` (on `background`, BGR at `size`, when
        the user chose one); raises on a fault."""
        ...

    def render_portrait(self, frame: Frame, n: int,
                        onto: tuple[np.ndarray, tuple[int, int]] | None = None) -> np.ndarray:
        """RGBA uint8 (n, n, 4), premultiplied: `render`'s portrait drawn at any side `n`
        without its scene (overlay mode fills round it from the camera); with `onto` (a
        similarity from those n-pixel coordinates to a box's, and the box's (w, h)), drawn
        straight into that box, (h, w, 4), as overlay mode pastes it; raises on a fault."""
        ...

    def idle_frame(self, t: float, size: tuple[int, int],
                   background: np.ndarray | None = None) -> np.ndarray | None:
        """The picture at time `t` while no face is tracked, or None: show the card."""
        ...


def make_renderer(style: StyleInfo, provider: str = "auto", threads: int | None = None,
                  calibration: Calibration | None = None) -> StyleRenderer:
    """The renderer for `style`'s kind."""
    if style.kind == CHARACTER_KIND:
        return CharacterRenderer(style, calibration)
    stylizer = Stylizer(style, provider, threads)
    return MeshStylizer(stylizer) if takes_mesh(style) else stylizer
