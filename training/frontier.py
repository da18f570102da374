"""The quality/speed frontier: each style file's generator time on this machine against how well
its cartoons keep the face, on the same held-out photos. Writes `OUT/frontier.json` and
`OUT/frontier.png`.

    python -m training.frontier --styles A.onnx B.onnx ... (--holdout RUN_DIR | --photos DIR ...) \\
        [--limit 100] [--runs 50] [--threads N] [--rest-ms 4] [--out docs/frontier]

Speed: `avatar-bench`'s generator timing (ONNX Runtime, the app's session options, median of
warm runs). Quality: `avatar-eval`'s measures (faces found on the cartoons, landmark error as a
fraction of face size, mouth-open correlation). Export one trained model at several sizes
(`avatar-export --size N`) to map the resolution axis; the dashed line is the generator time
that leaves a 30 fps pipeline: 33.3 ms a frame minus `--rest-ms`, the rest of the pipeline
(capture, detect/track, crop, composite; about 4 ms median at 640x480 in docs/benchmark.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from training.evaluate import EvalError, evaluate, held_out, list_images, photo_crops, style_generator


def measure(styles: list[Path], photos: list[Path], out: Path, runs: int, threads: int | None
            ) -> list[dict[str, Any]]:
    """Speed and quality of each style file; evaluation outputs go to `out/<style stem>/`."""
    from avatar_cam.bench import time_generator

    rows = []
    for path in styles:
        speed = time_generator(path, runs, max(3, runs // 10), threads)
        generate, size, source = style_generator(str(path))
        result = evaluate(generate, size, photos, [], out / path.stem, source, fid_error="not computed")
        ex = result["expression"]
        rows.append({**speed, "output_face_rate": ex["output_face_rate"],
                     "keypoint_error": ex["keypoint_error"], "mouth_open_corr": ex["mouth_open_corr"],
                     "n_photos": result["n_photos"]})
        print(f"{path.name}: {speed['ms_p50']:.1f} ms @{size}px; faces found {ex['output_face_rate']:.3f}; "
              f"landmark error {ex['keypoint_error'] or float('nan'):.3f}", flush=True)
    return rows


def plot(rows: list[dict[str, Any]], path: Path, budget_ms: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, label in ((axes[0], "output_face_rate", "faces found on cartoons (higher is better)"),
                           (axes[1], "keypoint_error", "landmark error, face widths (lower is better)")):
        for r in rows:
            if r[key] is None:
                continue
            ax.scatter(r["ms_p50"], r[key], s=36)
            ax.annotate(f"{r['name']} {r['size']}px", (r["ms_p50"], r[key]), fontsize=7,
                        xytext=(4, 3), textcoords="offset points")
        ax.axvline(budget_ms, ls="--", c="grey", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("generator ms per frame (median, this machine; log scale)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].text(budget_ms, axes[0].get_ylim()[0], " 30 fps budget", fontsize=7, color="grey", va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.frontier", description=__doc__.split("\n\n")[0])
    p.add_argument("--styles", nargs="+", type=Path, required=True, help="style files (ONNX)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--holdout", type=Path, help="a training run: its held-out photos (split.json)")
    src.add_argument("--photos", nargs="+", help="aligned photo folders")
    p.add_argument("--limit", type=int, default=100, help="photos to evaluate (0: all)")
    p.add_argument("--runs", type=int, default=50, help="timed runs per generator")
    p.add_argument("--threads", type=int, help="ONNX Runtime intra-op threads")
    p.add_argument("--rest-ms", type=float, default=4.0, help="the pipeline's time besides the generator")
    p.add_argument("--out", type=Path, default=Path("frontier"))
    args = p.parse_args(argv)
    try:
        if args.holdout:
            photos = photo_crops(args.holdout, held_out(args.holdout)[0])  # a mesh run: its photo crops
            if not photos:
                raise EvalError(f"{args.holdout} is not a training run (no held-out list in split.json)")
        else:
            photos = list_images(args.photos)
        if args.limit:
            photos = photos[: args.limit]
        rows = measure(args.styles, photos, args.out, args.runs, args.threads)
    except (EvalError, FileNotFoundError) as e:
        print(f"frontier: error: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    budget = 1000 / 30 - args.rest_ms
    (args.out / "frontier.json").write_text(json.dumps({"budget_ms": budget, "rows": rows}, indent=2))
    plot(rows, args.out / "frontier.png", budget)
    print(f"wrote {args.out / 'frontier.json'} and {args.out / 'frontier.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
