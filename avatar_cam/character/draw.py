"""Paint a `Character` in a `Pose` at any size: parts in depth order, each deformed by the
parameters it listens to, through one `Painter`.

    back hair ─ body (behind the neck, neck, clothes) ─ ears ─ head ─ [markings, cheeks, snout,
    eyes, brows, nose, mouth: inside the head's outline] ─ facial hair ─ glasses' arms ─ front
    hair ─ headwear ─ glasses

`frame` is a webcam framing: head and shoulders fill the picture, the head where the person's
is (`head_x`, `head_y`, `head_scale`), shoulders where `Motion.body` says. `portrait` is the head
alone, centred, for a square (overlay mode, thumbnails)."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, replace

import cv2
import numpy as np

from avatar_cam.align import cover
from avatar_cam.character import body_parts, face_parts, hair_parts
from avatar_cam.character.backends import make_painter
from avatar_cam.character.geometry import Head3D, Pose2D, convex_polygon, inside_polygon
from avatar_cam.character.model import Character
from avatar_cam.character.painter import BoundsPainter, Painter, RecordingPainter
from avatar_cam.character.params import Pose
from avatar_cam.character.scene import Scene
from avatar_cam.image_files import load_image

FACE_HEIGHT = 0.37  # head units (face width) per output height at head_scale 1: ~270 px at 720p
# degrees the head is drawn tipped down at mouth_open 1: a face tracker reads a drawn open mouth
# as the head tilted back (~5 deg wide open, measured on the picture), a person's as no tilt
MOUTH_NOD = 4.0


@dataclass(frozen=True)
class Placement:
    """Pixels per head unit, the head centre, and the shoulders' centre (pixels)."""

    scale: float
    head: tuple[float, float]
    body: tuple[float, float]
    floor: float = 0.0  # body units from the shoulders' centre down to past the picture's bottom
    # a similarity (2x3) from these pixels to the target's: drawn straight where it is pasted
    onto: np.ndarray | None = None


@dataclass(frozen=True)
class Extent:
    """How far a character reaches from its head's centre (head units, measured over turns and
    nods): half its width and its height above the centre. Ears, hair and hats are included."""

    half: float
    top: float


HEAD_LAYERS = ("hair_back", "ears", "head", "glasses_arms", "hair_front", "headwear", "glasses")
_EXTENT_POSES = (Pose(), *(Pose(yaw=y, pitch=p, roll=r, mouth_open=m) for y in (-45, 45) for p in (-35, 35)
                           for r in (-40.0, 0.0, 40.0) for m in (0.0, 1.0)))  # an open mouth tips the
# head (MOUTH_NOD); a tilt swings the hair, ears and hat out sideways (without it a tilted head
# went off the side of a tall or square picture)
_extents: dict[str, Extent] = {}
_extent_of: dict[int, tuple[Character, Extent]] = {}


def extent(ch: Character) -> Extent:
    """`ch`'s `Extent`, measured once by drawing it with a `BoundsPainter` (then cached: by the
    object for the frames of one character, by its content across equal ones)."""
    seen = _extent_of.get(id(ch))
    if seen is not None and seen[0] is ch:
        return seen[1]
    key = json.dumps(ch.to_json(), sort_keys=True)
    found = _extents.get(key)
    if found is None:
        painter, unit = BoundsPainter(), 100.0  # pixels per head unit: strokes keep their width
        for pose in _EXTENT_POSES:
            paint_with(painter, ch, pose, Placement(unit, (0.0, 0.0), (0.0, 0.0)),
                       on_layer=lambda name: setattr(painter, "layer", name))
        x0, y0, x1, _ = painter.union(HEAD_LAYERS) / unit
        found = Extent(float(max(-x0, x1)), float(-y0))
        if len(_extents) > 64:
            _extents.clear()
        _extents[key] = found
    if len(_extent_of) > 64:
        _extent_of.clear()
    _extent_of[id(ch)] = (ch, found)  # holding `ch` keeps its id from being reused
    return found


