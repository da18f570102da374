"""Where an export's network comes from: a training run/checkpoint, or a random initialisation.

Either way the result is an `ExportSource`: the network to trace, the float32 torch reference it
must reproduce, the style-file metadata with provenance, and real photos to verify on.
Checkpoints are loaded by `training.checkpoint.load_for_export` (safetensors + JSON, no pickle).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.onnx_export import EncoderExport, ExportError, encoder_references, read_rgb
from training.checkpoint import sha256_file

# Terms of the data sets this project trains on (../shared/datasets/README.md), matched by a
# folder name anywhere in a run's data paths, so a style file names its data and their terms.
KNOWN_DATA = {
    "selfie2anime": "selfie2anime (U-GAT-IT): no license stated by the authors, anime frames belong "
                    "to their studios; research use only",
    "utkface": "UTKFace: non-commercial research purposes only; copyright stays with the owners",
    "dicebear": "DiceBear avatars: CC BY 4.0 (adventurer, big-ears, big-smile, micah, personas, "
                "toon-head; attribution required), CC0 (open-peeps), free for personal and "
                "commercial use (avataaars)",
}
GENERIC_LICENSE = "trained on third-party images; see their terms"
SIZE_MULTIPLE = {"resnet9": 4, "light": 8}
# runs whose generator takes a style code (Ec + R of the content/style split)
STYLE_CODE_KINDS = ("content-invariant", "mesh-conditioned")

Reference = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass
class ExportSource:
    """A network ready to export plus everything the file should say about it."""

    net: nn.Module  # forward(image) or, with style_code_dim, forward(image, style_code)
    reference: Reference  # float32 torch computation the file must match
    metadata: dict[str, str]
    train_size: int
    size_multiple: int
    style_code_dim: int | None = None
    default_code: np.ndarray | None = None  # [D], the code fed when the app has no other
    extra_codes: list[tuple[str, np.ndarray]] = field(default_factory=list)  # also verified
    photos: list[Path] = field(default_factory=list)
    summary: str = ""
    encoder: EncoderExport | None = None  # style-code exports: the style encoder shipped beside


def config_sha256(values: dict) -> str:
    """sha256 of a config as canonical JSON (sorted keys, compact separators)."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def data_terms(paths: list[str]) -> str:
    """Terms of every recognised data set among `paths` ('' when none is recognised)."""
    found: list[str] = []
    for p in paths:
        parts = {part.lower() for part in Path(p).parts}
        for key, terms in KNOWN_DATA.items():
            if any(key in part for part in parts) and terms not in found:
                found.append(terms)
    return "; ".join(found)


def _folder_label(p: str) -> str:
    return "/".join(Path(p).parts[-2:])


def _run_dir_and_json(path: Path) -> tuple[Path, Path | None]:
    """(run directory, checkpoint JSON or None) for a run dir, checkpoints dir, JSON or weights."""
    if path.is_dir():
        ck = path if path.name == "checkpoints" else path / "checkpoints"
        jp = ck / "latest.json"
        return ck.parent, jp if jp.is_file() else None
    if path.name.endswith(".safetensors"):
        jp = path.with_name(path.name[: -len(".safetensors")] + ".json")
        return path.parent.parent, jp if jp.is_file() else None
    return path.parent.parent, path if path.suffix == ".json" and path.is_file() else None


def _held_out(run_dir: Path, key: str, limit: int = 8) -> list[Path]:
    """The run's held-out files of `key` (split.json val_A / val_B) that exist here."""
    split = run_dir / "split.json"
    found: list[Path] = []
    if split.is_file():
        try:
            found = [Path(p) for p in json.loads(split.read_text(encoding="utf-8")).get(key, [])]
        except (OSError, ValueError):
            found = []
    return [p for p in found if p.is_file()][:limit]


def _validation_photos(run_dir: Path, cfg: object, limit: int = 8) -> list[Path]:
    """Held-out photos of the run (split.json val_A), else the first images of its photo folders."""
    found = _held_out(run_dir, "val_A", limit)
    if found:
        return found
    dirs = list(getattr(cfg, "data_a", []) or [])
    if getattr(cfg, "dataroot", ""):
        dirs.insert(0, str(Path(cfg.dataroot) / "trainA"))  # type: ignore[attr-defined]
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    for d in dirs:
        if Path(d).is_dir():
            found += sorted(p for p in Path(d).iterdir() if p.suffix.lower() in exts)[:limit]
        if len(found) >= limit:
            break
    return found[:limit]


