"""A contact sheet of random characters at the extremes of every head and face parameter, to look
at (the geometry is checked by tests/test_character_extremes.py).

    python scripts/contact_sheet.py                      # 48 characters -> runs/contact-sheet.png
    python scripts/contact_sheet.py --cast               # the built-in cast at rest and at extremes
    python scripts/contact_sheet.py --width 960 --out docs/contact-sheet.png

Each tile is drawn at the output size the meeting sees (1280x720) and cropped round the head."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from avatar_cam.character.creator import random_parts
from avatar_cam.character.draw import draw_frame
from avatar_cam.character.model import Character, load_character, parse_character
from avatar_cam.character.params import Pose
from avatar_cam.styles import CHARACTER_KIND, StyleCatalog, builtin_styles_dir

SIZE = (1280, 720)
CROP = (240, 0, 1040, 720)  # x0, y0, x1, y1 of the 1280x720 frame: the head and shoulders
EXTREMES = [
    Pose(yaw=45, pitch=35, roll=-40, mouth_open=1, smile=1, brow_r=1, brow_l=1, gaze_x=1),
    Pose(yaw=-45, pitch=-35, roll=40, mouth_open=1, eye_r=0, eye_l=0, smile=-1, brow_r=-1, brow_l=-1,
         frown=1),
    Pose(yaw=45, pitch=-35, roll=40, mouth_open=0, eye_r=1.5, eye_l=1.5, mouth_width=1, gaze_y=1),
    Pose(yaw=-45, pitch=35, roll=-40, mouth_open=1, mouth_width=-1, eye_r=0, eye_l=1.5, brow_r=1, brow_l=-1),
    Pose(yaw=0, pitch=35, roll=0, mouth_open=1, smile=1, eye_r=1.5, eye_l=1.5, brow_r=1, brow_l=1),
    Pose(yaw=0, pitch=-35, roll=0, mouth_open=1, smile=-1, frown=1, gaze_y=-1),
    Pose(yaw=45, pitch=0, roll=0, mouth_open=0.5, smile=1, gaze_x=-1),
    Pose(yaw=-45, pitch=0, roll=0, mouth_open=0.5, smile=-1, gaze_x=1),
]


def random_cast(n: int, seed: int = 0) -> list[Character]:
    rng = np.random.default_rng(seed)
    return [parse_character({"format": "avatar-cam-character/2", "name": f"random-{i}", "license_note": "",
                             **random_parts(rng)}) for i in range(n)]


def tile(ch: Character, pose: Pose, width: int) -> np.ndarray:
    x0, y0, x1, y1 = CROP
    img = draw_frame(ch, pose, SIZE)[y0:y1, x0:x1]
    h = round(width * (y1 - y0) / (x1 - x0))
    return cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA)


def sheet(tiles: list[np.ndarray], cols: int) -> np.ndarray:
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    out = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = t
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cast", action="store_true", help="the built-in characters instead of random ones")
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--width", type=int, default=1600, help="width of the whole sheet in pixels")
    p.add_argument("--out", type=Path, default=Path("runs/contact-sheet.png"))
    args = p.parse_args()
    tw = args.width // args.cols
    if args.cast:
        cast = [load_character(s.path) for s in StyleCatalog([builtin_styles_dir()]).styles
                if s.kind == CHARACTER_KIND]
        tiles = [tile(ch, pose, tw) for i, ch in enumerate(cast) for pose in (Pose(),
                                                                              EXTREMES[i % len(EXTREMES)])]
    else:
        chars = random_cast(args.count, args.seed)
        tiles = [tile(ch, EXTREMES[i % len(EXTREMES)], tw) for i, ch in enumerate(chars)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet(tiles, args.cols))
    print(f"{len(tiles)} tiles -> {args.out}")


if __name__ == "__main__":
    main()