def frame_placement(pose: Pose, body_xy: np.ndarray, size: tuple[int, int], breath: float,
                    reach: Extent | None = None) -> Placement:
    """Webcam framing: the head moves across the picture with the person (damped), kept inside
    the picture with all of the character's hair, ears and hat (`reach`); the shoulders move
    by as much as keeping the head inside moved it. The head is sized by the picture's height,
    or by its width in a picture too narrow for that (9:16 and taller)."""
    w, h = size
    widest = max(0.6, reach.half if reach else 0.0)  # half the character's width, in head units
    # sized by the picture's height, but never wider than it (a tall, phone-shaped picture)
    scale = min(FACE_HEIGHT * h, 0.45 * w / widest) * min(max(float(pose.head_scale), 0.6), 1.6) ** 0.8
    half = widest * scale
    top = max(0.8, reach.top if reach else 0.0) * scale
    x = w / 2 + pose.head_x * w * 0.35
    y = h * 0.46 + pose.head_y * h * 0.25
    cx = float(min(max(x, half), w - half)) if w > 2 * half else w / 2
    cy = float(min(max(y, top), max(top, h - 0.3 * scale)))
    bx = w / 2 + float(body_xy[0]) * w * 0.35 + (cx - x)
    by = h * 0.46 + float(body_xy[1]) * h * 0.25 + (cy - y) - breath * 0.008 * scale
    return Placement(scale, (cx, cy), (bx, by), (h - by) / scale + 0.2)


def portrait_placement(n: int, reach: Extent | None = None) -> Placement:
    """A square with the face where the app's face crop has it (about half the side wide); with
    `reach`, smaller where needed so the whole character fits, hair, ears and hat (thumbnails)."""
    scale = 0.5 * n
    if reach is None:
        return Placement(scale, (n / 2, 0.5 * n), (n / 2, 0.5 * n), 0.5 * n / scale + 0.2)
    scale = min(scale, 0.94 * n / (reach.top + 0.85), 0.96 * n / (2 * reach.half))
    y = max(0.5 * n, 0.03 * n + reach.top * scale)
    return Placement(scale, (n / 2, y), (n / 2, y), (n - y) / scale + 0.2)


@functools.lru_cache(maxsize=8)
def _background(kind: str, top: tuple[int, int, int], bottom: tuple[int, int, int], image: str,
                size: tuple[int, int]) -> np.ndarray:
    """The background at `size`, made once, BGRA: a picture's (h, w, 4) pixels, or a gradient's
    or a colour's (h, 1, 4), one pixel a row (every pixel of a row is that row's). A picture gone
    or unreadable since the character was loaded gives its gradient instead: the meeting went on
    seeing the 'style failed' card on every frame."""
    w, h = size
    img = load_image(image) if kind == "image" else None
    if img is not None:
        bgr = cover(img, size)
    else:
        t = np.linspace(0.0, 1.0, h)[:, None] if kind != "colour" else np.zeros((h, 1))
        rgb = (1 - t) * np.array(top) + t * np.array(bottom)
        bgr = rgb[:, None, ::-1].round().astype(np.uint8)
    out = np.empty((*bgr.shape[:2], 4), np.uint8)
    out[..., :3] = bgr
    out[..., 3] = 255
    out.flags.writeable = False
    return out


def lay_ground(ch: Character, target: np.ndarray) -> None:
    """Write `ch`'s background into `target` ((h, w, 4) BGRA). A gradient's or a colour's is
    written a row at a time from one pixel a row: at 1280x720 that is half the time of copying
    a whole picture (3.7 MB written, none read)."""
    bg = ch.parts["background"]
    img = ch.background_image()
    h, w = target.shape[:2]
    rows = _background(bg["kind"], bg["top"], bg["bottom"], str(img) if img else "", (w, h))
    if rows.shape[1] == w:
        np.copyto(target, rows)
    else:
        target.view(np.uint32)[..., 0] = rows.view(np.uint32)[..., 0]  # (h, w) from (h, 1): a row its pixel


Draw = Callable[[Scene], None]
FACE_GROUP = ("cheeks", "snout", "eyes", "brows", "nose", "mouth")  # kept inside the head outline
CLIP_MARGIN = 2.0  # pixels: past this far inside its outline, the head's anti-aliased clip covers fully


