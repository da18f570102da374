"""Frame sources: a webcam (threaded, newest frame only), a video file, a still image, a folder."""

from __future__ import annotations

import platform
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from avatar_cam.frame import Frame
from avatar_cam.image_files import TooLarge, decode_image

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
MAX_CAMERA_INDEX = 9999  # OpenCV takes a C int; a larger number is a typo, not a camera


class SourceError(RuntimeError):
    """A source that cannot be opened or read; one line naming it and the problem."""


class SourceLost(RuntimeError):
    """A live source stopped delivering (camera unplugged); it may come back."""


class Source(Protocol):
    live: bool  # live sources drop stale frames; file sources deliver every frame
    still: bool  # photos: each frame is processed on its own (no tracking, smoothing or hold)
    fps: float
    name: str

    def read(self) -> Frame | None:
        """The next frame, or None at the end of a file source."""

    def close(self) -> None: ...


def flatten_alpha(img: np.ndarray) -> np.ndarray:
    """BGRA (8 or 16 bit) -> BGR uint8 over white: transparent cartoon backgrounds become white
    (training's cartoons and the app's reference pictures alike)."""
    scale = 65535.0 if img.dtype == np.uint16 else 255.0
    f = img.astype(np.float32) / scale
    a = f[..., 3:4]
    return np.clip((f[..., :3] * a + (1.0 - a)) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image from any file OpenCV reads (grey, RGBA and 16-bit made 8-bit BGR)."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as e:
        raise SourceError(f"{path}: cannot read ({e.strerror})") from None
    try:
        img = decode_image(data)
    except TooLarge as e:
        raise SourceError(f"{path}: {e}") from None
    if img is None:
        raise SourceError(f"{path}: not a readable image")
    return img


class ImageSource:
    """One still image, delivered once (or `repeat` times, for previews)."""

    live = False
    still = True
    fps = 1.0

    def __init__(self, path: Path, repeat: int = 1):
        self.path = path
        self.name = path.name
        self.image = read_image(path)
        self._left = repeat
        self._index = 0

    def read(self) -> Frame | None:
        if self._left <= 0:
            return None
        self._left -= 1
        self._index += 1
        return Frame(self.image.copy(), self._index - 1, time.perf_counter(), name=self.name,
                     still=True)

    def close(self) -> None:
        pass


class FolderSource:
    """Every image in a folder (sorted by name), each a separate still; unreadable files skipped
    with a warning that is kept in `skipped`."""

    live = False
    still = True
    fps = 1.0

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not self.files:
            raise SourceError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_EXTS))})")
        self.skipped: list[str] = []
        self._it: Iterator[Path] = iter(self.files)
        self._index = 0

    def read(self) -> Frame | None:
        for p in self._it:
            try:
                img = read_image(p)
            except SourceError as e:
                self.skipped.append(str(e))
                continue
            self._index += 1
            return Frame(img, self._index - 1, time.perf_counter(), name=p.name, still=True)
        return None

    def close(self) -> None:
        pass


class VideoSource:
    """A video file, every frame in order; `loop` restarts at the end. Timestamps follow the
    file's frame rate so smoothing behaves as it would live."""

    live = False
    still = False

    def __init__(self, path: Path, loop: bool = False):
        self.path = path
        self.name = path.name
        self.loop = loop
        self._cap = self._open()
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or 30.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._index = 0
        self._ended = False  # `read` has returned None: the file ran out
        ok, first = self._cap.read()
        if not ok:
            raise SourceError(f"{path}: video has no readable frames")
        self._pending: np.ndarray | None = first

    def read(self) -> Frame | None:
        if self._pending is not None:
            img, self._pending = self._pending, None
        else:
            ok, img = self._cap.read()
            if not ok and self.loop and self._index > 0:
                ok, img = self._restart()
            if not ok:
                self._ended = True
                return None
        self._index += 1
        return Frame(img, self._index - 1, (self._index - 1) / self.fps, name=self.name)

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise SourceError(f"{self.path}: cannot open as a video")
        # a phone's video stores its pixels sideways and says how to turn them: upright, as players
        # show it (this OpenCV leaves the turn off: a face lay sideways and was missed half the time)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        return cap

    def _restart(self) -> tuple[bool, np.ndarray | None]:
        """The first frame again: by seeking back, or, where that reads nothing (OpenCV's FFmpeg
        reader cannot seek back in a one-frame video: a looped still ended after one frame), by
        opening the file again."""
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, img = self._cap.read()
        if not ok:
            self._cap.release()
            try:
                self._cap = self._open()
            except SourceError:  # gone since: the video ends here
                return False, None
            ok, img = self._cap.read()
        return ok, img

    @property
    def frames_read(self) -> int:
        return self._index

    @property
    def ended_early(self) -> bool:
        """The file stopped decoding before the frames its container lists (a damaged file):
        known once `read` has returned None, not for a run stopped before (a count one off is a
        container's rounding)."""
        return self._ended and 0 < self._index < self.frame_count - 1

    def close(self) -> None:
        self._cap.release()


