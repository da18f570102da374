"""Where the output goes: a virtual camera, a video file, an image, a folder, or nowhere.

Sinks only ever receive what the privacy gate returned."""

from __future__ import annotations

import json
import os
import platform
import stat
import uuid
from collections.abc import Sequence
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
        "Install v4l2loopback and load it so browsers accept it, in a terminal: "
        "sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
        "exclusive_caps=1 card_label=avatar-cam (exclusive_caps=1 is what Chrome/Meet needs)."
    ),
    "Windows": "Install OBS Studio (26+) once; its 'OBS Virtual Camera' is what avatar-cam drives.",
    "Darwin": (
        "Install OBS Studio (28+), then start and stop its virtual camera once so macOS "
        "registers it; avatar-cam then drives 'OBS Virtual Camera'."
    ),
}


def vcam_setup_help(system: str | None = None) -> str:
    return VCAM_SETUP_HELP.get(system or platform.system(), "No virtual camera backend for this OS.")


class VcamUnavailable(SinkError):
    """No virtual camera could open: `reasons`, each backend's in one line, and `setup`, how to get
    one on this OS. The window shows the setup and keeps the reasons as details."""

    def __init__(self, reasons: str, setup: str):
        self.reasons, self.setup = reasons, setup
        super().__init__(f"virtual camera unavailable: {reasons.rstrip('.')}. {setup}")


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
            reasons = " ".join(str(e).split()) or "no backend is registered for this OS"  # one line
            raise VcamUnavailable(reasons, vcam_setup_help()) from None
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


MANIFEST = ".avatar-cam-outputs.jsonl"  # in an output's folder: the files avatar-cam wrote there


class OutputManifest:
    """The files avatar-cam wrote in `folder` that are still as it left them, recorded (name,
    size, modification time) in the folder's `MANIFEST`: an output may replace one of those, and
    no other file (one changed since is the user's again)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ours: dict[str, tuple[int, int]] = {}
        self.lines = 0
        try:
            lines = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return
        self.lines = len(lines)
        for line in lines:
            try:
                entry = json.loads(line)
                name, size, mtime = entry["name"], entry["size"], entry["mtime_ns"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(name, str) and Path(name).name == name and isinstance(size, int) \
                    and isinstance(mtime, int) and _mark(folder / name) == (size, mtime):
                self.ours[name] = (size, mtime)

    def may_replace(self, name: str) -> bool:
        """Nothing is there, or avatar-cam wrote it and it has not changed since."""
        return name in self.ours or not os.path.lexists(self.folder / name)

    def record(self, name: str) -> None:
        """Note that avatar-cam has just written `name` (one line appended: a run stopped at any
        point keeps what it recorded)."""
        mark = _mark(self.folder / name)
        if mark is None:
            return
        self.ours[name] = mark
        try:
            with open(self.folder / MANIFEST, "a", encoding="utf-8") as f:
                f.write(_manifest_line(name, mark))
        except OSError as e:
            raise SinkError(f"{self.folder / MANIFEST}: cannot record what was written ({e.strerror})"
                            ) from None
        self.lines += 1

    def compact(self) -> None:
        """Drop the lines of files gone or changed since (re-runs would grow it without end)."""
        if self.lines <= len(self.ours):
            return
        tmp = self.folder / f"{MANIFEST}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            tmp.write_text("".join(_manifest_line(n, m) for n, m in self.ours.items()), encoding="utf-8")
            os.replace(tmp, self.folder / MANIFEST)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise SinkError(f"{self.folder / MANIFEST}: cannot write ({e.strerror})") from None
        self.lines = len(self.ours)


def _not_ours(path: Path) -> SinkError:
    return SinkError(f"{path}: already there and not written by avatar-cam (or changed since); not "
                     "replaced: give a new file name, or move that file first")


# the containers a video is written in, and the codec OpenCV's FFmpeg writes into each (.webm wants
# VP8/VP9 and .mpg MPEG-1/2, which it may not have: both failed only after the whole run)
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class VideoFileSink:
    """An .mp4 (or other container) at a fixed frame size and rate; opened on the first frame.
    Odd sides lose their last row or column (`video_size`). `close` reads the file back: a video
    the disk had no room for is reported, not passed off as written. It replaces a file only one
    avatar-cam wrote (`OutputManifest`)."""

    def __init__(self, path: Path, fps: float = 30.0):
        self.path = path
        self.fps = fps
        _prepare_dir(path.parent)
        _probe_file(path)
        self._manifest = OutputManifest(path.parent)
        if not self._manifest.may_replace(path.name):
            raise _not_ours(path)
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        w, h = video_size((image_bgr.shape[1], image_bgr.shape[0]))
        if self._writer is None:
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_CODECS.get(self.path.suffix.lower(), "mp4v"))
            with quiet_native_stderr():  # FFmpeg's own lines about a container or codec
                writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not writer.isOpened():  # every frame says so (one kept unopened dropped the rest)
                raise SinkError(f"{self.path}: cannot write a video here")
            self._writer = writer
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
        try:
            self._manifest.record(self.path.name)
        except SinkError as e:
            if readable:
                raise
            # nowhere to record it (a full disk) and unplayable: this run's broken file goes, or
            # no later run could replace it (it was not recorded as avatar-cam's)
            self.path.unlink(missing_ok=True)
            raise SinkError(f"{self.path}: the video could not be written, and its unplayable part was "
                            f"removed ({e})") from None
        if self.frames and not readable:  # reported, not removed: a reader may be what failed
            raise SinkError(f"{self.path}: the video could not be written (is the disk full?)")


def _imwrite(path: Path, image_bgr: np.ndarray) -> None:
    ok, data = cv2.imencode(path.suffix or ".png", image_bgr)
    if not ok:
        raise SinkError(f"{path}: cannot encode as {path.suffix}")
    # written beside it under a new name of its own (never one of the user's files, such as
    # `photo.jpg.tmp`), then moved over it: a reader never sees half a picture
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as e:
        raise SinkError(f"{path}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.tobytes())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"{path}: cannot write ({e.strerror})") from None


class ImageFileSink:
    """One image file; holds the latest frame (a still in, a still out). It replaces a file only
    one avatar-cam wrote (`OutputManifest`)."""

    def __init__(self, path: Path):
        self.path = path
        _prepare_dir(path.parent)
        _probe_file(path)
        self._manifest = OutputManifest(path.parent)
        if not self._manifest.may_replace(path.name):
            raise _not_ours(path)
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        _imwrite(self.path, image_bgr)
        self._manifest.record(self.path.name)
        self.frames += 1

    def close(self) -> None:
        pass


def numbered(index: int) -> str:
    """The file name of frame `index` in a folder output (a video, camera or demo input)."""
    return f"{index:06d}.png"


class FolderSink:
    """One PNG per frame; a frame with a `name` (folder input) keeps its file name.

    It never replaces a file avatar-cam did not write: each file it writes is recorded (name,
    size, modification time) in the folder's `MANIFEST`, and a later run may replace a file only
    while the manifest still describes it (one changed since is the user's again). `names` (the
    file names an image or folder input gives) or, for numbered frames, `frames` (how many;
    None: not known) say what this run will write: a clash with a file that is not avatar-cam's
    is refused here, before any frame is processed; `write` refuses one too (a video longer than
    it said)."""

    def __init__(self, path: Path, names: Sequence[str] | None = None, frames: int | None = None):
        self.path = path
        self.frames = 0
        self._manifest = OutputManifest(path)
        clashes = self.clashes(names, frames)
        if clashes:
            more = f" and {len(clashes) - 1} more file(s)" if len(clashes) > 1 else ""
            raise SinkError(f"{path}: already holds {clashes[0]}{more} that this run would write over "
                            "and that avatar-cam did not write; give an empty or new folder (or move "
                            "them)")
        _prepare_dir(path)
        self._manifest.compact()

    def clashes(self, names: Sequence[str] | None, frames: int | None) -> list[str]:
        """The files this run would write (`names`, else numbered frames: the first `frames`,
        or any) that are there and not avatar-cam's, sorted."""
        if names is not None:
            there = [n for n in dict.fromkeys(names) if os.path.lexists(self.path / n)]
        else:
            try:
                entries = [p.name for p in self.path.iterdir()] if self.path.is_dir() else []
            except OSError:
                entries = []
            there = [n for n in entries if n[:-4].isdigit() and n == numbered(int(n[:-4]))
                     and (frames is None or int(n[:-4]) < frames)]
        return sorted(n for n in there if n not in self._manifest.ours)

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        target_name = (name if name and Path(name).suffix.lower() in IMAGE_EXTS
                       else numbered(self.frames))
        target = self.path / target_name
        if not self._manifest.may_replace(target_name):
            raise SinkError(f"{target}: already there and not written by avatar-cam; not replaced")
        _imwrite(target, image_bgr)
        self.frames += 1
        self._manifest.record(target_name)

    def close(self) -> None:
        pass


