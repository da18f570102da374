"""The 70x70 PatchGAN discriminator of pix2pix/CycleGAN (3 strided layers, raw logits per patch)."""

from __future__ import annotations

import torch
from torch import nn

from training.networks.common import norm_layer


class PatchDiscriminator(nn.Module):
    """C64-C128-C256-C512 with 4x4 kernels; each output logit sees a 70x70 input patch."""

    def __init__(self, ndf: int = 64, n_layers: int = 3, norm: str = "instance", in_ch: int = 3):
        super().__init__()
        bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_ch, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=bias),
                       norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=bias),
                   norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True),
                   nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def receptive_field(n_layers: int = 3) -> int:
    """Input patch size seen by one output logit (70 for the default 3 layers)."""
    rf = 1
    # walk back from the output: two stride-1 4x4 convs, then n_layers stride-2 4x4 convs
    for stride in [1, 1] + [2] * n_layers:
        rf = (rf - 1) * stride + 4
    return rf
