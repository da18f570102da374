"""A drawing of the MediaPipe face mesh: the content input of mesh-conditioned styles (no torch).

The drawing carries where the face parts are and how open eyes and mouth are, and nothing of
the skin, hair or texture of the face it came from, so a generator fed only this drawing (and a
style code) cannot copy the person's look. Training (`training/mesh_pairs.py`) draws the meshes
of cartoon faces; the app draws the mesh of the camera crop the same way, with this function.

Regions are filled flat, each in its own colour, on black: face oval, eye openings with irises
and pupils, brows (filled, with a stroke along their middle so they stay clear at 128 px), nose
line, lips and the open mouth. The eyes are drawn `EYE_SCALE` times the mesh's outline about their
centre (irises too), as training's `redraw_eyes` draws the cartoon's eyes, so gaze moves over
more pixels. Left and right parts share colours, so a horizontally flipped drawing is still a
valid drawing (training flips pairs together).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from avatar_cam.expression import N_LANDMARKS, ExpressionAnalyzer
from avatar_cam.frame import Face

# ordered outlines (MediaPipe face mesh topology; "right" is the person's right, image-left)
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
LEFT_EYE = [362, 382, 381, 380, 374, 373, 390, 249, 263, 466, 388, 387, 386, 385, 384, 398]
RIGHT_BROW = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46]
LEFT_BROW = [300, 293, 334, 296, 336, 285, 295, 282, 283, 276]
LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185]
LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191]
NOSE_LINE = [168, 6, 197, 195, 5, 4, 1]
NOSTRILS = [98, 97, 2, 326, 327]
RIGHT_IRIS = list(range(468, 473))  # centre, then four rim points
LEFT_IRIS = list(range(473, 478))

# BGR colours
FACE = (90, 90, 90)
EYE = (235, 235, 235)
IRIS = (200, 60, 0)
BROW = (0, 200, 255)
NOSE = (255, 160, 0)
LIPS = (60, 60, 230)
MOUTH = (40, 0, 90)
PUPIL = (60, 10, 0)
EYE_SCALE = 1.3  # eyes drawn a little larger than the mesh's outline, as cartoon eyes are

_SHIFT = 4  # sub-pixel precision bits for cv2's drawing calls


def nod_field(lm: np.ndarray, degrees: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Vertical displacement (pixels) at points (x, y) of a head turned down (positive `degrees`)
    or up, drawn in 2D: seen as a sphere of radius R (0.65 of the forehead-to-chin length), the
    face's middle moves by R sin(angle) and its top and bottom edges less, R sin(angle) (1 - t^2)
    with t the height from the middle over R, fading towards the cheeks. Training turns cartoon
    pairs with it (`expression_aug.pitch_head`); the app draws nods larger with it."""
    top, chin = lm[10, :2], lm[152, :2]
    cy = 0.5 * (top[1] + chin[1])
    radius = max(0.65 * (chin[1] - top[1]), 4.0)
    cx = float(lm[[234, 454], 0].mean())
    half_w = max(0.65 * float(np.linalg.norm(lm[234, :2] - lm[454, :2])), 1.0)
    amp = radius * np.sin(np.radians(degrees))

    def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = (y - cy) / radius
        u = (x - cx) / half_w
        return amp * np.clip(1.0 - t * t, 0.0, None) * np.sqrt(np.clip(1.0 - u * u, 0.0, None))

    return field


def _pts(lm: np.ndarray, idx: list[int]) -> np.ndarray:
    return np.round(lm[idx, :2] * (1 << _SHIFT)).astype(np.int32)


