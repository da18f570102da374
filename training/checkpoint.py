"""Checkpoints: safetensors weights + training state, written atomically; exact resume; export loading.

Layout of a run directory::

    RUN_DIR/config.json                       the full TrainConfig (rebuilds the model)
    RUN_DIR/checkpoints/latest.safetensors    model.state_dict(): every network + buffers
    RUN_DIR/checkpoints/latest.state.safetensors  optimiser tensors, image pools, RNG states
    RUN_DIR/checkpoints/latest.json           step, LR, optimiser param groups, grad scaler,
                                              Python/NumPy RNG, sha256 of both files
    RUN_DIR/checkpoints/step_0000200.*        the same, every `save_every` steps

Every file is written to a temporary name and `os.replace`d; the JSON goes last and carries the
sha256 of the two tensor files, so a save cut short by a crash or SIGKILL is detected (resume
then falls back to the newest complete periodic checkpoint). Nothing is unpickled: tensors come
from safetensors, the rest from JSON.

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
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from training.options import ConfigError, TrainConfig

log = logging.getLogger("training.checkpoint")

FORMAT = 1
LATEST = "latest"
_PERIODIC = re.compile(r"^step_(\d{7,})\.json$")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used; the message is one line naming the file and the problem."""


# -- small atomic file helpers ----------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_replace(tmp: Path, dest: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file and rename."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    _fsync_replace(tmp, path)


def _atomic_save_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    _fsync_replace(tmp, path)


def _link_or_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    if tmp.exists():
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


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
    for name in names:
        wp, sp, jp = d / f"{name}.safetensors", d / f"{name}.state.safetensors", d / f"{name}.json"
        if first is None:
            _atomic_save_tensors(weights, wp, st_meta)
            _atomic_save_tensors({**extra_tensors, **rng_tensors}, sp, st_meta)
            first = (wp, sp)
            hashes = (_sha256(wp), _sha256(sp))
        else:
            _link_or_copy(first[0], wp)
            _link_or_copy(first[1], sp)
        doc = {"format": FORMAT, "step": step, "time": time.time(),
               "weights": wp.name, "weights_sha256": hashes[0],
               "state": sp.name, "state_sha256": hashes[1],
               "info": info, "model_state": extra_meta, "rng": rng_meta}
        atomic_write_text(jp, json.dumps(doc))
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
    if sha is not None and _sha256(path) != sha:
        raise CheckpointError(f"{path}: contents do not match its JSON (sha256 differs; interrupted "
                              "save or corrupt file)")


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise CheckpointError(f"{path}: not a readable safetensors file ({first[:200]})") from None


def load_weights(model: torch.nn.Module, path: Path, label: str = "") -> None:
    """Load a weights file into `model` strictly; CheckpointError on any mismatch."""
    tensors = _load_tensors(path)
    own = model.state_dict()
    missing = [k for k in own if k not in tensors]
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
        raise CheckpointError(f"{path}: weights do not fit {label or 'the model'}: " + ", ".join(parts))
    model.load_state_dict(tensors, strict=True)


def _candidates(d: Path) -> list[Path]:
    periodic = sorted((p for p in d.iterdir() if _PERIODIC.match(p.name)),
                      key=lambda p: int(_PERIODIC.match(p.name).group(1)), reverse=True)  # type: ignore[union-attr]
    latest = d / f"{LATEST}.json"
    return ([latest] if latest.exists() else []) + periodic


def has_checkpoint(run_dir: str | Path) -> bool:
    d = checkpoint_dir(run_dir)
    return d.is_dir() and bool(_candidates(d))


def resume(run_dir: str | Path, model: torch.nn.Module) -> tuple[int, dict[str, Any]]:
    """Restore weights, optimiser/pool state and RNG from the newest complete checkpoint.

    Returns (step, info). Falls back from a damaged `latest` to older periodic checkpoints.
    """
    d = checkpoint_dir(run_dir)
    cands = _candidates(d) if d.is_dir() else []
    if not cands:
        raise CheckpointError(f"{d}: no checkpoint to resume from")
    problems = []
    for jp in cands:
        try:
            doc = _read_json(jp)
            wp, sp = d / doc["weights"], d / doc["state"]
            _verify(wp, doc.get("weights_sha256"))
            _verify(sp, doc.get("state_sha256"))
            state = _load_tensors(sp)
            load_weights(model, wp, f"the {getattr(model, 'kind', '')} model")
            model.load_extra_state(state, doc["model_state"])  # type: ignore[operator]
            set_rng_state(state, doc["rng"])
        except (CheckpointError, KeyError, ValueError) as e:
            problems.append(str(e))
            log.warning("cannot resume from %s: %s", jp.name, e)
            continue
        if jp.name != f"{LATEST}.json":
            log.warning("resumed from %s (latest was unusable)", jp.name)
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
        return p.parent / doc["weights"], p, p.parent.parent / "config.json"
    if p.suffix == ".safetensors":
        stem = p.name[: -len(".safetensors")]
        jp = p.with_name(stem + ".json")
        return p, (jp if jp.exists() else None), p.parent.parent / "config.json"
    raise CheckpointError(f"{p}: not a run directory, checkpoint JSON or .safetensors file")


def load_config(path: str | Path) -> TrainConfig:
    """A run's config.json as a TrainConfig (CheckpointError if missing or invalid)."""
    p = Path(path)
    try:
        values = json.loads(p.read_text(encoding="utf-8"))
        return TrainConfig.from_dict(values, str(p))
    except FileNotFoundError:
        raise CheckpointError(f"{p}: missing (the run's config is needed to rebuild the model)") from None
    except (json.JSONDecodeError, ConfigError) as e:
        raise CheckpointError(f"{p}: invalid run config ({e})") from None


def load_for_export(path: str | Path, device: str = "cpu") -> tuple[torch.nn.Module, TrainConfig, int]:
    """Rebuild the model from the run's config.json and load its weights (no training state).

    `path`: a run directory (uses checkpoints/latest), a checkpoint JSON, or a weights
    `.safetensors` file inside `RUN_DIR/checkpoints/`. Returns (model in eval mode, config, step).
    Raises CheckpointError with one line for anything unusable.
    """
    from training.models import create_model

    weights, jp, cfg_path = _resolve(path)
    cfg = load_config(cfg_path)
    step = 0
    if jp is not None:
        doc = _read_json(jp)
        _verify(weights, doc.get("weights_sha256"))
        step = int(doc.get("step", 0))
    elif not weights.is_file():
        raise CheckpointError(f"{weights}: file missing")
    try:
        model = create_model(cfg, device, load_teacher=False)
    except (ValueError, KeyError) as e:
        raise CheckpointError(f"{cfg_path}: cannot build the model ({e})") from None
    load_weights(model, weights, f"the {cfg.model}/{cfg.generator} model of {cfg_path.name}")
    return model.eval(), cfg, step
