"""Checkpoints: safetensors weights + training state, written atomically; exact resume; export loading.

Layout of a run directory::

    RUN_DIR/config.json                       the full TrainConfig (rebuilds the model)
    RUN_DIR/checkpoints/latest.safetensors    model.state_dict(): every network + buffers
    RUN_DIR/checkpoints/latest.state.safetensors  optimiser tensors, image pools, RNG states
    RUN_DIR/checkpoints/latest.json           step, LR, optimiser param groups, grad scaler,
                                              Python/NumPy RNG, sha256 of both files
    RUN_DIR/checkpoints/step_0000200.*        the same, every `save_every` steps

A save writes and fsyncs all three files under temporary names first and only then `os.replace`s
them, the JSON last (the commit point; it carries the sha256 of the two tensor files). A write
that fails (disk full) removes its temporaries and leaves the previous checkpoint untouched; a
save killed mid-way leaves the previous files or a set whose hashes do not match, and resume
takes the newest complete checkpoint (and deletes a dead process's temporaries). Nothing is
unpickled: tensors come from safetensors, the rest from JSON.

For the export room::

    from training.checkpoint import CheckpointError, load_for_export
    model, cfg, step = load_for_export("runs/anime")      # or .../checkpoints/step_0000200.safetensors
    gen = model.generator_for_export()                     # nn.Module, float32 NCHW RGB [-1,1] -> same
    meta = model.export_metadata()                         # kind, generator, trained_on, license_note, ...
    # content-invariant only: model.generator_for_export(style_image=img)  (img [3,H,W] in [-1,1])
    #                         model.style_input_generator()  (forward(x, style_code=None))

`load_for_export` raises `CheckpointError` (one line: file and problem) for a missing, corrupt,
truncated or mismatched checkpoint.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from training.models import create_model
from training.options import ConfigError, TrainConfig

log = logging.getLogger("training.checkpoint")

FORMAT = 1
LATEST = "latest"
_PERIODIC = re.compile(r"^step_(\d{7,})\.json$")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message is one line naming the file and the problem."""


class WeightsMismatch(CheckpointError):
    """An intact weights file of another model (kind, generator, nets): not a damaged save."""


# -- small atomic file helpers ----------------------------------------------------------------

def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_TMP = re.compile(r"\.tmp(\d+)$")


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + f".tmp{os.getpid()}")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and rename (no temporary left on failure)."""
    tmp = _tmp(path)
    try:
        _write_text(tmp, text)
        _fsync_file(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _save_tensors(tensors: dict[str, torch.Tensor], tmp: Path, metadata: dict[str, str]) -> None:
    """safetensors' writer reports a full disk as SafetensorError; make it the OSError it is."""
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    except SafetensorError as e:
        m = re.search(r"os error (\d+)", str(e))
        if m is None:
            raise OSError(errno.EIO, f"cannot write tensors ({e})", str(tmp)) from None
        raise OSError(int(m.group(1)), os.strerror(int(m.group(1))), str(tmp)) from None
    _fsync_file(tmp)


def _link_or_copy(src: Path, tmp: Path) -> None:
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
        _fsync_file(tmp)


def _commit(staged: list[tuple[Path, Path]]) -> None:
    """Rename fully written and fsynced temporary files into place, the JSON last: its rename is
    the commit point. Nothing here needs disk space, so a full disk fails before any rename."""
    for tmp, dest in staged:
        os.replace(tmp, dest)
    _fsync_dir(staged[-1][1].parent)


