"""Reading picture files the one safe way: bytes through `cv2.imdecode` (paths with any
characters), and a picture OpenCV refuses to decode is an answer, not a crash. OpenCV raises
(rather than returning None) for a header over its pixel limit: a small PNG can claim
40000x40000 px."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


class TooLarge(ValueError):
    """The file's header asks for more pixels than OpenCV decodes."""


def decode_image(data: np.ndarray, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """`cv2.imdecode` of a file's bytes: None for what it does not read, `TooLarge` for a picture
    over OpenCV's pixel limit."""
    if not data.size:
        return None
    try:
        return cv2.imdecode(data, flags)
    except cv2.error as e:
        if "MAX_IMAGE_PIXELS" in str(e):
            raise TooLarge("too large to decode (over OpenCV's pixel limit)") from None
        return None


def load_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """A picture file as `cv2.imread` reads it, or None for anything that is not one (missing,
    a folder, unreadable, not a picture, over the pixel limit)."""
    try:
        return decode_image(np.fromfile(str(path), np.uint8), flags)
    except (OSError, ValueError):
        return None
