"""Records that travel through the pipeline: one `Frame` per camera image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Face:
    """One face in image pixel coordinates.

    `box` is (x, y, w, h). `keypoints` is a (6, 2) array in MediaPipe face-detection order:
    the person's right eye (image left), left eye, nose tip, mouth centre, right ear, left ear.
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    score: float = 1.0

    RIGHT_EYE = 0
    LEFT_EYE = 1
    NOSE = 2
    MOUTH = 3
    EARS = slice(4, 6)  # the person's right ear, then left

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    @property
    def eyes(self) -> tuple[np.ndarray, np.ndarray]:
        """(right eye, left eye) of the person, i.e. (image-left, image-right) on a non-mirrored view."""
        return self.keypoints[self.RIGHT_EYE], self.keypoints[self.LEFT_EYE]


@dataclass
class Frame:
    """One camera image and everything the stages add to it.

    `image` is the camera frame (BGR uint8, as OpenCV gives it) and is never handed to a sink;
    `output` is what sinks receive, set by the compositor or the privacy gate.
    """

    image: np.ndarray
    index: int
    timestamp: float
    name: str | None = None  # file name for folder sources, so outputs keep it
    still: bool = False  # a photo, processed on its own: nothing carries over from other frames
    face: Face | None = None
    crop_matrix: np.ndarray | None = None  # 2x3 affine, image -> crop (-> the cartoon's pixels, when larger)
    crop: np.ndarray | None = None  # RGB uint8 at the style's input size (full mode: the whole
    # frame); None for styles drawn from landmarks, which never read it
    landmarks: np.ndarray | None = None  # (478, 3) Face Mesh points in crop pixels, for landmark styles
    # RGB uint8 at the style's input size (a character in overlay mode: premultiplied RGBA without
    # its scene, drawn straight into its paste box, `cartoon_side`)
    cartoon: np.ndarray | None = None
    # a character in overlay mode, drawn straight into its paste box (`Compositor.paste_box`):
    # the side of the square cartoon it stands for (`crop_matrix` maps to that square)
    cartoon_side: int | None = None
    # overlay mode: the face's outline (convex, cartoon pixels) the paste must cover beside its
    # ellipse, from the landmarks (a turned face's near cheek reaches past the ellipse)
    cover: np.ndarray | None = None
    output: np.ndarray | None = None  # BGR uint8 at the output size
    fallback: str | None = None  # why the output is not a fresh cartoon (no_face, generator_error, ...)
    timings_ms: dict[str, float] = field(default_factory=dict)  # wall ms per stage
    cpu_ms: dict[str, float] = field(default_factory=dict)  # process CPU ms per stage (all threads)
