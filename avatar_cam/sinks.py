"""Where the output goes: a virtual camera, a video file, an image, a folder, or nowhere.

Sinks only ever receive what the privacy gate returned."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from avatar_cam.face import quiet_native_stderr
from avatar_cam.sources import IMAGE_EXTS, VIDEO_EXTS


class SinkError(RuntimeError):
    """A sink that cannot be opened or written; the message says what to do."""


class Sink(Protocol):
    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None: ...

    def close(self) -> None: ...


VCAM_SETUP_HELP = {
    "Linux": (
        "Install v4l2loopback and load it so browsers accept it: "
        "`sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
        "exclusive_caps=1 card_label=avatar-cam` (exclusive_caps=1 is what Chrome/Meet needs)."
    ),
    "Windows": "Install OBS Studio (26+) once; its 'OBS Virtual Camera' is what avatar-cam drives.",
    "Darwin": (
        "Install OBS Studio (28+), then start and stop its virtual camera once so macOS "
        "registers it; avatar-cam then drives 'OBS Virtual Camera'."
    ),
}


def vcam_setup_help(system: str | None = None) -> str:
    return VCAM_SETUP_HELP.get(system or platform.system(), "No virtual camera backend for this OS.")


class VirtualCameraSink:
    """pyvirtualcam with the backend for this OS (or `backend`). Frames are BGR at `size`."""

    def __init__(self, size: tuple[int, int], fps: float = 30.0, backend: str | None = None,
                 device: str | None = None):
        import pyvirtualcam

        self.size = size
        try:
            self._cam = pyvirtualcam.Camera(size[0], size[1], fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                            backend=backend, device=device)
        except Exception as e:  # pyvirtualcam raises RuntimeError listing each backend's reason
            reasons = str(e).strip() or "no backend is registered for this OS"
            raise SinkError(f"virtual camera unavailable: {reasons}\n{vcam_setup_help()}") from None
        self.device = self._cam.device
        self.backend = self._cam.backend

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        self._cam.send(image_bgr)

    def close(self) -> None:
        self._cam.close()


def _prepare_dir(directory: Path) -> None:
    """Create `directory` now, so a bad output path fails before any frame is processed."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SinkError(f"{directory}: cannot create the output folder ({e.strerror})") from None
    if not os.access(directory, os.W_OK):
        raise SinkError(f"{directory}: not writable")


def try_writing(path: Path) -> None:
    """Open `path` for appending and close it (removed again if this made it): `OSError` now,
    with the system's reason, for a file that could not be written later."""
    existed = path.exists()
    with open(path, "ab"):
        pass
    if not existed:
        path.unlink(missing_ok=True)


def _probe_file(path: Path) -> None:
    """Fail before any frame when `path` cannot be written (OpenCV's video writer reports
    success for a file it then never writes)."""
    try:
        try_writing(path)
    except OSError as e:
        raise SinkError(f"{path}: cannot write ({e.strerror})") from None


def video_size(size: tuple[int, int]) -> tuple[int, int]:
    """The frame size a video file gets for `size`: video encoders need even sides."""
    return max(2, size[0] - size[0] % 2), max(2, size[1] - size[1] % 2)


class VideoFileSink:
    """An .mp4 (or other container) at a fixed frame size and rate; opened on the first frame.
    Odd sides lose their last row or column (`video_size`). `close` reads the file back: a video
    the disk had no room for is reported, not passed off as written."""

    def __init__(self, path: Path, fps: float = 30.0):
        self.path = path
        self.fps = fps
        _prepare_dir(path.parent)
        _probe_file(path)
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        w, h = video_size((image_bgr.shape[1], image_bgr.shape[0]))
        if self._writer is None:
            mp4 = self.path.suffix.lower() in (".mp4", ".m4v", ".mov")
            fourcc = cv2.VideoWriter_fourcc(*("mp4v" if mp4 else "MJPG"))
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise SinkError(f"{self.path}: cannot write a video here")
        self._writer.write(np.ascontiguousarray(image_bgr[:h, :w]))
        self.frames += 1

    def close(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        with quiet_native_stderr():  # FFmpeg's own line about a broken file
            video = cv2.VideoCapture(str(self.path))
            readable = video.isOpened() and video.read()[0]
            video.release()
        if self.frames and not readable:  # reported, not removed: a reader may be what failed
            raise SinkError(f"{self.path}: the video could not be written (is the disk full?)")


def _imwrite(path: Path, image_bgr: np.ndarray) -> None:
    ok, data = cv2.imencode(path.suffix or ".png", image_bgr)
    if not ok:
        raise SinkError(f"{path}: cannot encode as {path.suffix}")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"{path}: cannot write ({e.strerror})") from None


class ImageFileSink:
    """One image file; holds the latest frame (a still in, a still out)."""

    def __init__(self, path: Path):
        self.path = path
        _prepare_dir(path.parent)
        _probe_file(path)
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        _imwrite(self.path, image_bgr)
        self.frames += 1

    def close(self) -> None:
        pass


class FolderSink:
    """One PNG per frame; a frame with a `name` (folder input) keeps its file name."""

    def __init__(self, path: Path):
        self.path = path
        _prepare_dir(path)
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        target = self.path / (name if name and Path(name).suffix.lower() in IMAGE_EXTS
                              else f"{self.frames:06d}.png")
        _imwrite(target, image_bgr)
        self.frames += 1

    def close(self) -> None:
        pass


class NullSink:
    def __init__(self) -> None:
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def open_sink(spec: str, size: tuple[int, int], fps: float, folder_input: bool = False) -> Sink:
    """`vcam`, `none`, a video path, an image path or a folder (new or existing)."""
    if spec == "vcam":
        return VirtualCameraSink(size, fps)
    if spec == "none":
        return NullSink()
    path = Path(spec).expanduser()
    ext = path.suffix.lower()
    if ext in VIDEO_EXTS:
        return VideoFileSink(path, fps)
    if ext in IMAGE_EXTS and not folder_input:
        return ImageFileSink(path)
    if ext and not path.is_dir():
        raise SinkError(f"{spec}: unknown output type {ext}; use vcam, none, a video, an image or a folder")
    if not folder_input and (path / f"{0:06d}.png").exists():
        raise SinkError(f"{spec}: already holds numbered frames of an earlier run ({0:06d}.png ...); "
                        "give an empty or new folder")
    return FolderSink(path)
