"""The pipeline: source -> face -> crop -> stylize -> composite -> privacy gate -> sinks.

One object used by the headless CLI, the GUI workers and the benchmark. `process()` handles one
frame; `run()` drives a source into sinks."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import cast

import cv2
import numpy as np

from avatar_cam.align import CropSpec, face_crop_matrix, resized_crop, warp_crop
from avatar_cam.bystanders import Bystanders
from avatar_cam.character.params import Calibration, Calibrator
from avatar_cam.composite import (
    DEFAULT_BACKGROUND,
    Compositor,
    Mode,
    face_outline,
    full_frame_input,
    parse_color,
)
from avatar_cam.face import FaceDetector, FaceTracker
from avatar_cam.frame import Face, Frame
from avatar_cam.landmarks import MeshTracker, to_crop
from avatar_cam.privacy import LiveHold, PrivacyGate, leaks_camera
from avatar_cam.renderers import FrameRenderer, StyleRenderer, make_renderer
from avatar_cam.sinks import Sink
from avatar_cam.sources import Source, SourceLost
from avatar_cam.styles import StyleInfo

IDLE_REASONS = ("no_face", "detector_error")  # face lost: a character idles before the card
# OpenCV's worker pool for the frame-sized calls (decoding, colour conversion, resizing): waking
# it for each sub-millisecond call cost more CPU than it saved (docs/benchmark.md, stop 34)
OPENCV_THREADS = 1


@contextmanager
def timed(frame: Frame, stage: str) -> Iterator[None]:
    """Time one stage of `frame`: wall ms into `timings_ms`, and the CPU ms the whole process
    spent meanwhile (all threads: MediaPipe's and ONNX Runtime's included) into `cpu_ms`."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        frame.timings_ms[stage] = (time.perf_counter() - wall) * 1e3
        frame.cpu_ms[stage] = (time.process_time() - cpu) * 1e3


CALIBRATE_SECONDS = 2.0  # of a steady face a calibration measures
CALIBRATE_SETTLE_S = 1.0  # seconds of face a calibration leaves out (the person turns to the camera)
CALIBRATE_GIVE_UP_S = 10.0  # seconds of stream without a steady face before calibrating stops


@dataclass
class PipelineConfig:
    mode: Mode = Mode.AVATAR
    output_size: tuple[int, int] = (640, 480)
    mirror: bool = False
    background: tuple[int, int, int] = (64, 48, 40)
    background_image: np.ndarray | None = None  # BGR; avatar mode only, resized to the output
    background_custom: bool = False  # chosen by the user: characters draw on it too
    provider: str = "auto"
    threads: int | None = None
    crop: CropSpec = field(default_factory=CropSpec)
    hold_frames: int = 12  # live and video only: frames the last cartoon bridges (stills: 0)
    calibration: Calibration = field(default_factory=Calibration)  # the person's neutral face, gain


class Stats:
    """Counters and timings for a run; `summary()` is what `--stats` writes."""

    def __init__(self, window: int = 2048):
        self.frames_in = 0
        self.frames_out = 0
        self.frames_with_face = 0
        self.stills = 0
        self.files_without_face = 0
        self.names_without_face: list[str] = []  # their file names (folder input), for the summary
        self.fallbacks: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._window = window
        self._latency: list[float] = []
        self._stages: dict[str, list[float]] = {}
        self._t_first: float | None = None
        self._t_last: float | None = None

    def add(self, frame: Frame, latency_ms: float) -> None:
        now = time.perf_counter()
        self._t_first = self._t_first or now
        self._t_last = now
        self.frames_out += 1
        # a face only held from an earlier frame, with no landmarks this frame, is a `no_face`
        # fallback, not a frame with a face (the two counts added up to more than the frames)
        found = frame.face is not None and frame.fallback != "no_face"
        self.frames_with_face += found
        if frame.still:
            self.stills += 1
            self.files_without_face += not found
            if not found and frame.name and len(self.names_without_face) < 1000:
                self.names_without_face.append(frame.name)
        if frame.fallback:
            self.fallbacks[frame.fallback] += 1
        self._push(self._latency, latency_ms)
        for k, v in frame.timings_ms.items():
            self._push(self._stages.setdefault(k, []), v)

    def _push(self, buf: list[float], v: float) -> None:
        buf.append(v)
        if len(buf) > 2 * self._window:  # bounded memory on long runs; keeps the recent window
            del buf[: len(buf) - self._window]

    @property
    def fps(self) -> float:
        if self._t_first is None or self._t_last is None or self.frames_out < 2:
            return 0.0
        return (self.frames_out - 1) / max(1e-9, self._t_last - self._t_first)

    @staticmethod
    def _pct(values: list[float]) -> dict[str, float]:
        if not values:
            return {"p50": 0.0, "p95": 0.0}
        a = np.asarray(values)
        return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}

    def summary(self) -> dict:
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_with_face": self.frames_with_face,
            "stills": self.stills,
            "files_without_face": self.files_without_face,
            "names_without_face": self.names_without_face,
            "frames_fallback": sum(self.fallbacks.values()),
            "fallbacks": dict(self.fallbacks),
            "errors": dict(self.errors),
            "fps": round(self.fps, 2),
            "latency_ms": self._pct(self._latency),
            "stages": {k: self._pct(v) for k, v in self._stages.items()},
        }


