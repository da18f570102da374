"""The engine: one `Pipeline`, its capture/processing threads, the virtual camera and the jobs
(style loads, virtual camera open/close) that must never block the UI or stop the stream."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from avatar_cam.character.model import Character
from avatar_cam.character.params import Calibration
from avatar_cam.character.renderer import CharacterRenderer
from avatar_cam.composite import Mode
from avatar_cam.gui.workers import (
    CaptureWorker,
    FrameQueue,
    Packet,
    ProcessingWorker,
    SinkSet,
    SourceFactory,
    open_gui_source,
)
from avatar_cam.pipeline import Pipeline
from avatar_cam.sinks import Sink, VcamUnavailable, VirtualCameraSink
from avatar_cam.styles import StyleError, StyleInfo, first_line, load_style

VcamFactory = Callable[[tuple[int, int], float], Sink]


class Engine(QObject):
    """Runs the pipeline on its own threads and tells the UI what happened through signals.

    All public methods are meant for the UI thread and return at once; the slow parts (opening a
    camera, loading a style, opening the virtual camera) happen on worker threads."""

    frame_ready = Signal()  # a new `Packet` waits in `take_packet()`
    source_state = Signal(str, str)  # running | lost | failed | ended, message
    style_changed = Signal(object)  # StyleInfo now in use
    style_failed = Signal(str)  # why; the previous style keeps running
    vcam_state = Signal(bool, str)  # on?, device or the reason it could not open
    message = Signal(str)  # a line for the status bar
    calibrated = Signal(bool, str)  # done?, what happened

    def __init__(self, pipeline: Pipeline, spec: str, camera_size: tuple[int, int] = (640, 480),
                 fps: float = 30.0, source_factory: SourceFactory = open_gui_source,
                 vcam_factory: VcamFactory | None = None, retry_s: float = 1.0):
        super().__init__()
        self.pipeline = pipeline
        self.spec = spec
        self.camera_size = camera_size
        self.fps = fps
        self.source_factory = source_factory
        self.vcam_factory: VcamFactory = vcam_factory or (lambda size, rate: VirtualCameraSink(size, rate))
        self.retry_s = retry_s
        self.show_camera = True
        self.state = "starting"
        self.state_message = ""
        self.queue = FrameQueue(1)
        self.sinks = SinkSet(self._sink_failed)
        self._generation = 0
        self._capture: CaptureWorker | None = None
        self._old_captures: list[CaptureWorker] = []
        self._packet: Packet | None = None
        self._packet_lock = threading.Lock()
        self._jobs = ThreadPoolExecutor(1, thread_name_prefix="avatar-jobs")
        self._wanted_style: str | None = None
        self._processing = ProcessingWorker(pipeline, self.queue, self.sinks, self._publish,
                                            lambda: self._generation, lambda: self.show_camera,
                                            self._idle_reason)
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start processing and open the source given at construction."""
        if not self._processing.is_alive():
            self._processing.start()
        self.set_source(self.spec, self.camera_size)

    def stop(self, timeout: float = 3.0) -> None:
        """Stop every thread, release the camera and the virtual camera. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        workers = [w for w in [self._capture, *self._old_captures] if w is not None]
        for w in workers:
            w.stop()
        self._processing.stop()
        for w in workers:
            if w.is_alive():
                w.join(timeout)
        if self._processing.is_alive():
            self._processing.join(timeout)
        self._jobs.shutdown(wait=True, cancel_futures=True)
        self.sinks.close()

    @property
    def running(self) -> bool:
        return not self._stopped

    # -- source ---------------------------------------------------------------------------------
    def set_source(self, spec: str, camera_size: tuple[int, int] | None = None) -> None:
        """Switch to another camera or file. The old capture thread is told to stop and finishes
        on its own (a camera can take a moment to let go); its frames are ignored from now."""
        if self._stopped:
            return
        self.spec = spec
        self.camera_size = camera_size or self.camera_size
        self._generation += 1
        self.queue.clear()
        if self._capture is not None:
            self._capture.stop()
            self._old_captures = [w for w in self._old_captures if w.is_alive()] + [self._capture]
        self.state, self.state_message = "opening", spec
        self._capture = CaptureWorker(spec, self.camera_size, self.queue, self._on_capture_state,
                                      self._generation, self.source_factory, self.retry_s)
        self._capture.start()

    def _on_capture_state(self, state: str, message: str) -> None:
        if self._stopped or threading.current_thread() is not self._capture:
            return  # an old capture thread winding down, or the window is gone
        self.state, self.state_message = state, message
        self.source_state.emit(state, message)

    def _idle_reason(self) -> str | None:
        return "source_lost" if self.state in ("lost", "failed") else None

    # -- frames ---------------------------------------------------------------------------------
    def _publish(self, packet: Packet) -> None:
        with self._packet_lock:
            pending = self._packet is not None
            self._packet = packet
        if not pending and not self._stopped:
            self.frame_ready.emit()  # at most one queued signal: the UI never lags behind

    def take_packet(self) -> Packet | None:
        """The newest processed frame (None when already taken)."""
        with self._packet_lock:
            packet, self._packet = self._packet, None
        return packet

    # -- controls -------------------------------------------------------------------------------
    def set_paused(self, paused: bool) -> None:
        self.pipeline.paused = paused

    @property
    def paused(self) -> bool:
        return self.pipeline.paused

    def set_mode(self, mode: Mode | str) -> None:
        self.pipeline.set_mode(mode)

    def set_mirror(self, mirror: bool) -> None:
        self.pipeline.set_mirror(mirror)

    def set_background(self, bgr: tuple[int, int, int] | None, picture: np.ndarray | None = None) -> None:
        self.pipeline.set_background(bgr, picture)

    def calibrate(self) -> None:
        """Learn the person's neutral face from 2 s of frames after a settling second
        (`calibrated` says how it went; the window saves it)."""
        self.pipeline.calibrate(lambda cal, message: self.calibrated.emit(cal is not None, message))

    def set_expressiveness(self, gain: float) -> Calibration:
        """Scale how strongly the character shows expressions; returns the calibration in use."""
        cal = self.pipeline.config.calibration.with_gain(gain)
        self.pipeline.set_calibration(cal)
        return cal

    def set_style(self, path: str | Path) -> Future[StyleInfo | None]:
        """Load and check a style file on a worker, then switch; the stream keeps running with
        the old style meanwhile and keeps it when the new file is broken (`style_failed`)."""
        self._wanted_style = str(path)
        return self._jobs.submit(self._load_style, str(path))

    def _load_style(self, path: str) -> StyleInfo | None:
        if path != self._wanted_style:
            return None  # superseded by a later pick (e.g. the next-style key held down)
        try:
            info = load_style(path, probe=True)
            self.pipeline.set_style(info)
        except StyleError as e:
            self.style_failed.emit(str(e))
            return None
        except Exception as e:  # ORT / provider trouble while opening the session
            self.style_failed.emit(f"{path}: {first_line(e, 10_000)}")
            return None
        self.style_changed.emit(info)
        return info

    def preview_character(self, character: Character, path: str | Path) -> Future[bool]:
        """Show `character` live (the creator's draft): the running character renderer draws it
        from the next frame; when another kind of style runs, the character file at `path` is
        loaded first (its renderer then draws `character`)."""
        return self._jobs.submit(self._preview_character, character, str(path))

    def _preview_character(self, character: Character, path: str) -> bool:
        renderer = self.pipeline.stylizer
        if not isinstance(renderer, CharacterRenderer):
            self._wanted_style = path
            if self._load_style(path) is None:
                return False
            renderer = self.pipeline.stylizer
        if not isinstance(renderer, CharacterRenderer):
            return False
        renderer.set_character(character)
        return True

    # -- virtual camera -------------------------------------------------------------------------
    @property
    def vcam_on(self) -> bool:
        return "vcam" in self.sinks

    @property
    def vcam_device(self) -> str | None:
        """The device the virtual camera writes to (e.g. /dev/video2), when on."""
        sink = self.sinks.get("vcam")
        device = getattr(sink, "device", None) if sink is not None else None
        return str(device) if device else None

    def set_vcam(self, on: bool) -> Future[bool]:
        """Open or close the virtual camera on a worker; `vcam_state` says how it went."""
        return self._jobs.submit(self._set_vcam, on)

    def _set_vcam(self, on: bool) -> bool:
        if not on:
            self.sinks.remove("vcam")
            self.vcam_state.emit(False, "off")
            return False
        if self.vcam_on:
            return True
        try:
            sink = self.vcam_factory(self.pipeline.config.output_size, self.fps)
        except VcamUnavailable as e:  # what to do first, the libraries' own reasons last
            self.vcam_state.emit(False, f"No virtual camera is set up on this computer yet.\n{e.setup}\n"
                                        f"{e.reasons}")
            return False
        except Exception as e:
            self.vcam_state.emit(False, str(e).strip() or type(e).__name__)
            return False
        self.sinks.add("vcam", sink)
        device = getattr(sink, "device", "virtual camera")
        backend = getattr(sink, "backend", "")
        self.vcam_state.emit(True, f"{device} ({backend})" if backend else str(device))
        return True

    def _sink_failed(self, name: str, message: str) -> None:
        if name == "vcam":
            self.vcam_state.emit(False, f"virtual camera stopped: {message}")
        else:
            self.message.emit(f"output {name} stopped: {message}")
