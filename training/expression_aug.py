"""Expression augmentation for mesh-conditioned training pairs: open the mouth, close the eyes.

Cartoon faces rarely open their mouths or close their eyes (DiceBear and selfie2anime: the
median mesh mouth gap is a fraction of a photo's), so a generator trained only on their own
meshes learns that the mesh's mouth and lids do not matter. This module edits a pair
consistently: it moves the cartoon's landmarks (lower lip and jaw down, upper lids onto the lower
lids), warps or paints the cartoon to match, and the caller redraws the mesh from the moved
landmarks. The edits are drawn the way flat cartoons draw them: a dark mouth between the lips,
a lid line over a skin-coloured eye.

Crops are the app's aligned crops (eye line level), so "down" is the image's +y.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.mesh_drawing import FACE_OVAL, LEFT_EYE, LIPS_INNER, LIPS_OUTER, RIGHT_EYE

MOUTH_CORNERS = (61, 291)
# inner-lip outline split at the corners (78, 308): LIPS_INNER runs 78 -> lower lip -> 308 -> upper
_LOWER_INNER = LIPS_INNER[1:10]
_UPPER_INNER = LIPS_INNER[11:]
# each eye outline is corner, lower lid (7 points), corner, upper lid (7 points)
_EYES = [(eye[:9], [eye[0], *eye[9:][::-1], eye[8]]) for eye in (RIGHT_EYE, LEFT_EYE)]

MOUTH_DARK = (70, 22, 34)  # RGB: the inside of a drawn open mouth
TONGUE = (200, 80, 90)


@dataclass(frozen=True)
class ExpressionAugConfig:
    """Chance of each edit per training pair and how far it goes."""

    mouth: float = 0.5                 # chance to open the mouth
    mouth_gap: tuple[float, float] = (0.12, 0.6)  # inner-lip gap added, in mouth widths
    eyes: float = 0.25                 # chance to close the eyes
    wink: float = 0.2                  # share of the eye edits that close one eye only
    eye_close: tuple[float, float] = (0.5, 1.0)   # fraction of the lid gap closed
    redraw: float = 0.0                # chance the mouth is painted over and drawn from the landmarks


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


def open_mouth(rgb: np.ndarray, lm: np.ndarray, amount: float, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray]:
    """Open the mouth by `amount` mouth widths: jaw and lower lip warped down, the opening
    between the moved inner lips painted dark (a tongue sometimes). Returns (image, landmarks)."""
    size = rgb.shape[0]
    c0, c1 = lm[MOUTH_CORNERS[0], :2], lm[MOUTH_CORNERS[1], :2]
    gap = amount * float(np.linalg.norm(c1 - c0))
    disp, field = _jaw_field(lm, size, gap)
    # invert the forward map y -> y + d(x, y) column by column (monotone in y for these fields)
    ys = np.arange(size, dtype=np.float64)
    map_y = np.empty((size, size), np.float32)
    for x in range(size):
        fwd = ys + disp[:, x]
        map_y[:, x] = np.interp(ys, np.maximum.accumulate(fwd), ys)
    map_x = np.broadcast_to(np.arange(size, dtype=np.float32), (size, size)).copy()
    out = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
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


def _skin_colour(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Median colour of the cheeks below the eyes (inside the face oval, away from features)."""
    size = rgb.shape[0]
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(lm[FACE_OVAL, :2]).astype(np.int32)], 255)
    features = np.zeros_like(mask)
    for idx in (RIGHT_EYE, LEFT_EYE, LIPS_OUTER):
        cv2.fillPoly(features, [np.round(lm[idx, :2]).astype(np.int32)], 255)
    features = cv2.dilate(features, np.ones((5, 5), np.uint8), iterations=max(1, size // 64))
    eyes_y = lm[[33, 263], 1].mean()
    mouth_y = lm[list(MOUTH_CORNERS), 1].mean()
    band = np.zeros_like(mask)
    band[int(eyes_y):int((eyes_y + mouth_y) / 2)] = 255
    sel = (mask > 0) & (features == 0) & (band > 0)
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
    """Randomly open the mouth and/or close the eyes of a square crop with its (478, 3) landmarks
    in the crop's pixels; returns the edited crop and landmarks (unchanged when no edit is drawn)."""
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
    return rgb, lm


def redraw_mouth(rgb: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Paint over the drawn mouth with skin and draw lips where the landmarks put them: a lip
    lens round the mouth, dark where the inner lips part and a seam line where they meet. Cartoon
    mouths come in many shapes (grins, "o"s, teeth) that say little about how open they are; a
    mouth drawn from the landmarks makes the target's mouth a function of the mesh alone."""
    size = rgb.shape[0]
    out = rgb.copy()
    skin = _skin_colour(rgb, lm)
    shift = 4
    outer = lm[LIPS_OUTER, :2]
    centre = outer.mean(0)
    cover = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(cover, [np.round((centre + 1.5 * (outer - centre)) * (1 << shift)).astype(np.int32)], 255,
                 cv2.LINE_8, shift)
    cover = cv2.dilate(cover, np.ones((3, 3), np.uint8), iterations=max(1, size // 64))
    face = np.zeros_like(cover)
    cv2.fillPoly(face, [np.round(lm[FACE_OVAL, :2]).astype(np.int32)], 255)
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