PAUSED_CALIBRATION = "calibration needs the camera running: resume (Pause, Ctrl+P), then calibrate"


class Pipeline:
    """Everything between a camera frame and the picture sinks receive."""

    def __init__(self, style: StyleInfo | None, config: PipelineConfig | None = None,
                 detector: FaceDetector | None = None):
        self.config = config or PipelineConfig()
        cv2.setNumThreads(OPENCV_THREADS)  # process-wide: the camera's thread and the sinks' too
        self.tracker = FaceTracker(detector or FaceDetector())
        self.bystanders = Bystanders(self.tracker.detector)  # overlay mode: other faces covered
        self._lock = threading.Lock()
        self.stylizer: StyleRenderer | None = None
        self.mesh_tracker: MeshTracker | None = None  # made for the first style that needs landmarks
        self.style_error: str | None = None
        self.compositor = Compositor(self.config.mode, self.config.output_size,
                                     self.config.background, self.config.background_image,
                                     mirror=self.config.mirror, custom=self.config.background_custom)
        self.gate = PrivacyGate(self.config.output_size)
        self.hold = LiveHold(self.config.hold_frames)
        self.stats = Stats()
        self.paused = False
        self.max_sink_failures = 30
        self._sink_failures: dict[int, int] = {}
        self.sink_error = ""  # the first frame a sink could not take, in words
        self._calibrator: Calibrator | None = None
        self._calibrated: Callable[[Calibration | None, str], None] | None = None
        self._calibrating_since: float | None = None
        self._picture_shape: tuple[int, ...] | None = None  # the last live frame's camera picture
        if style is None:  # the window can open with no usable style and show the 'no style' card
            self.drop_style("no style loaded")
        else:
            self.set_style(style)

    # -- controls (safe to call from another thread while frames flow) -----------------------
    def set_style(self, style: StyleInfo) -> None:
        """Load `style` and switch to it; the old style keeps running until the new one is ready.
        Raises whatever loading raises and keeps the old style then."""
        stylizer = make_renderer(style, self.config.provider, self.config.threads, self.config.calibration)
        if stylizer.needs_landmarks and self.mesh_tracker is None:
            self.mesh_tracker = MeshTracker(self.tracker.detector, config=self.tracker.config,
                                            crop=self.config.crop)
        with self._lock:
            self.stylizer = stylizer
            self.style_error = None
        if self._calibrator is not None and not stylizer.draws_frame:
            self._stop_calibrating("calibration stopped: the style is no longer a drawn character")

    def set_calibration(self, calibration: Calibration) -> None:
        """The person's neutral face and expressiveness, for this and every later style."""
        self.config.calibration = calibration
        stylizer = self.stylizer
        if stylizer is not None and stylizer.draws_frame:
            cast(FrameRenderer, stylizer).calibration = calibration

    def calibrate(self, done: Callable[[Calibration | None, str], None], seconds: float = CALIBRATE_SECONDS,
                  settle: float = CALIBRATE_SETTLE_S) -> None:
        """Learn the neutral face from `seconds` of tracked frames of a drawn character, after the
        first `settle` seconds of them, then use it (keeping the current gain) and call
        `done(calibration, message)`; `done(None, why)` when it cannot (no drawn character). Runs
        on the processing thread's frames."""
        stylizer = self.stylizer
        if stylizer is None or not stylizer.draws_frame:
            done(None, "calibration needs a drawn character style (it maps face measures, which "
                       "generated styles do not use)")
            return
        if self.paused:
            done(None, PAUSED_CALIBRATION)
            return
        self._calibrator = Calibrator(seconds, settle=settle)
        self._calibrated, self._calibrating_since = done, None

    def _give_up_calibrating(self, frame: Frame) -> None:
        """Stop a calibration that got no steady face for `CALIBRATE_GIVE_UP_S` of the stream
        (the person left, or the camera shows no one) and say so, instead of waiting for ever."""
        if self._calibrator is None:
            return
        if frame.still:  # a photo (or a folder of them) never gives 2 s of a face: say so now
            self._stop_calibrating("calibration needs a camera or a video: a photo has no 2 s of your face")
            return
        if self.paused:  # no face is tracked while paused: not the person's doing
            self._stop_calibrating(PAUSED_CALIBRATION)
            return
        if self._calibrating_since is None:
            self._calibrating_since = frame.timestamp
        elif frame.timestamp - self._calibrating_since >= CALIBRATE_GIVE_UP_S:
            self._stop_calibrating(f"calibration stopped: no steady face in {CALIBRATE_GIVE_UP_S:.0f} s; "
                                   "look at the camera and try again")

    def _stop_calibrating(self, why: str) -> None:
        """Give up a pending calibration and say `why`."""
        done, self._calibrator, self._calibrated = self._calibrated, None, None
        if done:
            done(None, why)

    def _calibrate_with(self, frame: Frame, renderer: FrameRenderer) -> None:
        if self._calibrator is None or renderer.last_measures is None or frame.still:
            return
        if self._calibrator.add(renderer.last_measures, frame.timestamp):
            n = len(self._calibrator.samples)
            cal = replace(self.config.calibration, neutral=self._calibrator.result())
            done, self._calibrator, self._calibrated = self._calibrated, None, None
            self.set_calibration(cal)
            if done:
                done(cal, f"calibrated: your neutral face from {n} frames")

    def drop_style(self, reason: str) -> None:
        """Stop stylising (e.g. a style file turned out broken); frames become placeholders."""
        with self._lock:
            self.stylizer = None
            self.style_error = reason

    def set_mode(self, mode: Mode | str) -> None:
        self.compositor.mode = Mode(mode)
        self.bystanders.reset()  # the first overlay frame looks for other faces afresh

    def set_mirror(self, mirror: bool) -> None:
        self.compositor.mirror = mirror

    def set_background(self, color: tuple[int, int, int] | None, image: np.ndarray | None = None) -> None:
        """The user's background colour, or picture (BGR; `color` its mean); None: each style's
        own (a character's, else the default colour)."""
        if color is None:
            self.compositor.set_background(parse_color(DEFAULT_BACKGROUND), custom=False)
        else:
            self.compositor.set_background(color, image)

    @property
    def style(self) -> StyleInfo | None:
        return self.stylizer.style if self.stylizer else None

    @property
    def provider(self) -> str:
        return self.stylizer.provider if self.stylizer else "none"

    # -- one frame -----------------------------------------------------------------------------
    def process(self, frame: Frame) -> Frame:
        """Run every stage on `frame`; `frame.output` is then safe for any sink. A still
        (`frame.still`) is processed on its own: no tracking, smoothing or hold."""
        stylizer = self.stylizer
        mode = self.compositor.mode
        if frame.still and stylizer is not None:
            stylizer.reset()
        if not frame.still:
            self._forget_positions_on_resize(frame.image.shape)
        if self.paused:
            frame.fallback = "paused"
        elif stylizer is None:
            frame.fallback = "no_style"
        elif mode is Mode.FULL and not stylizer.needs_landmarks:  # landmark styles draw as in avatar mode
            self._stylize_full(frame, stylizer)
        else:
            self._stylize_face(frame, stylizer, mode)
        with timed(frame, "gate"):
            self._gate(frame, mode, camera=True, stylizer=stylizer)
        self._give_up_calibrating(frame)
        return frame

    def _forget_positions_on_resize(self, shape: tuple[int, ...]) -> None:
        """A camera that changes resolution makes every remembered position wrong: the tracked
        face (its optical flow reads a picture shrunk to a fixed side, the same picture after a
        switch of the same shape, and kept the face at its old pixels: the cartoon went there,
        off the face), the other faces and the held cartoon's place. Forget them all."""
        if self._picture_shape is not None and shape != self._picture_shape:
            self.tracker.reset()
            if self.mesh_tracker is not None:
                self.mesh_tracker.reset()
            self.bystanders.reset()
            self.hold.reset()
        self._picture_shape = shape

    def _gate(self, frame: Frame, mode: Mode, camera: bool, stylizer: StyleRenderer | None = None) -> None:
        """The per-frame gate; on a live stream a frame that missed its cartoon may then show
        the character idling (a renderer that draws the frame, face lost) or the held cartoon
        instead of the card (`LiveHold`)."""
        self.gate(frame)
        if frame.still:
            return
        if frame.fallback is None:
            self.hold.remember(frame, mode)
            return
        held = self._idle(frame, stylizer, mode) if frame.fallback in IDLE_REASONS else None
        if held is None:  # a held overlay goes onto this frame with the other faces covered
            held = self.hold.recall(frame, self.compositor, camera, lambda: self._others_covered(frame), mode,
                                    self._measured_face(frame, stylizer))
        if held is not None:
            frame.output = held

    def _others_covered(self, frame: Frame) -> np.ndarray | None:
        """The camera image with every face but the tracked one covered (overlay mode sends it);
        None when the detector failed: then no one knows where the others are, and the card shows."""
        with timed(frame, "bystanders"):
            try:
                return self.bystanders.cover(frame.image, frame.face, frame.still)
            except Exception as e:  # a detector fault is a counted fallback, never a crash
                self.stats.errors[f"bystanders:{type(e).__name__}"] += 1
                return None

    def _idle(self, frame: Frame, stylizer: StyleRenderer | None, mode: Mode) -> np.ndarray | None:
        if stylizer is None or not stylizer.draws_frame or mode is Mode.OVERLAY:
            return None
        try:
            picture = cast(FrameRenderer, stylizer).idle_frame(frame.timestamp, self.compositor.size,
                                                               self.compositor.custom_background)
            idle = None if picture is None else self.compositor.drawn(picture)
        except Exception as e:  # an idle fault is counted; the card shows instead
            self.stats.errors[f"idle:{type(e).__name__}"] += 1
            return None
        if idle is None or leaks_camera(idle, frame):
            return None
        return idle

    def _stylize_face(self, frame: Frame, stylizer: StyleRenderer, mode: Mode) -> None:
        if stylizer.needs_landmarks:
            if not self._find_landmarks(frame, stylizer.size):
                return
        elif not self._find_face(frame, stylizer.size):
            return
        if mode is Mode.OVERLAY and not self._covers_face(frame, stylizer):
            frame.fallback = "face_moved"
            return
        if stylizer.draws_frame and mode is not Mode.OVERLAY:
            self._draw_frame(frame, cast(FrameRenderer, stylizer))
            return
        side = None  # a character pasted on the face is drawn at the output's scale
        if mode is Mode.OVERLAY and stylizer.draws_frame:
            side = self.compositor.drawn_side(frame.image.shape, cast(np.ndarray, frame.crop_matrix),
                                              stylizer.size)
        if not self._run_generator(frame, stylizer, side):
            return
        if mode is Mode.OVERLAY:
            camera = self._others_covered(frame)
            if camera is None:
                frame.fallback = "detector_error"
                return
            frame.cover = face_outline(frame, stylizer.size)
            with timed(frame, "composite"):
                frame.output = self.compositor.overlay(frame.cartoon, camera, frame.crop_matrix, frame.cover,
                                                       frame.cartoon_side)
            return
        with timed(frame, "composite"):
            frame.output = self.compositor.avatar(frame.cartoon)

    def _covers_face(self, frame: Frame, stylizer: StyleRenderer) -> bool:
        """Overlay mode: whether the cartoon, pasted where the tracked (smoothed) face is, covers
        the face as measured on this frame, unsmoothed. After a jump (a fast lean, a cut in a
        video, a camera changing resolution) the smoothed box trails by most of the jump for a
        frame or two, and the face itself went out beside the cartoon."""
        face = self._measured_face(frame, stylizer)
        return face is not None and self.compositor.covers(face.box, cast(np.ndarray, frame.crop_matrix),
                                                           stylizer.size)

    def _measured_face(self, frame: Frame, stylizer: StyleRenderer | None) -> Face | None:
        """The face as measured on this very frame, unsmoothed (a still's own face); None when
        none was: a miss the tracker bridges with the last face, which may be anywhere by now
        (a fast lean the detector missed: the cartoon went to the old place and the face out)."""
        if frame.still:
            return frame.face
        tracker = self.mesh_tracker if stylizer is not None and stylizer.needs_landmarks else self.tracker
        return None if tracker is None else tracker.measured

    def _find_face(self, frame: Frame, size: int) -> bool:
        """Track the face (detector and optical flow) and cut the crop a generator reads."""
        with timed(frame, "detect"):
            try:
                frame.face = (self.tracker.still(frame.image) if frame.still
                              else self.tracker.update(frame.image, frame.timestamp))
            except Exception as e:  # a detector fault is a counted fallback, never a crash
                self.stats.errors[f"detector:{type(e).__name__}"] += 1
                frame.fallback = "detector_error"
                return False
        if frame.face is None:
            frame.fallback = "no_face"
            return False
        with timed(frame, "crop"):
            frame.crop_matrix = face_crop_matrix(frame.face, size, self.config.crop)
            crop = warp_crop(frame.image, frame.crop_matrix, size)
            frame.crop = crop[..., ::-1]  # BGR -> RGB view; Stylizer copies into its own buffer
        return True

    def _find_landmarks(self, frame: Frame, size: int) -> bool:
        """Track the face with Face Mesh (`MeshTracker`) for styles drawn from landmarks: the
        face, the crop matrix and the landmarks in crop pixels; no crop pixels are cut (these
        styles never read them). No mesh face is `no_face`."""
        tracker = cast(MeshTracker, self.mesh_tracker)
        with timed(frame, "landmarks"):
            try:
                frame.face = (tracker.still(frame.image) if frame.still
                              else tracker.update(frame.image, frame.timestamp))
            except Exception as e:  # a detector or mesh fault is a counted fallback, never a crash
                self.stats.errors[f"landmarks:{type(e).__name__}"] += 1
                frame.fallback = "detector_error"
                return False
        if frame.face is None or tracker.landmarks is None:  # lost, or the face only held
            frame.fallback = "no_face"
            return False
        with timed(frame, "crop"):
            frame.crop_matrix = face_crop_matrix(frame.face, size, self.config.crop)
            frame.landmarks = to_crop(tracker.landmarks, frame.crop_matrix)
        return True

    def _stylize_full(self, frame: Frame, stylizer: StyleRenderer) -> None:
        with timed(frame, "crop"):
            frame.crop = full_frame_input(frame.image, stylizer.size)
        if self._run_generator(frame, stylizer):
            with timed(frame, "composite"):
                frame.output = self.compositor.full(frame.cartoon)

    def _draw_frame(self, frame: Frame, renderer: FrameRenderer) -> None:
        """A renderer that paints the whole output picture (a character)."""
        with timed(frame, "render"):
            try:
                frame.output = self.compositor.drawn(renderer.render_frame(
                    frame, self.compositor.size, self.compositor.custom_background))
                self._calibrate_with(frame, renderer)
            except Exception as e:  # any renderer fault becomes a counted fallback, never a crash
                self.stats.errors[f"generator:{type(e).__name__}"] += 1
                frame.fallback = "generator_error"

    def _run_generator(self, frame: Frame, stylizer: StyleRenderer, side: int | None = None) -> bool:
        """`frame.cartoon` from `stylizer`; a drawn one for a `side`-pixel crop, when given,
        drawn straight into the box overlay mode pastes it in (`frame.cartoon_side`), with
        `frame.crop_matrix` then mapping to that crop's pixels (the cartoon and its matrix travel
        together into the overlay and the held cartoon)."""
        with timed(frame, "inference"):
            try:
                if side is None:
                    frame.cartoon = stylizer.render(frame)
                else:
                    matrix = resized_crop(cast(np.ndarray, frame.crop_matrix), side / stylizer.size)
                    placed = self.compositor.paste_box(frame.image.shape, matrix, side)
                    onto = None if placed is None else (placed.at, placed.size)
                    frame.cartoon = cast(FrameRenderer, stylizer).render_portrait(frame, side, onto)
                    frame.crop_matrix = matrix
                    frame.cartoon_side = None if placed is None else side
            except Exception as e:  # any generator fault becomes a counted fallback, never a crash
                self.stats.errors[f"generator:{type(e).__name__}"] += 1
                frame.fallback = "generator_error"
                return False
        return True

    def placeholder(self, reason: str, index: int = -1) -> Frame:
        """A frame with no camera image behind it (source lost, stream starting)."""
        w, h = self.config.output_size
        frame = Frame(np.zeros((h, w, 3), np.uint8), index, time.perf_counter(), fallback=reason)
        self._gate(frame, self.compositor.mode, camera=False)
        self._give_up_calibrating(frame)  # no camera: a pending calibration gives up in time
        return frame

    # -- a whole run -----------------------------------------------------------------------------
    def run(
        self,
        source: Source,
        sinks: Sequence[Sink],
        max_frames: int | None = None,
        stop: threading.Event | None = None,
        on_frame: Callable[[Frame], None] | None = None,
        reopen: Callable[[], Source] | None = None,
        retry_s: float = 1.0,
    ) -> Stats:
        """Drive `source` through the pipeline into `sinks` until it ends, `max_frames` outputs
        were written, or `stop` is set. A lost live source is replaced by placeholder frames
        (one per `retry_s`) while `reopen` is tried; without `reopen` the run ends."""
        stop = stop or threading.Event()
        current: Source | None = source
        while not stop.is_set() and (max_frames is None or self.stats.frames_out < max_frames):
            s, cpu = time.perf_counter(), time.process_time()
            if current is None:
                self._emit(self.placeholder("source_lost"), sinks, s, on_frame)
                current = self._try_open(reopen)
                if current is None:
                    stop.wait(retry_s)
                continue
            try:
                frame = current.read()
            except SourceLost:
                current.close()
                if reopen is None:
                    self._emit(self.placeholder("source_lost"), sinks, s, on_frame)
                    break
                current = None
                continue
            if frame is None:
                break
            self.stats.frames_in += 1
            frame.timings_ms["capture"] = (time.perf_counter() - s) * 1e3
            frame.cpu_ms["capture"] = (time.process_time() - cpu) * 1e3
            s = time.perf_counter()
            self.process(frame)
            self._emit(frame, sinks, s, on_frame)
        if current is not None and current is not source:
            current.close()
        return self.stats

    def _emit(self, frame: Frame, sinks: Sequence[Sink], start: float,
              on_frame: Callable[[Frame], None] | None) -> None:
        """Hand the gated output to every sink. A sink that raises is counted and skipped for this
        frame; after `max_sink_failures` failures in a row its error ends the run."""
        with timed(frame, "sink"):
            for sink in sinks:
                try:
                    sink.write(frame.output, frame.name)
                    self._sink_failures[id(sink)] = 0
                except Exception as e:
                    self.stats.errors[f"sink:{type(e).__name__}"] += 1
                    self.sink_error = self.sink_error or str(e)
                    self._sink_failures[id(sink)] = self._sink_failures.get(id(sink), 0) + 1
                    if self._sink_failures[id(sink)] >= self.max_sink_failures:
                        raise
        self.stats.add(frame, (time.perf_counter() - start) * 1e3)
        if on_frame:
            on_frame(frame)

    @staticmethod
    def _try_open(reopen: Callable[[], Source] | None) -> Source | None:
        if reopen is None:
            return None
        try:
            return reopen()
        except Exception:  # the camera is still gone; try again after retry_s
            return None
