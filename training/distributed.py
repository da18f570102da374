"""Data-parallel training over the processes torchrun starts (one per GPU, or CPU processes).

    torchrun --nproc_per_node=N -m training.cli --config RECIPE.toml --out RUN_DIR

Every rank builds the same model from the same seed and trains its share of each step's global
batch: slots r, r+W, r+2W, ... of `batch_size` (the global batch; `training.data.UnpairedSteps`),
the strided split DistributedSampler makes of each permutation, without its padding. DDP
averages the gradients, so the replicas stay bit-identical (checked at every checkpoint).

Whatever couples the samples of a batch is computed over the global batch, in the order one
process would see it, so one process with batch 2B and two processes with B train the same model
(and a run may resume with another number of processes):

- batch norm statistics: `nn.SyncBatchNorm` on GPUs; on CPU, where it has no kernels,
  `GlobalBatchNorm2d` (one differentiable all-reduce of the sums per layer);
- the image pool: the fakes are gathered in slot order and every rank runs the same pool on them
  with the same RNG stream (`TrainModel.pool_query`), so all ranks hold one identical pool;
- random style codes are drawn for the global batch and each rank takes its slots;
- the mesh model's style pairing (a roll over the batch) rolls the gathered codes (`gather(...,
  grad=True)`: the gradient goes back to the rank that computed each code);
- the running mean style code and the losses that are logged are averaged over ranks.

The torch RNG stream is the same on every rank (same seed, every draw made for the global
batch), so rank 0's RNG state in a checkpoint restores every rank.
"""

from __future__ import annotations

import atexit
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn


class RankLost(RuntimeError):
    """A collective failed: another training process died or stopped answering."""


@dataclass(frozen=True)
class Ranks:
    """This process's place among the training processes (world 1: a single-process run)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def gather(self, t: torch.Tensor, blocks: int = 1, grad: bool = False) -> torch.Tensor:
        """Every rank's `t` as one global batch in slot order. `t` is `blocks` batches stacked
        along dim 0 (e.g. two kinds of fakes); the result holds `blocks` global batches.
        With `grad`, gradients flow back to the rank that computed each sample."""
        if not self.active:
            return t
        parts = _Gather.apply(t) if grad else _gather(t.detach())
        per = t.shape[0] // blocks
        x = parts.reshape(self.world, blocks, per, *t.shape[1:]).transpose(0, 1).transpose(1, 2)
        return x.reshape(blocks * per * self.world, *t.shape[1:])

    def part(self, t: torch.Tensor, blocks: int = 1) -> torch.Tensor:
        """This rank's slots of a global-batch tensor (inverse of `gather`)."""
        if not self.active:
            return t
        per = t.shape[0] // (blocks * self.world)
        return t.reshape(blocks, per, self.world, *t.shape[1:])[:, :, self.rank].reshape(
            blocks * per, *t.shape[1:])

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        """`t` averaged over ranks (no gradient)."""
        if not self.active:
            return t
        out = t.detach().clone()
        dist.all_reduce(out)
        return out.div_(self.world)

    def sum_values(self, values: list[float]) -> list[float]:
        """Each value summed over ranks (one small all-reduce; a barrier as well)."""
        if not self.active:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=_comm_device())
        dist.all_reduce(t)
        return t.tolist()

    def all_ok(self, ok: bool) -> bool:
        """True when `ok` holds on every rank (a barrier that carries an outcome)."""
        return self.sum_values([0.0 if ok else 1.0])[0] == 0.0

    def check_replicas(self, fingerprint: dict[str, torch.Tensor]) -> None:
        """Raise when any rank's tensors differ from rank 0's: the replicas must stay identical."""
        keys = sorted(fingerprint)
        mine = torch.stack([_digest(fingerprint[k]) for k in keys]).to(_comm_device())  # [K, 2]
        everyone = _gather(mine)  # [W, K, 2]
        differs = (everyone != everyone[:1]).any(2).any(0).nonzero().flatten().tolist()
        if differs:
            bad = [r for r in range(self.world) if (everyone[r] != everyone[0]).any()]
            raise RuntimeError(f"the training processes diverged: rank {bad[0]}'s {keys[differs[0]]} "
                               f"differs from rank 0's ({len(differs)} tensors differ)")


