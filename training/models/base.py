"""The interface every training method implements, plus what they share (AMP, optimisers, LR).

A model is an `nn.Module` holding all its networks (so `state_dict()` is the checkpoint's weights)
and its optimisers. The trainer only calls:

- `step(batch) -> dict[str, float]`: one optimisation step on {"A", "B"[, "A2"]} batches;
- `set_lr(lr)`; `visuals(a, b) -> list[(label, tensor)]` for sample grids;
- `generator_for_export(style_image=None) -> nn.Module`: float32 NCHW RGB in [-1, 1] -> same,
  on CPU, eval mode, no training-only parts;
- `export_metadata() -> dict[str, str]`: at least kind, generator, trained_on, license_note;
- `extra_state() / load_extra_state()`: non-weight training state (optimisers, pools, scaler);
- `update_ema()` after each step: with `g_ema` > 0 the nets named in `ema_nets` keep an
  exponential moving average (`ema.*` in the weights) that export and samples use;
- `distribute(ranks)` once, for a torchrun run: a step then calls the nets it trains through
  `net(name)` (their DDP wrappers) and computes what couples a batch over the global batch
  (`pool_query`, `randn`, `ranks.gather`; see `training.distributed`).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from training.distributed import Ranks, sync_batch_norms
from training.losses import ImagePool
from training.macs import count_macs, count_params
from training.options import ConfigError, TrainConfig


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU; a torchrun process takes GPU `local_rank`."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA GPU here (this torch build or machine has none); "
                              "use --device auto or cpu")
        return torch.device("cuda", local_rank)
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None
                              and torch.backends.mps.is_available()):
        raise ConfigError("--device mps: no Apple GPU here; use --device auto or cpu")
    return torch.device(name)


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: bf16 where the GPU has it, else fp16 (with a grad scaler); none on CPU."""
    if amp == "off" or device.type == "cpu" or (amp == "auto" and device.type == "mps"):
        return None
    if amp == "bf16" or (amp == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.bfloat16
    return torch.float16


@dataclass(frozen=True)
class DeviceSetup:
    """How a run uses its device: autocast dtype (None: float32), memory format, DDP backend."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool
    backend: str


def device_setup(name: str = "auto", amp: str = "auto", local_rank: int = 0) -> DeviceSetup:
    """The GPU path (bf16 autocast, fp16 where bf16 is missing; channels_last; NCCL) only on
    CUDA; anything else trains in float32, contiguous, over gloo."""
    device = resolve_device(name, local_rank)
    cuda = device.type == "cuda"
    return DeviceSetup(device, resolve_amp(amp, device), cuda, "nccl" if cuda else "gloo")


def optimizer_to_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state_dict into flat tensors (for safetensors) and a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{idx}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[k] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_tensors(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor],
                           meta: dict) -> None:
    """Inverse of `optimizer_to_tensors`."""
    state: dict[int, dict[str, Any]] = {}
    for key, t in tensors.items():
        if key.startswith(prefix + "."):
            idx, name = key[len(prefix) + 1:].split(".", 1)
            state.setdefault(int(idx), {})[name] = t
    for idx, vals in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(vals)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


class TrainModel(nn.Module):
    """Base class: device, autocast, grad scaler, optimisers registry and LR setting."""

    kind = "base"
    ema_nets: tuple[str, ...] = ()  # the nets the exported generator is built from
    trained_nets: tuple[str, ...] = ()  # the nets the optimisers train (DDP-wrapped under torchrun)

    def __init__(self, cfg: TrainConfig, device: torch.device | str = "cpu"):
        super().__init__()
        self.cfg = cfg
        self.device = torch.device(device)
        setup = device_setup(str(self.device), cfg.amp)
        self.amp_dtype = setup.amp_dtype
        self.scaler = (torch.amp.GradScaler(self.device.type)
                       if self.amp_dtype == torch.float16 else None)
        self.channels_last = setup.channels_last
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.ranks = Ranks()
        self._ddp: dict[str, DistributedDataParallel] = {}  # a plain dict: not in state_dict()

    # -- data parallelism -------------------------------------------------------------------
    def distribute(self, ranks: Ranks) -> None:
        """Train as one of `ranks.world` processes: the trained nets' batch norms normalise over
        the global batch and DDP averages their gradients (call after loading weights; DDP
        starts every rank from rank 0's)."""
        self.ranks = ranks
        if not ranks.active:
            return
        ids = [self.device.index] if self.device.type == "cuda" else None
        for name in self.trained_nets:
            net = sync_batch_norms(getattr(self, name), self.device)
            self._ddp[name] = DistributedDataParallel(net, device_ids=ids)

    def net(self, name: str) -> nn.Module:
        """Net `name` as a training step calls it when it trains it: its DDP wrapper under torchrun
        (so its gradients are averaged), else the net. A net that is frozen for the step (the
        discriminator while the generators step) is called directly."""
        return self._ddp[name] if name in self._ddp else getattr(self, name)

    def pool_query(self, pool: ImagePool, images: torch.Tensor, blocks: int = 1) -> torch.Tensor:
        """The image pool over the global batch: every rank queries the same pool with the same
        gathered fakes and RNG stream, so the pools stay identical; returns this rank's part."""
        return self.ranks.part(pool.query(self.ranks.gather(images.detach(), blocks)), blocks)

    def randn(self, n: int, dim: int) -> torch.Tensor:
        """[n, dim] normal draws for this rank's n samples: drawn for the global batch, so every
        rank draws the same numbers and one process would have drawn these for these slots."""
        return self.ranks.part(torch.randn(n * self.ranks.world, dim)).to(self.device)

    def replica_fingerprint(self) -> dict[str, torch.Tensor]:
        """Everything that must be identical on every rank: weights, buffers, training state and
        the RNG (compared at each checkpoint)."""
        tensors, _ = self.extra_state()
        return {**self.state_dict(), **tensors, "rng.torch": torch.get_rng_state()}

    # -- helpers for subclasses -----------------------------------------------------------
    def adam(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.cfg.lr, betas=(self.cfg.beta1, self.cfg.beta2))

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def to_input(self, t: torch.Tensor) -> torch.Tensor:
        t = t.to(self.device, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if self.channels_last else t

    def backward_step(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.step(opt)
        else:
            loss.backward()
            opt.step()

    def end_step(self) -> None:
        if self.scaler is not None:
            self.scaler.update()

    def finish_init(self) -> None:
        if self.cfg.g_ema > 0:
            self.ema = nn.ModuleDict({n: copy.deepcopy(getattr(self, n)).requires_grad_(False)
                                      for n in self.ema_nets})
        self.to(self.device)
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def averaged(self, name: str) -> nn.Module:
        """The weight average of net `name` when the EMA is on, else the net itself."""
        ema = getattr(self, "ema", None)
        return ema[name] if ema is not None else getattr(self, name)

    @torch.no_grad()
    def update_ema(self) -> None:
        ema = getattr(self, "ema", None)
        if ema is None:
            return
        for name, avg in ema.items():
            live = getattr(self, name)
            for a, p in zip(avg.parameters(), live.parameters(), strict=True):
                a.lerp_(p.detach(), 1.0 - self.cfg.g_ema)
            for a, b in zip(avg.buffers(), live.buffers(), strict=True):
                a.copy_(b)

    @torch.no_grad()
    def reset_ema(self) -> None:
        """Start the average from the current weights (the EMA turned on at a resume)."""
        for name, avg in getattr(self, "ema", {}).items():
            avg.load_state_dict(getattr(self, name).state_dict())

    # -- the interface --------------------------------------------------------------------
    def set_lr(self, lr: float) -> None:
        for opt in self.optimizers.values():
            for g in opt.param_groups:
                g["lr"] = lr

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    @torch.no_grad()
    def visuals(self, a: torch.Tensor, b: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        raise NotImplementedError

    def generator_for_export(self, style_image: torch.Tensor | None = None) -> nn.Module:
        raise NotImplementedError

    def export_metadata(self) -> dict[str, str]:
        cfg = self.cfg
        gen = self.generator_for_export()
        meta = {
            "kind": self.kind,
            "generator": cfg.generator,
            "name": cfg.name or f"{self.kind}-{cfg.generator}",
            "trained_on": cfg.trained_on or "unknown",
            "license_note": cfg.license_note or "trained on third-party images; see their terms",
            "input_size": str(cfg.size),
            "value_range": "-1,1",
            "params": str(count_params(gen)),
            "gmac_256": f"{count_macs(gen, 256) / 1e9:.3f}",
            "gan_mode": cfg.gan_mode,
        }
        return meta

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Optimiser tensors and JSON-able state (param groups, grad scaler) for the checkpoint."""
        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, Any] = {"optimizers": {}}
        for name, opt in self.optimizers.items():
            t, m = optimizer_to_tensors(opt, f"optim.{name}")
            tensors.update(t)
            meta["optimizers"][name] = m
        if self.scaler is not None:
            meta["grad_scaler"] = self.scaler.state_dict()
        return tensors, meta

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        for name, opt in self.optimizers.items():
            if name not in meta.get("optimizers", {}):
                raise KeyError(f"optimizer {name!r} missing from the checkpoint")
            optimizer_from_tensors(opt, f"optim.{name}", tensors, meta["optimizers"][name])
        if self.scaler is not None and "grad_scaler" in meta:
            self.scaler.load_state_dict(meta["grad_scaler"])

    def generator_summary(self, size: int) -> list[str]:
        """Params and MACs of what runs per frame, at `size` and at 256 (for the run log)."""
        from training.macs import describe

        gen = self.generator_for_export()
        lines = [describe(f"export generator ({self.kind}, {self.cfg.generator})", gen, 256)]
        if size != 256:
            lines.append(describe("  same at the training size", gen, size))
        for name, net in self.named_children():
            if count_params(net):
                lines.append(f"  {name}: {count_params(net) / 1e6:.3f} M params")
        return lines