def remove_stale_temporaries(d: Path) -> list[str]:
    """Delete `*.tmpPID` files left in `d` by a process that no longer runs (killed mid-save)."""
    removed = []
    for p in d.iterdir() if d.is_dir() else []:
        m = _TMP.search(p.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # that process still runs (another trainer?): leave its files alone
        except ProcessLookupError:
            pass
        except (PermissionError, OverflowError):
            continue
        p.unlink(missing_ok=True)
        removed.append(p.name)
    if removed:
        log.warning("removed %d temporary file(s) of an interrupted save: %s", len(removed),
                    ", ".join(sorted(removed)))
    return removed


# -- RNG ----------------------------------------------------------------------------------------

def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch (CPU, CUDA, MPS), NumPy and Python RNG states as tensors + JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, st in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = st
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        tensors["rng.mps"] = torch.mps.get_rng_state()
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    py = random.getstate()
    meta = {"numpy": [name, int(pos), int(has_gauss), float(gauss)],
            "python": [py[0], list(py[1]), py[2]]}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of `rng_state`."""
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    if "rng.mps" in tensors and getattr(torch.backends, "mps", None) is not None \
            and torch.backends.mps.is_available():
        torch.mps.set_rng_state(tensors["rng.mps"])
    name, pos, has_gauss, gauss = meta["numpy"]
    np.random.set_state((name, tensors["rng.numpy"].numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = meta["python"]
    random.setstate((version, tuple(internal), gauss_next))


# -- saving ---------------------------------------------------------------------------------------

def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_checkpoint(run_dir: str | Path, model: torch.nn.Module, step: int, info: dict[str, Any],
                    periodic: bool = False, keep: int = 0) -> Path:
    """Save weights + training state at `step` as `latest` (and `step_XXXXXXX` if `periodic`).

    `info` (JSON-able: LR, schedule, ...) is stored in the JSON. Returns the JSON path written.
    """
    d = checkpoint_dir(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    weights = dict(model.state_dict())
    extra_tensors, extra_meta = model.extra_state()  # type: ignore[operator]
    rng_tensors, rng_meta = rng_state()
    cfg = getattr(model, "cfg", None)
    st_meta = {"format": str(FORMAT), "step": str(step), "kind": getattr(model, "kind", ""),
               "generator": getattr(cfg, "generator", "")}
    names = [f"step_{step:07d}"] if periodic else []
    names.append(LATEST)
    first: tuple[Path, Path] | None = None
    hashes = ("", "")
    for name in names:
        wp, sp, jp = d / f"{name}.safetensors", d / f"{name}.state.safetensors", d / f"{name}.json"
        # stage all three files, then rename: a failed write (disk full) leaves the previous
        # checkpoint of that name untouched and no temporary behind
        staged: list[tuple[Path, Path]] = []
        try:
            if first is None:
                for tensors, dest in ((weights, wp), ({**extra_tensors, **rng_tensors}, sp)):
                    staged.append((_tmp(dest), dest))
                    _save_tensors(tensors, staged[-1][0], st_meta)
                hashes = (sha256_file(staged[0][0]), sha256_file(staged[1][0]))
            else:
                for src, dest in ((first[0], wp), (first[1], sp)):
                    staged.append((_tmp(dest), dest))
                    _link_or_copy(src, staged[-1][0])
            doc = {"format": FORMAT, "step": step, "time": time.time(),
                   "weights": wp.name, "weights_sha256": hashes[0],
                   "state": sp.name, "state_sha256": hashes[1],
                   "info": info, "model_state": extra_meta, "rng": rng_meta}
            staged.append((_tmp(jp), jp))
            _write_text(staged[-1][0], json.dumps(doc))
            _fsync_file(staged[-1][0])
        except BaseException:
            for tmp, _ in staged:
                tmp.unlink(missing_ok=True)
            raise
        _commit(staged)
        if first is None:
            first = (wp, sp)
    if periodic and keep > 0:
        _prune(d, keep)
    return d / f"{LATEST}.json"


def _prune(d: Path, keep: int) -> None:
    steps = sorted(int(m.group(1)) for p in d.iterdir() if (m := _PERIODIC.match(p.name)))
    for s in steps[:-keep]:
        for suffix in (".json", ".safetensors", ".state.safetensors"):
            (d / f"step_{s:07d}{suffix}").unlink(missing_ok=True)


# -- loading --------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint JSON ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or "weights" not in doc:
        raise CheckpointError(f"{path}: not an avatar-cam training checkpoint (format {FORMAT})")
    return doc


def _verify(path: Path, sha: str | None) -> None:
    if not path.is_file():
        raise CheckpointError(f"{path}: file missing")
    if sha is not None and sha256_file(path) != sha:
        raise CheckpointError(f"{path}: contents do not match its JSON (sha256 differs; interrupted "
                              "save or corrupt file)")


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"{path}: not a readable safetensors file ({first[:200]})") from None


def _check_kind(model: torch.nn.Module, path: Path, label: str) -> None:
    """The model kind and generator recorded in the file must be the ones `model` is."""
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError):
        return
    kind, gen = getattr(model, "kind", ""), getattr(getattr(model, "cfg", None), "generator", "")
    saved_kind, saved_gen = meta.get("kind", ""), meta.get("generator", "")
    if (saved_kind and kind and saved_kind != kind) or (saved_gen and gen and saved_gen != gen):
        raise WeightsMismatch(f"{path}: weights do not fit {label or f'the {kind}/{gen} model'}: the file "
                              f"holds a {saved_kind or '?'}/{saved_gen or '?'} model (checkpoint and "
                              "config.json from different runs?)")


def load_weights(model: torch.nn.Module, path: Path, label: str = "",
                 ema_hint: str = "the run it comes from used g_ema (a generator weight average); pass "
                                 "--set g_ema=DECAY with its decay") -> None:
    """Load a weights file into `model` strictly; WeightsMismatch on any mismatch (`ema_hint` says
    what to do when the file's only extra weights are a g_ema average the model lacks)."""
    tensors = _load_tensors(path)
    _check_kind(model, path, label)
    own = model.state_dict()
    missing = [k for k in own if k not in tensors]
    new_ema = bool(missing) and all(k.startswith("ema.") for k in missing)
    if new_ema:  # g_ema turned on at a resume: the average starts from these weights
        missing = []
    unexpected = [k for k in tensors if k not in own]
    shapes = [k for k in own if k in tensors and tuple(own[k].shape) != tuple(tensors[k].shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            k = shapes[0]
            parts.append(f"{len(shapes)} of another shape (e.g. {k} {list(tensors[k].shape)} "
                         f"vs {list(own[k].shape)})")
        if unexpected and not missing and not shapes and all(k.startswith("ema.") for k in unexpected):
            parts.append(ema_hint)
        raise WeightsMismatch(f"{path}: weights do not fit {label or 'the model'}: " + ", ".join(parts))
    model.load_state_dict(tensors, strict=not new_ema)
    if new_ema:
        model.reset_ema()  # type: ignore[operator]
        log.info("%s: no weight average in the file; the generator EMA starts from its weights", path.name)


def _step_of(doc: dict[str, Any]) -> int:
    try:
        return int(doc.get("step", -1))
    except (TypeError, ValueError):
        return -1


def _candidates(d: Path) -> list[Path]:
    periodic = sorted((p for p in d.iterdir() if _PERIODIC.match(p.name)),
                      key=lambda p: int(_PERIODIC.match(p.name).group(1)), reverse=True)  # type: ignore[union-attr]
    latest = d / f"{LATEST}.json"
    return ([latest] if latest.exists() else []) + periodic


def has_checkpoint(run_dir: str | Path) -> bool:
    d = checkpoint_dir(run_dir)
    return d.is_dir() and bool(_candidates(d))


def resume(run_dir: str | Path, model: torch.nn.Module, clean: bool = True) -> tuple[int, dict[str, Any]]:
    """Restore weights, optimiser/pool state and RNG from the newest complete checkpoint.

    Returns (step, info). Falls back from a damaged `latest` to older periodic checkpoints.
    Tensors load on the CPU and are copied to the model's device. `clean`: delete the
    temporaries of an interrupted save first (under torchrun rank 0 alone does).
    """
    d = checkpoint_dir(run_dir)
    cands = _candidates(d) if d.is_dir() else []
    if not cands:
        raise CheckpointError(f"{d}: no checkpoint to resume from")
    if clean:
        remove_stale_temporaries(d)
    problems = []
    docs: list[tuple[Path, dict[str, Any]]] = []
    for jp in cands:
        try:
            docs.append((jp, _read_json(jp)))
        except CheckpointError as e:
            problems.append(str(e))
            log.warning("cannot resume from %s: %s", jp.name, e)
    # newest step first (a save killed between its periodic and its `latest` files leaves the
    # periodic one newer), `latest` first among equals
    docs.sort(key=lambda t: (-_step_of(t[1]), t[0].name != f"{LATEST}.json"))
    for jp, doc in docs:
        try:
            wp, sp = d / doc["weights"], d / doc["state"]
            _verify(wp, doc.get("weights_sha256"))
            _verify(sp, doc.get("state_sha256"))
            state = _load_tensors(sp)
            load_weights(model, wp, f"the {getattr(model, 'kind', '')} model")
            model.load_extra_state(state, doc["model_state"])  # type: ignore[operator]
            set_rng_state(state, doc["rng"])
        except WeightsMismatch as e:  # another model's weights: an older step is no way out
            raise CheckpointError(f"{d}: no usable checkpoint ({e}); an older step is not taken "
                                  "instead") from None
        except (CheckpointError, KeyError, ValueError, TypeError) as e:
            problems.append(str(e))
            log.warning("cannot resume from %s: %s", jp.name, e)
            continue
        if jp.name != f"{LATEST}.json":
            log.warning("resumed from %s (latest was older or unusable)", jp.name)
        return int(doc["step"]), doc.get("info", {})
    raise CheckpointError(f"{d}: no usable checkpoint ({problems[0]})")


def _resolve(path: str | Path) -> tuple[Path, Path | None, Path]:
    """(weights file, its JSON or None, run config.json) for a run dir, checkpoints dir or file."""
    p = Path(path).expanduser()
    if p.is_dir():
        d = p if p.name == "checkpoints" or not (p / "checkpoints").is_dir() else p / "checkpoints"
        jp = d / f"{LATEST}.json"
        if not jp.exists():
            cands = _candidates(d) if d.is_dir() else []
            if not cands:
                raise CheckpointError(f"{p}: no checkpoint found (expected checkpoints/latest.json)")
            jp = cands[0]
        doc = _read_json(jp)
        return d / doc["weights"], jp, d.parent / "config.json"
    if p.suffix == ".json":
        doc = _read_json(p)
        return p.parent / doc["weights"], p, _config_beside(p.parent)
    if p.name.endswith(".state.safetensors"):
        weights = p.name.removesuffix(".state.safetensors") + ".safetensors"
        raise CheckpointError(f"{p}: that is the optimiser-state file of a checkpoint; give its weights "
                              f"({weights}), its .json or the run directory")
    if p.suffix == ".safetensors":
        stem = p.name[: -len(".safetensors")]
        jp = p.with_name(stem + ".json")
        return p, (jp if jp.exists() else None), _config_beside(p.parent)
    raise CheckpointError(f"{p}: not a run directory, checkpoint JSON or .safetensors file")


def _config_beside(folder: Path) -> Path:
    """The run config of a checkpoint file in `folder`: RUN/config.json for RUN/checkpoints/, else
    one copied into the same folder as the checkpoint."""
    in_run = folder.parent / "config.json"
    return in_run if in_run.is_file() or not (folder / "config.json").is_file() else folder / "config.json"


def _checked_weights(path: str | Path) -> tuple[Path, Path, int]:
    """(weights file, run config.json, step) for a run dir or checkpoint, the weights checked
    against their JSON's sha256 when there is one (step 0 without)."""
    weights, jp, cfg_path = _resolve(path)
    if jp is None:
        if not weights.is_file():
            raise CheckpointError(f"{weights}: file missing")
        return weights, cfg_path, 0
    doc = _read_json(jp)
    _verify(weights, doc.get("weights_sha256"))
    return weights, cfg_path, int(doc.get("step", 0))


def load_config(path: str | Path) -> TrainConfig:
    """A run's config.json as a TrainConfig (CheckpointError if missing or invalid)."""
    p = Path(path)
    try:
        values = json.loads(p.read_text(encoding="utf-8"))
        return TrainConfig.from_dict(values, str(p))
    except FileNotFoundError:
        raise CheckpointError(f"{p}: missing (the run's config is needed to rebuild the model: a checkpoint "
                              "file is found in RUN/checkpoints/, or with RUN/config.json copied beside it)"
                              ) from None
    except (json.JSONDecodeError, ConfigError) as e:
        raise CheckpointError(f"{p}: invalid run config ({e})") from None


def load_for_export(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, TrainConfig, int]:
    """Rebuild the model from the run's config.json and load its weights (no training state).

    `path`: a run directory (uses checkpoints/latest), a checkpoint JSON, or a weights
    `.safetensors` file inside `RUN_DIR/checkpoints/`. Returns (model in eval mode, config, step).
    Raises CheckpointError with one line for anything unusable.
    """
    weights, cfg_path, step = _checked_weights(path)
    cfg = load_config(cfg_path)
    try:
        model = create_model(cfg, device)
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{cfg_path}: cannot build the model ({e})") from None
    load_weights(model, weights, f"the {cfg.model}/{cfg.generator} model of {cfg_path.name}")
    return model.eval(), cfg, step


def init_weights(model: torch.nn.Module, path: str | Path) -> int:
    """Load every weight of the checkpoint `path` names (run dir, JSON or .safetensors) into a
    new run's `model`; returns the step it was saved at (0 if unknown). Optimiser and RNG state
    stay fresh. CheckpointError with one line if it does not fit."""
    weights, cfg_path, step = _checked_weights(path)
    try:  # only for the hint: a config.json of an older version need not load
        decay = float(json.loads(cfg_path.read_text(encoding="utf-8")).get("g_ema", 0.0))
    except (OSError, ValueError, TypeError, AttributeError):
        decay = 0.0
    hint = (f"the parent run used g_ema={decay:g}; pass --set g_ema={decay:g}" if decay else
            "the parent run used g_ema (a generator weight average); pass --set g_ema=DECAY with its decay")
    load_weights(model, weights, f"the {getattr(model, 'kind', '')} model (init_from {path})", hint)
    return step


def run_file(path: str | Path, name: str) -> Path:
    """File `name` (split.json, ...) of the run a checkpoint path (run dir, JSON, .safetensors)
    belongs to; CheckpointError when `path` is none of those."""
    return _resolve(path)[2].with_name(name)


def latest_step(run_dir: str | Path) -> int | None:
    """Step of the newest checkpoint JSON in RUN_DIR that reads (not verified), or None."""
    d = checkpoint_dir(run_dir)
    steps = []
    for jp in _candidates(d) if d.is_dir() else []:
        with contextlib.suppress(CheckpointError):
            steps.append(_step_of(_read_json(jp)))
    return max(steps, default=None)


def load_teacher(cfg: TrainConfig) -> torch.nn.Module | None:
    """The trained generator `cfg.teacher` names (a run dir or checkpoint), for distillation."""
    if not cfg.teacher:
        return None
    model, _, _ = load_for_export(cfg.teacher)
    return model.generator_for_export()
