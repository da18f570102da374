"""The privacy gate, the last stage before any sink (no camera frame passes it unchanged), and
the live stream's hold over short gaps."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from avatar_cam.composite import Compositor, Mode, cartoon_side, placeholder_card
from avatar_cam.frame import Face, Frame

PLACEHOLDER_TEXT = {
    "no_face": ("Looking for your face...", "the avatar comes back when a face is found"),
    "generator_error": ("Avatar paused", "the style failed on this frame"),
    "detector_error": ("Looking for your face...", "face tracking hiccup"),
    "style_swap": ("Switching style...", ""),
    "no_style": ("No style loaded", "pick a style"),
    "paused": ("Paused", "back in a moment"),  # the meeting sees it: no instructions for the student
    "source_lost": ("Camera not available", "waiting for it to come back"),
    "raw_blocked": ("Avatar paused", "a frame was held back to protect your privacy"),
    "face_moved": ("One moment...", "the avatar is catching up with you"),
}
NO_HOLD = ("paused", "face_moved")  # a held cartoon would sit where the face was, not where it is


def leaks_camera(output: np.ndarray | None, frame: Frame) -> bool:
    """True when `output` shares memory with, or equals, `frame`'s camera image (whole, or in the
    tracked face box when the sizes match)."""
    cam = frame.image
    if output is None:
        return False
    if np.shares_memory(output, cam):
        return True
    if output.shape != cam.shape:
        return False
    if frame.face is None:
        return bool(np.array_equal(output, cam))
    x, y, w, h = (int(round(v)) for v in frame.face.box)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(cam.shape[1], x + w), min(cam.shape[0], y + h)
    if x1 <= x0 or y1 <= y0:
        return bool(np.array_equal(output, cam))
    return bool(np.array_equal(output[y0:y1, x0:x1], cam[y0:y1, x0:x1]))


class PrivacyGate:
    """The per-frame check, with no memory of earlier frames: a fresh cartoon passes, anything
    else becomes the placeholder card for its reason.

    Refuses any output that is the camera buffer itself or equal to it in the face region,
    whatever a stage upstream did (counted as `raw_blocked`). Bridging short gaps with an
    earlier cartoon is `LiveHold`'s job, and only live streams have one."""

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self._cards: dict[str, np.ndarray] = {}
        self.counts: Counter[str] = Counter()

    def resize(self, size: tuple[int, int]) -> None:
        self.size = size
        self._cards.clear()

    def card(self, reason: str) -> np.ndarray:
        if reason not in self._cards:
            title, detail = PLACEHOLDER_TEXT.get(reason, ("Avatar paused", reason))
            self._cards[reason] = placeholder_card(self.size, title, detail)
        return self._cards[reason]

    def __call__(self, frame: Frame) -> np.ndarray:
        """The picture sinks may receive for this frame; sets `frame.output` and `frame.fallback`
        (None exactly when the output is a fresh cartoon)."""
        if frame.output is not None and frame.fallback is None and leaks_camera(frame.output, frame):
            frame.fallback = "raw_blocked"
        if frame.fallback is None and frame.output is not None:
            if frame.output.shape[:2] == (self.size[1], self.size[0]):
                return frame.output
            frame.fallback = "raw_blocked"
        reason = frame.fallback or "no_face"
        self.counts[reason] += 1
        frame.output = self.card(reason)
        frame.fallback = reason
        return frame.output


def _fits(compositor: Compositor, image: np.ndarray, matrix: np.ndarray, side: int,
          cartoon: np.ndarray) -> bool:
    """Whether a cartoon drawn into its paste box for a `side`-pixel crop still fills that box on
    `image` (the camera's or the output's size may have changed since)."""
    placed = compositor.paste_box(image.shape, matrix, side)
    return placed is not None and placed.size == cartoon.shape[1::-1]


class LiveHold:
    """A live stream's bridge over short gaps (a missed detection, one failed generator run):
    for up to `frames` frames after the last fresh cartoon, that cartoon is shown instead of
    the card. Stills never use it, so no file's picture reaches another file.

    In overlay mode the held cartoon is composited onto the current frame's camera image at the
    last face position, so a held frame never carries camera pixels of an earlier moment; a
    frame without a camera image (source lost), of another stream (its index not after the held
    one's: a new camera, a reconnect), or whose face was not found this frame or found off that
    position (the cartoon would cover the old place and send the face), gets the card."""

    def __init__(self, frames: int = 12):
        self.frames = frames
        self.reset()

    def reset(self) -> None:
        self._output: np.ndarray | None = None
        self._cartoon: np.ndarray | None = None
        self._side: int | None = None
        self._matrix: np.ndarray | None = None
        self._cover: np.ndarray | None = None
        self._mode: Mode | None = None
        self._index = -1
        self._since = 0

    def remember(self, frame: Frame, mode: Mode) -> None:
        """Keep `frame`'s fresh output, made in `mode` (and from face modes its cartoon, crop
        matrix and the face outline it covers)."""
        self._output, self._mode = frame.output, mode
        self._cartoon, self._matrix, self._cover = frame.cartoon, frame.crop_matrix, frame.cover
        self._side = frame.cartoon_side
        self._index = frame.index
        self._since = 0

    def recall(self, frame: Frame, compositor: Compositor, camera: bool = True,
               onto: Callable[[], np.ndarray | None] | None = None,
               mode: Mode | None = None, measured: Face | None = None) -> np.ndarray | None:
        """The held picture for this frame that missed its cartoon, or None (show the card).
        `camera`: whether `frame.image` is a real camera image; `onto`: makes the picture an
        overlay goes onto (`frame.image` with other people's faces covered; None: no picture,
        the card), called only when a held overlay is made (default: `frame.image`);
        `mode`: the frame's mode (default: the compositor's now). Only a picture made in that
        same mode is held: a full-mode picture (the whole scene restyled) held into avatar mode,
        which promises no camera picture at all, showed the scene for a dozen frames.
        `measured`: the face measured on this frame; an overlay is held only over it (none found:
        the face may be anywhere, e.g. leaned in too close for the detector, and went out beside
        the cartoon held at its old place)."""
        self._since += 1
        mode = compositor.mode if mode is None else mode
        if self._output is None or self._since > self.frames or frame.fallback in NO_HOLD \
                or self._mode is not mode:
            return None
        if mode is not Mode.OVERLAY:
            held = self._output
        elif camera and self._cartoon is not None and self._matrix is not None:
            if frame.index <= self._index:
                return None  # another stream (a new camera, a reconnect): the face may be anywhere
            side = cartoon_side(self._cartoon, self._side)
            if measured is None or not compositor.covers(measured.box, self._matrix, side):
                return None  # no face found, or it moved off the held cartoon (a jump, a turn): the card
            image = frame.image if onto is None else onto()
            if image is None or (self._side is not None and not _fits(compositor, image, self._matrix,
                                                                      self._side, self._cartoon)):
                return None  # drawn into its paste box for another camera or output size
            held = compositor.overlay(self._cartoon, image, self._matrix, self._cover, self._side)
        else:
            return None
        if held.shape[:2] != (compositor.size[1], compositor.size[0]) or leaks_camera(held, frame):
            return None
        return held
