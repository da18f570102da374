"""Style thumbnails: each style run on the demo face, cropped the way the pipeline crops faces.

Made on a worker thread (own detector and ORT session, never the live pipeline's) and cached
as PNG files keyed by the style file's path, size and modification time."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import platformdirs
from PySide6.QtCore import QObject, Signal

from avatar_cam.align import CropSpec
from avatar_cam.demo import sample_face_crop
from avatar_cam.face import FaceDetector
from avatar_cam.image_files import load_image
from avatar_cam.styles import APP_NAME, StyleInfo, first_line


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME)) / "thumbnails"


def cache_key(style: StyleInfo) -> str:
    """The style file's path, size and time, and its model's where that is another file: a saved
    look is drawn again when its base style is updated."""
    stats = {p: p.stat() for p in (style.path, style.model_path)}  # one file for most styles
    raw = "|".join(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}" for p, st in stats.items())
    return hashlib.sha1(f"{raw}|{style.size}".encode()).hexdigest()[:20]


class ThumbnailMaker(QObject):
    """`request(styles)` makes missing thumbnails in the background; `ready(path, rgb)` fires
    for each (from the cache at once, or when made); `failed(path, reason)` for styles that
    do not run."""

    ready = Signal(str, object)  # style path, RGB uint8 array
    failed = Signal(str, str)

    def __init__(self, cache_dir: Path | None = None, crop: CropSpec | None = None, size: int = 112):
        super().__init__()
        self.cache_dir = cache_dir or default_cache_dir()
        self.crop = crop or CropSpec()
        self.size = size
        self._memory: dict[str, np.ndarray] = {}
        self._crops: dict[int, np.ndarray] = {}
        self._detector: FaceDetector | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="avatar-thumbs")
        self._closed = False

    def request(self, styles: list[StyleInfo]) -> Future[None]:
        return self._pool.submit(self._make_all, list(styles))

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._detector is not None:
            self._detector.close()

    def _sample(self, size: int) -> np.ndarray:
        if size not in self._crops:
            if self._detector is None:
                self._detector = FaceDetector()
            self._crops[size] = sample_face_crop(size, self.crop, self._detector)
        return self._crops[size]

    def _make_all(self, styles: list[StyleInfo]) -> None:
        for style in styles:
            if self._closed:
                return
            try:
                rgb = self.thumbnail(style)
            except Exception as e:  # a broken style gets no picture, and a tooltip saying why
                self.failed.emit(str(style.path), first_line(e, 10_000))
                continue
            if not self._closed:
                self.ready.emit(str(style.path), rgb)

    def thumbnail(self, style: StyleInfo) -> np.ndarray:
        """RGB (self.size, self.size, 3) for `style`, from memory, disk or made now."""
        key = cache_key(style)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        file = self.cache_dir / f"{key}.png"
        img = load_image(file)
        if img is not None and img.shape[:2] == (self.size, self.size):
            rgb = np.ascontiguousarray(img[..., ::-1])
        else:
            from avatar_cam.renderers import make_renderer

            cartoon = make_renderer(style, "cpu", threads=1).preview(self._sample(style.size))
            rgb = cv2.resize(cartoon, (self.size, self.size), interpolation=cv2.INTER_AREA)
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(file), rgb[..., ::-1])
            except OSError:
                pass  # a read-only cache only costs remaking the picture next time
        with self._lock:
            self._memory[key] = rgb
        return rgb
