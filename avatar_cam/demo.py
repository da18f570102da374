"""The demo clip: a drawn, moving face made on first use, for machines with no webcam.

No real person is in it, so it can ship with the app (it is generated, not stored). MediaPipe
finds the face in every frame; it turns, tilts, blinks and opens its mouth so smoothing, the
eye-line alignment and expressions can be seen working."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import platformdirs

from avatar_cam.sources import list_cameras
from avatar_cam.styles import APP_NAME

DEMO_NAME = "demo-face-v1.mp4"
DEMO_FRAMES = 240
DEMO_FPS = 30.0


def draw_demo_face(t: float, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """One BGR frame of the demo face at time `t` seconds."""
    w, h = size
    img = np.empty((h, w, 3), np.uint8)
    img[:] = (200, 190, 180)
    s = h / 480
    cx = w / 2 + 60 * s * math.sin(t * 0.9)
    cy = h / 2 + 15 * s * math.sin(t * 0.6)
    tilt = 12 * math.sin(t * 0.7)
    rot = cv2.getRotationMatrix2D((cx, cy), -tilt, 1.0)

    def pt(x: float, y: float) -> tuple[int, int]:
        p = rot @ np.array([cx + x * s, cy + y * s, 1.0])
        return int(p[0]), int(p[1])

    def ax(a: float, b: float) -> tuple[int, int]:
        return int(a * s), int(b * s)

    cv2.ellipse(img, pt(0, -40), ax(120, 130), tilt, 180, 360, (40, 50, 70), -1, cv2.LINE_AA)
    cv2.ellipse(img, pt(0, 0), ax(100, 130), tilt, 0, 360, (150, 180, 225), -1, cv2.LINE_AA)
    blink = 1.0 if (t % 3.0) > 0.15 else 0.15
    look = 5 * math.sin(t * 1.3)
    for side in (-1, 1):
        cv2.ellipse(img, pt(side * 40, -20), ax(22, 12 * blink), tilt, 0, 360, (250, 250, 250), -1,
                    cv2.LINE_AA)
        if blink > 0.5:
            cv2.circle(img, pt(side * 40 + look, -20), int(9 * s), (60, 40, 30), -1, cv2.LINE_AA)
            cv2.circle(img, pt(side * 40 + look, -20), int(4 * s), (10, 10, 10), -1, cv2.LINE_AA)
        cv2.ellipse(img, pt(side * 40, -45), ax(26, 6), tilt, 180, 360, (40, 50, 70), 4, cv2.LINE_AA)
    cv2.line(img, pt(0, -10), pt(-8, 25), (110, 140, 190), 3, cv2.LINE_AA)
    mouth = 6 + 14 * max(0.0, math.sin(t * 2.5))
    cv2.ellipse(img, pt(0, 60), ax(35, mouth), tilt, 0, 360, (60, 60, 160), -1, cv2.LINE_AA)
    return img


def demo_clip_path() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME)) / DEMO_NAME


def ensure_demo_clip(path: Path | None = None) -> Path:
    """Write the demo clip once (about a second of work) and return its path."""
    path = path or demo_clip_path()
    if path.is_file() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), DEMO_FPS, (640, 480))
    for i in range(DEMO_FRAMES):
        writer.write(draw_demo_face(i / DEMO_FPS))
    writer.release()
    tmp.replace(path)
    return path


def default_input(spec: str | None) -> str:
    """What to read: the given spec; 'demo' -> the demo clip; none -> camera 0 if there is a
    camera, else the demo clip."""
    if spec == "demo" or (spec is None and not list_cameras(max_index=2)):
        return str(ensure_demo_clip())
    return spec if spec is not None else "0"
