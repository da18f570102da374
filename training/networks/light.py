"""A light real-time generator: strided convs down to 1/8, inverted-residual blocks, resize-conv up.

Budget: ~0.6 GMAC at 256x256 (the ResNet-9 is 49.6), BatchNorm (or no norm) only, so every norm
folds into its conv at export and the ONNX graph is plain Conv/Relu/Resize/Add/Tanh. Few
full-resolution layers: one depthwise-separable up conv and the 3x3 output conv.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from training.networks.common import ResizeConv, norm_layer


def conv_bn(cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, norm: str = "batch",
            act: bool = True) -> nn.Sequential:
    """Conv + BatchNorm (or none) + optional ReLU; bias only without a norm."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=norm == "none"),
        norm_layer(norm, cout),
    ]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, 1x1 project (norm given by `out_norm`), skip."""

    def __init__(self, ch: int, expand: int = 2, norm: str = "batch", out_norm: nn.Module | None = None):
        super().__init__()
        hid = ch * expand
        self.expand = conv_bn(ch, hid, 1, norm=norm)
        self.dw = conv_bn(hid, hid, 3, groups=hid, norm=norm)
        self.project = nn.Conv2d(hid, ch, 1, bias=norm == "none" and out_norm is None)
        self.out_norm = out_norm if out_norm is not None else norm_layer(norm, ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_norm(self.project(self.dw(self.expand(x))))


def up_block(cin: int, cout: int, norm: str, out_norm: nn.Module | None = None) -> nn.Module:
    """Nearest 2x resize, depthwise 3x3, pointwise to `cout`, norm (or `out_norm`), ReLU."""
    if out_norm is None:
        point: nn.Module = conv_bn(cin, cout, 1, norm=norm)
    else:
        point = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), out_norm, nn.ReLU(inplace=True))
    return ResizeConv(nn.Sequential(conv_bn(cin, cin, 3, groups=cin, norm=norm, act=False), point))


def light_encoder(width: int = 32, n_blocks: int = 3, norm: str = "batch", instance_out: bool = False
                  ) -> nn.Sequential:
    """3 -> 4*width channels at 1/8 resolution, then `n_blocks` inverted residuals; with
    `instance_out` a final InstanceNorm strips each image's channel statistics (its "style")."""
    w = width
    layers: list[nn.Module] = [
        conv_bn(3, w * 3 // 4, 3, stride=2, norm=norm),          # 1/2
        conv_bn(w * 3 // 4, w * 3 // 2, 3, stride=2, norm=norm),  # 1/4
        conv_bn(w * 3 // 2, w * 4, 3, stride=2, norm=norm),       # 1/8
    ]
    layers += [InvertedResidual(w * 4, norm=norm) for _ in range(n_blocks)]
    if instance_out:
        layers.append(nn.InstanceNorm2d(w * 4, affine=False))
    return nn.Sequential(*layers)


def light_upsampler(width: int = 32, norm: str = "batch",
                    out_norm: Callable[[int], nn.Module] | None = None) -> nn.Sequential:
    """1/8 resolution, 4*width channels -> full-resolution RGB in [-1, 1]; `out_norm(channels)`
    replaces the up blocks' output norms (the content-invariant decoder modulates them)."""
    w = width

    def on(c: int) -> nn.Module | None:
        return out_norm(c) if out_norm is not None else None

    return nn.Sequential(
        up_block(w * 4, w * 2, norm, on(w * 2)),   # 1/4
        up_block(w * 2, w, norm, on(w)),           # 1/2
        up_block(w, w // 2, norm, on(w // 2)),     # 1/1
        nn.Conv2d(w // 2, 3, 3, padding=1),
        nn.Tanh(),
    )


class LightGenerator(nn.Module):
    """Encoder (3 strided convs + blocks), more blocks, resize-conv decoder; input side divisible by 8."""

    def __init__(self, width: int = 32, n_blocks: int = 6, norm: str = "batch"):
        super().__init__()
        if norm not in ("batch", "none"):
            raise ValueError("the light generator uses batch norm or none (they fold at export)")
        half = n_blocks // 2
        self.encoder = light_encoder(width, half, norm)
        self.blocks = nn.Sequential(*[InvertedResidual(width * 4, norm=norm) for _ in range(n_blocks - half)])
        self.decoder = light_upsampler(width, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.blocks(self.encoder(x)))
