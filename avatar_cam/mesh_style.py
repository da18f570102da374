"""Mesh-conditioned styles: the generator sees a drawing of the face mesh, never the camera crop.

A style file whose metadata says `input=face_mesh_drawing` (trained by
`training/models/mesh_conditioned.py`) is run by `MeshStylizer`: Face Mesh on the aligned crop
(padded, as in training), `draw_face_mesh`, then the ONNX generator on that drawing. The camera
pixels stop at the mesh: about 1,400 numbers a frame cross, none of them colour or texture.
"""

from __future__ import annotations

import numpy as np

from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_drawing import crop_landmarks, draw_face_mesh
from avatar_cam.styles import StyleInfo

MESH_INPUT = "face_mesh_drawing"


class NoFaceMesh(LookupError):
    """Face Mesh found no face in the crop (the frame is treated like one without a face)."""


def takes_mesh(style: StyleInfo) -> bool:
    return style.metadata.get("input") == MESH_INPUT


class MeshStylizer:
    """Same call as `Stylizer` (RGB crop -> RGB cartoon); raises `NoFaceMesh` without a mesh."""

    def __init__(self, stylizer: Stylizer, analyzer: ExpressionAnalyzer | None = None):
        self.stylizer = stylizer
        self.analyzer = analyzer or ExpressionAnalyzer()

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

    def drawing(self, crop_rgb: np.ndarray) -> np.ndarray:
        """The RGB mesh drawing the generator is fed for this crop."""
        lm = crop_landmarks(self.analyzer, np.ascontiguousarray(crop_rgb[..., ::-1]))
        if lm is None:
            raise NoFaceMesh("no face mesh in the crop")
        return draw_face_mesh(lm, crop_rgb.shape[0])[..., ::-1]

    def __call__(self, crop_rgb: np.ndarray) -> np.ndarray:
        return self.stylizer(self.drawing(crop_rgb))


def open_stylizer(style: StyleInfo, provider: str = "auto", threads: int | None = None
                  ) -> Stylizer | MeshStylizer:
    """The runner a style needs: `Stylizer` on the crop, or `MeshStylizer` on its mesh drawing."""
    stylizer = Stylizer(style, provider, threads)
    return MeshStylizer(stylizer) if takes_mesh(style) else stylizer
