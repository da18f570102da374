"""Turn a cartoon crop into the output picture: avatar (default), overlay or full."""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

import cv2
import numpy as np

from avatar_cam.align import cover, invert
from avatar_cam.expression import CHIN, FOREHEAD, UPPER_FOREHEAD
from avatar_cam.frame import Face, Frame


class Mode(str, Enum):
    AVATAR = "avatar"  # the cartoon on its own background (a character: head and shoulders, full frame)
    OVERLAY = "overlay"  # the cartoon face feathered back into the camera frame
    FULL = "full"  # the whole frame through the generator

    def __str__(self) -> str:
        return self.value


def parse_color(text: str) -> tuple[int, int, int]:
    """'#RRGGBB' or 'R,G,B' -> a BGR tuple for OpenCV."""
    t = text.strip()
    try:
        if t.startswith("#") and len(t) == 7:
            r, g, b = (int(t[i : i + 2], 16) for i in (1, 3, 5))
        else:
            r, g, b = (int(v) for v in t.split(","))
    except ValueError:
        raise ValueError(f"background colour {text!r} is not #RRGGBB or R,G,B") from None
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"background colour {text!r} has a channel outside 0-255")
    return b, g, r


def _soft_square_mask(n: int, feather: float) -> np.ndarray:
    """(n, n) float32 mask, 1 inside, fading to 0 over `feather` of the side at the edges."""
    ramp = np.clip(np.minimum(np.arange(n), np.arange(n)[::-1]) / max(1.0, feather * n), 0, 1)
    return np.minimum.outer(ramp, ramp).astype(np.float32)


def corner_colour(cartoon_rgb: np.ndarray) -> np.ndarray:
    """RGB float: the median of the cartoon's top corners (`FIELD_CORNER` of its side), its own
    background colour."""
    k = max(1, int(FIELD_CORNER * cartoon_rgb.shape[0]))
    corners = np.concatenate([cartoon_rgb[:k, :k].reshape(-1, 3), cartoon_rgb[:k, -k:].reshape(-1, 3)])
    return np.median(corners, axis=0).astype(np.float32)


def field_matte(cartoon_rgb: np.ndarray) -> np.ndarray:
    """(n, n) float32: 0 on the cartoon's own plain background (its top corners' colour, where it
    reaches the picture's top or sides) and the rim next to it, 1 on the drawing, soft in
    between; a white eye or collar inside the drawing is not reached from the edge and stays."""
    dist = np.linalg.norm(cartoon_rgb.astype(np.float32) - corner_colour(cartoon_rgb), axis=2)
    near = (dist < KEY_FAR).astype(np.uint8)
    count, labels = cv2.connectedComponents(near, connectivity=4)
    edge = np.unique(np.concatenate([labels[0], labels[:, 0], labels[:, -1]]))
    reached = np.isin(labels, edge[edge > 0])
    keep = np.clip((dist - KEY_NEAR) / (KEY_FAR - KEY_NEAR), 0.0, 1.0).astype(np.float32)
    # one pixel in from the keyed background: the outline's anti-aliased rim is half background
    return cv2.erode(np.where(reached, keep, np.float32(1.0)), np.ones((3, 3), np.uint8))


DEFAULT_BACKGROUND = "#283040"
FIELD_CORNER = 0.06  # the cartoon's top corners (share of its side) give its own background colour
FIELD_EASE = 0.1  # per frame: the field follows the cartoon's background without flicker
KEY_NEAR, KEY_FAR = 20.0, 45.0  # RGB distance from the cartoon's own background: keyed out .. kept
# overlay: the share of the face box's inscribed ellipse the cartoon must cover (its rim is hair
# and background); on the clips, and a face moving up to ~3 face widths a second, it always does
COVER_REACH = 0.8
PASTE_SMALL = 128  # overlay: the paste's mask is drawn at most this many pixels across, then enlarged
PASTE_ELLIPSE = (0.5, 0.52, 0.36, 0.44)  # overlay: the pasted ellipse's centre and half axes (of the side)
_TURN = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
_PASTE_RING = np.stack([PASTE_ELLIPSE[0] + PASTE_ELLIPSE[2] * np.cos(_TURN),
                        PASTE_ELLIPSE[1] + PASTE_ELLIPSE[3] * np.sin(_TURN)], 1)  # of the side