def draw_face_mesh(landmarks: np.ndarray, size: int) -> np.ndarray:
    """`size`x`size` BGR uint8 drawing of (478, 2 or 3) landmarks given in pixels of that square."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 2 or lm.shape[0] != N_LANDMARKS or lm.shape[1] < 2:
        raise ValueError(f"need ({N_LANDMARKS}, 2 or 3) landmarks, got {lm.shape}")
    img = np.zeros((size, size, 3), np.uint8)
    line = max(1, round(size / 96))
    aa = cv2.LINE_AA
    cv2.fillPoly(img, [_pts(lm, FACE_OVAL)], FACE, aa, _SHIFT)
    for brow in (RIGHT_BROW, LEFT_BROW):
        cv2.fillPoly(img, [_pts(lm, brow)], BROW, aa, _SHIFT)
    cv2.polylines(img, [_pts(lm, NOSE_LINE), _pts(lm, NOSTRILS)], False, NOSE, line, aa, _SHIFT)
    cv2.fillPoly(img, [_pts(lm, LIPS_OUTER)], LIPS, aa, _SHIFT)
    cv2.fillPoly(img, [_pts(lm, LIPS_INNER)], MOUTH, aa, _SHIFT)
    for brow in (RIGHT_BROW, LEFT_BROW):
        mid = (lm[brow[:5], :2] + lm[brow[5:][::-1], :2]) / 2  # outer -> inner, between the edges
        cv2.polylines(img, [np.round(mid * (1 << _SHIFT)).astype(np.int32)], False, BROW,
                      max(2, round(size / 48)), aa, _SHIFT)
    for eye, iris in ((RIGHT_EYE, RIGHT_IRIS), (LEFT_EYE, LEFT_IRIS)):
        centre = lm[eye, :2].mean(0)
        outline = centre + EYE_SCALE * (lm[eye, :2] - centre)
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(outline * (1 << _SHIFT)).astype(np.int32)], 255, aa, _SHIFT)
        layer = np.zeros_like(img)
        layer[:] = EYE
        c = centre + EYE_SCALE * (lm[iris[0], :2] - centre)
        r = EYE_SCALE * float(np.mean(np.linalg.norm(lm[iris[1:], :2] - lm[iris[0], :2], axis=1)))
        ci = tuple(np.round(c * (1 << _SHIFT)).astype(int))
        cv2.circle(layer, ci, max(1, round(r * (1 << _SHIFT))), IRIS, -1, aa, _SHIFT)
        cv2.circle(layer, ci, max(1, round(0.5 * r * (1 << _SHIFT))), PUPIL, -1, aa, _SHIFT)
        a = mask[..., None].astype(np.float32) / 255.0  # the iris shows only inside the open eye
        img = (img * (1 - a) + layer * a).astype(np.uint8)
    return img


def crop_landmarks(analyzer: ExpressionAnalyzer, crop_bgr: np.ndarray, pad: float = 0.25
                   ) -> np.ndarray | None:
    """(478, 3) landmarks of the face in an aligned crop, in the crop's pixels, or None.

    The crop is padded with a black border first: Face Mesh's own detector misses faces that
    fill the whole image, as aligned crops do."""
    m = int(round(pad * crop_bgr.shape[0]))
    padded = cv2.copyMakeBorder(crop_bgr, m, m, m, m, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    lm = analyzer.landmarks(padded)
    if lm is None:
        return None
    lm[:, :2] -= m
    return lm


def face_from_landmarks(lm: np.ndarray) -> Face:
    """A `Face` as the face detector would report it, from mesh landmarks (for images its
    detector misses: about 40% of anime faces are found by Face Mesh but not by detection).

    The box is the face oval's bounds widened as measured against the detector's boxes on
    UTKFace photos (x -6%, y -5%, width x1.14, height x1.04)."""
    o = lm[FACE_OVAL, :2]
    (x0, y0), (x1, y1) = o.min(0), o.max(0)
    w, h = x1 - x0, y1 - y0
    kp = np.stack([(lm[33, :2] + lm[133, :2]) / 2, (lm[362, :2] + lm[263, :2]) / 2, lm[1, :2],
                   (lm[13, :2] + lm[14, :2]) / 2, lm[234, :2], lm[454, :2]])
    return Face(box=(float(x0 - 0.062 * w), float(y0 - 0.051 * h), float(1.143 * w), float(1.038 * h)),
                keypoints=kp.astype(np.float32), score=1.0)
