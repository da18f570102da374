"""Other people in the camera picture. Overlay mode sends the camera frame around the cartoon
face, so anyone else in it (a sibling walking by, a photo on the wall) would reach the meeting
as they are. Every `every`th frame the face detector looks for all faces, and at once on a frame
where the picture moved away from the faces already known (someone coming in: between looks
they went out uncovered for up to two frames); each one that is not the tracked face is covered
by a flat ellipse of its own mean colour, grown to cover the movement between looks, and stays
covered for `hold` periodic looks' time after the detector last found it (a miss, a turned head)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from avatar_cam.frame import Face

Box = tuple[float, float, float, float]
STIR_WIDTH = 96  # about how many pixels across the small grey picture frames are compared at
STIR_LEVEL = 24  # grey levels


class Detector(Protocol):
    def detect(self, image_bgr: np.ndarray) -> list[Face]: ...

    def detect_still(self, image_bgr: np.ndarray) -> list[Face]: ...


def _overlap(a: Box, b: Box) -> float:
    """The share of the smaller box inside the other."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / max(min(a[2] * a[3], b[2] * b[3]), 1e-6)


@dataclass
class Bystanders:
    """Where the other faces are (`update`) and the camera frame with them covered (`hide`)."""

    detector: Detector
    every: int = 3  # frames between looks (at 30 fps ten a second)
    # periodic looks' time a face is still covered after the detector last found it (counted in
    # frames: the looks a moving picture adds do not shorten it)
    hold: int = 2
    grow: float = 0.5  # each side of a covered face grows by this share of its size
    # a face mostly inside the tracked one's box is the tracked one (a second detection of it); at
    # 0.3 a photo held by the cheek, or a child leaning in, was taken for it and went out uncovered
    same: float = 0.6
    # a look between looks when this share of the picture away from the known faces changed by
    # STIR_LEVEL grey levels since the last frame (camera noise stays under it)
    stir: float = 0.01
    _faces: list[tuple[Box, int]] = field(default_factory=list)  # box, frames since last found
    _frames: int = 0
    _own: Box | None = None  # the tracked face's last box
    _last: np.ndarray | None = None  # the last frame, small and grey

    def reset(self) -> None:
        self._faces, self._frames, self._own, self._last = [], 0, None, None

    def _stirred(self, image_bgr: np.ndarray) -> bool:
        """Whether the picture changed since the last frame away from the tracked face and the
        covered ones (each grown as they are covered)."""
        ih, iw = image_bgr.shape[:2]
        step = max(1, iw // STIR_WIDTH)  # every step-th pixel (an area resize took 1.3 ms)
        grey = cv2.cvtColor(np.ascontiguousarray(image_bgr[::step, ::step]), cv2.COLOR_BGR2GRAY)
        last, self._last = self._last, grey
        if last is None or last.shape != grey.shape:
            return False
        changed = cv2.absdiff(grey, last) > STIR_LEVEL
        fx = fy = 1 / step
        known = [b for b, _ in self._faces] + ([self._own] if self._own is not None else [])
        for x, y, w, h in (self._grown(b) for b in known):
            x0, y0 = max(0, int(x * fx)), max(0, int(y * fy))
            changed[y0:max(y0, int((y + h) * fy) + 1), x0:max(x0, int((x + w) * fx) + 1)] = False
        return bool(changed.mean() > self.stir)

    def _others(self, faces: list[Face]) -> list[Box]:
        own = self._own
        return [f.box for f in faces if own is None or _overlap(f.box, own) < self.same]

    def update(self, image_bgr: np.ndarray, own: Face | None, still: bool = False) -> list[Box]:
        """The boxes to cover in this frame, grown (image pixels). `own`: the tracked face; None
        (a held frame whose face was missed): where it last was, or, never seen, every face."""
        if own is not None or still:
            self._own = None if own is None else own.box
        if still:
            self._faces = [(b, 0) for b in self._others(self.detector.detect_still(image_bgr))]
        elif self._stirred(image_bgr) or self._frames % self.every == 0:
            found = self._others(self.detector.detect(image_bgr))
            kept = [(b, age) for b, age in self._faces
                    if age < (self.hold + 1) * self.every and all(_overlap(b, f) < 0.5 for f in found)]
            self._faces = [(b, 0) for b in found] + kept
        if not still:
            self._faces = [(b, age + 1) for b, age in self._faces]
        self._frames = 0 if still else self._frames + 1
        return [self._grown(b) for b, _ in self._faces]

    def _grown(self, box: Box) -> Box:
        x, y, w, h = box
        return x - self.grow * w, y - self.grow * h, w * (1 + 2 * self.grow), h * (1 + 2 * self.grow)

    def cover(self, image_bgr: np.ndarray, own: Face | None, still: bool = False) -> np.ndarray:
        """`image_bgr` with the other faces covered (`update`, then `hide`)."""
        return self.hide(image_bgr, self.update(image_bgr, own, still))

    @staticmethod
    def hide(image_bgr: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """`image_bgr` with an ellipse in each box filled by the box's mean colour (a copy; the
        camera frame itself is untouched). No boxes: the frame itself."""
        if not boxes:
            return image_bgr
        out = image_bgr.copy()
        ih, iw = out.shape[:2]
        for x, y, w, h in boxes:
            x0, y0 = int(max(0, x)), int(max(0, y))
            x1, y1 = int(min(iw, x + w)), int(min(ih, y + h))
            if x1 <= x0 or y1 <= y0:
                continue
            colour = tuple(float(c) for c in out[y0:y1, x0:x1].reshape(-1, 3).mean(0))
            cv2.ellipse(out, (int(x + w / 2), int(y + h / 2)), (int(w / 2), int(h / 2)), 0, 0, 360,
                        colour, -1, cv2.LINE_AA)
        return out
