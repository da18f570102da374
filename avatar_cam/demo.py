"""The demo clip: a drawn, moving face made on first use, for machines with no webcam.

No real person is in it, so it can ship with the app (it is generated, not stored). The face is a
character (`assets/demo/demo-person.character.json`) drawn by the app's own renderer from a
script that exercises every signal a teacher reads: it talks, blinks and winks, raises and
knits its brows, smiles and frowns, looks around, turns, nods and tilts, and moves in the frame.
MediaPipe finds the face in every frame."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import platformdirs

from avatar_cam.character.draw import draw_frame
from avatar_cam.character.model import Character, load_character
from avatar_cam.character.params import Pose
from avatar_cam.sources import list_cameras
from avatar_cam.styles import APP_NAME, assets_dir

if TYPE_CHECKING:
    from avatar_cam.align import CropSpec
    from avatar_cam.face import FaceDetector

DEMO_SCRIPT = 2  # bump when `demo_pose` changes; the person's file is hashed into the name too
DEMO_FRAMES = 360
DEMO_FPS = 30.0
DEMO_CLIP_KEPT_S = 86400.0  # another version's cached clip is removed once unused this long
SAMPLE_TIME_S = 0.5  # a demo-face moment with open eyes and a slight turn (thumbnails, looks)


@functools.lru_cache(maxsize=1)
def demo_person() -> Character:
    return load_character(assets_dir() / "demo" / "demo-person.character.json")


def demo_pose(t: float) -> Pose:
    """The scripted pose at `t` seconds: signals on different periods, so none mimics another."""
    def wave(period: float, phase: float = 0.0) -> float:
        return math.sin(2 * math.pi * t / period + phase)

    talk = max(0.0, wave(0.75)) ** 1.5 * (0.35 + 0.45 * max(0.0, wave(4.1, 1.0)))
    blink = (t % 2.9) < 0.15
    wink = 7.0 <= t % 12.0 < 7.4
    squint = 0.55 if 9.5 <= t % 12.0 < 10.5 else 1.0
    brow = 0.85 * wave(5.7, 1.5)
    return Pose(
        yaw=22 * wave(7.0), pitch=13 * wave(4.3, 1.0), roll=10 * wave(5.1, 2.0),
        eye_r=0.05 if blink else squint, eye_l=0.05 if blink or wink else squint,
        gaze_x=0.8 * wave(3.7, 0.3), gaze_y=0.5 * wave(4.9),
        brow_r=brow + 0.15 * wave(2.3), brow_l=brow - 0.15 * wave(2.3), frown=max(0.0, -brow) * 0.6,
        mouth_open=talk, mouth_width=0.6 * wave(3.3), smile=0.8 * wave(8.5, 0.5),
        head_x=0.3 * wave(9.0), head_y=0.12 * wave(6.5), head_scale=1.0 + 0.12 * wave(10.0),
    )


def draw_demo_face(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """One BGR frame of the demo face at time `t` seconds. The person stands in for a camera's:
    it is drawn without what the avatars' drawing does for a tracker or for speed (`Scene.stand_in`:
    the near eye's make-up, flat irises, aliased edges under lines), so the clip the avatars are
    measured on does not change when those do."""
    return draw_frame(demo_person(), demo_pose(t), size, stand_in=True)


def demo_clip_path() -> Path:
    """Where the demo clip is cached; a changed script, person or drawing code gets a new file."""
    digest = hashlib.sha256((assets_dir() / "demo" / "demo-person.character.json").read_bytes())
    for module in sorted(Path(draw_frame.__code__.co_filename).parent.glob("*.py")):
        digest.update(module.read_bytes())
    tag = digest.hexdigest()[:8]
    return Path(platformdirs.user_cache_dir(APP_NAME)) / f"demo-face-v{DEMO_SCRIPT}-{tag}.mp4"


def ensure_demo_clip(path: Path | None = None) -> Path:
    """Write the demo clip once (about a second of work) and return its path. Each use marks
    the clip used (its time), so that a clip another version of the app still plays is kept."""
    path = path or demo_clip_path()
    if path.is_file() and path.stat().st_size > 0:
        with contextlib.suppress(OSError):
            os.utime(path)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), DEMO_FPS, (640, 480))
    for i in range(DEMO_FRAMES):
        writer.write(draw_demo_face(i / DEMO_FPS))
    writer.release()
    tmp.replace(path)
    for old in path.parent.glob("demo-face-v*.mp4"):  # other versions' clips (2.4 MB each) unused
        with contextlib.suppress(OSError):  # for a day go (one still playing may be opened again)
            if old != path and time.time() - old.stat().st_mtime > DEMO_CLIP_KEPT_S:
                old.unlink()
    return path


def default_input(spec: str | None) -> str:
    """What to read: the given spec; 'demo' -> the demo clip; none -> camera 0 if there is a
    camera, else the demo clip."""
    if spec == "demo" or (spec is None and not list_cameras(max_index=2)):
        return str(ensure_demo_clip())
    return spec if spec is not None else "0"


def sample_face_crop(size: int, crop: CropSpec | None = None,
                     detector: FaceDetector | None = None) -> np.ndarray:
    """RGB (size, size, 3): the demo face found by MediaPipe and aligned like a live frame.
    Falls back to a centred square if no face is found (it always is on the demo face)."""
    from avatar_cam.align import CropSpec, centred_square, face_crop_matrix, warp_crop
    from avatar_cam.face import FaceDetector

    image = draw_demo_face(SAMPLE_TIME_S)
    own = detector is None
    finder = FaceDetector() if detector is None else detector
    try:
        faces = finder.detect(image)
    finally:
        if own:
            finder.close()
    if faces:
        face = max(faces, key=lambda f: f.area)
        out = warp_crop(image, face_crop_matrix(face, size, crop or CropSpec()), size)
    else:
        out = centred_square(image, size)
    return np.ascontiguousarray(out[..., ::-1])
