"""Expression augmentation for mesh-conditioned training pairs: open the mouth, close the eyes,
move the gaze and the brows, tilt the head up or down.

Cartoon faces rarely open their mouths or close their eyes (DiceBear and selfie2anime: the
median mesh mouth gap is a fraction of a photo's), so a generator trained only on their own
meshes learns that the mesh's mouth and lids do not matter. This module edits a pair
consistently: it moves the cartoon's landmarks (lower lip and jaw down, upper lids onto the lower
lids), warps or paints the cartoon to match, and the caller redraws the mesh from the moved
landmarks. The edits are drawn the way flat cartoons draw them: a dark mouth between the lips,
a lid line over a skin-coloured eye.

Gaze, brows and pitch (issue 27): cartoons look straight ahead with their brows in one place,
and Face Mesh reads cartoon irises poorly, so a generator learns to ignore the mesh's irises and
brows. `redraw_eyes` paints each eye over and draws it from the landmarks (white opening, iris
where the mesh's iris is, pupil, lid line), so the target's eyes are a function of the mesh, as
`redraw_mouth` made its mouth; `look` moves the irises before that. `move_brows` warps the drawn
brows up or down with their landmarks, `redraw_brows` paints them over and draws a clear brow
stroke where the landmarks are (many cartoons have faint brows, or none, or brows Face Mesh
places elsewhere); `pitch_head` moves the middle of the face up or down
against its forehead and chin, as a head turned up or down projects.

Crops are the app's aligned crops (eye line level), so "down" is the image's +y.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.mesh_drawing import (
    EYE_SCALE,
    FACE_OVAL,
    LEFT_BROW,
    LEFT_EYE,
    LEFT_IRIS,
    LIPS_INNER,
    LIPS_OUTER,
    RIGHT_BROW,
    RIGHT_EYE,
    RIGHT_IRIS,
    nod_field,
)

MOUTH_CORNERS = (61, 291)
# inner-lip outline split at the corners (78, 308): LIPS_INNER runs 78 -> lower lip -> 308 -> upper
_LOWER_INNER = LIPS_INNER[1:10]
_UPPER_INNER = LIPS_INNER[11:]
# each eye outline is corner, lower lid (7 points), corner, upper lid (7 points)
_EYES = [(eye[:9], [eye[0], *eye[9:][::-1], eye[8]]) for eye in (RIGHT_EYE, LEFT_EYE)]

MOUTH_DARK = (70, 22, 34)  # RGB: the inside of a drawn open mouth
TONGUE = (200, 80, 90)
EYE_WHITE = (250, 250, 250)
CHEEKS = (234, 454)
# `_eye_cover`'s ellipse: its height over its width, and how far below the eye's centre it sits
# (eye widths); on 217 anime pairs it takes the drawn eye's lower half where the blobs left it
COVER_ASPECT, COVER_DROP = 0.7, 0.2
COVER_SKIN = (0.5, 0.9)  # the skin it is painted with: read between the eyes' and mouth's middles


@dataclass(frozen=True)
class ExpressionAugConfig:
    """Chance of each edit per training pair and how far it goes."""

    mouth: float = 0.5                 # chance to open the mouth
    mouth_gap: tuple[float, float] = (0.12, 0.6)  # inner-lip gap added, in mouth widths
    eyes: float = 0.25                 # chance to close the eyes
    wink: float = 0.2                  # share of the eye edits that close one eye only
    eye_close: tuple[float, float] = (0.5, 1.0)   # fraction of the lid gap closed
    redraw: float = 0.0                # chance the mouth is painted over and drawn from the landmarks
    brows: float = 0.0                 # chance the brows move (both; one in five, one brow)
    brow_shift: float = 0.05           # largest move, in face widths
    pitch: float = 0.0                 # chance the head turns up or down
    pitch_degrees: float = 12.0        # largest turn
    eye_redraw: float = 0.0            # chance the eyes are painted over and drawn from the landmarks
    gaze: float = 0.0                  # chance the irises move first (in pairs whose eyes are redrawn)
    gaze_shift: tuple[float, float] = (0.25, 0.1)  # largest move (x, y), in eye widths
    brow_redraw: float = 0.0           # chance the brows are painted over and drawn from the landmarks
    eye_cover: float = 0.0             # also paint over an ellipse this many eye widths across (0: off)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _mouth_line(lm: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """y of the seam between the lips at each x: midway between the inner lips, flat past the
    corners."""
    pts = np.concatenate([lm[_UPPER_INNER, :2], lm[_LOWER_INNER, :2], lm[list(MOUTH_CORNERS), :2]])
    order = np.argsort(pts[:, 0])
    x, y = pts[order, 0], pts[order, 1]
    # average upper/lower points that share an x bin so the seam runs between them
    bins = np.round(x).astype(int)
    ux = np.unique(bins)
    my = np.array([y[bins == b].mean() for b in ux], float)
    return np.interp(xs, ux.astype(float), my)


PointField = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _jaw_field(lm: np.ndarray, size: int, gap: float) -> tuple[np.ndarray, PointField]:
    """Downward displacement (pixels) of every pixel of a `size` square for a mouth opened by
    `gap` pixels, and the same field as a function of points."""
    c0, c1 = lm[MOUTH_CORNERS[0], :2], lm[MOUTH_CORNERS[1], :2]
    cx, width = (c0[0] + c1[0]) / 2, max(abs(c1[0] - c0[0]), 1.0)
    chin = lm[FACE_OVAL, 1].max()
    seam_soft = max(1.0, 0.02 * size)

    def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        seam = _mouth_line(lm, x)
        below = y - seam
        down = _smoothstep((below + seam_soft) / (2 * seam_soft))
        # the lower lip opens as a lens at the mouth, the whole chin moves further down
        half = 0.5 * width + 0.6 * np.maximum(below, 0)
        across = 1.0 - _smoothstep((np.abs(x - cx) - 0.35 * half) / (0.65 * half))
        # far below the chin (neck, background) the jaw no longer pulls
        fade = 1.0 - _smoothstep((y - chin) / (0.25 * size))
        return gap * down * across * fade

    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    return field(xs.ravel(), ys.ravel()).reshape(size, size), field


def _warp_vertical(rgb: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Move each pixel (x, y) to (x, y + disp[y, x]): the forward map inverted column by column
    (monotone in y for the fields used here)."""
    size = rgb.shape[0]
    ys = np.arange(size, dtype=np.float64)
    map_y = np.empty((size, size), np.float32)
    for x in range(size):
        fwd = ys + disp[:, x]
        map_y[:, x] = np.interp(ys, np.maximum.accumulate(fwd), ys)
    map_x = np.broadcast_to(np.arange(size, dtype=np.float32), (size, size)).copy()
    return cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def open_mouth(rgb: np.ndarray, lm: np.ndarray, amount: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Open the mouth by `amount` mouth widths: jaw and lower lip warped down, the opening
    between the moved inner lips painted dark (a tongue sometimes). Returns (image, landmarks)."""
    size = rgb.shape[0]
    c0, c1 = lm[MOUTH_CORNERS[0], :2], lm[MOUTH_CORNERS[1], :2]
    gap = amount * float(np.linalg.norm(c1 - c0))
    disp, field = _jaw_field(lm, size, gap)
    out = _warp_vertical(rgb, disp)
    new = lm.copy()
    moved = field(lm[:, 0], lm[:, 1])
    moved[_UPPER_INNER] = 0.0
    moved[_LOWER_INNER] = field(lm[_LOWER_INNER, 0], lm[_LOWER_INNER, 1] + gap)  # the lip's own side
    new[:, 1] += moved
    shift = 4
    inner = np.round(new[LIPS_INNER, :2] * (1 << shift)).astype(np.int32)
    cv2.fillPoly(out, [inner], MOUTH_DARK, cv2.LINE_AA, shift)
    if amount > 0.25 and rng.random() < 0.5:
        mask = np.zeros(out.shape[:2], np.uint8)
        cv2.fillPoly(mask, [inner], 255, cv2.LINE_8, shift)
        low = new[_LOWER_INNER, :2].mean(0)
        axes = (max(1, int(0.3 * gap * 1.4)), max(1, int(0.3 * gap)))
        tongue = np.zeros_like(out)
        cv2.ellipse(tongue, (int(low[0]), int(low[1])), axes, 0, 180, 360, TONGUE, -1, cv2.LINE_AA)
        sel = (mask > 0) & (tongue.any(-1))
        out[sel] = tongue[sel]
    return out, new


def _face_mask(lm: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: 255 inside the mesh's face oval."""
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(lm[FACE_OVAL, :2]).astype(np.int32)], 255)
    return mask


