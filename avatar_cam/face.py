"""Face detection (MediaPipe), one sticky tracked face, One-Euro smoothing of its geometry."""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from avatar_cam.frame import Face
from avatar_cam.mediapipe_loader import load_mediapipe

_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved = -1  # fd 2 as it was before the first of the nested silences
_STDERR = 2


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what MediaPipe's C++ side prints to fd 2 while its graph starts (TFLite/absl
    banners that say nothing to a user). Python-level errors still propagate as exceptions.

    Always fd 2, where native code writes, never `sys.stderr`'s descriptor: that one may be a
    test harness's capture file, closed and its number reused while a thread is still inside.
    Threads share fd 2 (the window starts MediaPipe on its pipeline and thumbnail threads at
    once), so the first to enter silences it and the last to leave restores it, under a lock;
    each saving and restoring on its own raced (a closed descriptor, or stderr lost for good)."""
    global _quiet_depth, _quiet_saved
    try:
        os.fstat(_STDERR)
    except OSError:  # no stderr at all (a windowed app on Windows)
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            with contextlib.suppress(AttributeError, OSError, ValueError):
                sys.stderr.flush()
            _quiet_saved = os.dup(_STDERR)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, _STDERR)
            os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                os.dup2(_quiet_saved, _STDERR)
                os.close(_quiet_saved)


STILL_PAD = 0.5  # border added around a still before detection, x its longer side


class FaceDetector:
    """MediaPipe face detection on a (possibly downscaled) BGR frame; all faces, in image pixels.

    `model_selection=1` is the full-range model (faces up to ~5 m); 0 is short-range (~2 m),
    which misses small faces in wide shots, so full-range is the default.
    """

    def __init__(self, min_confidence: float = 0.5, model_selection: int = 1, max_side: int = 640):
        mp = load_mediapipe()  # heavy import, kept out of module import time

        with quiet_native_stderr():
            self._mp = mp.solutions.face_detection.FaceDetection(
                model_selection=model_selection, min_detection_confidence=min_confidence
            )
            self._mp.process(np.zeros((64, 64, 3), np.uint8))  # warm-up prints its banner here
        self.max_side = max_side

    def detect(self, image_bgr: np.ndarray) -> list[Face]:
        h, w = image_bgr.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = image_bgr if scale == 1.0 else cv2.resize(
            image_bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
        )
        result = self._mp.process(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        faces = []
        for det in result.detections or []:
            rb = det.location_data.relative_bounding_box
            kps = np.array(
                [(k.x * w, k.y * h) for k in det.location_data.relative_keypoints], dtype=np.float32
            )
            faces.append(
                Face(
                    box=(rb.xmin * w, rb.ymin * h, rb.width * w, rb.height * h),
                    keypoints=kps,
                    score=float(det.score[0]) if det.score else 0.0,
                )
            )
        return faces

    def detect_still(self, image_bgr: np.ndarray) -> list[Face]:
        """Faces in a photo, however tightly cropped: detection runs on the photo padded with a
        black border of `STILL_PAD` x its side (the full-range model misses faces that fill the
        frame: 58 of 150 UTKFace crops found unpadded, 149 padded), then on the photo as it is
        when that finds nothing (a small face in a large photo). Boxes are in photo pixels."""
        m = int(round(STILL_PAD * max(image_bgr.shape[:2])))
        padded = cv2.copyMakeBorder(image_bgr, m, m, m, m, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        faces = [Face(box=(f.box[0] - m, f.box[1] - m, f.box[2], f.box[3]),
                      keypoints=f.keypoints - m, score=f.score) for f in self.detect(padded)]
        return faces or self.detect(image_bgr)

    def close(self) -> None:
        self._mp.close()


class OneEuroFilter:
    """One-Euro filter (Casiez et al., CHI 2012) over a vector: smooth when still, quick when moving."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x: np.ndarray | float | None = None
        self._dx: np.ndarray | float | None = None
        self._t: float | None = None

    @staticmethod
    def _alpha(cutoff: float | np.ndarray, dt: float) -> float | np.ndarray:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def reset(self) -> None:
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray | float, t: float, scale: float = 1.0) -> np.ndarray | float:
        """Filter sample `x` taken at time `t` (seconds). Speeds are divided by `scale` before
        `beta` applies, so a pixel signal can be judged in face sizes per second. A plain float
        is filtered in plain floats (numpy's per-call cost is most of a one-number filter)."""
        if not isinstance(x, float):
            x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or t <= self._t:
            self._x, self._dx, self._t = x, (np.zeros_like(x) if isinstance(x, np.ndarray) else 0.0), t
            return x
        dt = t - self._t
        dx = (x - self._x) / dt
        a_d = self._alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * abs(self._dx) / scale
        a = self._alpha(cutoff, dt)
        self._x = a * x + (1 - a) * self._x
        self._t = t
        return self._x


@dataclass
class TrackerConfig:
    """Tracking knobs. `hold_frames`: how long a lost face is kept before it counts as gone.
    `detect_every`: run the detector on every Nth frame and follow the face with optical flow in
    between (re-detecting at once when the flow loses it); 1 detects every frame."""

    min_cutoff: float = 1.2
    beta: float = 0.5
    hold_frames: int = 3
    switch_iou: float = 0.2
    detect_every: int = 3
    flow_side: int = 320