# overlay: a drawn cartoon (a character) is drawn at about one of its pixels an output pixel, in
# steps, up to this side; a 256 px portrait warped onto the output
# was scaled up 2-3x on a webcam's face at 1280x720 and came out soft
DRAWN_STEP, DRAWN_MAX = 64, 1024
# overlay: a drawn character's scene round it is the camera's colours from where the paste
# weighs under SURROUND_KNOWN (the camera shows there anyway), read every
# SURROUND_STRIDE-th pixel and smoothed over a SURROUND_CELLS grid (its own sky-blue scene made
# a blue egg round the head in the camera picture)
SURROUND_KNOWN, SURROUND_STRIDE, SURROUND_CELLS = 0.05, 4, 32
# overlay: the face's outline (its landmarks' hull) is covered grown by this share of the cartoon's
# side (2.5 times the rim's feathering), so that the feathering lies outside the face
COVER_MARGIN = 0.045
# a face known only from the detector (a style read from the crop): its chin may be this much of
# the box below it, its cheek this much of the ear's distance past the ear (`_detected_outline`)
CHIN_DROP, EAR_OUT = 0.15, 0.2
FOREHEAD_REACH = 0.15  # overlay: the mesh's forehead top raised this share of the face's height


def surroundings(picture_bgr: np.ndarray, known: np.ndarray) -> np.ndarray | None:
    """(h, w, 3) uint8: `picture_bgr` smoothed from its `known` pixels ((h, w) bool) alone, the
    others filled from around them (push-pull over a `SURROUND_CELLS` grid of every
    `SURROUND_STRIDE`th pixel); None when no pixel is known. Overlay mode fills a drawn
    character's scene with it: the camera's colours round the face's ellipse carried in, and
    not one of the face's own pixels."""
    h, w = known.shape
    every = (max(1, w // SURROUND_STRIDE), max(1, h // SURROUND_STRIDE))
    k = cv2.resize(known.view(np.uint8), every, interpolation=cv2.INTER_NEAREST).astype(np.float32)
    sample = cv2.resize(picture_bgr, every, interpolation=cv2.INTER_NEAREST).astype(np.float32) * k[..., None]
    g = SURROUND_CELLS
    levels = [(cv2.resize(sample, (g, g), interpolation=cv2.INTER_AREA),
               cv2.resize(k, (g, g), interpolation=cv2.INTER_AREA))]
    while g > 1:  # each level the means of the one below: known colour and known share
        g //= 2
        levels.append(tuple(cv2.resize(a, (g, g), interpolation=cv2.INTER_AREA) for a in levels[-1]))
    colour, share = levels[-1]
    if share[0, 0] <= 0:
        return None
    fill = colour.reshape(1, 1, 3) / share[0, 0]
    for colour, share in reversed(levels[:-1]):  # known where known, the coarser fill elsewhere
        up = cv2.resize(fill, colour.shape[1::-1], interpolation=cv2.INTER_LINEAR).reshape(colour.shape)
        fill = colour + (1.0 - share)[..., None] * up
    small = np.clip(fill + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _box_ellipse(box: tuple[float, float, float, float], reach: float = 1.0, count: int = 16) -> np.ndarray:
    """(count, 2): points round the ellipse inscribed in `box` (x, y, w, h), shrunk to `reach`."""
    x, y, w, h = box
    turn = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
    return np.stack([x + w / 2 * (1 + reach * np.cos(turn)), y + h / 2 * (1 + reach * np.sin(turn))], 1)


def _detected_outline(face: Face) -> np.ndarray:
    """Camera pixels round a face known only from the detector: its box's inscribed ellipse with
    the chin let down `CHIN_DROP` of the box (an opened mouth drops it below the box), and its
    ear points, `EAR_OUT` of their distance further out and drawn out over the cheeks' height (a
    turned face's near ear marks its near cheek's edge). A tracked box trails a fast turn or
    nod by a frame or two: with a tenth and no chin, the cover check found up to 0.6% of the demo
    face's pixels shown through `anime-preview`, on 10 of its 300 frames."""
    x, y, w, h = face.box
    ears = face.keypoints[Face.EARS]
    ears = ears + (ears - (x + w / 2, 0)) * (EAR_OUT, 0)
    return np.vstack([_box_ellipse((x, y, w, h * (1 + CHIN_DROP))), ears - (0, 0.4 * h), ears,
                      ears + (0, 0.4 * h)])


def cartoon_side(cartoon: np.ndarray, drawn_side: int | None) -> int:
    """The side of the square crop a cartoon stands for: its own, or for one drawn straight into
    its paste box (`Frame.cartoon_side`), the side it was drawn at."""
    return cartoon.shape[0] if drawn_side is None else drawn_side


def face_outline(frame: Frame, size: int) -> np.ndarray | None:
    """Overlay mode: the face's outline in the cartoon's pixels, for the paste to cover beside
    its ellipse (convex): the hull of the landmarks (in the pixels of a `size` crop) with the
    forehead's top raised `FOREHEAD_REACH` of the face's height (the mesh stops below the
    hairline), or for a style read from the crop, of `_detected_outline`; None without a face."""
    if frame.cartoon is None:
        return None
    if frame.landmarks is not None:
        side = cartoon_side(frame.cartoon, frame.cartoon_side)
        points = frame.landmarks[:, :2] * (side / size)
        up = points[FOREHEAD] - points[CHIN]
        points = np.vstack([points, points[list(UPPER_FOREHEAD)] + FOREHEAD_REACH * up])
    elif frame.face is not None and frame.crop_matrix is not None:
        points = cv2.transform(_detected_outline(frame.face)[None], frame.crop_matrix)[0]
    else:
        return None
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2)


def _paste_mask(n: int, at: np.ndarray, box: tuple[int, int], outline: np.ndarray | None) -> np.ndarray:
    """(h, w) uint8 weights over `box` for pasting an `n`-pixel cartoon mapped by `at`: its ellipse
    (`PASTE_ELLIPSE`, weight one half on its edge) and, when given, the convex `outline` (cartoon
    pixels) grown by `COVER_MARGIN` of the side, feathered alike. Drawn at most `PASTE_SMALL`
    across and enlarged (warping a float mask of the box's size cost as much as warping the
    cartoon)."""
    w, h = box
    scale = min(1.0, PASTE_SMALL / max(w, h))
    side = n * scale * math.sqrt(abs(float(np.linalg.det(at[:, :2]))))  # the cartoon's side, small
    small = np.zeros((max(1, round(h * scale)), max(1, round(w * scale))), np.uint8)

    def fill(points: np.ndarray, into: np.ndarray) -> None:  # cartoon pixels -> small pixels
        mapped = cv2.transform(points[None].astype(np.float64), at)[0]
        cv2.fillConvexPoly(into, np.round(mapped * scale * 16).astype(np.int32), 255, cv2.LINE_AA, 4)

    fill(n * _PASTE_RING, small)
    if outline is not None:
        face = np.zeros_like(small)
        fill(outline, face)
        r = max(1, round(COVER_MARGIN * side))
        small = np.maximum(small, cv2.dilate(face, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                             (2 * r + 1, 2 * r + 1))))
    k = max(3, int(0.12 * side) | 1)
    return cv2.resize(cv2.GaussianBlur(small, (k, k), 0), box, interpolation=cv2.INTER_LINEAR)


def _blend(top: np.ndarray, bottom: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """BGR: `top` over `bottom` by `weight` ((h, w) uint8, 255: all top), in integer steps
    (`cv2.blendLinear` divides by its weights' sum at every pixel: twice the time); exactly
    `bottom` where the weight is 0 and `top` where it is 255."""
    w3 = cv2.cvtColor(weight, cv2.COLOR_GRAY2BGR)
    return cv2.add(cv2.multiply(top, w3, scale=1 / 255),
                   cv2.multiply(bottom, cv2.bitwise_not(w3), scale=1 / 255))


def _over(drawing_rgba: np.ndarray, under_bgr: np.ndarray | None) -> np.ndarray:
    """BGR: a premultiplied RGBA drawing over `under_bgr` (None: mid grey, when no camera pixel
    round the face was there to fill from)."""
    bare = cv2.cvtColor(cv2.bitwise_not(cv2.extractChannel(drawing_rgba, 3)), cv2.COLOR_GRAY2BGR)
    under = bare // 2 if under_bgr is None else cv2.multiply(under_bgr, bare, scale=1 / 255)
    return cv2.add(cv2.cvtColor(drawing_rgba, cv2.COLOR_RGBA2BGR), under)


def _filled(size: tuple[int, int], bgr: tuple[int, int, int]) -> np.ndarray:
    """A (h, w, 3) uint8 picture of one colour: one row, then copied down (numpy broadcasting a
    colour over 1280x720 pixel by pixel took 10 ms)."""
    w, h = size
    image = np.empty((h, w, 3), np.uint8)
    image.reshape(h, w * 3)[:] = np.tile(np.array(bgr, np.uint8), w)
    return image


class PasteBox(NamedTuple):
    """Where overlay mode pastes a cartoon: `at` (2x3) maps the cartoon's pixels into the output
    box whose top left is `origin` (x, y) and whose size is `size` (w, h)."""

    at: np.ndarray
    origin: tuple[int, int]
    size: tuple[int, int]


class Compositor:
    """Builds the output frame (BGR, `size` = (width, height)) from a cartoon. `custom`: the
    background was chosen by the user, so a character draws on it instead of its own.

    In avatar mode without a background of the user's, a generated cartoon sits on a field of its
    own background colour (its top corners', eased over frames), so the square it is drawn in does
    not show as a card.

    The avatar's square mask (per side) and the background are made once and reused."""

    def __init__(
        self,
        mode: Mode = Mode.AVATAR,
        size: tuple[int, int] = (640, 480),
        background: tuple[int, int, int] = (64, 48, 40),
        background_image: np.ndarray | None = None,
        mirror: bool = False,
        custom: bool = False,
    ):
        self.mode = Mode(mode)
        self.size = size
        self.mirror = mirror
        self.set_background(background, background_image, custom)
        self._mask_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def set_background(self, color: tuple[int, int, int], image: np.ndarray | None = None,
                       custom: bool = True) -> None:
        self.custom = custom
        self._field: np.ndarray | None = None  # the cartoon's own background colour (BGR, float)
        self._field_image: tuple[tuple[int, ...], np.ndarray] | None = None
        w, h = self.size
        if image is not None:
            self._background = np.ascontiguousarray(cover(image, (w, h)))
        else:
            self._background = _filled(self.size, color)

    def _square_mask(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The avatar's square of side n as (n, n) weights, float32 and as `_blend` takes them
        (uint8, 255: all cartoon), cached by side."""
        if n not in self._mask_cache:
            if len(self._mask_cache) >= 8:
                self._mask_cache.clear()
            m = _soft_square_mask(n, 0.06)
            self._mask_cache[n] = (m, cv2.convertScaleAbs(m, alpha=255))
        return self._mask_cache[n]

    def avatar(self, cartoon_rgb: np.ndarray) -> np.ndarray:
        """The cartoon head centred and filling the output height, on the background."""
        w, h = self.size
        n = min(w, h)
        head = cv2.resize(cartoon_rgb, (n, n), interpolation=cv2.INTER_LINEAR)
        head = cv2.cvtColor(head, cv2.COLOR_RGB2BGR)
        out = (self._background if self.custom else self._own_field(cartoon_rgb)).copy()
        x0, y0 = (w - n) // 2, (h - n) // 2
        region = out[y0 : y0 + n, x0 : x0 + n]
        m, weight = self._square_mask(n)
        if self.custom:  # the chosen background, not the generator's own square, around the head
            matte = cv2.resize(field_matte(cartoon_rgb), (n, n), interpolation=cv2.INTER_LINEAR)
            weight = cv2.convertScaleAbs(m * matte, alpha=255)
        region[:] = _blend(head, region, weight)
        return self._finish(out)

    def _own_field(self, cartoon_rgb: np.ndarray) -> np.ndarray:
        """The output-sized field of the cartoon's own background colour (remade only when the
        eased colour changes by a level)."""
        colour = corner_colour(cartoon_rgb)[::-1]  # RGB -> BGR
        self._field = colour if self._field is None else self._field + FIELD_EASE * (colour - self._field)
        bgr = tuple(int(v) for v in np.round(self._field))
        if self._field_image is None or self._field_image[0] != bgr:
            self._field_image = (bgr, _filled(self.size, bgr))
        return self._field_image[1]

    def _window(self, camera_shape: tuple[int, ...]) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The camera frame's visible window (x, y, w, h: the output's aspect, centred), and the
        map (2x3) from camera pixels to output pixels that resizing it to the output makes."""
        h, w = camera_shape[:2]
        ow, oh = self.size
        scale = max(ow / w, oh / h)
        cw, ch = min(w, max(1, round(ow / scale))), min(h, max(1, round(oh / scale)))
        cx, cy = (w - cw) // 2, (h - ch) // 2
        sx, sy = ow / cw, oh / ch  # resize maps pixel centres: x_out + 0.5 = (x - cx + 0.5) * sx
        return (cx, cy, cw, ch), np.array([[sx, 0, (0.5 - cx) * sx - 0.5], [0, sy, (0.5 - cy) * sy - 0.5]])

    def paste_box(self, camera_shape: tuple[int, ...], crop_matrix: np.ndarray, n: int) -> PasteBox | None:
        """Where overlay mode pastes an `n`-pixel cartoon cut with `crop_matrix` from a camera
        frame of `camera_shape`: the cartoon square's bounds on the output, within it (None when
        they are off it)."""
        back = self._window(camera_shape)[1] @ np.vstack([invert(crop_matrix), [0, 0, 1]])
        corners = np.array([[0, 0, 1], [n, 0, 1], [0, n, 1], [n, n, 1]], np.float64) @ back.T
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + 1, self.size)
        if x1 <= x0 or y1 <= y0:
            return None
        return PasteBox(back - np.array([[0, 0, x0], [0, 0, y0]]), (int(x0), int(y0)),
                        (int(x1 - x0), int(y1 - y0)))

    def overlay(self, cartoon_rgb: np.ndarray, camera_bgr: np.ndarray, crop_matrix: np.ndarray,
                cover: np.ndarray | None = None, side: int | None = None) -> np.ndarray:
        """The cartoon warped back onto the face in the camera frame, feathered at the rim: over
        its ellipse and, when given, the face's `cover` outline (cartoon pixels, convex; grown by
        `COVER_MARGIN` so that the feathered rim falls outside the face). A premultiplied RGBA
        cartoon (a drawn character) has the camera's `surroundings` of what is covered round it.
        With `side`, the cartoon was drawn straight into its box (`paste_box` of a `side`-pixel
        cartoon; a drawn character: no warp, no resampling) and is pasted as it is.

        The camera frame's visible window (the output's aspect, centred) is resized to cover the
        output: no stretching. The cartoon and its mask are warped and blended only over the
        face's bounding box in output pixels (warping them over the whole frame cost 22 ms of
        the 1280x720 overlay's 23)."""
        n = cartoon_side(cartoon_rgb, side)
        (cx, cy, cw, ch), _ = self._window(camera_bgr.shape)
        out = cv2.resize(camera_bgr[cy:cy + ch, cx:cx + cw], self.size, interpolation=cv2.INTER_LINEAR)
        placed = self.paste_box(camera_bgr.shape, crop_matrix, n)
        if placed is not None:
            at, (x0, y0), box = placed
            if side is None:  # a generated square's own edge carries on where the face's cover
                # reaches past it (black there drew a bar under an opened jaw); a drawing's is clear
                head = cv2.warpAffine(cartoon_rgb, at, box, flags=cv2.INTER_LINEAR, borderMode=(
                    cv2.BORDER_REPLICATE if cartoon_rgb.shape[2] == 3 else cv2.BORDER_CONSTANT))
            elif cartoon_rgb.shape[1::-1] != box:
                raise ValueError(f"a cartoon drawn into its paste box must be {box[0]}x{box[1]}, "
                                 f"not {cartoon_rgb.shape[1]}x{cartoon_rgb.shape[0]}")
            else:
                head = cartoon_rgb
            m = _paste_mask(n, at, box, cover)
            region = out[y0:y0 + box[1], x0:x0 + box[0]]
            if head.shape[2] == 4:  # a drawn character without its scene: the camera round it
                head = _over(head, surroundings(region, m < SURROUND_KNOWN * 255))
            else:
                head = cv2.cvtColor(head, cv2.COLOR_RGB2BGR)
            region[:] = _blend(head, region, m)
        return self._finish(out)

    def drawn_side(self, camera_shape: tuple[int, ...], crop_matrix: np.ndarray, n: int) -> int:
        """The side to draw a cartoon at (a character, which can be drawn at any size) so that
        the `n`-pixel crop `crop_matrix` cuts from a camera frame of `camera_shape` lands on the
        output at about one cartoon pixel an output pixel: at least `n`, in steps of
        `DRAWN_STEP`, at most `DRAWN_MAX`."""
        h, w = camera_shape[:2]
        out_per_camera = max(self.size[0] / w, self.size[1] / h)
        crop_per_camera = math.sqrt(abs(float(np.linalg.det(np.asarray(crop_matrix)[:, :2]))))
        side = n * out_per_camera / max(crop_per_camera, 1e-6)
        return int(min(max(math.ceil(side / DRAWN_STEP) * DRAWN_STEP, n), max(DRAWN_MAX, n)))

    def covers(self, box: tuple[float, float, float, float], crop_matrix: np.ndarray, n: int) -> bool:
        """Whether an overlay of an `n`-pixel cartoon cut with `crop_matrix` covers the face `box`
        (camera pixels): every point of the ellipse inscribed in the box, shrunk to `COVER_REACH`,
        lies inside the pasted ellipse (`PASTE_ELLIPSE`, where the paste's weight is one half).
        The face's outline, which the paste also covers, is not counted."""
        points = _box_ellipse(box, COVER_REACH)
        at = cv2.transform(points[None], np.asarray(crop_matrix, np.float64))[0] / n
        cx, cy, ax, ay = PASTE_ELLIPSE
        return bool((((at[:, 0] - cx) / ax) ** 2 + ((at[:, 1] - cy) / ay) ** 2 <= 1.0).all())

    def full(self, cartoon_rgb: np.ndarray) -> np.ndarray:
        """A whole-frame cartoon (made from a letterboxed frame) resized to the output."""
        return self._finish(cv2.resize(cv2.cvtColor(cartoon_rgb, cv2.COLOR_RGB2BGR), self.size,
                                       interpolation=cv2.INTER_LINEAR))

    @property
    def custom_background(self) -> np.ndarray | None:
        """The user's background (BGR, output size) for a renderer that draws the frame, or None:
        the character's own."""
        return self._background if self.custom else None

    def drawn(self, picture_bgr: np.ndarray) -> np.ndarray:
        """A picture a renderer drew itself at the output size (a character): only mirrored."""
        if picture_bgr.shape[:2] != (self.size[1], self.size[0]):
            raise ValueError(f"drawn picture is {picture_bgr.shape[1]}x{picture_bgr.shape[0]}, "
                             f"the output is {self.size[0]}x{self.size[1]}")
        return self._finish(picture_bgr)

    def _finish(self, out: np.ndarray) -> np.ndarray:
        return cv2.flip(out, 1) if self.mirror else out


def full_frame_input(camera_bgr: np.ndarray, n: int) -> np.ndarray:
    """The whole camera frame squeezed to an n x n RGB square (what `full` mode stylises)."""
    return cv2.cvtColor(cv2.resize(camera_bgr, (n, n), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def placeholder_card(size: tuple[int, int], title: str, detail: str = "") -> np.ndarray:
    """A plain card with a message, shown instead of any camera image (BGR)."""
    w, h = size
    card = np.empty((h, w, 3), np.uint8)
    card[:] = (58, 44, 36)
    cx, cy = w // 2, int(h * 0.42)
    r = max(8, min(w, h) // 6)
    cv2.circle(card, (cx, cy), r, (120, 104, 92), -1, cv2.LINE_AA)
    cv2.ellipse(card, (cx, cy + int(r * 2.3)), (int(r * 1.6), int(r * 1.1)), 0, 180, 360,
                (120, 104, 92), -1, cv2.LINE_AA)
    scale = max(0.4, w / 900)
    for text, y, s in ((title, int(h * 0.86), scale), (detail, int(h * 0.94), scale * 0.7)):
        if not text:
            continue
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, s, 1)
        cv2.putText(card, text, ((w - tw) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, s, (235, 235, 235), 1,
                    cv2.LINE_AA)
    return card
