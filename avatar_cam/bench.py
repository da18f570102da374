"""`avatar-bench`: the real pipeline on a real clip, timed per stage (wall and CPU); or each
generator alone.

Numbers are medians/percentiles over warm frames, never a single timing. CPU time is the whole
process's (all threads: MediaPipe's, ONNX Runtime's, the camera's), start-up and warm-up frames
excluded: what the app takes from a meeting app running beside it, robust to other load where
wall-clock latency is not."""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import platformdirs

from avatar_cam.align import face_crop_matrix
from avatar_cam.character.renderer import CharacterRenderer
from avatar_cam.composite import Mode
from avatar_cam.demo import default_input, draw_demo_face
from avatar_cam.face import FaceDetector, quiet_native_stderr
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer, default_threads
from avatar_cam.landmarks import MeshTracker, to_crop
from avatar_cam.options import OneLineParser, parse_fps, parse_size
from avatar_cam.pipeline import Pipeline, PipelineConfig, Stats
from avatar_cam.sinks import NullSink, try_writing
from avatar_cam.sources import CameraSource, Source, SourceError, VideoSource, open_source
from avatar_cam.styles import APP_NAME, CHARACTER_KIND, StyleCatalog, StyleError, StyleInfo, load_style

STAGES = ("capture", "detect", "crop", "landmarks", "inference", "render", "bystanders", "composite", "gate",
          "sink")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) if values else np.zeros(1)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


class PacedClip:
    """A looped clip delivered like a webcam (`sources.Capture`): each `read()` sleeps until the
    next frame is due at `fps`, then decodes it. `cpu_s`: the CPU its decoding took."""

    def __init__(self, path: Path, fps: float):
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            raise ValueError(f"{path}: cannot open as a video")
        self.fps = fps
        self.delivered = 0
        self.cpu_s = 0.0
        self._due: float | None = None

    def read(self) -> tuple[bool, np.ndarray | None]:
        now = time.perf_counter()
        self._due = now if self._due is None else max(self._due, now - 1 / self.fps)
        if self._due > now:
            time.sleep(self._due - now)
        self._due += 1 / self.fps
        cpu = time.thread_time()
        ok, img = self._cap.read()
        if not ok:  # loop
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self._cap.read()
        self.cpu_s += time.thread_time() - cpu
        self.delivered += ok
        return ok, img

    def get(self, prop: int) -> float:
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self._cap.release()


class _Recorder:
    """Keeps every timed frame's stage timings (the pipeline's own stats keep a bounded window)
    and the process CPU time over the timed frames. With a `camera` (a paced clip) latency counts
    from the frame's capture timestamp, and the camera's frames and decoding CPU over the window
    are kept; else latency is the sum of the stages (a file's timestamps are its frame times)."""

    def __init__(self, warmup: int, camera: PacedClip | None = None):
        self.warmup, self.camera = warmup, camera
        self.seen = 0
        self.stages: dict[str, list[float]] = {s: [] for s in STAGES}
        self.cpu: dict[str, list[float]] = {s: [] for s in STAGES}
        self.latency: list[float] = []
        self.wall = self.cpu_s = 0.0
        self.delivered = 0  # camera frames delivered during the window
        self.camera_cpu_s = 0.0
        self._t0 = self._c0 = self._camera_cpu0 = 0.0
        self._delivered0 = 0
        if warmup == 0:
            self._start()

    def _start(self) -> None:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        if self.camera is not None:
            self._delivered0, self._camera_cpu0 = self.camera.delivered, self.camera.cpu_s

    def __call__(self, frame: Frame) -> None:
        now = time.perf_counter()
        self.seen += 1
        if self.seen == self.warmup:  # the timed window starts after the last warm-up frame
            self._start()
        if self.seen <= self.warmup:
            return
        t = frame.timings_ms
        for s in STAGES:
            if s in t:
                self.stages[s].append(t[s])
                self.cpu[s].append(frame.cpu_ms.get(s, 0.0))
        self.latency.append((now - frame.timestamp) * 1e3 if self.camera is not None
                            else sum(t.get(s, 0.0) for s in STAGES))
        self.wall, self.cpu_s = now - self._t0, time.process_time() - self._c0
        if self.camera is not None:
            self.delivered = self.camera.delivered - self._delivered0
            self.camera_cpu_s = self.camera.cpu_s - self._camera_cpu0