def _manifest_line(name: str, mark: tuple[int, int]) -> str:
    return json.dumps({"name": name, "size": mark[0], "mtime_ns": mark[1]}) + "\n"


def _mark(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular file, else None."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


class NullSink:
    def __init__(self) -> None:
        self.frames = 0

    def write(self, image_bgr: np.ndarray, name: str | None = None) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


def open_sink(spec: str, size: tuple[int, int], fps: float, folder_input: bool = False,
              names: Sequence[str] | None = None, frames: int | None = None) -> Sink:
    """`vcam`, `none`, a video path, an image path or a folder (new or existing). For a folder:
    `names`, the file names an image or folder input gives (else numbered frames, `frames` of
    them when known): a file among them there that avatar-cam did not write is refused."""
    if spec == "vcam":
        return VirtualCameraSink(size, fps)
    if spec == "none":
        return NullSink()
    path = Path(spec).expanduser()
    ext = path.suffix.lower()
    if ext in VIDEO_EXTS and ext not in VIDEO_CODECS:
        raise SinkError(f"{spec}: avatar-cam does not write {ext} videos; use "
                        f"{', '.join(VIDEO_CODECS)}")
    if ext in VIDEO_EXTS:
        return VideoFileSink(path, fps)
    if ext in IMAGE_EXTS and not folder_input:
        return ImageFileSink(path)
    if ext in IMAGE_EXTS and not path.is_dir():
        raise SinkError(f"{spec}: a folder of images goes to a folder (each picture keeps its name), "
                        f"not into one image; give a folder, e.g. {path.with_suffix('')}, or none")
    if ext and not path.is_dir():
        raise SinkError(f"{spec}: unknown output type {ext}; use vcam, none, a video, an image or a folder")
    if names is None and (path / numbered(0)).exists():
        raise SinkError(f"{spec}: already holds numbered frames of an earlier run ({numbered(0)} ...); "
                        "give an empty or new folder")
    return FolderSink(path, names, frames)
