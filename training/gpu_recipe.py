"""One-shot GPU run: the shipped styles' recipes and the paper's comparison arms at 256 px.

    python -m training.gpu_recipe OUT --pack runs/pack/train256.zip [--minutes 10] [--arms A,B,...]
        [--holdout runs/judge] [--clips CLIP.mp4 ...] [--init-from training/resume] [--set KEY=VALUE ...]

`scripts/gpu_train.sh OUT` wraps it (packs the prepared crops where the pack is missing, and
starts one process per GPU with torchrun where there are several).

Every arm trains its recipe (`ARMS`) on the pack's data (`training.pack`; group names below) at
256 px on the device's fastest path (CUDA: bf16 autocast, channels_last), for an equal share of
`--minutes` of training (the recipe's LR schedule, cut by the budget; `--resume` of a run goes
on). After all arms trained, rank 0 writes per arm:

    OUT/runs/ARM/            the run (config, split, log, samples, full checkpoint)
    OUT/compact/ARM/         its compact checkpoint (`training.compact`: resumable, ~10 MB light)
    OUT/styles/ARM.onnx      its style file (`avatar-export --onnx`, checked in ONNX Runtime)
    OUT/eval/ARM/            `avatar-eval` on the held-out photos (and clips) where the evaluation
                             can run (MediaPipe, the held-out crops); else the reason, in the summary
    OUT/summary.json, OUT/summary.md   steps, steps/s, minutes, losses, headline eval numbers
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.options import ConfigError, TrainConfig, read_config_file

RECIPES = Path(__file__).resolve().parent / "recipes"

# arm -> (recipe, data groups in the pack, GPU overrides). The pack's groups (`training.pack`):
#   photos         prepared photo crops (selfie2anime trainA + UTKFace, `avatar-train prepare`)
#   anime          selfie2anime trainB anime faces
#   photo_meshes   the meshes/ of `training.mesh_pairs` of photos (the mesh arms' photo domain)
#   dicebear       `training.mesh_pairs` of DiceBear (crops/, meshes/, landmarks/)
#   anime_pairs    `training.mesh_pairs` of selfie2anime trainB
# Light arms take batch 16 (4x the CPU recipes: a light-generator step at batch 4 would leave a
# large GPU mostly idle); the ResNet-9 arms keep the recipes' 4. Neither was measured on a GPU.
ARMS: dict[str, tuple[str, dict[str, Any]]] = {
    "flat-mesh": ("dicebear_mesh.toml",
                  {"data_a": ["photo_meshes"], "data_b": ["dicebear/crops"], "batch_size": 16}),
    "anime-mesh": ("anime_mesh.toml",
                   {"data_a": ["photo_meshes"], "data_b": ["anime_pairs/crops"], "batch_size": 16}),
    "cyclegan-resnet9": ("compare/cyclegan_resnet9.toml", {"data_a": ["photos"], "data_b": ["anime"]}),
    "content-invariant-resnet9": ("compare/content-invariant_resnet9.toml",
                                  {"data_a": ["photos"], "data_b": ["anime"]}),
    "cyclegan-light": ("compare/cyclegan_light.toml",
                       {"data_a": ["photos"], "data_b": ["anime"], "batch_size": 16}),
    "content-invariant-light": ("compare/content-invariant_light.toml",
                                {"data_a": ["photos"], "data_b": ["anime"], "batch_size": 16}),
}
GPU = {"size": 256, "device": "auto", "threads": 0, "workers": -1, "progress": False,
       "save_every": 1_000_000, "sample_every": 500, "log_every": 50, "keep_checkpoints": 1}


def arm_config(arm: str, pack: Path, out: Path, minutes: float, overrides: dict[str, Any],
               init_root: Path | None = None) -> TrainConfig:
    """The arm's recipe with its data in the pack, the GPU settings, its time share and `overrides`;
    with `init_root`, its weights start from the compact checkpoint `init_root/<arm>` (`-` as `_`:
    `training/resume/flat_mesh` for `flat-mesh`), so the shipped styles are fine-tuned."""
    recipe, data = ARMS[arm]
    values = read_config_file(RECIPES / recipe)
    values.update(GPU)
    values.update({k: ([str(pack / d) for d in v] if k.startswith("data_") else v) for k, v in data.items()})
    values.update({"out": str(out / "runs" / arm), "minutes": minutes})
    if init_root is not None:
        start = init_root / arm.replace("-", "_")
        if not (start / "config.json").is_file():
            raise ConfigError(f"--init-from {init_root}: no checkpoint for arm {arm} ({start}/config.json)")
        values["init_from"] = str(start)
    values.update(overrides)
    return TrainConfig.from_dict(values, f"{recipe} + gpu_recipe").validate()


def _rate(run: Path) -> tuple[int, float | None, dict[str, float]]:
    """(steps done, mean steps/s over the logged windows after the first, last logged losses)."""
    path = run / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    if not rows:
        return 0, None, {}
    later = rows[1:] or rows
    rate = sum(r["it_per_s"] for r in later) / len(later)
    losses = {k: round(v, 4) for k, v in rows[-1].items() if k not in ("step", "lr", "it_per_s")}
    return int(rows[-1]["step"]), round(rate, 3), losses


def _quiet(fn: Any, *args: Any) -> tuple[Any, str]:
    """fn(*args) with its stdout captured (the summary holds what matters)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        return fn(*args), buf.getvalue()


