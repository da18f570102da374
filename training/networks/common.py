"""Small building blocks shared by the generators and discriminators."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import init


def norm_layer(kind: str, channels: int) -> nn.Module:
    """`instance` (no affine, as in the CycleGAN reference), `batch`, or `none`."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r} (instance, batch, none)")


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """N(0, gain) for conv/linear weights, N(1, gain) for norm scales, zero biases (reference init)."""

    def fn(m: nn.Module) -> None:
        name = type(m).__name__
        if hasattr(m, "weight") and m.weight is not None and ("Conv" in name or "Linear" in name):
            init.normal_(m.weight, 0.0, gain)
            if getattr(m, "bias", None) is not None:
                init.zeros_(m.bias)
        elif "BatchNorm2d" in name and m.weight is not None:
            init.normal_(m.weight, 1.0, gain)
            init.zeros_(m.bias)

    net.apply(fn)
    return net


class ResizeConv(nn.Module):
    """Nearest-neighbour 2x upsampling then a conv: no transposed-conv checkerboard."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