def layers(ch: Character) -> list[tuple[str, Draw]]:
    """The character's parts as named drawings in depth order (back to front)."""
    p = ch.parts
    hair = hair_parts.HAIR_STYLES[p["hair"]["style"]]
    wear = hair_parts.HEADWEAR_STYLES[p["headwear"]["style"]]
    out: list[tuple[str, Draw | None]] = [
        ("hair_back", hair.back), ("body", body_parts.draw_body),
        # a headscarf covers the ears (turned 45 degrees, they showed through its sides)
        ("ears", None if p["hair"]["style"] == "hijab" else face_parts.EAR_STYLES[p["ears"]["style"]]),
        ("head", face_parts.draw_head),
        ("markings", face_parts.MARKING_STYLES[p["markings"]["style"]]), ("cheeks", face_parts.draw_cheeks),
        ("snout", face_parts.SNOUT_STYLES[p["snout"]["style"]]), ("eyes", face_parts.draw_eyes),
        ("brows", face_parts.draw_brows), ("nose", face_parts.NOSE_STYLES[p["nose"]["style"]]),
        ("mouth", face_parts.draw_mouth),
        ("facial_hair", face_parts.FACIAL_HAIR_STYLES[p["facial_hair"]["style"]]),
        ("glasses_arms", None if p["glasses"]["style"] == "none" else face_parts.draw_glasses_arms),
        ("hair_front", hair.front), ("headwear", wear),
        ("glasses", face_parts.GLASSES_STYLES[p["glasses"]["style"]]),
    ]
    return [(name, draw) for name, draw in out if draw is not None]


def paint_with(painter: Painter, ch: Character, pose: Pose, place: Placement, breath: float = 0.0,
               mouth: np.ndarray | None = None, on_layer: Callable[[str], None] | None = None,
               stand_in: bool = False) -> None:
    """Draw `ch` with `painter`. The face's features are drawn inside the head's outline (the
    markings clip themselves), so at the extremes they are hidden by the silhouette, never drawn
    past it. `on_layer` is told each layer's name before it is drawn (tests check where
    each part lands). The mouth is drawn from a measured lip shape when `mouth` is given
    (`Calibration.mouth`), else from the pose. `stand_in`: see `Scene`."""
    head = Head3D(yaw=pose.yaw, pitch=pose.pitch - MOUTH_NOD * pose.mouth_open)
    head_m = Pose2D(place.scale, place.head, pose.roll).matrix()
    body_m = np.array([[place.scale, 0, place.body[0]], [0, place.scale * (1 + 0.006 * breath),
                                                          place.body[1]]])
    scale = place.scale
    if place.onto is not None:  # every point goes through the maps, and widths scale alike
        onto = np.asarray(place.onto, np.float64)
        head_m, body_m = (onto[:, :2] @ m + np.outer(onto[:, 2], (0.0, 0.0, 1.0)) for m in (head_m, body_m))
        scale *= math.sqrt(abs(float(np.linalg.det(onto[:, :2]))))
    s = Scene(painter, ch.parts, pose, head, head_m, body_m, scale, breath, mouth, place.floor,
              stand_in=stand_in)
    todo = layers(ch)
    i = 0
    while i < len(todo):
        name, draw = todo[i]
        if name not in FACE_GROUP:
            if on_layer:
                on_layer(name)
            draw(s)
            i += 1
            continue
        end = i
        while end < len(todo) and todo[end][0] in FACE_GROUP:
            end += 1
        _draw_features(s, painter, todo[i:end], face_parts.head_path(s), on_layer)
        i = end


