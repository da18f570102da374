"""'Style from a cartoon image': a style code computed from a reference cartoon.

Only for style files with a `style_code` input (content-invariant styles). The code comes from a
style-encoder ONNX file that ships next to the style:
- named by the style's metadata key `style_encoder` (a file name relative to the style), or
- `encoders/<style stem>.onnx` in the style's folder (a subfolder, so the style catalog does
  not take the encoder for a style).
The encoder takes float32 [1, 3, S, S] RGB in [-1, 1] (S fixed, or dynamic -> the style's size)
and returns float32 [1, D] (or [1, D, 1, 1]) with D = the style's `style_code` width.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from avatar_cam.sources import read_image
from avatar_cam.styles import StyleInfo

ENCODER_METADATA_KEY = "style_encoder"
ENCODER_DIR = "encoders"


class ReferenceError(ValueError):
    """The reference image or the encoder cannot give a style code; one line saying why."""


def supports_reference(style: StyleInfo | None) -> bool:
    return bool(style and style.style_code_dim)


def default_encoder_path(style_path: Path) -> Path:
    return style_path.parent / ENCODER_DIR / f"{style_path.stem}.onnx"


def find_style_encoder(style: StyleInfo) -> Path | None:
    """The encoder file for `style`, or None when it ships none."""
    named = style.metadata.get(ENCODER_METADATA_KEY, "").strip()
    candidates = [style.path.parent / named] if named else []
    candidates.append(default_encoder_path(style.path))
    return next((p for p in candidates if p.is_file()), None)


def _square(image_bgr: np.ndarray, n: int) -> np.ndarray:
    h, w = image_bgr.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    sq = image_bgr[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(sq, (n, n), interpolation=cv2.INTER_AREA)


def style_code_from_image(style: StyleInfo, image_path: str | Path) -> np.ndarray:
    """float32 [1, D] style code of the cartoon in `image_path`, for `style`."""
    if not supports_reference(style):
        raise ReferenceError(f"style {style.name!r} has no style_code input")
    encoder = find_style_encoder(style)
    if encoder is None:
        raise ReferenceError(
            f"style {style.name!r} takes a style code but ships no encoder "
            f"(metadata '{ENCODER_METADATA_KEY}' or {ENCODER_DIR}/{style.path.stem}.onnx)"
        )
    try:
        image = read_image(Path(image_path))
    except Exception as e:
        raise ReferenceError(str(e)) from None
    try:
        sess = ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        dim = inp.shape[2] if len(inp.shape) == 4 and isinstance(inp.shape[2], int) else style.size
        x = _square(image, dim)[..., ::-1].astype(np.float32) / 127.5 - 1.0
        code = sess.run(None, {inp.name: x.transpose(2, 0, 1)[None].copy()})[0]
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReferenceError(f"{encoder}: cannot compute a style code ({first[:200]})") from None
    code = np.asarray(code, np.float32).reshape(1, -1)
    if code.shape[1] != style.style_code_dim:
        raise ReferenceError(f"{encoder}: gives a code of width {code.shape[1]}, the style "
                             f"needs {style.style_code_dim}")
    if not np.isfinite(code).all():
        raise ReferenceError(f"{encoder}: the style code has NaN/Inf for this image")
    return code