class Capture(Protocol):
    """What `CameraSource` reads: `cv2.VideoCapture`'s calls it uses (a paced clip in the bench)."""

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


def camera_backend() -> int:
    system = platform.system()
    if system == "Windows":
        return cv2.CAP_DSHOW
    if system == "Darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_V4L2


class CameraSource:
    """A webcam read on its own thread; `read()` returns the newest frame only (stale ones drop).

    Asks for MJPG at `width` x `height` (USB cameras deliver 30 fps at 640x480 in MJPG where raw
    YUYV can be slower). A frame's timestamp is when the capture thread received it, so latency
    counts from the camera. `capture` replaces the camera (the bench's paced clip). Raises
    `SourceLost` when the camera stops delivering."""

    live = True
    still = False

    def __init__(self, index: int, width: int = 640, height: int = 480, fps: float = 30.0,
                 timeout_s: float = 2.0, capture: Capture | None = None):
        self.index = index
        self.name = f"camera {index}"
        self.timeout_s = timeout_s
        self._cap: Capture = capture or self._open(index, width, height, fps)
        self.fps = self._cap.get(cv2.CAP_PROP_FPS) or fps
        self._lock = threading.Condition()
        self._latest: np.ndarray | None = None
        self._latest_t = 0.0
        self._seq = 0
        self._taken = 0
        self._failed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"capture-{index}", daemon=True)
        self._thread.start()

    @staticmethod
    def _open(index: int, width: int, height: int, fps: float) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(index, camera_backend())
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"camera {index} cannot be opened: it does not exist or another app is using it "
                "(see `avatar-cam --list-cameras`)"
            )
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        ok, _ = cap.read()
        if not ok:
            cap.release()
            raise SourceError(f"camera {index} opened but gives no frames (busy in another app?)")
        return cap

    def _run(self) -> None:
        while not self._stop.is_set():
            ok, img = self._cap.read()
            t = time.perf_counter()
            with self._lock:
                if not ok:
                    self._failed = True
                    self._lock.notify_all()
                    return
                self._latest, self._latest_t = img, t
                self._seq += 1
                self._lock.notify_all()

    def read(self) -> Frame | None:
        with self._lock:
            ok = self._lock.wait_for(lambda: self._seq > self._taken or self._failed, self.timeout_s)
            if self._failed or not ok:
                raise SourceLost(f"camera {self.index} stopped delivering frames")
            self._taken = self._seq
            img, t = self._latest, self._latest_t
        return Frame(img, self._taken - 1, t, name=self.name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._cap.release()


def open_source(spec: str, loop: bool = False, width: int = 640, height: int = 480) -> Source:
    """A source from a CLI/GUI spec: a camera index, a video, an image or a folder of images."""
    if spec.isdigit():
        if int(spec) > MAX_CAMERA_INDEX:
            raise SourceError(f"{spec}: no such camera (camera numbers go from 0 to {MAX_CAMERA_INDEX})")
        return CameraSource(int(spec), width, height)
    path = Path(spec).expanduser()
    if not path.exists():
        raise SourceError(f"{spec}: no such file, folder or camera index")
    if path.is_dir():
        return FolderSource(path)
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return ImageSource(path)
    if ext in VIDEO_EXTS:
        return VideoSource(path, loop=loop)
    raise SourceError(
        f"{spec}: unknown input type {ext or '(no extension)'}; use a camera index, a video "
        f"({', '.join(sorted(VIDEO_EXTS))}), an image or a folder"
    )


def list_cameras(max_index: int = 8) -> list[tuple[int, str]]:
    """(index, name) of cameras that open. Names come from sysfs on Linux, else 'Camera N'."""
    found = []
    for i in range(max_index):
        name = f"Camera {i}"
        sys_name = Path(f"/sys/class/video4linux/video{i}/name")
        if platform.system() == "Linux":
            if not Path(f"/dev/video{i}").exists():
                continue
            if sys_name.is_file():
                name = sys_name.read_text().strip() or name
        cap = cv2.VideoCapture(i, camera_backend())
        if cap.isOpened():
            found.append((i, name))
        cap.release()
    return found