def _digest(t: torch.Tensor) -> torch.Tensor:
    """Two float64 numbers that change when any element of `t` does (sum, position-weighted sum)."""
    x = t.detach().reshape(-1).double()
    w = torch.arange(1, x.numel() + 1, dtype=torch.float64, device=x.device).remainder_(9973).add_(1)
    return torch.stack([x.sum(), (x * w).sum()]).cpu()


def _comm_device() -> torch.device:
    """Where small collectives run: the current GPU for NCCL, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _gather(t: torch.Tensor) -> torch.Tensor:
    """[W, *t.shape]: `t` of every rank, rank order."""
    t = t.contiguous()
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t)
    return torch.stack(parts)


class _Gather(torch.autograd.Function):
    """All-gather whose backward hands each rank the gradient every rank's loss puts on its part.

    DDP averages parameter gradients over ranks, i.e. trains (1/W) sum_r L_r; rank s's tensor
    enters every L_r, so its gradient is sum_r dL_r/d(part s): an all-reduce of the gradients.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, t: torch.Tensor) -> torch.Tensor:
        return _gather(t)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum) with the same all-reduce as its gradient (see `_Gather`)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, t: torch.Tensor) -> torch.Tensor:
        out = t.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d with the statistics of the global batch of all ranks: what `nn.SyncBatchNorm`
    does on GPUs, for CPU processes (gloo), where SyncBatchNorm has no kernels. Running
    statistics follow BatchNorm's rule (unbiased variance), so they match one process's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        xf = x.float()
        count = xf.new_full((1,), xf.numel() // c)
        stats = _SumOverRanks.apply(torch.cat([xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3)), count]))
        n = stats[-1]
        mean = stats[:c] / n
        var = (stats[c:2 * c] / n - mean * mean).clamp_min(0)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / (n - 1), m)
        y = (xf - mean[None, :, None, None]) * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y.to(x.dtype)


def sync_batch_norms(net: nn.Module, device: torch.device) -> nn.Module:
    """Make every BatchNorm2d of `net` normalise over the global batch (in place; the new layers
    share the old ones' parameters and buffers, so optimisers and the EMA keep working)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(net)
    for name, m in list(net.named_modules()):
        if type(m) is not nn.BatchNorm2d:
            continue
        g = GlobalBatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
        g.weight, g.bias = m.weight, m.bias
        g.running_mean, g.running_var, g.num_batches_tracked = m.running_mean, m.running_var, \
            m.num_batches_tracked
        g.train(m.training)
        parent, _, attr = name.rpartition(".")
        setattr(net.get_submodule(parent), attr, g)
    return net


def ranks_from_env() -> Ranks:
    """This process's ranks from torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK, ...)."""
    env = os.environ
    world = int(env.get("WORLD_SIZE", "1"))
    return Ranks(int(env.get("RANK", "0")), world, int(env.get("LOCAL_RANK", "0")),
                 int(env.get("LOCAL_WORLD_SIZE", str(world))))


def init_process_group(ranks: Ranks, backend: str, timeout_s: float) -> None:
    """Join torchrun's process group (nccl on GPUs, gloo on CPU) once per process (several runs
    in one process share it; it is left at exit); a collective that waits longer than
    `timeout_s` fails instead of hanging."""
    if ranks.active and not dist.is_initialized():
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
        atexit.register(_close)


def _close() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def lost_rank(e: BaseException) -> bool:
    """Whether `e` is a collective that failed because another rank went away."""
    if isinstance(e, dist.DistError):
        return True
    text = str(e)
    return any(s in text for s in ("Connection closed by peer", "Connection reset by peer", "Broken pipe",
                                   "Timed out", "timed out", "NCCL communicator was aborted"))
