"""Instructions a frame of a drawn character costs, counted by valgrind: a measure of the
renderer's CPU work that other processes on a shared machine do not move (its wall and CPU
times swing 30-40% from run to run there; this count by well under 1%).

    python scripts/render_instructions.py [--style sunny] [--size 1280x720]

Draws the character in a fixed cycle of poses (no Face Mesh: its threads would add their own
work) for 10 and for 40 frames under `valgrind --tool=callgrind` and prints the difference over
30 frames: start-up, imports and the first frame cancel out. The hash seed is fixed and OpenCV and
BLAS run on one thread (their idle workers spin for as long as timing allows), so a run repeats
to within about 0.01 M, also beside other work. Needs valgrind (`apt-get install valgrind`); takes
about a minute.

A count is not a time where memory moves: libc's memcpy copies a cache line in a few counted
instructions, a numpy loop in many: the background written a row at a time (stop 52) counts 1.04 M
instructions more than the copy it replaced and takes 0.1 ms less."""

from __future__ import annotations

import argparse
import importlib.resources
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

FEW, MANY = 10, 40


def draw(style: str, size: tuple[int, int], frames: int) -> None:
    """Draw `frames` frames of the character named `style` (the part valgrind counts)."""
    import cv2

    cv2.setNumThreads(0)  # OpenCV's idle workers spin for a while, as many times as timing allows
    from avatar_cam.character.draw import draw_frame
    from avatar_cam.character.model import load_character
    from avatar_cam.character.params import Pose

    # not through avatar_cam.styles: it imports ONNX Runtime, whose idle thread wakes on a clock
    styles = Path(str(importlib.resources.files("avatar_cam"))) / "assets" / "styles"
    ch = load_character(styles / f"{style}.character.json")
    poses = [Pose(yaw=10 * math.sin(i), pitch=5 * math.cos(i), roll=3 * math.sin(0.5 * i),
                  eye_r=0.9 + 0.1 * math.sin(i), eye_l=0.95, mouth_open=0.3 + 0.2 * math.sin(i),
                  smile=0.2, gaze_x=0.2 * math.sin(i)) for i in range(frames + 1)]
    for pose in poses:  # the first frame measures the character's extent: in both counts
        draw_frame(ch, pose, size)


def count(style: str, size: str, frames: int) -> int:
    # the child imports what this process imports (valgrind may start the interpreter by its
    # real path, outside the virtual environment's)
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          __file__, "--style", style, "--size", size, "--draw", str(frames)],
                         env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"render_instructions: valgrind run failed:\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="sunny", help="a built-in character (default: sunny)")
    p.add_argument("--size", default="1280x720", help="output size WxH (default 1280x720)")
    p.add_argument("--draw", type=int, help=argparse.SUPPRESS)  # the counted child run
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.draw is not None:
        draw(args.style, (w, h), args.draw)
        return 0
    if shutil.which("valgrind") is None:
        print("render_instructions: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    per_frame = (count(args.style, args.size, MANY) - count(args.style, args.size, FEW)) / (MANY - FEW)
    print(f"{args.style} at {w}x{h}: {per_frame / 1e6:.2f} M instructions a frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
