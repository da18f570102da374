"""The training loop: data, model, LR schedule, progress bar, TensorBoard scalars, sample grids,
atomic checkpoints and exact resume.

`train(cfg, resume=False)` runs `cfg.steps` optimisation steps into `cfg.out` (RUN_DIR):

- `config.json` (full resolved config), `split.json` (training lists and held-out images),
  `train.log`, `metrics.jsonl` and `tb/` (TensorBoard event file: losses, lr, it/s),
- `samples/step_XXXXXXX.png` + `samples/latest.png` every `sample_every` steps (rows: held-out
  photos; columns: input, output, reconstruction, ...),
- `checkpoints/` (see `training.checkpoint`) every `save_every` steps, at the end, and on
  SIGINT/SIGTERM (after the step in flight, with a sample grid of that step).

A batch is a pure function of (seed, step) and all model randomness comes from the saved RNG
state, so `--resume` continues exactly where the uninterrupted run would be.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from training import checkpoint as ckpt
from training import pack
from training.cli_errors import overlaps
from training.data import (
    AugmentConfig,
    DataError,
    ScanResult,
    UnpairedSteps,
    domain_dirs,
    entry_folder,
    holdout_split,
    load_plain,
    scan_images,
    to_image,
)
from training.distributed import RankLost, Ranks, init_process_group, lost_rank, ranks_from_env
from training.expression_aug import ExpressionAugConfig
from training.models import DeviceSetup, TrainModel, create_model, device_setup
from training.options import SCHEDULE_KEYS, ConfigError, TrainConfig, diff_for_resume
from training.tbwriter import ScalarWriter

log = logging.getLogger("training")


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Constant `lr` until `lr_decay_start`, then linear decay towards 0 at `steps` (reference rule)."""
    start = cfg.resolved_decay_start()
    span = max(cfg.steps - start, 0) + 1
    return cfg.lr * (1.0 - max(0, step + 1 - start) / span)


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def close_logging() -> None:
    """Detach and close the handlers `setup_logging` added (train.log, stderr): the "training"
    logger hands its records to the root logger again."""
    logger = logging.getLogger("training")
    for h in list(logger.handlers):
        if getattr(h, "_avatar_train", False):
            logger.removeHandler(h)
            h.close()
    logger.propagate = True


