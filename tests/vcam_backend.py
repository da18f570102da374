"""A pyvirtualcam backend that records frames, registered in pyvirtualcam's own registry, so the
real `pyvirtualcam.Camera` code path runs in tests (no v4l2loopback/OBS device here)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pyvirtualcam
from pyvirtualcam import camera as pvc


class RecordingBackend:
    frames: list[np.ndarray] = []
    closed = 0

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw):
        if fourcc != pvc.encode_fourcc(pyvirtualcam.PixelFormat.BGR.value):
            raise RuntimeError("test backend expects BGR")
        self.width, self.height = width, height
        RecordingBackend.frames = []

    def send(self, frame: np.ndarray) -> None:
        RecordingBackend.frames.append(frame.reshape(self.height, self.width, 3).copy())

    def close(self) -> None:
        RecordingBackend.closed += 1

    def device(self) -> str:
        return "recording-test-cam"

    def native_fourcc(self) -> int | None:
        return None


@contextlib.contextmanager
def only_backends(**backends: type) -> Iterator[None]:
    """Replace pyvirtualcam's registry for the duration (empty = no backend at all)."""
    saved = dict(pvc.BACKENDS)
    pvc.BACKENDS.clear()
    for name, cls in backends.items():
        pvc.register_backend(name, cls)
    try:
        yield
    finally:
        pvc.BACKENDS.clear()
        pvc.BACKENDS.update(saved)
