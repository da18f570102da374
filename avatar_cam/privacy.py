"""The privacy gate: the last stage before any sink. No camera frame passes it unchanged."""

from __future__ import annotations

from collections import Counter

import numpy as np

from avatar_cam.composite import placeholder_card
from avatar_cam.frame import Frame

PLACEHOLDER_TEXT = {
    "no_face": ("Looking for your face...", "the avatar comes back when a face is found"),
    "generator_error": ("Avatar paused", "the style failed on this frame"),
    "detector_error": ("Looking for your face...", "face tracking hiccup"),
    "style_swap": ("Switching style...", ""),
    "no_style": ("No style loaded", "pick a style"),
    "paused": ("Paused", "press the pause key again to resume"),
    "source_lost": ("Camera not available", "waiting for it to come back"),
    "raw_blocked": ("Avatar paused", "a frame was held back to protect your privacy"),
}


class PrivacyGate:
    """Passes fresh cartoons; otherwise the last good output for `hold_frames`, then a card.

    Also refuses any output that is the camera buffer itself or equal to it in the face region,
    whatever a stage upstream did (counted as `raw_blocked`)."""

    def __init__(self, size: tuple[int, int], hold_frames: int = 12):
        self.size = size
        self.hold_frames = hold_frames
        self._last_good: np.ndarray | None = None
        self._since_good = 0
        self._cards: dict[str, np.ndarray] = {}
        self.counts: Counter[str] = Counter()

    def resize(self, size: tuple[int, int]) -> None:
        self.size = size
        self._cards.clear()
        self._last_good = None

    def card(self, reason: str) -> np.ndarray:
        if reason not in self._cards:
            title, detail = PLACEHOLDER_TEXT.get(reason, ("Avatar paused", reason))
            self._cards[reason] = placeholder_card(self.size, title, detail)
        return self._cards[reason]

    @staticmethod
    def leaks_camera(frame: Frame) -> bool:
        """True when `frame.output` shares memory with, or equals, the camera image (whole, or
        in the tracked face box when the sizes match)."""
        out, cam = frame.output, frame.image
        if out is None:
            return False
        if np.shares_memory(out, cam):
            return True
        if out.shape != cam.shape:
            return False
        if frame.face is None:
            return bool(np.array_equal(out, cam))
        x, y, w, h = (int(round(v)) for v in frame.face.box)
        x0, y0 = max(0, x), max(0, y)
        x1, y1 = min(cam.shape[1], x + w), min(cam.shape[0], y + h)
        if x1 <= x0 or y1 <= y0:
            return bool(np.array_equal(out, cam))
        return bool(np.array_equal(out[y0:y1, x0:x1], cam[y0:y1, x0:x1]))

    def __call__(self, frame: Frame) -> np.ndarray:
        """The picture sinks may receive for this frame; sets `frame.output` and `frame.fallback`."""
        if frame.output is not None and frame.fallback is None and self.leaks_camera(frame):
            frame.fallback = "raw_blocked"
        if frame.fallback is None and frame.output is not None:
            if frame.output.shape[:2] != (self.size[1], self.size[0]):
                frame.output = None
                frame.fallback = "raw_blocked"
            else:
                self._last_good = frame.output
                self._since_good = 0
                return frame.output
        reason = frame.fallback or "no_face"
        self.counts[reason] += 1
        self._since_good += 1
        if self._last_good is not None and self._since_good <= self.hold_frames and reason != "paused":
            frame.output = self._last_good
        else:
            frame.output = self.card(reason)
        frame.fallback = reason
        return frame.output