def _cpu_pct(values: list[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 3), "p95": round(float(np.percentile(values, 95)), 3)}


def bench_pipeline(args: argparse.Namespace) -> dict:
    style = StyleCatalog().resolve(args.style)
    spec = default_input(args.input or "demo")  # the demo clip by default and by name, as avatar-cam
    with quiet_native_stderr():  # FFmpeg's own line about a file that is not a video
        probe = open_source(spec, loop=True)
    if not isinstance(probe, VideoSource):
        probe.close()
        raise ValueError(f"--input {spec}: must be a video file (it is looped)")
    config = PipelineConfig(mode=Mode(args.mode), output_size=args.size, threads=args.threads)
    pipe = Pipeline(style, config)
    pipe.stats = Stats(window=64)
    clip: PacedClip | None = None
    source: Source = probe
    if args.pace:  # a camera thread delivering the clip at the pace, newest frame only
        probe.close()
        clip = PacedClip(Path(spec), args.pace)
        source = CameraSource(0, capture=clip)
    rec = _Recorder(args.warmup, clip)
    pipe.run(source, [NullSink()], max_frames=args.frames + args.warmup, on_frame=rec)
    source.close()
    n = len(rec.latency)
    tenth = max(1, n // 10)
    result = {
        "input": spec,
        "style": style.name,
        "mode": args.mode,
        "frames": n,
        "input_size": list(_frame_size(spec)),
        "output_size": list(args.size),
        "pace_fps": args.pace,
        "fps": round(n / rec.wall, 2) if rec.wall else 0.0,
        "cpu_ms_per_frame": round(rec.cpu_s / n * 1e3, 3) if n else 0.0,
        "cpu_share": round(rec.cpu_s / rec.wall, 3) if rec.wall else 0.0,
        "latency_ms": _pct(rec.latency),
        "latency_drift_ms": round(statistics.median(rec.latency[-tenth:])
                                  - statistics.median(rec.latency[:tenth]), 3) if n >= 20 else None,
        "stages": {s: _pct(v) for s, v in rec.stages.items() if v},
        "cpu_stages": {s: _cpu_pct(v) for s, v in rec.cpu.items() if v},
        "fallbacks": dict(pipe.gate.counts),
        "rss_mb_peak": round(peak_rss_mb(), 1),
        "provider": pipe.provider,
        "threads": args.threads or default_threads(),
        "load_average": round(os.getloadavg()[0], 2),
    }
    if clip is not None:
        result["frames_dropped"] = max(0, rec.delivered - n)
        result["camera_cpu_ms_per_frame"] = round(rec.camera_cpu_s / max(1, rec.delivered) * 1e3, 3)
    return result


def _frame_size(spec: str) -> tuple[int, int]:
    src = VideoSource(Path(spec))
    frame = src.read()
    src.close()
    h, w = frame.image.shape[:2] if frame else (0, 0)
    return w, h


def demo_face_frame(size: int) -> Frame:
    """A demo-face frame with its face, crop matrix and crop landmarks, as the pipeline makes them."""
    image = draw_demo_face(0.5)
    tracker = MeshTracker(FaceDetector())
    frame = Frame(image, 0, 0.0, face=tracker.still(image))
    if frame.face is None or tracker.landmarks is None:
        raise ValueError("Face Mesh found no face in the demo frame")
    frame.crop_matrix = face_crop_matrix(frame.face, size)
    frame.landmarks = to_crop(tracker.landmarks, frame.crop_matrix)
    tracker.detector.close()
    tracker.close()
    return frame


def time_character(info: StyleInfo, runs: int, warmup: int, size: tuple[int, int]) -> dict:
    """The character renderer alone (parameters, smoothing, drawing the whole picture at `size`)
    on the demo face's landmarks, turning a little each frame so nothing is cached. Wall time and
    the thread's CPU time (what other processes on a busy machine do not inflate as much)."""
    renderer = CharacterRenderer(info)
    frame = demo_face_frame(renderer.size)
    wall, cpu = [], []
    for i in range(warmup + runs):
        frame.timestamp = i / 30  # the smoother sees a 30 fps stream
        frame.landmarks = frame.landmarks + np.float32(0.2 * np.sin(i))
        s, c = time.perf_counter(), time.thread_time()
        renderer.render_frame(frame, size)
        if i >= warmup:
            wall.append((time.perf_counter() - s) * 1e3)
            cpu.append((time.thread_time() - c) * 1e3)
    return {"name": info.name, "path": str(info.path), "size": f"{size[0]}x{size[1]}", "kind": info.kind,
            "ms_p50": round(statistics.median(wall), 3), "ms_p95": round(float(np.percentile(wall, 95)), 3),
            "cpu_ms_p50": round(statistics.median(cpu), 3),
            "cpu_ms_p95": round(float(np.percentile(cpu, 95)), 3),
            "macs": None, "provider": renderer.provider}


def time_generator(path: Path, runs: int, warmup: int, threads: int | None,
                   size: tuple[int, int] = (1280, 720)) -> dict:
    info = load_style(path, probe=False)
    if info.kind == CHARACTER_KIND:
        return time_character(info, runs, warmup, size)
    st = Stylizer(info, threads=threads)
    x = np.random.default_rng(0).integers(0, 255, (info.size, info.size, 3), np.uint8)
    for _ in range(warmup):
        st(x)
    times = []
    for _ in range(runs):
        s = time.perf_counter()
        st(x)
        times.append((time.perf_counter() - s) * 1e3)
    gmac_256 = info.metadata.get("gmac_256")  # written by avatar-export; scales with pixels
    macs = float(gmac_256) * 1e9 * (info.size / 256) ** 2 if gmac_256 else None
    return {"name": info.name, "path": str(path), "size": info.size, "kind": info.kind,
            "ms_p50": round(statistics.median(times), 3),
            "ms_p95": round(float(np.percentile(times, 95)), 3),
            "macs": int(macs) if macs else None, "provider": st.provider}


def baseline_resnet9(size: int) -> Path | None:
    """A ResNet-9 CycleGAN generator export (untrained weights: speed only), made once with
    `avatar-export --random-init` in a subprocess (the app process never imports torch)."""
    path = Path(platformdirs.user_cache_dir(APP_NAME)) / f"bench-resnet9-untrained-{size}.onnx"
    if path.is_file():
        return path
    if importlib.util.find_spec("torch") is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "export.cli", "--onnx", "--random-init", "--generator", "resnet9",
           "--size", str(size), "--out", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not path.is_file():
        print(f"avatar-bench: could not build the ResNet-9 baseline: {done.stderr.strip()[-300:]}",
              file=sys.stderr)
        return None
    return path


def bench_generators(args: argparse.Namespace) -> dict:
    paths = [Path(p) for p in args.styles] if args.styles else [s.path for s in StyleCatalog().styles]
    base = Path(args.baseline) if args.baseline else baseline_resnet9(256)
    rows = [time_generator(p, args.runs, args.warmup_runs, args.threads, args.size) for p in paths]
    ref = time_generator(base, max(5, args.runs // 10), 2, args.threads) if base else None
    for r in rows:
        r["speedup_vs_resnet9"] = round(ref["ms_p50"] / r["ms_p50"], 1) if ref else None
    if ref:
        ref["speedup_vs_resnet9"] = 1.0
        rows.append(ref)
    return {"generators": rows, "baseline": str(base) if base else None,
            "provider": next((r["provider"] for r in rows if r["kind"] != CHARACTER_KIND), "none"),
            "rss_mb_peak": round(peak_rss_mb(), 1)}


def _count(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `low`."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if n < low:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least {low}")
        return n
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="avatar-bench", description=__doc__)
    p.add_argument("--input", help="video file, looped (default or 'demo': the generated demo clip)")
    p.add_argument("--frames", type=_count(1), default=300, help="timed frames (after warm-up; default 300)")
    p.add_argument("--warmup", type=_count(0), default=30, help="untimed frames first (default 30)")
    p.add_argument("--pace", type=parse_fps, metavar="FPS",
                   help="feed the clip like a camera at FPS (sleeping between frames) and report the "
                        "CPU share of one core at that rate and camera-to-sink latency")
    p.add_argument("--style", help="style name or file (default: the built-in default)")
    p.add_argument("--mode", choices=[m.value for m in Mode], default="avatar",
                   help="the app's output mode (default avatar)")
    p.add_argument("--size", type=parse_size, default=(1280, 720),
                   help="output size (default 1280x720; --generator-only: the size characters draw at)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    p.add_argument("--generator-only", action="store_true",
                   help="time each style alone (generators, character renderers), and a ResNet-9 CycleGAN "
                        "export for reference")
    p.add_argument("--styles", nargs="*", help="style files for --generator-only (default: all)")
    p.add_argument("--baseline", help="ResNet-9 export to compare against (default: built once)")
    p.add_argument("--runs", type=_count(1), default=100, help="timed runs per generator (default 100)")
    p.add_argument("--warmup-runs", type=_count(0), default=10,
                   help="untimed runs per generator first (default 10)")
    p.add_argument("--json", type=Path, help="write the results as JSON")
    return p


def _print_pipeline(r: dict) -> None:
    pace = f", fed at {r['pace_fps']:g} fps" if r["pace_fps"] else ", full speed"
    print(f"pipeline: {r['frames']} frames of {r['input']} ({r['input_size'][0]}x{r['input_size'][1]}{pace})"
          f" -> {r['output_size'][0]}x{r['output_size'][1]} {r['mode']}, style {r['style']}, "
          f"provider {r['provider']}, threads {r['threads']}")
    print(f"{'stage':<10} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>8} {'CPU p95':>8}")
    for s, v in r["stages"].items():
        c = r["cpu_stages"][s]
        print(f"{s:<10} {v['p50']:>8.2f} {v['p95']:>8.2f} {c['mean']:>8.2f} {c['p95']:>8.2f}")
    latency = "latency (camera to sink)" if r["pace_fps"] else "latency"
    print(f"{latency}: p50 {r['latency_ms']['p50']:.2f} ms, p95 {r['latency_ms']['p95']:.2f} ms; "
          f"drift first->last tenth {r['latency_drift_ms']} ms")
    print(f"CPU {r['cpu_ms_per_frame']:.2f} ms a frame (whole process, all threads) | "
          f"{r['cpu_share']:.1%} of one core at {r['fps']:.1f} fps")
    if r["pace_fps"]:
        print(f"camera thread: decoding {r['camera_cpu_ms_per_frame']:.2f} ms a frame | "
              f"frames dropped {r['frames_dropped']}")
    print(f"peak RSS {r['rss_mb_peak']} MB | fallbacks {r['fallbacks'] or 'none'} | load average "
          f"{r['load_average']:.1f} on {os.cpu_count()} CPUs")


def _print_generators(r: dict) -> None:
    print(f"{'generator':<30} {'size':>9} {'p50 ms':>9} {'p95 ms':>9} {'GMAC':>7} {'vs ResNet-9':>12}")
    for g in r["generators"]:
        gmac = f"{g['macs'] / 1e9:.2f}" if g["macs"] else "-"
        sp = f"{g['speedup_vs_resnet9']}x" if g["speedup_vs_resnet9"] else "-"
        print(f"{g['name'][:30]:<30} {g['size']:>9} {g['ms_p50']:>9.2f} {g['ms_p95']:>9.2f} "
              f"{gmac:>7} {sp:>12}")
    for g in r["generators"]:
        if "cpu_ms_p95" in g:
            print(f"{g['name']}: CPU {g['cpu_ms_p50']:.2f} ms p50 / {g['cpu_ms_p95']:.2f} p95 a frame "
                  f"({g['provider']} at {g['size']})")
    print(f"provider {r['provider']} | peak RSS {r['rss_mb_peak']} MB | load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def _fail(msg: str) -> int:
    print(f"avatar-bench: error: {msg}", file=sys.stderr)
    return 1


def _cannot_write(path: Path, e: OSError) -> str:
    return f"--json {path}: cannot write ({e.strerror or e})"


def check_writable(path: Path) -> None:
    """Fail before the benchmark rather than lose its results after it: make the folder and open
    the file for appending (removed again if this made it). `OSError` if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where the folder should be
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path.parent)) from None
    try_writing(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.json:
        try:
            check_writable(args.json)
        except OSError as e:
            return _fail(_cannot_write(args.json, e))
    try:
        result = bench_generators(args) if args.generator_only else bench_pipeline(args)
    except (StyleError, SourceError, OSError, ValueError) as e:
        return _fail(str(e))
    (_print_generators if args.generator_only else _print_pipeline)(result)
    if args.json:
        try:
            args.json.write_text(json.dumps(result, indent=2))
        except OSError as e:  # the disk filled up during the run: the results are printed above
            return _fail(_cannot_write(args.json, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
