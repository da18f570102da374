"""`avatar-bench`: the real pipeline on a real clip, timed per stage; or each generator alone.

Numbers are medians/percentiles over warm frames, never a single timing."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import platformdirs

from avatar_cam.align import face_crop_matrix, warp_crop
from avatar_cam.character.renderer import CharacterRenderer
from avatar_cam.composite import Mode
from avatar_cam.demo import draw_demo_face, ensure_demo_clip
from avatar_cam.face import FaceDetector
from avatar_cam.frame import Frame
from avatar_cam.inference import Stylizer, default_threads
from avatar_cam.landmarks import CropLandmarker
from avatar_cam.options import parse_size
from avatar_cam.pipeline import Pipeline, PipelineConfig, Stats
from avatar_cam.sinks import NullSink
from avatar_cam.sources import VideoSource, open_source
from avatar_cam.styles import APP_NAME, CHARACTER_KIND, StyleCatalog, StyleError, StyleInfo, load_style

STAGES = ("capture", "detect", "crop", "landmarks", "inference", "render", "composite", "gate", "sink")


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _pct(values: list[float]) -> dict[str, float]:
    a = np.asarray(values) if values else np.zeros(1)
    return {"p50": round(float(np.percentile(a, 50)), 3), "p95": round(float(np.percentile(a, 95)), 3)}


class _Recorder:
    """Keeps every frame's timings (the pipeline's own stats keep a bounded window)."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.seen = 0
        self.stages: dict[str, list[float]] = {s: [] for s in STAGES}
        self.latency: list[float] = []
        self.t_start: float | None = None
        self.t_end = 0.0

    def __call__(self, frame) -> None:  # type: ignore[no-untyped-def]
        self.seen += 1
        if self.seen <= self.warmup:
            return
        now = time.perf_counter()
        self.t_start = self.t_start or now
        self.t_end = now
        t = frame.timings_ms
        for s in STAGES:
            if s in t:
                self.stages[s].append(t[s])
        self.latency.append(sum(t.get(s, 0.0) for s in STAGES))


def bench_pipeline(args: argparse.Namespace) -> dict:
    style = StyleCatalog().resolve(args.style)
    spec = args.input or str(ensure_demo_clip())
    source = open_source(spec, loop=True)
    if not isinstance(source, VideoSource):
        raise SystemExit("avatar-bench: --input must be a video file (it is looped)")
    config = PipelineConfig(mode=Mode(args.mode), output_size=args.size, threads=args.threads)
    pipe = Pipeline(style, config)
    pipe.stats = Stats(window=64)
    rec = _Recorder(args.warmup)
    pipe.run(source, [NullSink()], max_frames=args.frames + args.warmup, on_frame=rec)
    source.close()
    n = len(rec.latency)
    fps = (n - 1) / (rec.t_end - rec.t_start) if n > 1 and rec.t_start else 0.0
    tenth = max(1, n // 10)
    return {
        "input": spec,
        "style": style.name,
        "mode": args.mode,
        "frames": n,
        "input_size": list(_frame_size(spec)),
        "output_size": list(args.size),
        "fps": round(fps, 2),
        "latency_ms": _pct(rec.latency),
        "latency_drift_ms": round(statistics.median(rec.latency[-tenth:])
                                  - statistics.median(rec.latency[:tenth]), 3) if n >= 20 else None,
        "stages": {s: _pct(v) for s, v in rec.stages.items() if v},
        "fallbacks": dict(pipe.gate.counts),
        "rss_mb_peak": round(peak_rss_mb(), 1),
        "provider": pipe.provider,
        "threads": args.threads or default_threads(),
    }


def _frame_size(spec: str) -> tuple[int, int]:
    src = VideoSource(Path(spec))
    frame = src.read()
    src.close()
    h, w = frame.image.shape[:2] if frame else (0, 0)
    return w, h


def demo_face_frame(size: int) -> Frame:
    """A demo-face frame with its crop and Face Mesh landmarks, as the pipeline makes them."""
    image = draw_demo_face(0.5)
    detector, landmarker = FaceDetector(), CropLandmarker()
    frame = Frame(image, 0, 0.0, face=max(detector.detect(image), key=lambda f: f.area))
    frame.crop_matrix = face_crop_matrix(frame.face, size)
    frame.crop = warp_crop(image, frame.crop_matrix, size)[..., ::-1]
    frame.landmarks = landmarker(frame.crop)
    detector.close()
    landmarker.close()
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="avatar-bench", description=__doc__)
    p.add_argument("--input", help="video file, looped (default: the generated demo clip)")
    p.add_argument("--frames", type=int, default=300, help="timed frames (after warm-up)")
    p.add_argument("--warmup", type=int, default=30, help="untimed frames first")
    p.add_argument("--style", help="style name or file (default: the built-in default)")
    p.add_argument("--mode", choices=[m.value for m in Mode], default="avatar")
    p.add_argument("--size", type=parse_size, default=(1280, 720),
                   help="output size (default 1280x720; --generator-only: the size characters draw at)")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    p.add_argument("--generator-only", action="store_true",
                   help="time each style alone (generators, character renderers), and a ResNet-9 CycleGAN "
                        "export for reference")
    p.add_argument("--styles", nargs="*", help="style files for --generator-only (default: all)")
    p.add_argument("--baseline", help="ResNet-9 export to compare against (default: built once)")
    p.add_argument("--runs", type=int, default=100, help="timed runs per generator")
    p.add_argument("--warmup-runs", type=int, default=10)
    p.add_argument("--json", type=Path, help="write the results as JSON")
    return p


def _print_pipeline(r: dict) -> None:
    print(f"pipeline: {r['frames']} frames of {r['input']} ({r['input_size'][0]}x{r['input_size'][1]})"
          f" -> {r['output_size'][0]}x{r['output_size'][1]} {r['mode']}, style {r['style']}, "
          f"provider {r['provider']}, threads {r['threads']}")
    print(f"{'stage':<10} {'p50 ms':>8} {'p95 ms':>8}")
    for s, v in r["stages"].items():
        print(f"{s:<10} {v['p50']:>8.2f} {v['p95']:>8.2f}")
    print(f"{'latency':<10} {r['latency_ms']['p50']:>8.2f} {r['latency_ms']['p95']:>8.2f}")
    print(f"fps {r['fps']:.1f} sustained | latency drift first->last tenth {r['latency_drift_ms']} ms"
          f" | peak RSS {r['rss_mb_peak']} MB | fallbacks {r['fallbacks'] or 'none'}")


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = bench_generators(args) if args.generator_only else bench_pipeline(args)
    except (StyleError, OSError, ValueError) as e:
        print(f"avatar-bench: error: {e}", file=sys.stderr)
        return 1
    (_print_generators if args.generator_only else _print_pipeline)(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
