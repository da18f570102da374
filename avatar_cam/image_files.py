"""Reading picture files the one safe way: bytes through `cv2.imdecode` (paths with any
characters), and a picture OpenCV refuses to decode is an answer, not a crash. OpenCV raises
(rather than returning None) for a header over its pixel limit: a small PNG can claim
40000x40000 px."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def image_size(data: np.ndarray | bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG or PNG header without decoding; None for other formats."""
    b = bytes(data[:32]) if len(data) >= 32 else bytes(data)
    if b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR":
        return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")
    if b[:2] != b"\xff\xd8":
        return None
    i, n = 2, len(data)
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        m = int(data[i + 1])
        if m == 0xFF:  # fill byte
            i += 1
            continue
        if m == 0x01 or 0xD0 <= m <= 0xD8:  # markers without a length
            i += 2
            continue
        if m in _JPEG_SOF:
            return (int(data[i + 7]) << 8 | int(data[i + 8]), int(data[i + 5]) << 8 | int(data[i + 6]))
        if m == 0xDA:  # start of scan before any frame header
            return None
        i += 2 + (int(data[i + 2]) << 8 | int(data[i + 3]))
    return None


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class TooLarge(ValueError):
    """The file asks for more pixels than OpenCV decodes, or than the caller takes."""


def decode_image(data: np.ndarray, flags: int = cv2.IMREAD_COLOR, max_pixels: int | None = None
                 ) -> np.ndarray | None:
    """`cv2.imdecode` of a file's bytes: None for what it does not read, `TooLarge` for a picture
    over OpenCV's pixel limit or over `max_pixels` (a JPEG or PNG refused from its header, before
    gigabytes are decoded)."""
    if not data.size:
        return None
    wh = image_size(data)
    if max_pixels is not None and wh is not None and wh[0] * wh[1] > max_pixels:
        raise TooLarge(f"too large ({wh[0]}x{wh[1]} px)")
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
