"""Every training option in one dataclass; defaults < `--config FILE` (TOML or JSON) < CLI flags.

The full resolved config is written to `RUN_DIR/config.json`; `training.checkpoint` rebuilds
models from it, so it is also the export room's source of truth for what a checkpoint holds.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODELS = ("cyclegan", "content-invariant", "mesh-conditioned")

# Smallest allowed value of numeric options (0 for a divisor or a size crashes mid-run otherwise).
_MINIMUM = {"log_every": 1, "sample_every": 1, "save_every": 1, "ndf": 1, "d_layers": 1, "style_dim": 1,
            "gen_width": 0, "val_count": 0, "sample_count": 0, "pool_size": 0, "threads": 0,
            "workers": -1, "keep_checkpoints": 0, "jitter": 0.0, "minutes": 0.0,
            "style_lowpass": 0, "lambda_features": 0.0, "lambda_look": 0.0, "expression_mouth": 0.0,
            "expression_eyes": 0.0, "expression_winks": 0.0, "mouth_redraw": 0.0, "expression_brows": 0.0,
            "expression_pitch": 0.0, "expression_gaze": 0.0, "eye_redraw": 0.0, "brow_redraw": 0.0,
            "eye_cover": 0.0, "g_ema": 0.0, "dist_timeout": 1.0, "seed": 0, "lr_decay_start": -1,
            # loss weights: a negative one would train towards the opposite of its term
            "lambda_gan": 0.0, "lambda_cycle": 0.0, "lambda_identity": 0.0, "lambda_rec": 0.0,
            "lambda_content": 0.0, "lambda_self": 0.0, "lambda_style": 0.0, "lambda_distill": 0.0}

# Keys that may differ between a run and its `--resume` (they do not change the maths).
RUNTIME_KEYS = {"device", "workers", "save_every", "sample_every", "log_every", "keep_checkpoints",
                "progress", "steps", "out", "threads", "minutes", "dist_timeout"}
# Keys a `--resume` may change on purpose (logged): the rest of the run's schedule. Turning the
# generator EMA on mid-run starts the average from the resumed weights.
SCHEDULE_KEYS = {"lr_decay_start", "g_ema"}


class ConfigError(ValueError):
    """A bad option or config file; the message is one line."""


@dataclass
class TrainConfig:
    """A training run. Loss weights follow the CycleGAN paper and reference implementation."""

    model: str = "cyclegan"            # cyclegan | content-invariant | mesh-conditioned
    generator: str = "resnet9"         # resnet9 | light
    out: str = "runs/run"
    dataroot: str = ""                 # folder with trainA/ and trainB/ (CycleGAN layout)
    data_a: list[str] = field(default_factory=list)  # photo folders (several allowed)
    data_b: list[str] = field(default_factory=list)  # cartoon folders
    size: int = 256
    batch_size: int = 1
    steps: int = 10000
    minutes: float = 0.0               # per invocation: stop (checkpointed) after this long; 0: none
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda | mps
    amp: str = "auto"                  # auto (bf16/fp16 on GPU, off on CPU) | off | bf16 | fp16
    workers: int = -1                  # data loader workers, -1: auto
    threads: int = 0                   # torch CPU threads, 0: torch's default (1 is best on a busy CPU)
    dist_timeout: float = 300.0        # torchrun: a collective waiting this many seconds fails the run
    # optimisation
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    lr_decay_start: int = -1           # step where linear decay to 0 starts; -1: steps // 2
    gan_mode: str = "lsgan"            # lsgan | vanilla (the paper's log loss)
    lambda_gan: float = 1.0            # weight of the generators' adversarial terms
    # networks
    upsample: str = "transpose"        # resnet9 only: transpose (reference) | resize
    gen_width: int = 0                 # 0: 64 for resnet9, 32 for light
    ndf: int = 64
    d_layers: int = 3                  # 3: the 70x70 PatchGAN
    # CycleGAN
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5       # times lambda_cycle, as in the reference
    pool_size: int = 50
    g_ema: float = 0.0                 # decay of an EMA of the generator weights (0: off); export
                                       # and samples use the average (e.g. 0.999)
    # content-invariant
    style_dim: int = 8
    lambda_rec: float = 10.0           # ||R(Ec(fake), Es(x')) - x||
    lambda_content: float = 1.0        # ||Ec(fake) - Ec(x)||
    lambda_self: float = 10.0          # self-reconstruction of both domains (added)
    lambda_style: float = 1.0          # ||Es(fake) - Es(y)|| style reconstruction (added)
    style_ema: float = 0.01            # momentum of the running mean cartoon style code
    # mesh-conditioned
    style_lowpass: int = 0             # Es sees the cartoon average-pooled by this factor (0: as is)
    lambda_features: float = 0.0       # extra L1 on the eye/brow/mouth pixels of the mesh drawing
    lambda_look: float = 0.0           # ||Es(fake) - Es(y')||: a photo mesh drawn in y's look keeps it
    expression_mouth: float = 0.0      # chance a cartoon pair gets an opened mouth (expression_aug)
    expression_eyes: float = 0.0       # chance a cartoon pair gets closed eyes
    expression_winks: float = 0.2      # share of those that close one eye only
    mouth_redraw: float = 0.0          # chance a cartoon's mouth is redrawn from its landmarks
    expression_brows: float = 0.0      # chance a cartoon pair's brows move up or down
    expression_pitch: float = 0.0      # chance a cartoon pair's head turns up or down
    eye_redraw: float = 0.0            # chance a cartoon's eyes are redrawn from its landmarks
    expression_gaze: float = 0.0       # share of those whose irises move first
    brow_redraw: float = 0.0           # chance a cartoon's brows are redrawn from its landmarks
    eye_cover: float = 0.0             # a redrawn eye also paints over an ellipse this many eye
    # widths across around it (anime eyes, larger and lower than the mesh's outline; 0: off)
    # fine-tuning: every net's weights (EMA included) from this run dir or checkpoint of the same
    # model and generator; the step count, optimisers and LR schedule start fresh, the size may
    # differ (the networks are fully convolutional): progressive size
    init_from: str = ""
    # distillation (cyclegan only): L1 between the student's and a trained teacher's G_A(x)
    teacher: str = ""                  # run dir or checkpoint of a trained model
    lambda_distill: float = 10.0
    # data
    val_count: int = 50                # held out per domain (fixed seed), used by samples + eval
    flip: bool = True
    min_scale: float = 0.8
    jitter: float = 0.1
    # logging and checkpoints
    log_every: int = 10
    sample_every: int = 500
    sample_count: int = 4
    save_every: int = 1000
    keep_checkpoints: int = 5          # periodic checkpoints kept (0: all)
    progress: bool = True
    # style-file metadata
    name: str = ""
    trained_on: str = ""               # default: built from the data folders
    license_note: str = ""

    @property
    def expression_edits(self) -> bool:
        return bool(self.expression_mouth or self.expression_eyes or self.mouth_redraw
                    or self.expression_brows or self.expression_pitch or self.eye_redraw
                    or self.brow_redraw)

    def resolved_decay_start(self) -> int:
        return self.steps // 2 if self.lr_decay_start < 0 else self.lr_decay_start

    def validate(self) -> TrainConfig:
        """Check values; raise ConfigError with one line."""
        if self.model not in MODELS:
            raise ConfigError(f"--model must be one of {', '.join(MODELS)}, not {self.model!r}")
        if self.generator not in ("resnet9", "light"):
            raise ConfigError(f"--generator must be resnet9 or light, not {self.generator!r}")
        if self.size % 8 or self.size < 32:
            raise ConfigError(f"--size must be a multiple of 8 and >= 32, not {self.size}")
        if self.batch_size < 1 or self.steps < 1:
            raise ConfigError("--batch-size and --steps must be >= 1")
        if self.gan_mode not in ("lsgan", "vanilla"):
            raise ConfigError(f"gan_mode must be lsgan or vanilla, not {self.gan_mode!r}")
        if self.amp not in ("auto", "off", "bf16", "fp16"):
            raise ConfigError(f"amp must be auto, off, bf16 or fp16, not {self.amp!r}")
        if self.device not in ("auto", "cpu", "cuda", "mps") and not re.fullmatch(r"cuda:\d+", self.device):
            raise ConfigError(f"--device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}")
        if self.upsample not in ("transpose", "resize"):
            raise ConfigError(f"upsample must be transpose or resize, not {self.upsample!r}")
        if self.teacher and self.model != "cyclegan":
            raise ConfigError("teacher distillation is implemented for --model cyclegan only")
        if not (self.dataroot or self.data_a) or not (self.dataroot or self.data_b):
            raise ConfigError("give --dataroot DIR (with trainA/ trainB/) or --data-a DIR and --data-b DIR")
        for f in dataclasses.fields(self):  # nan and inf pass every >= check below
            v = getattr(self, f.name)
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{f.name} must be a finite number, not {v}")
        for key, low in _MINIMUM.items():
            if getattr(self, key) < low:
                raise ConfigError(f"{key} must be >= {low}, not {getattr(self, key)}")
        if self.style_lowpass and self.size % self.style_lowpass:
            raise ConfigError(f"size {self.size} must be a multiple of style_lowpass {self.style_lowpass}")
        chances = ("expression_mouth", "expression_eyes", "expression_winks", "mouth_redraw",
                   "expression_brows", "expression_pitch", "eye_redraw", "expression_gaze", "brow_redraw")
        if max(getattr(self, k) for k in chances) > 1.0:
            raise ConfigError(f"{', '.join(chances)} are chances: 0..1")
        if self.expression_edits and self.model != "mesh-conditioned":
            raise ConfigError("expression_* / mouth_redraw / eye_redraw edit mesh pairs: "
                              "--model mesh-conditioned only")
        if not self.g_ema < 1.0:
            raise ConfigError(f"g_ema is a decay in [0, 1), not {self.g_ema}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, not {self.lr}")
        for key in ("beta1", "beta2"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ConfigError(f"{key} is an Adam decay in [0, 1), not {getattr(self, key)}")
        if not 0.0 <= self.style_ema <= 1.0:
            raise ConfigError(f"style_ema is a momentum in [0, 1], not {self.style_ema}")
        if self.jitter > 1.0:
            raise ConfigError(f"jitter must be in [0, 1], not {self.jitter}")
        if not 0.0 < self.min_scale <= 1.0:
            raise ConfigError(f"min_scale must be in (0, 1], not {self.min_scale}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config") -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{source}: unknown option(s) {', '.join(unknown)}")
        cfg = cls()
        for k, v in values.items():
            default = getattr(cfg, k)
            if isinstance(default, list) and isinstance(v, str):
                v = [v]
            if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
                v = float(v)
            if not isinstance(v, type(default)) or (isinstance(v, bool) != isinstance(default, bool)):
                raise ConfigError(f"{source}: {k} should be {type(default).__name__}, got {v!r}")
            if isinstance(v, list) and not all(isinstance(x, str) for x in v):
                raise ConfigError(f"{source}: {k} should be a list of folder names, got {v!r}")
            setattr(cfg, k, v)
        return cfg

    @classmethod
    def value_from_text(cls, key: str, text: str) -> Any:
        """`--set KEY=VALUE`: VALUE read as KEY's own type, so a text option keeps text that looks
        like a number (`name=2024`); a list is a JSON list or one folder. An unknown KEY's text is
        returned as it is (`from_dict` names the option)."""
        if key not in {f.name for f in dataclasses.fields(cls)}:
            return text
        kind = type(getattr(cls(), key))
        if kind is str:
            return text
        if kind is list:
            if not text.lstrip().startswith("["):
                return [text]
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(f"--set {key} should be a folder or a JSON list of folders, got {text!r}"
                                  ) from None
        if kind is bool:
            if text.strip().lower() not in ("true", "false"):
                raise ConfigError(f"--set {key} should be true or false, got {text!r}")
            return text.strip().lower() == "true"
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"--set {key} should be {kind.__name__}, got {text!r}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Options from a TOML recipe (a `[train]` table or top level) or a run's config.json."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file not found: {p}")
    if not p.is_file():
        raise ConfigError(f"{p}: not a config file (a folder?)")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file (not UTF-8)") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror})") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{p}: not valid JSON ({e})") from None
    else:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise ConfigError("TOML recipes need Python 3.11+ or `pip install tomli`") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p}: not valid TOML ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a table of options, got {type(data).__name__}")
    if "train" in data and isinstance(data["train"], dict):
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    tables = sorted(k for k, v in data.items() if isinstance(v, dict))
    if tables:
        raise ConfigError(f"{p}: unknown table(s) {', '.join(tables)} (options go at the top level or "
                          "under [train])")
    values = {k.replace("-", "_"): v for k, v in data.items()}
    TrainConfig.from_dict(values, str(p))  # unknown keys and wrong types name this file
    return values


# Folder and run options: a new run's config.json names them absolute, a resume may give them relative.
PATH_KEYS = ("dataroot", "data_a", "data_b", "teacher", "init_from")


def _same_paths(a: str | list[str], b: str | list[str]) -> bool:
    def norm(v: str | list[str]) -> list[str]:
        return [os.path.abspath(x) if x else x for x in ([v] if isinstance(v, str) else v)]

    return norm(a) == norm(b)


def diff_for_resume(saved: TrainConfig, new: TrainConfig) -> list[str]:
    """Options that differ in a way that would break an exact resume."""
    a, b = saved.to_dict(), new.to_dict()
    return [f"{k} ({a[k]!r} -> {b[k]!r})" for k in a
            if k not in RUNTIME_KEYS | SCHEDULE_KEYS and a[k] != b[k]
            and not (k in PATH_KEYS and _same_paths(a[k], b[k]))]