def finish_arm(arm: str, run: Path, out: Path, eval_args: list[str]) -> dict[str, Any]:
    """Compact checkpoint, style file and avatar-eval of one trained arm; each step's failure is
    recorded (with the reason) and the next still runs."""
    from export.cli import main as export_main
    from training.compact import compact
    from training.evaluate import main as eval_main

    steps, rate, losses = _rate(run)
    rec: dict[str, Any] = {"steps": steps, "steps_per_s": rate, "losses": losses}
    try:
        compact(run, out / "compact" / arm)
        rec["compact"] = str(out / "compact" / arm)
    except Exception as e:  # noqa: BLE001 - recorded; the other outputs still get made
        rec["compact_error"] = f"{type(e).__name__}: {e}"
    style = out / "styles" / f"{arm}.onnx"
    style.parent.mkdir(parents=True, exist_ok=True)
    try:
        code, _ = _quiet(export_main, ["--onnx", "--run", str(run), "--out", str(style)])
        if code == 0:
            rec["style"] = str(style)
        else:
            rec["style_error"] = f"avatar-export exit {code}"
    except Exception as e:  # noqa: BLE001 - e.g. a package missing on the GPU machine
        rec["style_error"] = f"{type(e).__name__}: {e}"
    if "style" not in rec:
        return rec
    if not eval_args:
        rec["eval_error"] = "not run (no held-out photos given: --holdout RUN_DIR)"
        return rec
    try:
        import mediapipe  # noqa: F401 - avatar-eval's face measures need it
    except ImportError:
        rec["eval_error"] = ("not run here (no MediaPipe); on a machine with it: avatar-eval --style "
                             f"{style} {' '.join(eval_args)} --out {out / 'eval' / arm}")
        return rec
    try:
        code, _ = _quiet(eval_main, ["--style", str(style), *eval_args, "--out", str(out / "eval" / arm)])
        doc = json.loads((out / "eval" / arm / "eval.json").read_text()) if code == 0 else {}
    except Exception as e:  # noqa: BLE001
        code, doc = -1, {}
        rec["eval_error"] = f"{type(e).__name__}: {e}"
    if code == 0:
        rec["eval"] = headline(doc)
    else:
        rec.setdefault("eval_error", f"avatar-eval exit {code}")
    return rec


def headline(doc: dict[str, Any]) -> dict[str, Any]:
    """The numbers a style is judged by: judge, identity, expression, motion on the clips."""
    ex, judge, ident = doc.get("expression", {}), doc.get("judge", {}), doc.get("identity", {})
    out = {"photos": doc.get("n_photos"), "judge_cartoon_rate": judge.get("cartoon_rate"),
           "dlib_ge_0_6": ident.get("frac_ge_0_6"), "rank1": ident.get("rank1"),
           "mouth_open_corr": ex.get("mouth_open_corr"), "eye_open_corr": ex.get("eye_open_corr"),
           "false_wink_rate": ex.get("false_wink_rate")}
    for name, c in doc.get("clips", {}).items():
        out[f"clip {name}"] = {"mouth_open_corr": c.get("mouth_open_corr"), "flicker": c.get("flicker")}
    return out


