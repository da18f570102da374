"""Write into a style file the range its style code takes over pictures of the style's own kind.

A mesh-conditioned style turns any reference picture into a style code with its style encoder.
A picture far from the kind the style learned from (a bald, dark-skinned DiceBear face for
`anime-mesh`, trained on anime girls) gives numbers the generator never saw, and it draws
magenta noise. The app keeps a reference's code inside the range measured here
(`avatar_cam.reference.within_limits`): per number, the 0.5th and 99.5th percentiles over
pictures of the style's own kind, each cropped the app's way.

    python -m export.code_limits STYLE.onnx PICTURES_FOLDER [--count 400] [--split split.json]

The weights are untouched; only the file's metadata gains `style_code_low` / `style_code_high`
(written to a temporary file, then moved over the style).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from avatar_cam.face import quiet_native_stderr
from avatar_cam.reference import ReferenceError, encode, encoder_size, find_style_encoder, picture_crop
from avatar_cam.sources import IMAGE_EXTS
from avatar_cam.styles import CODE_LIMIT_KEYS, StyleError, StyleInfo, code_text, load_style
from training.cli_errors import one_line
from training.pack import source_name, split_names

PERCENTILES = (0.5, 99.5)
MIN_PICTURES = 50  # fewer give a range that is mostly chance


def measure(style: StyleInfo, pictures: Sequence[Path]) -> tuple[np.ndarray, np.ndarray, int]:
    """(low, high, pictures used): the codes' percentiles over `pictures` (skipping those the app
    would refuse as a reference)."""
    encoder = find_style_encoder(style)
    if encoder is None:
        raise ValueError(f"{style.path}: ships no style encoder")
    session = ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
    size = encoder_size(session, style)
    codes = []
    with quiet_native_stderr():  # MediaPipe's banners
        for path in pictures:
            try:
                codes.append(encode(session, picture_crop(path, size).rgb))
            except ReferenceError:
                continue
    if len(codes) < MIN_PICTURES:
        raise ValueError(f"only {len(codes)} usable pictures; give at least {MIN_PICTURES}")
    low, high = np.percentile(np.concatenate(codes), PERCENTILES, axis=0)
    return low, high, len(codes)


def write_limits(path: Path, low: np.ndarray, high: np.ndarray) -> None:
    """Add the limits to the ONNX file's metadata, keeping everything else."""
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props.update(zip(CODE_LIMIT_KEYS, (code_text(low), code_text(high)), strict=True))
    helper.set_model_props(model, dict(sorted(props.items())))
    tmp = path.with_name(f".{path.name}.limits.tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, path)


@one_line("code_limits")
def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.code_limits", description=__doc__.split("\n\n")[0])
    p.add_argument("style", type=Path, help="a style file with a style encoder (flat-mesh, anime-mesh)")
    p.add_argument("pictures", type=Path, help="a folder of pictures of the style's own kind")
    p.add_argument("--count", type=int, default=400,
                   help="pictures used, spread over the folder (default 400)")
    p.add_argument("--split", type=Path, help="the training run's split.json: only its train_B pictures "
                   "(the ones the style learned from; the held-out ones stay out)")
    args = p.parse_args(argv)
    if args.count < 1:
        print(f"code_limits: error: --count must be at least 1 (got {args.count})", file=sys.stderr)
        return 1
    try:
        style = load_style(args.style, probe=False)
        if not style.style_code_dim:
            raise ValueError(f"{args.style}: takes no style code")
        if not args.pictures.is_dir():
            raise ValueError(f"{args.pictures}: not a folder of pictures")
        files = sorted(f for f in args.pictures.iterdir() if f.suffix.lower() in IMAGE_EXTS)
        if args.split:
            try:
                learned = split_names(args.split).get("train_B")
            except ValueError as e:
                raise ValueError(f"--split {args.split}: {e}") from None
            if learned is None:
                raise ValueError(f"--split {args.split}: no train_B list (a run's split.json has one)")
            files = [f for f in files if source_name(f.stem) in learned]
        files = files[:: max(1, len(files) // max(args.count, 1))][: args.count]  # spread over the folder
        low, high, used = measure(style, files)
        write_limits(args.style, low, high)
    except (OSError, StyleError, ValueError) as e:
        print(f"code_limits: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.style}: style code range over {used} pictures of {args.pictures}: low {code_text(low)}, "
          f"high {code_text(high)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
