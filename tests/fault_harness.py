"""Fault-injection harness around the real pipeline (real clips, MediaPipe, ONNX Runtime).

Injects, at seeded random frames: frames with no face, detector exceptions, generator (or
character renderer) exceptions and NaN outputs (NaN landmarks for a character), style swaps from
another thread, a corrupt style chosen mid-stream, camera disconnects with reconnects, and a
sink that raises. Every output is checked against its camera
frame; the number of camera frames that reached a sink (whole, or the face region unchanged) must
be 0. Also reports RSS growth and latency drift (the soak).

    .venv/bin/python -m tests.fault_harness --frames 10000            # the full fault run
    .venv/bin/python -m tests.fault_harness --frames 50000 --soak     # 50k-frame soak
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import cv2
import numpy as np

from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer
from avatar_cam.mesh_style import MeshStylizer
from avatar_cam.pipeline import Pipeline, PipelineConfig, Stats
from avatar_cam.renderers import FrameRenderer, StyleRenderer
from avatar_cam.sources import SourceLost, VideoSource
from avatar_cam.styles import StyleError, StyleInfo, load_style

FAULTS = ("no_face", "detector_error", "generator_error", "generator_nan", "disconnect", "sink_error")


@dataclass
class FaultPlan:
    """Which faults hit which frame; seeded so a failing run can be replayed."""

    seed: int = 0
    rate: float = 0.02  # per fault kind, per frame
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self.current: set[str] = set()

    def roll(self) -> set[str]:
        """This frame's faults. One rolled for a stage that did not run (no detection on that
        frame, no generator while the face is lost) waits for that stage's next call, so every
        kind is exercised however the frames fall (the detector runs on some frames only)."""
        self.current |= {f for f in FAULTS if self._rng.random() < self.rate}
        return self.current

    def hit(self, fault: str) -> bool:
        if fault in self.current:
            self.injected[fault] += 1
            self.current.discard(fault)
            return True
        return False


class FaultySource:
    """Real clips in a loop; some frames lose the face, some reads lose the camera."""

    live = False
    still = False

    def __init__(self, clips: list[Path], plan: FaultPlan):
        self.clips, self.plan = clips, plan
        self.name = "faulty-clips"
        self.fps = 30.0
        self._i = 0
        self._src = VideoSource(clips[0])
        self._t = 0.0
        self._faceless = 0  # frames left in the current no-face run


    def read(self) -> Frame | None:
        self.plan.roll()
        if self.plan.hit("disconnect"):
            raise SourceLost("injected disconnect")
        frame = self._src.read()
        if frame is None:  # next clip; the tracker sees a scene cut, as after a camera switch
            self._src.close()
            self._i = (self._i + 1) % len(self.clips)
            self._src = VideoSource(self.clips[self._i])
            frame = self._src.read()
        self._t += 1 / 30
        frame.timestamp = self._t
        if self.plan.hit("no_face"):  # a run of frames long enough to outlast the tracker's hold
            self._faceless = 8
        if self._faceless:
            self._faceless -= 1
            frame.image = cv2.GaussianBlur(frame.image, (0, 0), 25)[::-1].copy()
        return frame

    def close(self) -> None:  # the pipeline closes a lost source; reopen() hands this one back
        pass


class FaultyStylizer:
    """The real renderer, with injected exceptions and NaN outputs: an ONNX generator writes NaN
    into its output buffer; a character gets NaN landmarks (what a broken tracker hands on)."""

    def __init__(self, real: StyleRenderer, plan: FaultPlan):
        self.real, self.plan = real, plan
        self.style, self.size, self.provider = real.style, real.size, real.provider
        self.needs_landmarks, self.style_code = real.needs_landmarks, real.style_code
        self.draws_frame = real.draws_frame

    def reset(self) -> None:
        self.real.reset()

    def _character_faults(self, frame: Frame) -> None:
        """A drawn character's injected faults, whichever picture it is asked for (the whole
        frame, or its head for overlay mode and the crop): an exception, or NaN landmarks."""
        if self.plan.hit("generator_error"):
            raise RuntimeError("injected renderer fault")
        if self.plan.hit("generator_nan") and frame.landmarks is not None:
            frame.landmarks = np.full_like(frame.landmarks, np.nan)

    def render_frame(self, frame: Frame, size: tuple[int, int],
                     background: np.ndarray | None = None) -> np.ndarray:
        self._character_faults(frame)
        return cast(FrameRenderer, self.real).render_frame(frame, size, background)

    def idle_frame(self, t: float, size: tuple[int, int],
                   background: np.ndarray | None = None) -> np.ndarray | None:
        return cast(FrameRenderer, self.real).idle_frame(t, size, background)

    def render_portrait(self, frame: Frame, n: int,
                        onto: tuple[np.ndarray, tuple[int, int]] | None = None) -> np.ndarray:
        """A character in overlay mode: its head drawn at the output's scale."""
        self._character_faults(frame)
        return cast(FrameRenderer, self.real).render_portrait(frame, n, onto)

    def render(self, frame: Frame) -> np.ndarray:
        if self.real.draws_frame:  # a character's head for the crop
            self._character_faults(frame)
            return self.real.render(frame)
        # the ONNX generator: the style's own, or the one a mesh style runs on its drawing
        real = cast(Stylizer, self.real.stylizer if isinstance(self.real, MeshStylizer) else self.real)
        if self.plan.hit("generator_error"):
            raise RuntimeError("injected generator fault")
        if self.plan.hit("generator_nan"):
            saved = real.session.run_with_iobinding

            def nan_run(*a: object, **k: object) -> None:
                saved(*a, **k)
                real._output.fill(np.nan)  # what a broken model writes into the bound buffer

            real.session.run_with_iobinding = nan_run
            try:
                return self.real.render(frame)
            finally:
                real.session.run_with_iobinding = saved
        return self.real.render(frame)