class FaceFlow:
    """Moves a face from one frame to the next with pyramidal Lucas-Kanade on a grid of points
    inside the face box: ~1 ms where the detector takes 6-10 ms."""

    GRID = np.stack(np.meshgrid(np.linspace(0.2, 0.8, 4), np.linspace(0.25, 0.85, 4)), -1).reshape(-1, 2)

    def __init__(self, side: int = 320):
        self.side = side
        self._prev: np.ndarray | None = None
        self._scale = 1.0

    def gray(self, image_bgr: np.ndarray) -> np.ndarray:
        h, w = image_bgr.shape[:2]
        self._scale = min(1.0, self.side / max(h, w))
        g = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        if self._scale < 1.0:
            g = cv2.resize(g, (round(w * self._scale), round(h * self._scale)), interpolation=cv2.INTER_AREA)
        return g

    def remember(self, image_bgr: np.ndarray) -> None:
        self._prev = self.gray(image_bgr)

    def follow(self, face: Face, image_bgr: np.ndarray) -> Face | None:
        """`face` (found in the remembered frame) moved into `image_bgr`, or None if lost."""
        if self._prev is None:
            return None
        cur = self.gray(image_bgr)
        if cur.shape != self._prev.shape:  # the source changed resolution: detect afresh
            self._prev = cur
            return None
        x, y, w, h = face.box
        pts = (np.array([x, y]) + self.GRID * np.array([w, h])) * self._scale
        pts = pts.astype(np.float32).reshape(-1, 1, 2)
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(self._prev, cur, pts, None, winSize=(15, 15), maxLevel=2)
        back, status_b, _ = cv2.calcOpticalFlowPyrLK(cur, self._prev, nxt, None, winSize=(15, 15), maxLevel=2)
        self._prev = cur
        fb = np.linalg.norm((back - pts).reshape(-1, 2), axis=1)
        good = (status.ravel() == 1) & (status_b.ravel() == 1) & (fb < 1.0)
        if good.sum() < 8:
            return None
        m, _ = cv2.estimateAffinePartial2D(pts[good] / self._scale, nxt[good] / self._scale)
        if m is None:
            return None
        kps = (face.keypoints @ m[:, :2].T + m[:, 2]).astype(np.float32)
        s = math.hypot(m[0, 0], m[1, 0])
        cx, cy = np.array(face.center) @ m[:, :2].T + m[:, 2]
        return Face(box=(cx - w * s / 2, cy - h * s / 2, w * s, h * s), keypoints=kps, score=face.score)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Keeps one face across frames: the one overlapping the last tracked face, else the largest
    and most central. Box and keypoints are smoothed with a One-Euro filter whose speed term is
    measured in face sizes per second, so the same settings work for near and far faces."""

    def __init__(self, detector: FaceDetector, config: TrackerConfig | None = None):
        self.detector = detector
        self.config = config or TrackerConfig()
        self._filter = OneEuroFilter(self.config.min_cutoff, self.config.beta)
        self._flow = FaceFlow(self.config.flow_side)
        self._last: Face | None = None
        self._raw: Face | None = None  # last unsmoothed geometry, what the flow follows
        self._since_detect = 0
        self._missed = 0
        self.detections = 0  # detector runs, for the benchmark

    @property
    def measured(self) -> Face | None:
        """The face as measured on the last frame, before smoothing (the smoothed one trails a
        fast move); None when that frame's face was not found and the tracker only holds the
        last one (the face may be anywhere by now: a lean the detector missed)."""
        return self._raw if self._missed == 0 else None

    def reset(self) -> None:
        """Forget the face (next frame picks afresh)."""
        self._filter.reset()
        self._last = self._raw = None
        self._missed = self._since_detect = 0

    def _pick(self, faces: list[Face], shape: tuple[int, ...]) -> Face | None:
        if not faces:
            return None
        if self._last is not None:
            best = max(faces, key=lambda f: _iou(f.box, self._last.box))
            if _iou(best.box, self._last.box) >= self.config.switch_iou:
                return best
        h, w = shape[:2]
        diag = math.hypot(w, h)

        def rank(f: Face) -> float:
            cx, cy = f.center
            off = math.hypot(cx - w / 2, cy - h / 2) / diag
            return math.sqrt(f.area) / diag - 0.5 * off

        return max(faces, key=rank)

    def still(self, image_bgr: np.ndarray) -> Face | None:
        """The face of a photo on its own: nothing of earlier frames is used or kept (no flow,
        smoothing or hold), and tight crops are found (`FaceDetector.detect_still`)."""
        self.reset()
        self.detections += 1
        return self._pick(self.detector.detect_still(image_bgr), image_bgr.shape)

    def _locate(self, image_bgr: np.ndarray) -> Face | None:
        """This frame's raw face: followed by optical flow between detections, else detected."""
        every = self.config.detect_every
        if every > 1 and self._raw is not None and self._since_detect < every - 1:
            moved = self._flow.follow(self._raw, image_bgr)
            if moved is not None:
                self._since_detect += 1
                return moved
        self.detections += 1
        self._since_detect = 0
        face = self._pick(self.detector.detect(image_bgr), image_bgr.shape)
        if every > 1:
            self._flow.remember(image_bgr)
        return face

    def update(self, image_bgr: np.ndarray, t: float) -> Face | None:
        """The tracked face of a live or video frame taken at `t` seconds."""
        face = self._locate(image_bgr)
        self._raw = face if face is not None else self._raw
        if face is None:
            self._missed += 1
            if self._last is not None and self._missed <= self.config.hold_frames:
                return self._last
            self.reset()
            return None
        self._missed = 0
        size = max(face.box[2], face.box[3])
        vec = np.concatenate([np.asarray(face.box, dtype=np.float64), face.keypoints.ravel()])
        out = self._filter(vec, t, scale=size)
        smoothed = Face(box=tuple(out[:4]), keypoints=out[4:].reshape(-1, 2).astype(np.float32),
                        score=face.score)
        self._last = smoothed
        return smoothed