def load_style_image(path: str | Path, size: int) -> torch.Tensor:
    """A reference cartoon image as [3, size, size] float32 in [-1, 1] (centre square crop)."""
    rgb = read_rgb(Path(path), size)
    if rgb is None:
        raise ExportError(f"{path}: not a readable image (--style-image)")
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy()).float().div(127.5).sub(1.0)


def gmacs(net: nn.Module, size: int) -> str:
    """Multiply-accumulates of one forward pass at `size`x`size`, in GMAC ('%.3f')."""
    from training.macs import count_macs

    return f"{count_macs(net, size) / 1e9:.3f}"


def _macs_meta(net: nn.Module) -> dict[str, str]:
    from training.macs import count_params

    return {"params": str(count_params(net)), "gmac_256": gmacs(net, 256)}


def _content_invariant_nets(model: object, style_image: torch.Tensor | None, style_input: bool
                            ) -> tuple[nn.Module, Reference, np.ndarray, int]:
    """(net to export, unbaked float32 reference, the style code in use, D) for a ContentInvariant."""
    unbaked = model.style_input_generator(style_image)  # type: ignore[attr-defined]
    unbaked = unbaked.float().cpu().eval()
    code = unbaked.code.detach().float().cpu().numpy().reshape(-1)
    net = unbaked if style_input else model.generator_for_export(style_image)  # type: ignore[attr-defined]

    def reference(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return unbaked(x, c)  # c None: the baked code, computed through the MLP (checks the baking)

    return net, reference, code, int(code.size)


def _plain_reference(net: nn.Module) -> Reference:
    ref = net.float().cpu().eval()

    def reference(x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return ref(x)

    return reference


def _encoder(model: object, size: int, meta: dict[str, str], pictures: list[Path]) -> EncoderExport:
    """The model's style encoder (Es, EMA weights where kept) with what its file should say."""
    net = model.style_encoder_for_export()  # type: ignore[attr-defined]
    keys = ("trained_on", "license_note", "data_terms", "run", "step", "weights_sha256", "style_lowpass")
    info = {k: meta[k] for k in keys if meta.get(k)}
    info.update(name=f"{meta.get('name', 'style')} style encoder", kind="style-encoder",
                description="reference picture (the app's crop of it, RGB in [-1, 1]) -> style code")
    return EncoderExport(net=net, size=size, references=encoder_references(pictures, size), metadata=info)


def _style_codes(code: np.ndarray, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """A second, different code to check the style input really steers the output."""
    rng = np.random.default_rng(seed)
    other = (code + rng.normal(0.0, 1.0, code.shape)).astype(np.float32)
    return [("another style code", other)]


def from_checkpoint(path: str | Path, style_image: str | Path | None = None, style_input: bool = False
                    ) -> ExportSource:
    """Load a run dir / checkpoint file with `training.checkpoint.load_for_export`."""
    from training.checkpoint import CheckpointError, load_for_export

    p = Path(path).expanduser()
    if not p.exists():
        raise ExportError(f"{p}: no such run directory or checkpoint file")
    try:
        model, cfg, step = load_for_export(p)
    except CheckpointError as e:
        raise ExportError(str(e)) from None
    kind = getattr(model, "kind", cfg.model)
    if (style_image is not None or style_input) and kind not in STYLE_CODE_KINDS:
        flag = "--style-image" if style_image is not None else "--style-input"
        raise ExportError(f"{flag} needs a content-invariant run; {p} is a {kind} run (one fixed style)")
    meta = {k: str(v) for k, v in model.export_metadata().items()}
    run_dir, jp = _run_dir_and_json(p)
    image = load_style_image(style_image, cfg.size) if style_image is not None else None

    code = None
    extra: list[tuple[str, np.ndarray]] = []
    dim = None
    if kind in STYLE_CODE_KINDS:
        net, reference, code, d = _content_invariant_nets(model, image, style_input)
        if style_input:
            dim = d
            extra = _style_codes(code)
        if style_image is not None:
            sp = Path(style_image)
            meta["style_source"] = f"reference image {sp.name} (sha256 {sha256_file(sp)[:16]})"
            meta["name"] = f"{meta.get('name', kind)}-{sp.stem}"
        else:
            meta["style_source"] = "mean cartoon style code of the training cartoons"
        meta["default_style"] = meta["style_source"]
    else:
        net = model.generator_for_export()
        reference = _plain_reference(net)

    meta.update(_macs_meta(net))
    data = ([cfg.dataroot] if cfg.dataroot else []) + list(cfg.data_a) + list(cfg.data_b)
    terms = data_terms(data)
    if not meta.get("trained_on") or meta["trained_on"] == "unknown":
        meta["trained_on"] = "; ".join(_folder_label(d) for d in data) or "unknown"
    if terms:
        meta["data_terms"] = terms
        if meta.get("license_note", GENERIC_LICENSE) == GENERIC_LICENSE:
            meta["license_note"] = f"trained on third-party images under these terms: {terms}"
    meta.update({
        "source": "training run",
        "run": run_dir.name,
        "checkpoint": (jp.name if jp is not None else p.name),
        "step": str(step),
        "config_sha256": config_sha256(cfg.to_dict()),
        "training_size": str(cfg.size),
        "data_a": ", ".join(_folder_label(d) for d in ([cfg.dataroot + "/trainA"] if cfg.dataroot else [])
                            + list(cfg.data_a)),
        "data_b": ", ".join(_folder_label(d) for d in ([cfg.dataroot + "/trainB"] if cfg.dataroot else [])
                            + list(cfg.data_b)),
    })
    if jp is not None:
        try:
            sha = json.loads(jp.read_text(encoding="utf-8")).get("weights_sha256")
        except (OSError, ValueError):
            sha = None
        if sha:
            meta["weights_sha256"] = str(sha)
    if cfg.teacher:
        meta["distilled_from"] = Path(cfg.teacher).name
    if getattr(cfg, "style_lowpass", 0):
        meta["style_lowpass"] = str(cfg.style_lowpass)
    encoder = _encoder(model, cfg.size, meta, _held_out(run_dir, "val_B")) if dim else None
    return ExportSource(
        net=net, reference=reference, metadata=meta, train_size=cfg.size,
        size_multiple=SIZE_MULTIPLE.get(cfg.generator, 8), style_code_dim=dim, default_code=code,
        extra_codes=extra, photos=_validation_photos(run_dir, cfg), encoder=encoder,
        summary=f"{run_dir.name}: {kind}/{cfg.generator}, step {step}, trained at {cfg.size}px")


def from_random_init(generator: str = "resnet9", model: str = "cyclegan", size: int = 256, seed: int = 0,
                     style_input: bool = False, dynamic: bool = False) -> ExportSource:
    """An untrained generator (N(0, 0.02) weights) for speed benchmarks: honest in its metadata."""
    from training.models import create_model
    from training.options import TrainConfig

    if style_input and model != "content-invariant":
        raise ExportError("--style-input needs --model content-invariant")
    torch.manual_seed(seed)
    try:
        cfg = TrainConfig(model=model, generator=generator, size=size, seed=seed)
        built = create_model(cfg, "cpu").eval()
    except ValueError as e:
        raise ExportError(f"cannot build {model}/{generator}: {e}") from None
    code = None
    dim = None
    extra: list[tuple[str, np.ndarray]] = []
    if model == "content-invariant":
        net, reference, code, d = _content_invariant_nets(built, None, style_input)
        if style_input:
            dim, extra = d, _style_codes(code)
    else:
        net = built.generator_for_export()
        reference = _plain_reference(net)
    kind = getattr(built, "kind", model)
    meta = {
        "name": f"{kind}-{generator}-{'dynamic' if dynamic else size}-untrained",
        "kind": kind,
        "generator": generator,
        "untrained": "true",
        "trained_on": "nothing: random initialisation N(0, 0.02), for speed benchmarks only; "
                      "the output is meaningless",
        "license_note": "MIT; untrained weights, no training data",
        "description": "Untrained network with the real architecture: same cost as a trained "
                       "style, use it only to measure speed.",
        "source": "random initialisation",
        "seed": str(seed),
    }
    meta.update(_macs_meta(net))
    encoder = _encoder(built, size, meta, []) if dim else None
    return ExportSource(net=net, reference=reference, metadata=meta, train_size=size,
                        size_multiple=SIZE_MULTIPLE.get(generator, 8), style_code_dim=dim,
                        default_code=code, extra_codes=extra, encoder=encoder,
                        summary=f"random init: {kind}/{generator} (untrained, seed {seed})")


