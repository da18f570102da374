"""Paint a `Character` in a `Pose` at any size: parts in depth order, each deformed by the
parameters it listens to, through one `Painter`.

    back hair ─ neck ─ clothes ─ ears ─ head ─ markings, cheeks ─ eyes ─ brows ─ nose, snout ─
    mouth ─ facial hair ─ front hair ─ headwear ─ glasses

`frame` is a webcam framing: head and shoulders fill the picture, the head where the person's
is (`head_x`, `head_y`, `head_scale`), shoulders where `Motion.body` says. `portrait` is the head
alone, centred, for a square (overlay mode, thumbnails)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.character import body_parts, face_parts, hair_parts
from avatar_cam.character.backends import make_painter
from avatar_cam.character.geometry import Head3D, Pose2D
from avatar_cam.character.model import Character
from avatar_cam.character.params import Pose
from avatar_cam.character.scene import Scene

FACE_HEIGHT = 0.37  # head units (face width) per output height at head_scale 1: ~270 px at 720p


@dataclass(frozen=True)
class Placement:
    """Pixels per head unit, the head centre, and the shoulders' centre (pixels)."""

    scale: float
    head: tuple[float, float]
    body: tuple[float, float]


def frame_placement(pose: Pose, body_xy: np.ndarray, size: tuple[int, int], breath: float) -> Placement:
    """Webcam framing: the head moves across the picture with the person (damped, kept inside)."""
    w, h = size
    scale = FACE_HEIGHT * h * float(np.clip(pose.head_scale, 0.6, 1.6)) ** 0.8
    half = 0.6 * scale
    x = w / 2 + pose.head_x * w * 0.35
    y = h * 0.46 + pose.head_y * h * 0.25
    x = float(np.clip(x, half, w - half))
    y = float(np.clip(y, 0.8 * scale, h - 0.3 * scale))
    bx = w / 2 + float(body_xy[0]) * w * 0.35
    by = h * 0.46 + float(body_xy[1]) * h * 0.25 - breath * 0.008 * scale
    bx = float(np.clip(bx, half, w - half))
    return Placement(scale, (x, y), (bx, float(np.clip(by, 0.8 * scale, h - 0.3 * scale))))


def portrait_placement(n: int) -> Placement:
    """A square with the face where the app's face crop has it (about half the side wide)."""
    scale = 0.5 * n
    return Placement(scale, (n / 2, 0.5 * n), (n / 2, 0.5 * n))


@functools.lru_cache(maxsize=8)
def _background(kind: str, top: tuple[int, int, int], bottom: tuple[int, int, int], image: str,
                size: tuple[int, int]) -> np.ndarray:
    """The BGRA background at `size`, made once (a copy per frame costs ~0.2 ms at 720p)."""
    w, h = size
    if kind == "image":
        img = cv2.imread(image, cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError(f"background image {image} cannot be read")
        ih, iw = img.shape[:2]
        s = max(w / iw, h / ih)
        img = cv2.resize(img, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
        y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
        bgr = img[y0:y0 + h, x0:x0 + w]
    else:
        t = np.linspace(0.0, 1.0, h)[:, None] if kind == "gradient" else np.zeros((h, 1))
        rgb = (1 - t) * np.array(top) + t * np.array(bottom)
        bgr = np.repeat(rgb[:, None, ::-1], w, axis=1).round().astype(np.uint8)
    out = np.empty((h, w, 4), np.uint8)
    out[..., :3] = bgr
    out[..., 3] = 255
    out.flags.writeable = False
    return out


def background(ch: Character, size: tuple[int, int]) -> np.ndarray:
    bg = ch.parts["background"]
    img = ch.background_image()
    return _background(bg["kind"], bg["top"], bg["bottom"], str(img) if img else "", size)


def paint(ch: Character, pose: Pose, target: np.ndarray, place: Placement, breath: float = 0.0,
          backend: str = "skia", mouth: np.ndarray | None = None) -> None:
    """Draw `ch` into `target` ((h, w, 4) BGRA, background already there); the mouth from a
    measured lip shape when `mouth` is given (`Calibration.mouth`), else from the pose."""
    head = Head3D(yaw=pose.yaw, pitch=pose.pitch)
    head_m = Pose2D(place.scale, place.head, pose.roll).matrix()
    body_m = np.array([[place.scale, 0, place.body[0]], [0, place.scale * (1 + 0.006 * breath),
                                                          place.body[1]]])
    painter = make_painter(backend, target)
    try:
        s = Scene(painter, ch.parts, pose, head, head_m, body_m, place.scale, breath, mouth)
        hair = hair_parts.HAIR_STYLES[ch.parts["hair"]["style"]]
        if hair.back:
            hair.back(s)
        body_parts.draw_neck(s)
        body_parts.CLOTHING_STYLES[ch.parts["clothing"]["style"]](s)
        face_parts.EAR_STYLES[ch.parts["ears"]["style"]](s)
        face_parts.draw_head(s)
        with painter.clipped(face_parts.head_path(s)):  # markings and blush stay on the face
            face_parts.MARKING_STYLES[ch.parts["markings"]["style"]](s)
            face_parts.draw_cheeks(s)
        face_parts.SNOUT_STYLES[ch.parts["snout"]["style"]](s)
        for side in (-1, 1):
            face_parts.draw_eye(s, side)
            face_parts.draw_brow(s, side)
        face_parts.NOSE_STYLES[ch.parts["nose"]["style"]](s)
        face_parts.draw_mouth(s)
        face_parts.FACIAL_HAIR_STYLES[ch.parts["facial_hair"]["style"]](s)
        if hair.front:
            hair.front(s)
        wear = hair_parts.HEADWEAR_STYLES[ch.parts["headwear"]["style"]]
        if wear:
            wear(s)
        face_parts.GLASSES_STYLES[ch.parts["glasses"]["style"]](s)
    finally:
        painter.close()


def draw_frame(ch: Character, pose: Pose, size: tuple[int, int], body_xy: np.ndarray | None = None,
               breath: float = 0.0, backend: str = "skia", backdrop: np.ndarray | None = None,
               mouth: np.ndarray | None = None) -> np.ndarray:
    """BGR uint8 (h, w, 3): the character framed as a webcam shows a person, on its own
    background or on `backdrop` (BGR at `size`)."""
    body = np.array([pose.head_x, pose.head_y]) if body_xy is None else body_xy
    if backdrop is not None:
        target = cv2.cvtColor(backdrop, cv2.COLOR_BGR2BGRA)
    else:
        target = background(ch, size).copy()
    paint(ch, pose, target, frame_placement(pose, body, size, breath), breath, backend, mouth)
    return cv2.cvtColor(target, cv2.COLOR_BGRA2BGR)


def draw_portrait(ch: Character, pose: Pose, n: int, backend: str = "skia",
                  mouth: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 (n, n, 3): the head and shoulders centred in a square."""
    target = background(ch, (n, n)).copy()
    paint(ch, pose, target, portrait_placement(n), 0.0, backend, mouth)
    return cv2.cvtColor(target, cv2.COLOR_BGRA2RGB)