def setup_logging(run_dir: Path | None) -> None:
    """Log to stderr (through tqdm so the bar stays intact) and, for a run, RUN_DIR/train.log."""
    logger = logging.getLogger("training")
    logger.setLevel(logging.INFO)
    close_logging()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [_TqdmHandler()]
    if run_dir is not None:
        handlers.append(logging.FileHandler(run_dir / "train.log", encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h._avatar_train = True  # type: ignore[attr-defined]
        logger.addHandler(h)
    logger.propagate = False


_LISTS = ("train_A", "train_B", "val_A", "val_B")


@dataclass
class DataSplit:
    """Training lists and held-out images of both domains. `build_split` makes the paths absolute
    and records `base`, the folder the run was started from; a split.json of an older run has
    neither (its paths are relative to that folder)."""

    train_a: list[Path]
    train_b: list[Path]
    val_a: list[Path]
    val_b: list[Path]
    trained_on: str
    base: str = ""

    def lists(self) -> dict[str, list[Path]]:
        return dict(zip(_LISTS, (self.train_a, self.train_b, self.val_a, self.val_b), strict=True))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {k: [str(p) for p in v] for k, v in self.lists().items()}
        return {**doc, "trained_on": self.trained_on, "base": self.base}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> DataSplit:
        """The split of a run; its absolute paths under `base` are looked up under the current
        folder instead where they are missing there and present here (a copy of the run and its
        data folders in another checkout)."""
        base = Path(doc["base"]) if doc.get("base") else None

        def locate(p: Path) -> Path:
            if base is None or pack.exists(p) or not p.is_relative_to(base) or Path.cwd() == base:
                return p
            moved = Path.cwd() / p.relative_to(base)
            return moved if pack.exists(moved) else p

        return cls(*[[locate(Path(p)) for p in doc[k]] for k in _LISTS],
                   trained_on=doc.get("trained_on", ""), base=doc.get("base", ""))

    def check_files(self, where: Path) -> None:
        """DataError (one line) when images the split lists are gone: a resume would train on others."""
        paths = [p for v in self.lists().values() for p in v]
        missing = [p for p in paths if not pack.exists(p)]
        if not missing:
            return
        why = ("moved or deleted since the run's split was made?" if self.base or missing[0].is_absolute()
               else "its paths are relative to the folder the run was started from, not to this one "
                    f"({Path.cwd()}): run --resume from that folder")
        raise DataError(f"{where}: {len(missing)} of the {len(paths)} images it lists are missing, e.g. "
                        f"{missing[0]} ({why})")


def _label(dirs: list[str], counts: list[int]) -> str:
    parts = ("/".join(Path(d).resolve().parts[-2:]) for d in dirs)
    return ", ".join(f"{d} ({n})" for d, n in zip(parts, counts, strict=True))


def _parent_names(cfg: TrainConfig) -> dict[str, tuple[set[str], set[str]]] | None:
    """Per domain, the source names the `init_from` run trained on and held out (its split.json);
    None without init_from or when that run has no split.json."""
    if not cfg.init_from:
        return None
    path = ckpt.run_file(cfg.init_from, "split.json")
    if not path.is_file():
        log.warning("init_from %s has no split.json: the held-out images may include some it trained on",
                    cfg.init_from)
        return None
    try:
        found = pack.split_names(path)
        names = {k: found[k] for k in _LISTS}
    except (ValueError, KeyError) as e:
        raise ConfigError(f"{path}: not a run's split.json ({e})") from None
    return {d: (names[f"train_{d}"], names[f"val_{d}"]) for d in "AB"}


def _check_not_mesh_pairs(cfg: TrainConfig, dom: str, paths: list[Path]) -> None:
    """A whole `mesh_pairs` folder would mix its images and their mesh drawings in one domain."""
    roots = ({p.parent.parent for p in paths if p.parent.name == "crops"}
             & {p.parent.parent for p in paths if p.parent.name == "meshes"})
    if roots:
        root = min(roots)
        want = "meshes" if dom == "A" and cfg.model == "mesh-conditioned" else "crops"
        raise ConfigError(f"domain {dom}: {root} is python -m training.mesh_pairs output: its crops/ and "
                          f"meshes/ would be mixed in one domain; give {root / want}")


def build_split(cfg: TrainConfig) -> DataSplit:
    """Scan the data folders (bad files warned + counted, a file listed twice taken once) and hold
    out `val_count` per domain (with `init_from`: never an image the parent run trained on)."""
    parent = _parent_names(cfg)
    out: dict[str, Any] = {}
    labels = []
    seen: dict[str, set[Path]] = {}
    for dom, extra in (("A", cfg.data_a), ("B", cfg.data_b)):
        dirs = domain_dirs(cfg.dataroot or None, extra, dom)
        counts, paths = [], []
        skipped = ScanResult()
        seen[dom] = set()
        for d in dirs:
            res = scan_images([d], seen=seen[dom])
            counts.append(len(res.paths))
            paths += res.paths
            skipped.skipped += res.skipped
            skipped.duplicates += res.duplicates
        n_bad = len(skipped.skipped)
        why = f"skipped {n_bad} file{'s' if n_bad != 1 else ''}: {skipped.skipped_counts()}" if n_bad else ""
        log.info("domain %s: %d images in %s%s", dom, len(paths), ", ".join(dirs),
                 f"; {why} (each warned above)" if why else "")
        if skipped.duplicates:
            log.warning("domain %s: %d files listed more than once (a folder given twice, or one inside "
                        "another) are taken once", dom, skipped.duplicates)
        if not paths:
            raise ConfigError(f"domain {dom}: no images found in {', '.join(dirs)}"
                              + (f" ({why})" if why else ""))
        _check_not_mesh_pairs(cfg, dom, paths)
        test_dir = Path(cfg.dataroot) / f"test{dom}" if cfg.dataroot else None
        if test_dir is not None and test_dir.is_dir():
            train, val = paths, scan_images([test_dir]).paths[: cfg.val_count]
        else:
            train, val = holdout_split(paths, cfg.val_count, cfg.seed, parent[dom] if parent else None)
            if parent and len(val) < min(cfg.val_count, len(paths) - 1):
                log.warning("domain %s: %d held out, not val_count %d: the init_from run trained on the "
                            "others%s", dom, len(val), cfg.val_count,
                            "" if val else " (no sample grids; evaluate on another held-out set)")
        log.info("domain %s: %d to train on, %d held out", dom, len(train), len(val))
        if len(train) < max(8, len(val)):
            log.warning("domain %s: only %d of %d images are trained on (val_count %d holds out the "
                        "rest); give more images or a smaller --val-count", dom, len(train), len(paths),
                        cfg.val_count)
        out[dom] = ([_absolute(p) for p in train], [_absolute(p) for p in val])
        labels.append(_label(dirs, counts))
    both = seen["A"] & seen["B"]
    if both:
        raise ConfigError(f"{len(both)} file(s) are in both domains (e.g. {min(both)}): the photos "
                          "(--data-a) and the cartoons (--data-b) must be different images")
    trained_on = f"photos: {labels[0]}; cartoons: {labels[1]}"
    return DataSplit(out["A"][0], out["B"][0], out["A"][1], out["B"][1], trained_on, str(Path.cwd()))


def _absolute(p: str | Path) -> Path:
    """Absolute and normalised, symbolic links kept (a crop's meshes/ and landmarks/ are its
    siblings as given)."""
    return Path(os.path.abspath(p))


def _absolute_paths(cfg: TrainConfig) -> None:
    """A new run's config.json names absolute paths: a --resume or its teacher load works from any
    folder. (After `build_split`: the held-out images are drawn from the paths as given.)"""
    cfg.dataroot, cfg.teacher, cfg.init_from = (str(_absolute(v)) if v else v
                                                for v in (cfg.dataroot, cfg.teacher, cfg.init_from))
    cfg.data_a, cfg.data_b = ([str(_absolute(v)) for v in vs] for vs in (cfg.data_a, cfg.data_b))


def save_grid(columns: list[tuple[str, torch.Tensor]], path: Path) -> None:
    """Rows = samples, columns = visuals, a label strip on top; written atomically as PNG."""
    n = columns[0][1].shape[0]
    size = columns[0][1].shape[-1]
    tile = max(size, 96)
    rows = []
    for i in range(n):
        row = [cv2.resize(to_image(t[i]), (tile, tile), interpolation=cv2.INTER_NEAREST) for _, t in columns]
        rows.append(np.concatenate(row, 1))
    header = np.full((18, tile * len(columns), 3), 255, np.uint8)
    for j, (label, _) in enumerate(columns):
        cv2.putText(header, label[: tile // 6], (j * tile + 3, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (0, 0, 0), 1, cv2.LINE_AA)
    grid = np.concatenate([header] + rows, 0)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    tmp = path.with_name(path.name + ".tmp")
    buf.tofile(str(tmp))
    os.replace(tmp, path)


class _Stop:
    """SIGINT/SIGTERM set a flag; the loop saves after the step in flight and exits. A second
    signal stops at once, except while a checkpoint is being written (`saving`): an impatient
    second Ctrl-C then waits for the save instead of losing the steps since the last one."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}
        self._saving = False
        self._pid = os.getpid()  # loader workers forked later inherit the handler, not this pid

    @contextlib.contextmanager
    def saving(self) -> Iterator[None]:
        self._saving = True
        try:
            yield
        finally:
            self._saving = False

    def __enter__(self) -> _Stop:
        import threading

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if os.getpid() != self._pid:  # a data-loader worker: the trainer stops and ends it
            return
        if self.signum is not None and self._saving:
            log.warning("signal %d: writing the checkpoint; stopping as soon as it is saved", signum)
            return
        if self.signum is not None:  # second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum
        log.warning("signal %d: saving a checkpoint after this step, then stopping", signum)

    def __exit__(self, *exc: object) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def prepare_run(cfg: TrainConfig, resume: bool, write: bool = True) -> tuple[TrainConfig, Path, list[str]]:
    """Create RUN_DIR (when `write`: rank 0), or check a resumed run's config is compatible.
    Returns the config, RUN_DIR and the schedule changes a resume makes (to log once the run's
    log is open)."""
    run_dir = Path(cfg.out)
    cfg_path = run_dir / "config.json"
    changes: list[str] = []
    if resume:
        if not cfg_path.exists():
            raise ConfigError(f"nothing to resume: {cfg_path} not found")
        saved = ckpt.load_config(cfg_path)
        if cfg.lr_decay_start < 0:
            cfg.lr_decay_start = saved.lr_decay_start
        if not cfg.trained_on:
            cfg.trained_on = saved.trained_on
        diffs = diff_for_resume(saved, cfg)
        if diffs:
            raise ConfigError("--resume with different options: " + "; ".join(diffs))
        if cfg.steps != saved.steps:
            changes.append(f"--steps changed {saved.steps} -> {cfg.steps}: the LR decay now ends at the "
                           "new step count")
        changes += [f"--resume changes {k}: {getattr(saved, k)!r} -> {getattr(cfg, k)!r}"
                    for k in sorted(SCHEDULE_KEYS) if getattr(cfg, k) != getattr(saved, k)]
    else:
        if ckpt.has_checkpoint(run_dir):
            raise ConfigError(f"{run_dir} already holds a run; use --resume or another --out")
        for entry in [cfg.dataroot, *cfg.data_a, *cfg.data_b]:
            if entry and overlaps(run_dir, entry_folder(entry)):
                raise ConfigError(f"--out {run_dir} is the data folder {entry_folder(entry)}, inside it or "
                                  "around it: checkpoints and sample grids would mix with the images (and a "
                                  "later run train on them); give a folder of its own")
        if run_dir.is_dir() and not _a_run_folder(run_dir):
            raise ConfigError(f"--out {run_dir} holds files that are not a training run's (its config.json, "
                              "samples and logs would replace or mix with them); give a new or empty folder")
        if cfg.lr_decay_start < 0:
            cfg.lr_decay_start = cfg.steps // 2
    if write:
        run_dir.mkdir(parents=True, exist_ok=True)
    return cfg, run_dir, changes


RUN_ENTRIES = frozenset({"config.json", "split.json", "train.log", "metrics.jsonl", "samples", "checkpoints"})


def _a_run_folder(run_dir: Path) -> bool:
    """`run_dir` holds nothing but what a run writes (empty; a start that failed, or a run that
    never reached a checkpoint): a new run may start in it."""
    if any(p.name not in RUN_ENTRIES for p in run_dir.iterdir()):
        return False
    if not (run_dir / "config.json").exists():
        return True
    try:
        ckpt.load_config(run_dir / "config.json")
    except (OSError, ValueError, ckpt.CheckpointError):  # a binary config.json: UnicodeDecodeError
        return False
    return True


def _discard_start(run_dir: Path, created: bool) -> None:
    """A new run that failed to start leaves nothing a rerun or a `--resume` would trip on: the
    folder when this invocation made it, else the config.json and split.json it wrote."""
    close_logging()
    if created:
        shutil.rmtree(run_dir, ignore_errors=True)
        return
    for name in ("config.json", "split.json"):
        (run_dir / name).unlink(missing_ok=True)


def start_processes(cfg: TrainConfig) -> tuple[Ranks, DeviceSetup]:
    """This process's rank (torchrun's environment; a plain run is rank 0 of 1) and device; joins
    the process group (NCCL on GPUs, gloo on CPU) when there are several."""
    ranks = ranks_from_env()
    setup = device_setup(cfg.device, cfg.amp, ranks.local_rank)
    gpus = torch.cuda.device_count()
    if setup.device.type == "cuda" and (setup.device.index or 0) >= gpus:
        raise ConfigError(f"--device {cfg.device}: no such CUDA GPU here ({gpus} found); use --device auto, "
                          "cpu or another GPU")
    if ranks.active and cfg.batch_size % ranks.world:
        raise ConfigError(f"batch_size {cfg.batch_size} (the global batch) does not split over "
                          f"{ranks.world} processes: use a multiple of {ranks.world}")
    if setup.device.type == "cuda":
        torch.cuda.set_device(setup.device)
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest conv kernels
    init_process_group(ranks, setup.backend, cfg.dist_timeout)
    return ranks, setup


def train(cfg: TrainConfig, resume: bool = False) -> Path:
    """Run training; returns RUN_DIR. See the module docstring for what it writes.

    Under torchrun every rank calls this; rank 0 alone writes the run directory and logs (see
    `training.distributed` for what keeps the ranks one model). Its log handlers (train.log,
    stderr) are closed when it returns or fails.
    """
    try:
        return _train(cfg, resume)
    finally:
        close_logging()


def _train(cfg: TrainConfig, resume: bool) -> Path:
    cfg.validate()
    ranks, setup = start_processes(cfg)
    device = setup.device
    created = not Path(cfg.out).exists()
    cfg, run_dir, changes = prepare_run(cfg, resume, write=ranks.main)
    try:
        if ranks.main:
            setup_logging(run_dir)
        else:
            logging.getLogger("training").setLevel(logging.ERROR)  # rank 0 reports
        for line in changes:
            log.warning(line)
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed)  # the same stream on every rank (training.distributed)
        np.random.seed(cfg.seed)
        per_rank = f" ({cfg.batch_size // ranks.world} on each of {ranks.world} processes, {setup.backend})" \
            if ranks.active else ""
        log.info("run %s: %s / %s, %dpx, batch %d%s, %d steps, device %s%s", run_dir, cfg.model,
                 cfg.generator, cfg.size, cfg.batch_size, per_rank, cfg.steps, device,
                 f", autocast {str(setup.amp_dtype).removeprefix('torch.')}" if setup.amp_dtype else "")

        split_path = run_dir / "split.json"
        if resume and split_path.exists():
            split = DataSplit.from_json(json.loads(split_path.read_text()))
            split.check_files(split_path)
            log.info("data: %d photos, %d cartoons (lists from split.json)", len(split.train_a),
                     len(split.train_b))
        else:
            split = build_split(cfg)  # every rank scans the same folders: the same split
        expression = (ExpressionAugConfig(mouth=cfg.expression_mouth, eyes=cfg.expression_eyes,
                                          wink=cfg.expression_winks, redraw=cfg.mouth_redraw,
                                          brows=cfg.expression_brows, pitch=cfg.expression_pitch,
                                          eye_redraw=cfg.eye_redraw, gaze=cfg.expression_gaze,
                                          brow_redraw=cfg.brow_redraw, eye_cover=cfg.eye_cover)
                      if cfg.expression_edits else None)
        dataset = UnpairedSteps(split.train_a, split.train_b, cfg.size, cfg.batch_size, cfg.steps, cfg.seed,
                                AugmentConfig(cfg.flip, cfg.min_scale, jitter=cfg.jitter),
                                with_a2=cfg.model == "content-invariant",
                                with_mesh=cfg.model == "mesh-conditioned",
                                expression=expression, rank=ranks.rank, world=ranks.world)
        if not resume:
            _absolute_paths(cfg)
        if not cfg.trained_on:
            cfg.trained_on = split.trained_on
        if ranks.main:
            if not (resume and split_path.exists()):
                ckpt.atomic_write_text(split_path, json.dumps(split.to_json()))
            ckpt.atomic_write_text(run_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))

        model = create_model(cfg, device, teacher=ckpt.load_teacher(cfg))
        model.train()
        if ranks.main:
            for line in model.generator_summary(cfg.size):
                log.info(line)
        start = 0
        if resume:
            start, info = ckpt.resume(run_dir, model, clean=ranks.main)
            saved_world = int(info.get("world_size", 1))
            log.info("resumed at step %d%s", start,
                     f" (saved by {saved_world} processes, now {ranks.world}: same global batch, same "
                     "training)" if saved_world != ranks.world else "")
        elif cfg.init_from:
            source_step = ckpt.init_weights(model, cfg.init_from)
            log.info("weights from %s (its step %d); step, optimisers and LR schedule start fresh",
                     cfg.init_from, source_step)
        if start >= cfg.steps:
            log.info("nothing to do: already at step %d of %d", start, cfg.steps)
            return run_dir
        model.distribute(ranks)
        n_vis = min(cfg.sample_count, len(split.val_a), len(split.val_b)) if ranks.main else 0
        vis_a = load_plain(split.val_a[:n_vis], cfg.size) if n_vis else None
        vis_b = load_plain(split.val_b[:n_vis], cfg.size) if n_vis else None
    except BaseException:
        if ranks.main and not resume:
            _discard_start(run_dir, created)
        raise

    workers = cfg.workers
    if workers < 0:
        workers = 0 if device.type == "cpu" else min(8, (os.cpu_count() or 1) // ranks.local_world)
    loader = DataLoader(dataset, batch_size=None, sampler=range(start, cfg.steps), num_workers=workers,
                        pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(cfg.seed),
                        persistent_workers=False)
    logs: tuple[ScalarWriter, TextIO] | None = None  # rank 0's TensorBoard scalars and metrics.jsonl
    if ranks.main:
        (run_dir / "samples").mkdir(exist_ok=True)
        logs = (ScalarWriter(run_dir / "tb"),
                open(run_dir / "metrics.jsonl", "a", encoding="utf-8"))  # noqa: SIM115 - closed below

    def write_samples(step: int) -> None:
        if vis_a is None:
            return
        with torch.random.fork_rng(devices=[]):
            model.eval()
            cols = model.visuals(vis_a, vis_b)
            model.train()
        save_grid(cols, run_dir / "samples" / f"step_{step:07d}.png")
        save_grid(cols, run_dir / "samples" / "latest.png")

    def save(step: int, periodic: bool) -> None:
        """Rank 0 writes the checkpoint of all ranks (checked to be one replica); every rank
        learns whether it worked before going on."""
        if ranks.active:
            ranks.check_replicas(model.replica_fingerprint())
        error: OSError | None = None
        if ranks.main:
            try:
                ckpt.save_checkpoint(run_dir, model, step, {"lr": lr_at(step, cfg), "steps": cfg.steps,
                                                            "lr_decay_start": cfg.lr_decay_start,
                                                            "world_size": ranks.world},
                                     periodic=periodic, keep=cfg.keep_checkpoints)
            except OSError as e:
                log.error("checkpoint of step %d not saved (%s); the previous checkpoint is intact, "
                          "--resume continues from it", step, e)
                error = e
        if not ranks.all_ok(error is None):
            raise error or OSError(f"rank 0 could not save the checkpoint of step {step} (see its error)")

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="it", dynamic_ncols=True,
               disable=not (cfg.progress and ranks.main), file=sys.stderr)
    window: dict[str, list[float]] = defaultdict(list)
    t_window, n_window = time.perf_counter(), 0
    step = start
    deadline = time.monotonic() + cfg.minutes * 60 if cfg.minutes > 0 else math.inf
    try:
        with _Stop() as stop:
            for step, batch in enumerate(loader, start):
                lr = lr_at(step, cfg)
                model.set_lr(lr)
                losses = model.step(batch)
                model.update_ema()
                # one all-reduce: the global batch's losses, and whether any rank must stop
                *values, n_stop, n_late = ranks.sum_values(
                    [*losses.values(), float(stop.signum is not None), float(time.monotonic() >= deadline)])
                losses = {k: v / ranks.world for k, v in zip(losses, values, strict=True)}
                if not all(math.isfinite(v) for v in losses.values()):
                    raise FloatingPointError(f"non-finite loss at step {step}: {losses}")
                done = step + 1
                for k, v in losses.items():
                    window[k].append(v)
                n_window += 1
                bar.update(1)
                if logs is not None and (done % cfg.log_every == 0 or done == cfg.steps):
                    writer, metrics = logs
                    dt = time.perf_counter() - t_window
                    means = {k: float(np.mean(v)) for k, v in window.items()}
                    its = n_window / max(dt, 1e-9)
                    bar.set_postfix({k: f"{v:.3f}" for k, v in list(means.items())[:4]}, refresh=False)
                    rec = {"step": done, "lr": lr, "it_per_s": its, **means}
                    metrics.write(json.dumps(rec) + "\n")
                    metrics.flush()
                    for k, v in means.items():
                        writer.add_scalar(f"loss/{k}", v, done)
                    writer.add_scalar("train/lr", lr, done)
                    writer.add_scalar("train/it_per_s", its, done)
                    writer.flush()
                    log.info("step %d  %s  lr %.2e  %.2f it/s", done,
                             " ".join(f"{k} {v:.3f}" for k, v in means.items()), lr, its)
                    window.clear()
                    t_window, n_window = time.perf_counter(), 0
                if done % cfg.sample_every == 0 or done == cfg.steps:
                    write_samples(done)
                if done % cfg.save_every == 0 or done == cfg.steps:
                    with stop.saving():
                        save(done, periodic=done % cfg.save_every == 0)
                off_schedule = done != cfg.steps  # the final step already wrote both
                if n_stop:
                    if off_schedule and done % cfg.save_every:
                        with stop.saving():
                            save(done, periodic=False)
                    if off_schedule and done % cfg.sample_every:  # where it stood, drawn after the
                        write_samples(done)                       # save: a second Ctrl-C loses no step
                    log.warning("stopped at step %d (resume with --resume)", done)
                    raise SystemExit(128 + (stop.signum or signal.SIGTERM))
                if n_late:
                    if off_schedule and done % cfg.sample_every:
                        write_samples(done)
                    if off_schedule and done % cfg.save_every:
                        with stop.saving():
                            save(done, periodic=False)
                    log.info("time budget of %g min reached at step %d (resume with --resume)",
                             cfg.minutes, done)
                    return run_dir
    except RuntimeError as e:
        if ranks.active and lost_rank(e):
            raise RankLost(f"rank {ranks.rank} lost the other training processes at step {step + 1}: "
                           f"{_short(e)}. Another rank failed (its error above) or stopped "
                           f"answering for {cfg.dist_timeout:g} s (dist_timeout); the last checkpoint is "
                           "intact, --resume continues from it") from e
        raise
    finally:
        bar.close()
        for closable in logs or ():
            closable.close()
    log.info("done: %d steps, checkpoints in %s", cfg.steps, ckpt.checkpoint_dir(run_dir))
    return run_dir


def _short(e: BaseException) -> str:
    """The first sentence of an error, without a leading `[file.cc:123]` source location."""
    text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), type(e).__name__)
    text = re.sub(r"^\[[^\]]*\]\s*", "", text)
    return text.split(". ")[0].rstrip(".")[:300]


__all__ = ["DataSplit", "TrainModel", "build_split", "lr_at", "save_grid", "train"]