class FlakySink:
    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self.frames = 0

    def write(self, image: np.ndarray, name: str | None = None) -> None:
        if self.plan.hit("sink_error"):
            raise OSError("injected sink failure")
        self.frames += 1

    def close(self) -> None:
        pass


def reached_sink_raw(camera: np.ndarray, output: np.ndarray, face_box: tuple | None) -> bool:
    """Is `output` the camera frame: whole (any size, mirrored or not: 98% of pixels within 3
    levels), or unchanged in the face region (box scaled to the output, mirrored or not)?"""
    if np.shares_memory(camera, output):
        return True
    h, w = output.shape[:2]
    cam = camera if camera.shape == output.shape else cv2.resize(camera, (w, h))
    for c in (cam, cam[:, ::-1]):
        if (np.abs(c.astype(np.int16) - output).max(axis=2) < 3).mean() > 0.98:
            return True
    if face_box is None:
        return False
    sx, sy = w / camera.shape[1], h / camera.shape[0]
    x, y, bw, bh = face_box
    x0, y0 = max(int(x * sx), 0), max(int(y * sy), 0)
    x1, y1 = min(int((x + bw) * sx), w), min(int((y + bh) * sy), h)
    if x1 <= x0 or y1 <= y0:
        return False
    for c, (a, b) in ((cam, (x0, x1)), (cam[:, ::-1], (w - x1, w - x0))):
        if np.abs(c[y0:y1, a:b].astype(np.int16) - output[y0:y1, a:b]).mean() < 3.0:
            return True
    return False