def _draw_features(s: Scene, painter: Painter, group: list[tuple[str, Draw]], head: np.ndarray,
                   on_layer: Callable[[str], None] | None) -> None:
    """The face's features, inside the head's anti-aliased clip only where they need it: drawn
    first into a recording, and when all of it lies well inside a convex outline the clip (a
    twelfth of a frame's work) is left out; the picture differs by a level or two on a few
    hundred edge pixels of the features, where Skia blends through a clip differently."""
    outline = convex_polygon(head)
    if outline is None:
        with painter.clipped(head):
            for name, draw in group:
                if on_layer:
                    on_layer(name)
                draw(s)
        return
    features = RecordingPainter()
    s.painter = features
    try:
        for name, draw in group:
            features.mark(name)
            draw(s)
    finally:
        s.painter = painter
    inside = inside_polygon(outline, features.points(), features.pad + CLIP_MARGIN)
    with nullcontext() if inside else painter.clipped(head):
        features.replay(painter, on_layer)


def paint(ch: Character, pose: Pose, target: np.ndarray, place: Placement, breath: float = 0.0,
          backend: str = "skia", mouth: np.ndarray | None = None, stand_in: bool = False,
          ground: Callable[[np.ndarray], None] | None = None) -> None:
    """Draw `ch` into `target` ((h, w, 4) BGRA): on what `ground(target)` lays there, just before
    the first pixel is drawn (`Painter`: with Skia, the fresh background is then still in the
    cache when drawn on), or on the pixels already there."""
    painter = make_painter(backend, target, ground)
    try:
        paint_with(painter, ch, pose, place, breath, mouth, stand_in=stand_in)
    finally:
        painter.close()


def draw_frame(ch: Character, pose: Pose, size: tuple[int, int], body_xy: np.ndarray | None = None,
               breath: float = 0.0, backend: str = "skia", backdrop: np.ndarray | None = None,
               mouth: np.ndarray | None = None, stand_in: bool = False) -> np.ndarray:
    """BGR uint8 (h, w, 3): the character framed as a webcam shows a person, on its own
    background or on `backdrop` (BGR at `size`). `stand_in`: see `Scene`."""
    body = np.array([pose.head_x, pose.head_y]) if body_xy is None else body_xy
    if backdrop is not None and backdrop.shape[:2] != (size[1], size[0]):
        raise ValueError(f"the backdrop is {backdrop.shape[1]}x{backdrop.shape[0]}, "
                         f"the picture {size[0]}x{size[1]}")

    def ground(target: np.ndarray) -> None:
        if backdrop is None:
            lay_ground(ch, target)
        else:
            cv2.cvtColor(backdrop, cv2.COLOR_BGR2BGRA, dst=target)

    target = np.empty((size[1], size[0], 4), np.uint8)
    paint(ch, pose, target, frame_placement(pose, body, size, breath, extent(ch)), breath, backend, mouth,
          stand_in, ground)
    return cv2.cvtColor(target, cv2.COLOR_BGRA2BGR)


def draw_portrait(ch: Character, pose: Pose, n: int, backend: str = "skia",
                  mouth: np.ndarray | None = None, whole: bool = False, scene: bool = True,
                  onto: tuple[np.ndarray, tuple[int, int]] | None = None) -> np.ndarray:
    """RGB uint8 (n, n, 3): the head and shoulders centred in a square (`whole`: all of the
    character in it, for a thumbnail). Without its `scene`: RGBA (n, n, 4), premultiplied, the
    character alone on transparency (overlay mode puts the camera's surroundings round it);
    `onto` (a similarity from the square's pixels to a picture's, and that picture's (w, h)):
    the same drawn straight into that picture, (h, w, 4), where a warp would have put it."""
    place = portrait_placement(n, extent(ch) if whole else None)
    ground = None
    if onto is None and scene:
        target, ground = np.empty((n, n, 4), np.uint8), functools.partial(lay_ground, ch)
    elif onto is None:
        target = np.zeros((n, n, 4), np.uint8)
    elif scene:
        raise ValueError("a portrait drawn onto another picture has no scene")
    else:
        target = np.zeros((onto[1][1], onto[1][0], 4), np.uint8)
        place = replace(place, onto=onto[0])
    paint(ch, pose, target, place, 0.0, backend, mouth, ground=ground)
    return cv2.cvtColor(target, cv2.COLOR_BGRA2RGB if scene else cv2.COLOR_BGRA2RGBA)
