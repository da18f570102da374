"""A compact resumable copy of a run, small enough to commit (the long CPU runs span sessions).

    python -m training.compact RUN_DIR --out training/resume/NAME

Writes `OUT/config.json`, `OUT/split.json` and one checkpoint `OUT/checkpoints/latest.*` that
`avatar-train --resume --out RUN` reads like any other (copy OUT to RUN first). Against a full
checkpoint it keeps: all weights and the generator's Adam moments, stored as float16 (loading
casts back to float32); the RNG state. It drops the discriminator's Adam moments (that
optimiser restarts fresh, D re-adapts within a few hundred steps) and the image pool (refills).
For the light mesh-conditioned runs that is about 10 MB against 53 MB.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from training import checkpoint as ckpt
from training.cli_errors import overlaps
from training.models import create_model


def _halve(path: Path, drop_prefix: str = "") -> str:
    """Rewrite a safetensors file with float32 tensors as float16 (and without the tensors named
    `drop_prefix`...); returns its new sha256."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = {k: (v.half() if v.dtype == torch.float32 and not k.endswith(".step") else v)
               for k, v in load_file(str(path)).items()
               if not (drop_prefix and k.startswith(drop_prefix))}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return ckpt.sha256_file(path)


COMPACT_ENTRIES = {"config.json", "split.json", "metrics.jsonl", "checkpoints"}  # what compact writes


def check_out(run: Path, out: Path) -> None:
    """`ValueError` (one line) unless `out` is a new folder or an earlier compact copy apart from
    `run`: compacting into the run itself, a folder inside it or around it, or over a folder
    holding anything else (another run, notes) would delete what is not ours to replace."""
    if overlaps(run, out):
        raise ValueError(f"--out {out} is the run {run} or inside it or around it; give another folder")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in COMPACT_ENTRIES)
        if other:
            raise ValueError(f"--out {out} holds {', '.join(other[:4])}: not an earlier compact copy, "
                             "so it is not replaced; give a new folder")
    elif out.exists():
        raise ValueError(f"--out {out} is a file, not a folder")


def compact(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Write the compact copy of `run_dir`'s newest checkpoint into `out_dir` (replacing an
    earlier compact copy there only once the new one is complete)."""
    run, out = Path(run_dir), Path(out_dir)
    check_out(run, out)
    cfg = ckpt.load_config(run / "config.json")
    model = create_model(cfg)
    step, info = ckpt.resume(run, model)
    if "D" in model.optimizers:
        model.optimizers["D"] = model.adam(list(model.optimizers["D"].param_groups[0]["params"]))
    part = out.with_name(out.name + ".part")
    if part.exists():
        shutil.rmtree(part)
    (part / "checkpoints").mkdir(parents=True)
    for name in ("config.json", "split.json"):
        shutil.copy2(run / name, part / name)
    if (run / "metrics.jsonl").is_file():  # the training log: model cards count its hours
        shutil.copy2(run / "metrics.jsonl", part / "metrics.jsonl")
    jp = ckpt.save_checkpoint(part, model, step, info)
    doc = json.loads(jp.read_text())
    d = jp.parent
    doc["weights_sha256"] = _halve(d / doc["weights"])
    doc["state_sha256"] = _halve(d / doc["state"], drop_prefix="pool_")
    doc["compact"] = "float16 weights and G moments; D optimiser fresh; no image pool"
    ckpt.atomic_write_text(jp, json.dumps(doc))
    if out.exists():
        shutil.rmtree(out)
    part.rename(out)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.compact", description=__doc__.split("\n")[0])
    ap.add_argument("run", help="run directory")
    ap.add_argument("--out", required=True,
                    help="folder to write: new, or an earlier compact copy (replaced once the new is done)")
    args = ap.parse_args(argv)
    try:
        out = compact(args.run, args.out)
    except (ckpt.CheckpointError, ValueError) as e:
        print(f"python -m training.compact: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"python -m training.compact: error: {e.filename or args.out}: {e.strerror}", file=sys.stderr)
        return 2
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({size / 1e6:.1f} MB); resume: cp -r {out} RUN && avatar-train --resume --out RUN")
    return 0


if __name__ == "__main__":
    sys.exit(main())