def run_harness(clips: list[Path], styles: list[StyleInfo], corrupt: Path, frames: int,
                mode: str = "avatar", seed: int = 0, rate: float = 0.02,
                swap_every_s: float = 0.25) -> dict:
    plan = FaultPlan(seed=seed, rate=rate)
    pipe = Pipeline(styles[0], PipelineConfig(mode=mode, output_size=(320, 240), hold_frames=6))
    pipe.stats = Stats(window=512)
    pipe.stylizer = FaultyStylizer(pipe.stylizer, plan)
    real_set_style = pipe.set_style

    def set_style(style: StyleInfo) -> None:
        real_set_style(style)
        pipe.stylizer = FaultyStylizer(pipe.stylizer, plan)

    pipe.set_style = set_style  # type: ignore[method-assign]
    detect = pipe.tracker.detector.detect

    def faulty_detect(image: np.ndarray):  # type: ignore[no-untyped-def]
        if plan.hit("detector_error"):
            raise RuntimeError("injected detector fault")
        return detect(image)

    pipe.tracker.detector.detect = faulty_detect  # type: ignore[method-assign]
    others_covered = pipe._others_covered

    def covered(frame: Frame) -> np.ndarray | None:
        # overlay mode looks for other faces with the same detector, also to send a held cartoon
        # on a frame that has already fallen back (no face, a generator fault): a detector fault
        # there shows the card under the frame's own reason, not as a detector_error fallback
        out = others_covered(frame)
        if out is None and frame.fallback is not None:
            counts["detector_faults_on_fallen_back_frames"] += 1
        return out

    pipe._others_covered = covered  # type: ignore[method-assign]

    counts: Counter[str] = Counter()
    leaks: list[int] = []
    latencies: list[float] = []
    rss_start = [0.0]
    stop = threading.Event()

    def swapper() -> None:
        k = 0
        while not stop.wait(swap_every_s):
            k += 1
            try:
                if k % 5 == 0:  # a user picks a corrupt file mid-stream: refused, old style stays
                    pipe.set_style(load_style(corrupt))
                else:
                    pipe.set_style(styles[k % len(styles)])
                counts["style_swaps"] += 1
            except StyleError:
                counts["corrupt_style_refused"] += 1

    def check(frame: Frame) -> None:
        counts["frames_checked"] += 1
        if frame.image is not None and frame.output is not None and frame.index >= 0:
            box = frame.face.box if frame.face is not None else None
            if reached_sink_raw(frame.image, frame.output, box):
                leaks.append(frame.index)
        latencies.append(sum(frame.timings_ms.values()))
        if counts["frames_checked"] == 200:
            rss_start[0] = _rss_mb()

    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    source = FaultySource(clips, plan)
    start = time.perf_counter()
    pipe.run(source, [FlakySink(plan)], max_frames=frames, on_frame=check,
             reopen=lambda: source, retry_s=0.0)
    wall = time.perf_counter() - start
    stop.set()
    t.join()
    tenth = max(1, len(latencies) // 10)
    return {
        "frames": counts["frames_checked"],
        "camera_frames_reaching_sink": len(leaks),
        "leak_frame_indexes": leaks[:20],
        "injected": dict(plan.injected),
        "fallbacks": dict(pipe.gate.counts),
        "errors": dict(pipe.stats.errors),
        "detector_faults_on_fallen_back_frames": counts["detector_faults_on_fallen_back_frames"],
        "style_swaps": counts["style_swaps"],
        "corrupt_style_refused": counts["corrupt_style_refused"],
        "fps": round(counts["frames_checked"] / wall, 1),
        "latency_ms_p50_first_tenth": round(float(np.median(latencies[:tenth])), 2),
        "latency_ms_p50_last_tenth": round(float(np.median(latencies[-tenth:])), 2),
        "rss_mb_after_warmup": round(rss_start[0], 1),
        "rss_mb_end": round(_rss_mb(), 1),
    }


def _rss_mb() -> float:
    """Current resident set size (not the peak), from /proc when available."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def default_clips() -> list[Path]:
    from avatar_cam.demo import ensure_demo_clip

    media = Path(__file__).resolve().parents[2] / "shared" / "media"
    clips = sorted(media.glob("*.mp4"))
    return clips or [ensure_demo_clip()]


def main(argv: list[str] | None = None) -> int:
    from export.placeholder import write_placeholder_style

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--mode", default="avatar", choices=["avatar", "overlay", "full"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rate", type=float, default=0.02, help="per-frame probability of each fault")
    p.add_argument("--soak", action="store_true", help="no faults: measure RSS growth and drift only")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    import tempfile

    from avatar_cam.styles import StyleCatalog

    with tempfile.TemporaryDirectory() as tmp:
        styles = StyleCatalog().styles
        styles.append(load_style(write_placeholder_style(Path(tmp) / "second.onnx", block=32,
                                                         metadata={"name": "harness-second"})))
        corrupt = Path(tmp) / "corrupt.onnx"
        corrupt.write_bytes(styles[0].path.read_bytes()[:300])
        result = run_harness(default_clips(), styles, corrupt, args.frames, args.mode, args.seed,
                             0.0 if args.soak else args.rate)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["camera_frames_reaching_sink"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
