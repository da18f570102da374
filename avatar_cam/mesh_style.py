"""Mesh-conditioned styles: the generator sees a drawing of the face mesh, never the camera crop.

A style file whose metadata says `input=face_mesh_drawing` (trained by
`training/models/mesh_conditioned.py`) is run by `MeshStylizer`: Face Mesh on the aligned crop
(padded, as in training), `draw_face_mesh`, then the ONNX generator on that drawing. The camera
pixels stop at the mesh: about 1,400 numbers a frame cross, none of them colour or texture.
"""

from __future__ import annotations

import numpy as np

from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_drawing import crop_landmarks, draw_face_mesh
from avatar_cam.styles import StyleInfo

MESH_INPUT = "face_mesh_drawing"


class NoFaceMesh(LookupError):
    """Face Mesh found no face in the crop (the frame is treated like one without a face)."""


def takes_mesh(style: StyleInfo) -> bool:
    return style.metadata.get("input") == MESH_INPUT


class MeshStylizer:
    """A `StyleRenderer` (avatar_cam/renderers.py) for mesh-conditioned styles: draws the
    pipeline's crop landmarks (`Frame.landmarks`) and runs the generator on that drawing."""

    needs_landmarks = True
    draws_frame = False

    def __init__(self, stylizer: Stylizer):
        self.stylizer = stylizer
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
        return self.stylizer(np.ascontiguousarray(draw_face_mesh(frame.landmarks, self.size)[..., ::-1]))

    def drawing(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The RGB mesh drawing of a crop found on its own (static Face Mesh, padded crop)."""
        if self._analyzer is None:
            self._analyzer = ExpressionAnalyzer()
        lm = crop_landmarks(self._analyzer, np.ascontiguousarray(crop_rgb[..., ::-1]))
        if lm is None:
            raise NoFaceMesh("no face mesh in the crop")
        return np.ascontiguousarray(draw_face_mesh(lm, crop_rgb.shape[0])[..., ::-1])

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        return self.stylizer(self.drawing(crop_rgb))

    def reset(self) -> None:
        """Nothing to forget: the generator has no state between frames."""
