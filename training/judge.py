"""An independent style judge: a small CNN that calls an image a photo, anime or a flat avatar.

    python -m training.judge train [--datasets ../shared/datasets] [--photos DIR ...]
        [--out avatar_cam/assets/judge] [--split-out runs/judge] [--steps N] [--size 64] [--n-val 300]

It is trained only on the training part of the project's held-out split (`training.data.holdout_split`,
seed 0, per class) and never enters a generator's loss; its test set is the held-out part, which is
also what `avatar-eval --holdout runs/judge` evaluates generators on (`split-out/split.json`).
Photos are the app's crops (`avatar-train prepare`), so the judge sees the framing generators get;
anime is selfie2anime trainB, flat is every DiceBear look. Writes `OUT/style_judge.safetensors`
(weights, < 1 MB) and `OUT/style_judge.json` (how it was trained, held-out accuracy per class).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from avatar_cam.align import centred_square
from avatar_cam.styles import assets_dir
from training.cli_errors import one_line
from training.data import AugmentConfig, augment, holdout_split, read_image, scan_images

CLASSES = ("photo", "anime", "flat")
CARTOON = ("anime", "flat")
DEFAULT_WEIGHTS = assets_dir() / "judge" / "style_judge.safetensors"


class StyleJudge(nn.Module):
    """Four stride-2 conv/BN/ReLU stages, one more 3x3 conv, global average pool, linear."""

    def __init__(self, width: int = 16, n_classes: int = len(CLASSES)) -> None:
        super().__init__()
        chans = [3, width, 2 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:], strict=True):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(chans[-1], chans[-1], 3, 1, 1, bias=False), nn.BatchNorm2d(chans[-1]),
                   nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                   nn.Linear(chans[-1], n_classes)]
        self.net = nn.Sequential(*layers)
        self.width = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def to_batch(images: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """uint8 RGB images of any square-ish size -> [N, 3, size, size] in [-1, 1]."""
    arr = np.stack([centred_square(im, size) for im in images]).astype(np.float32)
    return torch.from_numpy(arr.transpose(0, 3, 1, 2).copy()) / 127.5 - 1.0


class Judge:
    """Trained weights as a classifier of uint8 RGB images."""

    def __init__(self, path: str | Path = DEFAULT_WEIGHTS) -> None:
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"style judge weights not found: {path} (python -m training.judge train)")
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        self.size = int(meta.get("size", 64))
        self.classes = tuple(meta.get("classes", ",".join(CLASSES)).split(","))
        self.model = StyleJudge(int(meta.get("width", 16)), len(self.classes))
        self.model.load_state_dict(load_file(str(path)))
        self.model.eval()
        self.path = path

    def probabilities(self, images: Sequence[np.ndarray], batch: int = 64) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                out.append(self.model(to_batch(images[i:i + batch], self.size)).softmax(1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def labels(self, images: Sequence[np.ndarray]) -> list[str]:
        return [self.classes[i] for i in self.probabilities(images).argmax(1)]


def judge_split(dirs: dict[str, Sequence[str | Path]], n_val: int, seed: int = 0
                ) -> dict[str, tuple[list[Path], list[Path]]]:
    """Per class (train, held-out), with the same scan (unreadable files left out) and the same
    `holdout_split` (and seed) as avatar-train: with the same folders, the first `val_count`
    held-out images of a run are among these."""
    return {c: holdout_split(scan_images(list(d)).paths, n_val, seed) for c, d in dirs.items()}


def _load(paths: Sequence[Path], size: int) -> list[np.ndarray]:
    out = []
    for p in paths:
        bgr = read_image(p, min_side=size)
        if bgr is not None:
            out.append(centred_square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size))
    return out


def accuracy(model: nn.Module, images: dict[str, list[np.ndarray]], size: int) -> dict[str, object]:
    """Held-out accuracy per class and the confusion matrix (rows: truth, columns: prediction)."""
    model.eval()
    confusion = np.zeros((len(CLASSES), len(CLASSES)), int)
    with torch.no_grad():
        for t, c in enumerate(CLASSES):
            for i in range(0, len(images[c]), 64):
                pred = model(to_batch(images[c][i:i + 64], size)).argmax(1).numpy()
                np.add.at(confusion[t], pred, 1)
    per_class = {c: float(confusion[t, t] / max(confusion[t].sum(), 1)) for t, c in enumerate(CLASSES)}
    return {"per_class": per_class, "overall": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "confusion": confusion.tolist(), "n": {c: len(images[c]) for c in CLASSES}}


def train_judge(train: dict[str, list[np.ndarray]], size: int, steps: int, batch_per_class: int = 16,
                width: int = 16, seed: int = 0, lr: float = 2e-3) -> StyleJudge:
    """Balanced batches (the same number of each class), flips, random resized crops and colour
    jitter on every class (so colour alone does not decide), Adam with cosine decay."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = StyleJudge(width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    aug = AugmentConfig()
    labels = torch.arange(len(CLASSES)).repeat_interleave(batch_per_class)
    model.train()
    for _ in range(steps):
        imgs = [augment(train[c][int(rng.integers(len(train[c])))], size, rng, aug, color=True)
                for c in CLASSES for _ in range(batch_per_class)]
        loss = nn.functional.cross_entropy(model(to_batch(imgs, size)), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def save_judge(model: StyleJudge, size: int, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = {"size": str(size), "width": str(model.width), "classes": ",".join(CLASSES)}
    save_file(state, str(path), metadata=meta)


def _write_split(split: dict[str, tuple[list[Path], list[Path]]], out: Path, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "split.json").write_text(json.dumps(
        {"val_A": [str(x) for x in split["photo"][1]], "val_B": [str(x) for x in split["anime"][1]],
         "val_flat": [str(x) for x in split["flat"][1]], "seed": seed}, indent=1))


@one_line("python -m training.judge")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.judge", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on the training split, test on the held-out split")
    s = sub.add_parser("split", help="only write the held-out split (for a fresh machine)")
    for q in (t, s):
        q.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
        q.add_argument("--photos", nargs="+",
                       default=["runs/prepared/selfie2anime_A", "runs/prepared/utkface"],
                       help="photo folders: the app's crops (avatar-train prepare)")
        q.add_argument("--split-out", type=Path, default=Path("runs/judge"),
                       help="writes split.json here: avatar-eval --holdout DIR uses the same held-out photos")
        q.add_argument("--n-val", type=int, default=300, help="held out per class")
        q.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", type=Path, default=None,
                   help="folder for the weights (default: --split-out; avatar-eval --judge reads them; "
                        f"--out {DEFAULT_WEIGHTS.parent} replaces the shipped judge)")
    t.add_argument("--size", type=int, default=64)
    t.add_argument("--steps", type=int, default=1500)
    t.add_argument("--max-train", type=int, default=1500, help="training images per class (fixed seed)")
    args = p.parse_args(argv)
    least = {"n_val": 1} | ({"steps": 1, "max_train": 1, "size": 16} if args.cmd == "train" else {})
    for key, low in least.items():
        if (value := getattr(args, key)) < low:
            print(f"judge: error: --{key.replace('_', '-')} must be at least {low} (got {value})",
                  file=sys.stderr)
            return 2
    torch.set_num_threads(1)
    dirs = {"photo": args.photos, "anime": [args.datasets / "selfie2anime" / "trainB"],
            "flat": [args.datasets / "dicebear"]}
    try:
        split = judge_split(dirs, args.n_val, args.seed)
    except FileNotFoundError as e:
        print(f"judge: error: {e}", file=sys.stderr)
        return 2
    empty = [c for c, (train_part, held) in split.items() if not train_part or not held]
    if empty:
        folders = ", ".join(str(d) for c in empty for d in dirs[c])
        print(f"judge: error: too few images for class {', '.join(empty)} ({folders}); it needs more "
              f"than --n-val {args.n_val}", file=sys.stderr)
        return 2
    if args.cmd == "split":
        _write_split(split, args.split_out, args.seed)
        print(f"held-out split: {args.split_out / 'split.json'}")
        return 0
    rng = np.random.default_rng(args.seed)
    train_paths = {c: [tr[i] for i in sorted(rng.permutation(len(tr))[: args.max_train])]
                   for c, (tr, _) in split.items()}
    load_size = args.size + args.size // 8  # room for the random resized crop
    train = {c: _load(train_paths[c], load_size) for c in CLASSES}
    val = {c: _load(split[c][1], args.size) for c in CLASSES}
    start = time.monotonic()
    model = train_judge(train, args.size, args.steps, seed=args.seed)
    minutes = (time.monotonic() - start) / 60
    acc = accuracy(model, val, args.size)
    out = args.out or args.split_out
    weights = out / "style_judge.safetensors"
    save_judge(model, args.size, weights)
    _write_split(split, args.split_out, args.seed)
    report = {"classes": list(CLASSES), "size": args.size, "width": model.width,
              "params": sum(x.numel() for x in model.parameters()), "steps": args.steps,
              "batch": 16 * len(CLASSES), "seed": args.seed, "train_minutes": round(minutes, 2),
              "data": {c: [str(d) for d in ds] for c, ds in dirs.items()},
              "train_images": {c: len(train[c]) for c in CLASSES},
              "split": f"training.data.holdout_split(listing, {args.n_val}, seed={args.seed}) per class",
              "held_out_accuracy": acc,
              "command": "python -m training.judge " + " ".join(argv if argv is not None else sys.argv[1:])}
    (out / "style_judge.json").write_text(json.dumps(report, indent=2) + "\n")
    per = ", ".join(f"{c} {v:.3f}" for c, v in acc["per_class"].items())  # type: ignore[union-attr]
    print(f"held-out accuracy {acc['overall']:.3f} ({per}); {minutes:.1f} min; wrote {weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
