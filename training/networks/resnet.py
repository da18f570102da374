"""The CycleGAN reference ResNet generator (c7s1-64, d128, d256, 9 residual blocks, u128, u64, c7s1-3).

Instance norm without affine, reflection padding, transposed-conv upsampling as in the reference;
`upsample="resize"` swaps in nearest-resize + conv (no checkerboard; 56.8 instead of 49.6 GMAC
at 256x256, since its up convs run at the output resolution).
"""

from __future__ import annotations

import torch
from torch import nn

from training.networks.common import ResizeConv, norm_layer


class ResnetBlock(nn.Module):
    """Two reflection-padded 3x3 convs with a skip connection."""

    def __init__(self, dim: int, norm: str = "instance"):
        super().__init__()
        bias = norm != "batch"
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm_layer(norm, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def up_layer(cin: int, cout: int, upsample: str, bias: bool) -> nn.Module:
    """2x upsampling conv: the reference transposed conv or resize-then-conv."""
    if upsample == "transpose":
        return nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=bias)
    if upsample == "resize":
        return ResizeConv(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3, bias=bias)))
    raise ValueError(f"unknown upsample {upsample!r} (transpose, resize)")


class ResnetGenerator(nn.Module):
    """ResNet-9 generator of the CycleGAN reference: [-1,1] RGB in, [-1,1] RGB out (tanh)."""

    def __init__(self, ngf: int = 64, n_blocks: int = 9, norm: str = "instance",
                 upsample: str = "transpose", in_ch: int = 3, out_ch: int = 3):
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(in_ch, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True),
        ]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=bias), norm_layer(norm, c * 2),
                       nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [up_layer(c, c // 2, upsample, bias), norm_layer(norm, c // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_ch, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