def _skin_colour(rgb: np.ndarray, lm: np.ndarray, band: tuple[float, float] = (0.0, 0.5),
                 face: np.ndarray | None = None) -> np.ndarray:
    """Median colour of the cheeks below the eyes (inside the face oval, away from features),
    between `band` of the way from the eyes down to the mouth (lower down, an anime face's big
    eyes are not in it). `face`: the face oval's mask when the caller has it (`_face_mask`)."""
    size = rgb.shape[0]
    mask = _face_mask(lm, size) if face is None else face
    features = np.zeros_like(mask)
    for idx in (RIGHT_EYE, LEFT_EYE, LIPS_OUTER):
        cv2.fillPoly(features, [np.round(lm[idx, :2]).astype(np.int32)], 255)
    features = cv2.dilate(features, np.ones((5, 5), np.uint8), iterations=max(1, size // 64))
    eyes_y = lm[[33, 263], 1].mean()
    mouth_y = lm[list(MOUTH_CORNERS), 1].mean()
    rows = np.zeros_like(mask)
    top, bottom = (eyes_y * (1 - f) + mouth_y * f for f in band)  # (0, 0.5): exactly the rows of before
    rows[int(top):int(bottom)] = 255
    sel = (mask > 0) & (features == 0) & (rows > 0)
    if sel.sum() < 10:
        sel = mask > 0
    return np.median(rgb[sel], axis=0)


def close_eyes(rgb: np.ndarray, lm: np.ndarray, amounts: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Lower each upper lid by `amounts` (right, left; 1 = shut): the part of the eye above the
    new lid is painted skin and a lid line drawn. Returns (image, landmarks)."""
    out, new = rgb.copy(), lm.copy()
    skin = _skin_colour(rgb, lm)
    size = rgb.shape[0]
    line = max(1, round(size / 96))
    shift = 4
    dark = np.percentile(rgb.reshape(-1, 3), 2, axis=0)  # the drawing's outline colour
    for (lower, upper), a in zip(_EYES, amounts, strict=True):
        if a <= 0:
            continue
        lx, ly = lm[lower, 0], lm[lower, 1]
        order = np.argsort(lx)
        for i in upper[1:-1]:
            target = np.interp(lm[i, 0], lx[order], ly[order])
            new[i, 1] = lm[i, 1] + a * (target - lm[i, 1])
        old_eye = np.round(lm[[*lower, *upper[::-1][1:-1]], :2] * (1 << shift)).astype(np.int32)
        new_eye = np.round(new[[*lower, *upper[::-1][1:-1]], :2] * (1 << shift)).astype(np.int32)
        # drawn eyes are often bigger than the mesh's outline: cover the outline grown by a third
        centre = old_eye.mean(0)
        grown = np.round(centre + 1.35 * (old_eye - centre)).astype(np.int32)
        covered = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(covered, [grown], 255, cv2.LINE_8, shift)
        covered = cv2.dilate(covered, np.ones((3, 3), np.uint8), iterations=line)
        keep = np.zeros_like(covered)
        if a < 1:
            cv2.fillPoly(keep, [new_eye], 255, cv2.LINE_8, shift)
        out[(covered > 0) & (keep == 0)] = skin.astype(np.uint8)
        lid = np.round(new[upper, :2] * (1 << shift)).astype(np.int32)
        cv2.polylines(out, [lid], False, tuple(float(v) for v in dark), line, cv2.LINE_AA, shift)
    return out, new


def augment_expression(rgb: np.ndarray, lm: np.ndarray, rng: np.random.Generator,
                       cfg: ExpressionAugConfig) -> tuple[np.ndarray, np.ndarray]:
    """Randomly edit a square crop with its (478, 3) landmarks in the crop's pixels (see the
    module docstring); returns the edited crop and landmarks (unchanged when no edit is drawn).
    An edit whose chance is 0 draws no random number, so older recipes see the same sequence."""
    lm = np.asarray(lm, np.float64)
    if rng.random() < cfg.mouth:
        rgb, lm = open_mouth(rgb, lm, float(rng.uniform(*cfg.mouth_gap)), rng)
    if rng.random() < cfg.redraw:
        rgb = redraw_mouth(rgb, lm)
    if rng.random() < cfg.eyes:
        a = float(min(1.0, rng.uniform(cfg.eye_close[0], cfg.eye_close[1] + 0.3)))
        wink = rng.random() < cfg.wink
        amounts = (a, 0.0) if wink and rng.random() < 0.5 else (0.0, a) if wink else (a, a)
        rgb, lm = close_eyes(rgb, lm, amounts)
    if cfg.brows > 0 and rng.random() < cfg.brows:
        s = float(rng.uniform(-cfg.brow_shift, cfg.brow_shift))
        one = rng.random() < 0.2
        shifts = ((s, 0.0) if rng.random() < 0.5 else (0.0, s)) if one else (s, s)
        rgb, lm = move_brows(rgb, lm, shifts)
    if cfg.brow_redraw > 0 and rng.random() < cfg.brow_redraw:
        rgb = redraw_brows(rgb, lm)
    if cfg.pitch > 0 and rng.random() < cfg.pitch:
        rgb, lm = pitch_head(rgb, lm, float(rng.uniform(-cfg.pitch_degrees, cfg.pitch_degrees)))
    if cfg.eye_redraw > 0 and rng.random() < cfg.eye_redraw:
        if rng.random() < cfg.gaze:
            gx, gy = cfg.gaze_shift
            lm = look(lm, float(rng.uniform(-gx, gx)), float(rng.uniform(-gy, gy)))
        rgb = redraw_eyes(rgb, lm, cfg.eye_cover)
    return rgb, lm


def redraw_mouth(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Paint over the drawn mouth with skin and draw lips where the landmarks put them: a lip
    lens round the mouth, dark where the inner lips part and a seam line where they meet. Cartoon
    mouths come in many shapes (grins, "o"s, teeth) that say little about how open they are; a
    mouth drawn from the landmarks makes the target's mouth a function of the mesh alone."""
    size = rgb.shape[0]
    out = rgb.copy()
    face = _face_mask(lm, size)
    skin = _skin_colour(rgb, lm, face=face)
    shift = 4
    outer = lm[LIPS_OUTER, :2]
    centre = outer.mean(0)
    cover = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(cover, [np.round((centre + 1.5 * (outer - centre)) * (1 << shift)).astype(np.int32)], 255,
                 cv2.LINE_8, shift)
    cover = cv2.dilate(cover, np.ones((3, 3), np.uint8), iterations=max(1, size // 64))
    out[(cover > 0) & (face > 0)] = skin.astype(np.uint8)
    lip = np.clip(skin * np.array([0.85, 0.55, 0.55]), 0, 255)
    cv2.fillPoly(out, [np.round(outer * (1 << shift)).astype(np.int32)], tuple(float(v) for v in lip),
                 cv2.LINE_AA, shift)
    cv2.fillPoly(out, [np.round(lm[LIPS_INNER, :2] * (1 << shift)).astype(np.int32)], MOUTH_DARK,
                 cv2.LINE_AA, shift)
    seam_idx = [LIPS_INNER[0], *_UPPER_INNER[::-1], LIPS_INNER[10]]  # corner, upper inner lip, corner
    seam = np.round(lm[seam_idx, :2] * (1 << shift)).astype(np.int32)
    cv2.polylines(out, [seam], False, MOUTH_DARK, max(1, round(size / 128)), cv2.LINE_AA, shift)
    return out


def _face_width(lm: np.ndarray) -> float:
    return max(float(np.linalg.norm(lm[CHEEKS[0], :2] - lm[CHEEKS[1], :2])), 1.0)


def _brow_field(lm: np.ndarray, shifts: tuple[float, float]) -> PointField:
    """Vertical displacement (pixels) moving each brow by its shift (face widths): full from one
    brow-to-lid gap above the brow's landmarks to 0.4 gaps below (the drawn brow need not sit
    exactly on them), fading to none at the upper lid below and over 1.5 gaps above (the fringe
    and forehead move less), and over half a brow width beyond each end."""
    fw = _face_width(lm)
    parts = []
    for brow, (_, upper), s in zip((RIGHT_BROW, LEFT_BROW), _EYES, shifts, strict=True):
        if s == 0:
            continue
        b = lm[brow, :2]
        x0, x1 = float(b[:, 0].min()), float(b[:, 0].max())
        cy = float(b[:, 1].mean())
        gap = max(float(lm[upper, 1].min()) - cy, 2.0)
        d = float(np.clip(s * fw, -0.35 * gap, 0.35 * gap))  # keeps the warp monotone
        parts.append((x0, x1, cy, gap, d))

    def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros(np.broadcast(x, y).shape)
        for x0, x1, cy, gap, d in parts:
            half = max(0.5 * (x1 - x0), 1.0)
            across = 1.0 - _smoothstep((np.abs(x - 0.5 * (x0 + x1)) - half) / half)
            below = 1.0 - _smoothstep((y - cy - 0.4 * gap) / (0.6 * gap))
            above = 1.0 - _smoothstep((cy - gap - y) / (1.5 * gap))
            out = out + d * across * np.minimum(below, above)
        return out

    return field


def move_brows(rgb: np.ndarray, lm: np.ndarray, shifts: tuple[float, float]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Move the (right, left) brows down by `shifts` face widths (negative: raise them): the
    drawn brows warp with their landmarks, the eyes stay. Returns (image, landmarks)."""
    return _moved_by(rgb, lm, _brow_field(lm, shifts))


def pitch_head(rgb: np.ndarray, lm: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Turn the head down (positive `degrees`) or up (`avatar_cam.mesh_drawing.nod_field`: the
    face's middle moves most, forehead and chin less). Returns (image, landmarks)."""
    return _moved_by(rgb, lm, nod_field(lm, degrees))


def _moved_by(rgb: np.ndarray, lm: np.ndarray, field: PointField) -> tuple[np.ndarray, np.ndarray]:
    """The image warped by a vertical displacement `field` (pixels at (x, y)), and its landmarks
    moved by the same field."""
    size = rgb.shape[0]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    new = lm.copy()
    new[:, 1] += field(lm[:, 0], lm[:, 1])
    return _warp_vertical(rgb, field(xs, ys)), new


def look(lm: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Landmarks with both irises moved by (dx, dy) eye widths along and across the eye line
    (the crop's eye line is level), each iris centre kept inside its eye's corners."""
    new = lm.copy()
    for iris, (lower, _) in zip((RIGHT_IRIS, LEFT_IRIS), _EYES, strict=True):
        c0, c1 = lm[lower[0], :2], lm[lower[-1], :2]
        width = max(float(np.linalg.norm(c1 - c0)), 1.0)
        lo, hi = min(c0[0], c1[0]) + 0.2 * width, max(c0[0], c1[0]) - 0.2 * width
        cx = float(np.clip(lm[iris[0], 0] + dx * width, lo, max(lo, hi)))
        new[iris, 0] += cx - lm[iris[0], 0]
        new[iris, 1] += dy * width
    return new


def _eye_cover(rgb: np.ndarray, outline: np.ndarray, skin: np.ndarray, line: int, face: np.ndarray,
               ellipse: float = 0.0) -> np.ndarray:
    """Mask of a drawn eye to paint over: the mesh's eye outline grown by a third, plus every
    blob of non-skin colour that overlaps it inside a box 1.8 eye widths wide (cartoon eyes are
    often larger than the mesh's outline, or sit a little off it), except blobs reaching the box's
    top (brows, fringe). With `ellipse` > 0, also an ellipse that many eye widths across
    (`COVER_ASPECT` as tall, `COVER_DROP` widths below the eye's centre) inside the `face` mask:
    an anime eye is larger and sits lower than Face Mesh's outline of it, and its lower half and
    lashes are often a blob of their own or one joined to the fringe, which the blobs leave."""
    size = rgb.shape[0]
    centre = outline.mean(0)
    width = float(np.ptp(outline[:, 0])) or 1.0
    grown = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(grown, [np.round((centre + 1.35 * (outline - centre)) * 16).astype(np.int32)], 255,
                 cv2.LINE_8, 4)
    if ellipse > 0:
        oval = np.zeros_like(grown)
        axes = (round(ellipse / 2 * width * 16), round(ellipse / 2 * COVER_ASPECT * width * 16))
        cv2.ellipse(oval, (round(centre[0] * 16), round((centre[1] + COVER_DROP * width) * 16)), axes,
                    0, 0, 360, 255, -1, cv2.LINE_8, 4)
        grown |= oval & face
    x0, x1 = (int(np.clip(centre[0] + k * 0.9 * width, 0, size)) for k in (-1, 1))
    y0, y1 = (int(np.clip(centre[1] + k * 0.6 * width, 0, size)) for k in (-1, 1))
    box = np.zeros_like(grown)
    box[y0:y1, x0:x1] = 1
    other = (np.abs(rgb.astype(np.int16) - skin.astype(np.int16)).max(-1) > 40) & (box > 0)
    n, labels = cv2.connectedComponents(other.astype(np.uint8), connectivity=8)
    for k in range(1, n):
        blob = labels == k
        ys = np.nonzero(blob)[0]
        if (grown[blob] > 0).any() and ys.min() > y0:
            grown[blob] = 255
    return cv2.dilate(grown, np.ones((3, 3), np.uint8), iterations=line)


def redraw_eyes(rgb: np.ndarray, lm: np.ndarray, cover: float = 0.0) -> np.ndarray:
    """Paint over each drawn eye with skin and draw it where the landmarks put it: the opening
    (the mesh's outline grown by `EYE_SCALE`) white, the iris in the cartoon's own eye colour with
    a darker pupil where the mesh's iris is, clipped by the lids, and a lid line; a shut eye is
    only the lid line. Face Mesh reads cartoon irises poorly, so the mesh's irises seldom match
    the cartoon's; drawn from the landmarks, they always do. `cover`: `_eye_cover`'s ellipse."""
    size = rgb.shape[0]
    out = rgb.copy()
    face = _face_mask(lm, size)
    skin = _skin_colour(rgb, lm, COVER_SKIN if cover > 0 else (0.0, 0.5), face)
    dark = np.percentile(rgb.reshape(-1, 3), 2, axis=0)  # the drawing's outline colour
    line = max(1, round(size / 96))
    shift = 4
    one = float(1 << shift)
    for (lower, upper), iris in zip(_EYES, (RIGHT_IRIS, LEFT_IRIS), strict=True):
        outline = lm[[*lower, *upper[::-1][1:-1]], :2]
        centre = outline.mean(0)
        covered = _eye_cover(rgb, outline, skin, line, face, cover)
        drawn = rgb[covered > 0].astype(np.float64)
        if len(drawn) == 0:
            continue
        luma = drawn.mean(1)
        iris_colour = np.median(drawn[luma <= np.percentile(luma, 15)], axis=0)
        out[covered > 0] = skin.astype(np.uint8)
        opening = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(opening, [np.round((centre + EYE_SCALE * (outline - centre)) * one).astype(np.int32)],
                     255, cv2.LINE_AA, shift)
        layer = np.empty_like(out)
        layer[:] = EYE_WHITE
        ic = centre + EYE_SCALE * (lm[iris[0], :2] - centre)
        r = EYE_SCALE * float(np.mean(np.linalg.norm(lm[iris[1:], :2] - lm[iris[0], :2], axis=1)))
        c = tuple(int(v) for v in np.round(ic * one))
        cv2.circle(layer, c, max(1, round(r * one)), tuple(float(v) for v in iris_colour), -1,
                   cv2.LINE_AA, shift)
        cv2.circle(layer, c, max(1, round(0.5 * r * one)), tuple(float(v) for v in 0.4 * iris_colour), -1,
                   cv2.LINE_AA, shift)
        a = opening[..., None].astype(np.float32) / 255.0
        out = (out * (1 - a) + layer * a).astype(np.uint8)
        lid = np.round((centre + EYE_SCALE * (lm[upper, :2] - centre)) * one).astype(np.int32)
        cv2.polylines(out, [lid], False, tuple(float(v) for v in dark), line, cv2.LINE_AA, shift)
    return out


def redraw_brows(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Paint over each drawn brow (dark blobs overlapping the mesh's brow, not reaching the
    fringe above) with skin and draw a brow stroke along the landmarks' brow midline, in the
    colour of the cartoon's own brow (or its outline colour where it has none)."""
    size = rgb.shape[0]
    out = rgb.copy()
    skin = _skin_colour(rgb, lm)
    fw = _face_width(lm)
    dark = np.percentile(rgb.reshape(-1, 3), 2, axis=0)
    shift = 4
    for brow in (RIGHT_BROW, LEFT_BROW):
        b = lm[brow, :2]
        centre = b.mean(0)
        grown = np.zeros(rgb.shape[:2], np.uint8)
        outline = np.round((centre + 1.3 * (b - centre)) * 16).astype(np.int32)
        cv2.fillPoly(grown, [outline], 255, cv2.LINE_8, 4)
        grown = cv2.dilate(grown, np.ones((3, 3), np.uint8), iterations=max(1, round(size / 64)))
        x0, x1 = (int(np.clip(v, 0, size)) for v in (b[:, 0].min() - 0.1 * fw, b[:, 0].max() + 0.1 * fw))
        y0, y1 = (int(np.clip(v, 0, size)) for v in (b[:, 1].min() - 0.08 * fw, b[:, 1].max() + 0.05 * fw))
        box = np.zeros_like(grown)
        box[y0:y1, x0:x1] = 1
        luma = rgb.astype(np.float64).mean(-1)
        other = (np.abs(rgb.astype(np.int16) - skin.astype(np.int16)).max(-1) > 40) & (luma < skin.mean())
        n, labels = cv2.connectedComponents((other & (box > 0)).astype(np.uint8), connectivity=8)
        covered = np.zeros_like(grown)
        for k in range(1, n):
            blob = labels == k
            if (grown[blob] > 0).any() and np.nonzero(blob)[0].min() > y0:
                covered[blob] = 255
        colour = np.median(rgb[covered > 0], axis=0) if covered.any() else dark
        covered = cv2.dilate(covered, np.ones((3, 3), np.uint8), iterations=1)
        out[covered > 0] = skin.astype(np.uint8)
        mid = (lm[brow[:5], :2] + lm[brow[5:][::-1], :2]) / 2  # outer -> inner, between the edges
        cv2.polylines(out, [np.round(mid * (1 << shift)).astype(np.int32)], False,
                      tuple(float(v) for v in colour), max(2, round(0.045 * fw)), cv2.LINE_AA, shift)
    return out
