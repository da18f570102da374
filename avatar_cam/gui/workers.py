"""The two worker threads behind the window: capture (newest frame only) and processing.

They are joined by a `FrameQueue` of size 1 that drops the stale frame, so the processing worker
always works on the newest picture and the UI never falls behind the camera."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from avatar_cam.frame import Frame
from avatar_cam.pipeline import Pipeline
from avatar_cam.sinks import Sink
from avatar_cam.sources import (
    IMAGE_EXTS,
    VIDEO_EXTS,
    FolderSource,
    ImageSource,
    Source,
    SourceError,
    SourceLost,
    VideoSource,
    open_source,
)

SourceFactory = Callable[[str, tuple[int, int]], Source]
PREVIEW_WIDTH = 320  # the small camera preview is drawn at this width by the worker


def open_gui_source(spec: str, camera_size: tuple[int, int] = (640, 480)) -> Source:
    """Like `open_source`, but for a window: videos loop and a still image repeats forever, so
    the preview and the virtual camera keep getting frames. "demo" is the bundled demo clip."""
    if spec == "demo":
        from avatar_cam.demo import ensure_demo_clip

        spec = str(ensure_demo_clip())
    path = Path(spec).expanduser()
    if not spec.isdigit() and path.is_file():
        ext = path.suffix.lower()
        if ext in VIDEO_EXTS:
            return VideoSource(path, loop=True)
        if ext in IMAGE_EXTS:
            return ImageSource(path, repeat=2**62)
    return open_source(spec, loop=True, width=camera_size[0], height=camera_size[1])


@dataclass
class Captured:
    """A camera frame on its way to the processing worker."""

    frame: Frame
    t_captured: float
    generation: int


@dataclass
class Lost:
    """'The source is gone': the processing worker shows the source-lost card."""

    generation: int


class FrameQueue:
    """A bounded queue that drops the oldest item when full (stale frames are worthless)."""

    def __init__(self, maxsize: int = 1):
        self.maxsize = maxsize
        self._items: deque[object] = deque()
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: object) -> None:
        with self._cond:
            while len(self._items) >= self.maxsize:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float) -> object | None:
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            return self._items.popleft()

    def clear(self) -> None:
        with self._cond:
            self._items.clear()


class CaptureWorker(threading.Thread):
    """Opens a source and feeds frames into `queue` until stopped.

    File sources are paced at their own frame rate (played like a camera). A live source that is
    lost is closed and reopened every `retry_s`, with a `Lost` marker queued on each attempt so
    the output shows the source-lost card meanwhile. `on_state(state, message)` reports
    `running`, `lost`, `failed` (could not open at all) and `ended` (a folder ran out)."""

    def __init__(self, spec: str, camera_size: tuple[int, int], queue: FrameQueue,
                 on_state: Callable[[str, str], None], generation: int,
                 factory: SourceFactory = open_gui_source, retry_s: float = 1.0):
        super().__init__(name=f"capture-{generation}", daemon=True)
        self.spec, self.camera_size, self.queue = spec, camera_size, queue
        self.on_state, self.generation, self.factory, self.retry_s = on_state, generation, factory, retry_s
        self.stop_event = threading.Event()
        self._source: Source | None = None

    def stop(self) -> None:
        self.stop_event.set()

    def _open(self) -> Source:
        return self.factory(self.spec, self.camera_size)

    def run(self) -> None:
        try:
            source: Source | None = self._open()
        except Exception as e:  # SourceError, or anything a driver throws
            self.on_state("failed", str(e) if isinstance(e, SourceError) else f"{self.spec}: {e}")
            return
        self.on_state("running", source.name)
        try:
            self._loop(source)
        finally:
            if self._source is not None:
                self._source.close()

    def _loop(self, source: Source) -> None:
        self._source = source
        clock_start, clock_frames = time.perf_counter(), 0
        while not self.stop_event.is_set():
            if self._source is None:
                self._source = self._reconnect()
                if self._source is None:
                    return
                self.on_state("running", self._source.name)
                clock_start, clock_frames = time.perf_counter(), 0
            s = time.perf_counter()
            try:
                frame = self._source.read()
            except SourceLost as e:
                self.on_state("lost", str(e))
                self._source.close()
                self._source = None
                continue
            except Exception as e:  # a broken file or driver: report, do not crash the app
                self.on_state("failed", f"{self.spec}: {e}")
                return
            if frame is None:
                done = "finished" if isinstance(self._source, FolderSource) else "ended"
                self.on_state("ended", f"{self._source.name}: {done}")
                return
            frame.timings_ms["capture"] = (time.perf_counter() - s) * 1e3
            if not self._source.live:  # pace a file like a camera; never burst to catch up
                clock_frames += 1
                due = clock_start + clock_frames / max(1.0, self._source.fps)
                wait = due - time.perf_counter()
                if wait > 0:
                    self.stop_event.wait(wait)
                elif wait < -0.25:
                    clock_start, clock_frames = time.perf_counter(), 0
            self.queue.put(Captured(frame, time.perf_counter(), self.generation))

    def _reconnect(self) -> Source | None:
        self.queue.put(Lost(self.generation))  # the card shows at once, not after the hold
        while not self.stop_event.is_set():
            try:
                return self._open()
            except Exception:
                self.stop_event.wait(self.retry_s)
        return None


class SinkSet:
    """Named sinks the processing worker writes to; add/remove from any thread. A sink that
    fails is closed, removed and reported through `on_error(name, message)`."""

    def __init__(self, on_error: Callable[[str, str], None]):
        self._lock = threading.Lock()
        self._sinks: dict[str, Sink] = {}
        self.on_error = on_error

    def add(self, name: str, sink: Sink) -> None:
        with self._lock:
            old = self._sinks.pop(name, None)
            self._sinks[name] = sink
        if old is not None:
            old.close()

    def remove(self, name: str) -> Sink | None:
        with self._lock:
            sink = self._sinks.pop(name, None)
        if sink is not None:
            sink.close()
        return sink

    def __contains__(self, name: str) -> bool:
        return name in self._sinks

    def get(self, name: str) -> Sink | None:
        return self._sinks.get(name)

    def write(self, image: np.ndarray, name: str | None = None) -> None:
        failed: list[tuple[str, str]] = []
        with self._lock:
            for key, sink in list(self._sinks.items()):
                try:
                    sink.write(image, name)
                except Exception as e:  # a vanished device must not stop the preview
                    failed.append((key, str(e) or type(e).__name__))
                    del self._sinks[key]
                    with contextlib.suppress(Exception):
                        sink.close()
        for key, message in failed:
            self.on_error(key, message)

    def close(self) -> None:
        with self._lock:
            sinks, self._sinks = list(self._sinks.values()), {}
        for sink in sinks:
            sink.close()


class RateMeter:
    """Frames per second and median latency over the last `window_s` seconds."""

    def __init__(self, window_s: float = 2.0):
        self.window_s = window_s
        self._events: deque[tuple[float, float]] = deque()

    def add(self, latency_ms: float, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self._events.append((now, latency_ms))
        while self._events and now - self._events[0][0] > self.window_s:
            self._events.popleft()

    @property
    def fps(self) -> float:
        if len(self._events) < 2:
            return 0.0
        span = self._events[-1][0] - self._events[0][0]
        return (len(self._events) - 1) / span if span > 0 else 0.0

    @property
    def latency_ms(self) -> float:
        return float(np.median([lat for _, lat in self._events])) if self._events else 0.0


@dataclass
class Packet:
    """What the UI paints for one processed frame."""

    output: np.ndarray  # BGR, exactly what the sinks received
    camera: np.ndarray | None  # small BGR camera view with the face box; None when hidden
    fallback: str | None
    fps: float
    latency_ms: float
    provider: str
    frames: int


def camera_preview(frame: Frame, mirror: bool, width: int = PREVIEW_WIDTH) -> np.ndarray:
    """The camera image made small, with the tracked face box and eye/nose/mouth points."""
    h, w = frame.image.shape[:2]
    scale = width / w
    small = cv2.resize(frame.image, (width, max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if frame.face is not None:
        x, y, bw, bh = (v * scale for v in frame.face.box)
        cv2.rectangle(small, (round(x), round(y)), (round(x + bw), round(y + bh)), (80, 220, 120),
                      2, cv2.LINE_AA)
        for px, py in frame.face.keypoints[:4] * scale:
            cv2.circle(small, (round(px), round(py)), 2, (60, 200, 255), -1, cv2.LINE_AA)
    return cv2.flip(small, 1) if mirror else small


class ProcessingWorker(threading.Thread):
    """Takes the newest captured frame, runs the pipeline, writes the sinks, hands the UI a
    `Packet` through `publish`. Frames from an older source (`generation`) are skipped. While
    no frames come and `idle_reason()` names a reason (the camera is lost or failed), that card
    is sent about 10 times a second so the virtual camera never freezes on an old picture."""

    def __init__(self, pipeline: Pipeline, queue: FrameQueue, sinks: SinkSet,
                 publish: Callable[[Packet], None], generation: Callable[[], int],
                 show_camera: Callable[[], bool], idle_reason: Callable[[], str | None]):
        super().__init__(name="processing", daemon=True)
        self.pipeline, self.queue, self.sinks, self.publish = pipeline, queue, sinks, publish
        self.generation, self.show_camera, self.idle_reason = generation, show_camera, idle_reason
        self.stop_event = threading.Event()
        self.meter = RateMeter()
        self.errors = 0

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        while not self.stop_event.is_set():
            item = self.queue.get(timeout=0.1)
            if item is None:
                reason = self.idle_reason()
                if reason:
                    self.step(reason)
            elif getattr(item, "generation", -1) == self.generation():
                self.step(item if isinstance(item, Captured) else "source_lost")

    def step(self, item: Captured | str) -> None:
        """Process one captured frame, or send the card for a reason (e.g. `source_lost`)."""
        p = self.pipeline
        start = time.perf_counter()
        if isinstance(item, Captured):
            frame, start = item.frame, item.t_captured
            p.stats.frames_in += 1
            try:
                p.process(frame)
            except Exception as e:  # a stage fault: count it and show a card, keep running
                self.errors += 1
                p.stats.errors[type(e).__name__] += 1
                frame = p.placeholder("generator_error", frame.index)
        else:
            frame = p.placeholder("paused" if p.paused else item)
        assert frame.output is not None
        s = time.perf_counter()
        self.sinks.write(frame.output, frame.name)
        frame.timings_ms["sink"] = (time.perf_counter() - s) * 1e3
        latency = (time.perf_counter() - start) * 1e3
        p.stats.add(frame, latency)
        self.meter.add(latency)
        show = (self.show_camera() and isinstance(item, Captured) and not p.paused
                and frame.fallback != "generator_error")
        preview = camera_preview(frame, p.compositor.mirror) if show else None
        self.publish(Packet(frame.output, preview, frame.fallback, self.meter.fps,
                            self.meter.latency_ms, p.provider, p.stats.frames_out))