def write_summary(out: Path, summary: dict[str, Any]) -> None:
    (out / "summary.json").write_text(json.dumps(summary, indent=2))

    def f(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    cols = ("judge_cartoon_rate", "dlib_ge_0_6", "rank1", "mouth_open_corr", "eye_open_corr")
    head = ("arm", "steps", "steps/s", "judge cartoon", "dlib >= 0.6", "rank-1", "mouth corr", "eye corr",
            "notes")
    lines = [f"# GPU recipe: {summary['device']}, {summary['processes']} process(es), "
             f"{summary['minutes']:g} min of training", "",
             "| " + " | ".join(head) + " |", "| --- " * len(head) + "|"]
    for arm, r in summary["arms"].items():
        e = r.get("eval", {})
        notes = "; ".join(str(v) for k, v in r.items() if k.endswith("_error"))
        cells = [arm, str(r.get("steps")), f(r.get("steps_per_s")), *(f(e.get(c)) for c in cols), notes]
        lines.append("| " + " | ".join(cells) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")


def run(out: Path, pack: Path, arms: Sequence[str], minutes: float, overrides: dict[str, Any],
        eval_args: list[str], init_root: Path | None = None) -> dict[str, Any]:
    """Train every arm (all ranks), then finish them (rank 0). Returns the summary."""
    import torch

    from training.checkpoint import has_checkpoint
    from training.distributed import ranks_from_env
    from training.trainer import train

    if not pack.is_file():
        raise ConfigError(f"{pack}: no such pack (python -m training.pack builds it; docs/training.md)")
    share = minutes / len(arms)
    configs = {arm: arm_config(arm, pack, out, share, overrides, init_root) for arm in arms}
    ranks = ranks_from_env()
    device = (torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU")
    summary: dict[str, Any] = {"device": device, "processes": ranks.world, "minutes": minutes,
                               "pack": str(pack), "arms": {}}
    wall = {}
    for arm, cfg in configs.items():
        t0 = time.monotonic()
        resume = has_checkpoint(cfg.out)
        if not resume and (Path(cfg.out) / "config.json").exists() and ranks.main:
            print(f"gpu_recipe: {arm}: {cfg.out} has no checkpoint (an earlier run stopped before its first "
                  "save); starting this arm afresh", file=sys.stderr)
        train(cfg, resume=resume)
        wall[arm] = round((time.monotonic() - t0) / 60, 2)
    if not ranks.main:
        return summary
    for arm, cfg in configs.items():
        try:
            rec = finish_arm(arm, Path(cfg.out), out, eval_args)
        except Exception:  # noqa: BLE001 - one arm's failure must not lose the others' results
            rec = {"finish_error": traceback.format_exc(limit=3)}
        summary["arms"][arm] = {"recipe": ARMS[arm][0], "wall_minutes": wall[arm], **rec}
        write_summary(out, summary)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    from training.checkpoint import CheckpointError
    from training.cli import _parse_set

    ap = argparse.ArgumentParser(prog="python -m training.gpu_recipe", description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="output folder")
    ap.add_argument("--pack", type=Path, required=True, help="the packed training data (training.pack)")
    ap.add_argument("--minutes", type=float, default=10.0, help="training time of all arms together")
    ap.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of: {', '.join(ARMS)}")
    ap.add_argument("--holdout", type=Path, help="avatar-eval's held-out photos: this run's split.json "
                    "(e.g. runs/judge)")
    ap.add_argument("--clips", nargs="+", action="extend", default=[], help="avatar-eval --clips")
    ap.add_argument("--eval-limit", type=int, default=None, help="avatar-eval --limit (default: all)")
    ap.add_argument("--init-from", type=Path, metavar="ROOT", help="fine-tune: each arm starts from the "
                    "compact checkpoint ROOT/<arm, - as _> (training/resume holds the shipped mesh styles')")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config value for every arm (e.g. --set steps=3000)")
    args = ap.parse_args(argv)
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    eval_args = (["--holdout", str(args.holdout), "--no-fid"] if args.holdout else [])
    eval_args += [a for c in args.clips for a in ("--clips", str(c))]
    eval_args += ["--limit", str(args.eval_limit)] if args.eval_limit is not None else []
    missing = [str(c) for c in args.clips if not Path(c).is_file()]
    try:
        if unknown or not arms:
            raise ConfigError(f"unknown arm(s) {', '.join(unknown) or '(none given)'}; "
                              f"arms: {', '.join(ARMS)}")
        if not (args.minutes > 0 and math.isfinite(args.minutes)):
            raise ConfigError(f"--minutes must be a positive number of minutes (got {args.minutes:g}): "
                              "the training time of all arms together")
        if (args.clips or args.eval_limit is not None) and not args.holdout:
            raise ConfigError("--clips and --eval-limit go to avatar-eval, which needs --holdout RUN_DIR "
                              "(its held-out photos)")
        if args.eval_limit is not None and args.eval_limit < 1:
            raise ConfigError(f"--eval-limit must be at least 1 (got {args.eval_limit})")
        if missing:
            raise ConfigError(f"no such clip: {', '.join(missing)}")
        if args.holdout and not (args.holdout / "split.json").is_file():
            raise ConfigError(f"--holdout {args.holdout}: no split.json there (a run, or runs/judge)")
        summary = run(args.out, args.pack, arms, args.minutes, _parse_set(args.set), eval_args,
                      args.init_from)
    except (ConfigError, CheckpointError, FileNotFoundError) as e:
        print(f"gpu_recipe: error: {e}", file=sys.stderr)
        return 2
    if summary["arms"]:
        print((args.out / "summary.md").read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
