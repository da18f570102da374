"""Face alignment shared by the app and training: eye line level, head centred, margin for hair.

Training (`training/data.py prepare`) imports these functions so models see the same framing as
the live app. Nothing here imports torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.frame import Face


@dataclass(frozen=True)
class CropSpec:
    """How much of the head the crop shows, relative to the detector's face box.

    `scale`: crop side as a multiple of the face-box width. 1.6 shows the face, the hairline and
    the chin, which is how the cartoon training faces are framed; wider crops of the training
    photos (selfie2anime, UTKFace are cropped tight) would be half border.
    `shift_y`: move the crop centre up by this fraction of the box height (hair sits above).
    """

    scale: float = 1.6
    shift_y: float = 0.1


DEFAULT_CROP = CropSpec()


def centred_square(img: np.ndarray, size: int) -> np.ndarray:
    """The image's centred square at `size` x `size` (area filter down, linear up): pictures with
    no face to crop by, and training's and export's square inputs."""
    h, w = img.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    square = img[y0:y0 + side, x0:x0 + side]
    return cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)


def cover(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`img` scaled to cover `size` (w, h), aspect kept, and centre-cropped: a background
    picture is never stretched."""
    w, h = size
    ih, iw = img.shape[:2]
    s = max(w / iw, h / ih)
    img = cv2.resize(img, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return img[y0:y0 + h, x0:x0 + w]


def crop_matrix(
    eye_right: np.ndarray,
    eye_left: np.ndarray,
    center: tuple[float, float],
    side: float,
    out_size: int,
) -> np.ndarray:
    """2x3 affine taking image pixels to an `out_size` square crop.

    The eye line becomes horizontal, `center` lands in the middle and a square of `side` image
    pixels fills the crop.
    """
    dx, dy = float(eye_left[0] - eye_right[0]), float(eye_left[1] - eye_right[1])
    angle = math.degrees(math.atan2(dy, dx))
    scale = out_size / max(side, 1.0)
    m = cv2.getRotationMatrix2D((float(center[0]), float(center[1])), angle, scale)
    m[0, 2] += out_size / 2 - center[0]
    m[1, 2] += out_size / 2 - center[1]
    return m


def resized_crop(matrix: np.ndarray, k: float) -> np.ndarray:
    """`matrix` (image -> crop) for the same crop `k` times as many pixels on a side (pixel
    centres map as a resize maps them)."""
    out = np.asarray(matrix, np.float64) * k
    out[:, 2] += (k - 1) / 2
    return out


def crop_square(face: Face, spec: CropSpec = DEFAULT_CROP) -> tuple[tuple[float, float], float]:
    """The centre (image pixels) and side (pixels) of the square the crop of `face` shows."""
    eye_r, eye_l = face.eyes
    x, y, w, h = face.box
    cx, cy = face.center
    # Shift "up" along the face axis, not the image axis, so tilted heads keep their hair.
    dx, dy = eye_l - eye_r
    norm = math.hypot(dx, dy) or 1.0
    up = np.array([dy / norm, -dx / norm])  # perpendicular to the eye line, pointing to the forehead
    c = np.array([cx, cy]) + up * spec.shift_y * h
    return (float(c[0]), float(c[1])), spec.scale * max(w, h)


def face_crop_matrix(face: Face, out_size: int, spec: CropSpec = DEFAULT_CROP) -> np.ndarray:
    """The crop transform for a detected face, framed by `spec`."""
    center, side = crop_square(face, spec)
    return crop_matrix(*face.eyes, center, side, out_size)


def warp_crop(image: np.ndarray, matrix: np.ndarray, out_size: int) -> np.ndarray:
    """Cut the aligned square out of `image`, edge pixels smeared outward where the crop leaves
    the image (mirroring would put extra eyes into tightly cropped training photos)."""
    return cv2.warpAffine(
        image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine (crop -> image)."""
    return cv2.invertAffineTransform(matrix)


def align_face(image: np.ndarray, face: Face, out_size: int, spec: CropSpec = DEFAULT_CROP) -> np.ndarray:
    """One call for training's `prepare`: the aligned crop of `face` at `out_size`."""
    return warp_crop(image, face_crop_matrix(face, out_size, spec), out_size)
