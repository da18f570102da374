"""Content encoder, style encoder and style-modulated decoder for the content-invariant method.

The content encoder Ec maps a face (photo or cartoon) to a spatial content map; the style encoder
Es maps a face to a small style code; the decoder R renders a content map in a style. Style enters
through `ModNorm` layers (AdaIN-style): normalise, then scale by (1 + gamma) and shift by beta,
gamma/beta produced from the style code by an MLP.

Two backbones:
- `resnet9`: MUNIT-like, the ResNet-9 split in two (4 instance-norm blocks in Ec, 5 AdaIN blocks
  in R), instance normalisation, resize-conv upsampling.
- `light`: the light generator split in two (BatchNorm, inverted residuals); its ModNorms (in
  the decoder blocks and up blocks) are BatchNorm + FiLM, so with a fixed code every one folds
  into its conv at export. Ec ends with one InstanceNorm at 1/8 resolution (cheap) that strips
  each image's channel statistics, so style has to come through Es (without it the style code
  collapsed and the decoder reproduced the photo).

`Decoder.bake(code)` turns the decoder into a plain network with the style's gamma/beta stored as
ordinary norm affines (no MLP, no style input): the exportable form for a fixed style.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from training.networks.common import ResizeConv, norm_layer
from training.networks.light import InvertedResidual, light_encoder, light_upsampler
from training.networks.resnet import ResnetBlock


class ModNorm(nn.Module):
    """Norm without affine, then per-sample scale/shift set by the decoder (`adain` or `film`)."""

    def __init__(self, channels: int, kind: str = "adain"):
        super().__init__()
        self.kind = kind
        self.channels = channels
        if kind == "adain":
            self.norm: nn.Module = nn.InstanceNorm2d(channels, affine=False)
        elif kind == "film":
            self.norm = nn.BatchNorm2d(channels, affine=False)
        else:
            raise ValueError(f"unknown modulation {kind!r} (adain, film)")
        self.gamma: torch.Tensor | None = None
        self.beta: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gamma is None or self.beta is None:
            raise RuntimeError("ModNorm used without a style (call the decoder with a style code)")
        return self.norm(x) * (1 + self.gamma[:, :, None, None]) + self.beta[:, :, None, None]

    def baked(self, gamma: torch.Tensor, beta: torch.Tensor) -> nn.Module:
        """A plain affine norm computing the same thing for one fixed (gamma, beta)."""
        if self.kind == "adain":
            out: nn.Module = nn.InstanceNorm2d(self.channels, affine=True)
        else:
            out = nn.BatchNorm2d(self.channels, affine=True)
            out.load_state_dict({**self.norm.state_dict(), "weight": 1 + gamma, "bias": beta})
            return out.train(self.training)
        out.weight.data.copy_(1 + gamma)
        out.bias.data.copy_(beta)
        return out.train(self.training)


class ModResnetBlock(nn.Module):
    """ResNet block whose two norms are style-modulated."""

    def __init__(self, dim: int, kind: str = "adain"):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), ModNorm(dim, kind), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), ModNorm(dim, kind),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def resnet_content_encoder(ngf: int = 64, n_blocks: int = 4) -> nn.Sequential:
    """c7s1-64, d128, d256 and `n_blocks` instance-norm residual blocks (1/4 resolution)."""
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), norm_layer("instance", ngf),
                               nn.ReLU(True)]
    for i in range(2):
        c = ngf * 2**i
        layers += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1), norm_layer("instance", c * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4, "instance") for _ in range(n_blocks)]
    return nn.Sequential(*layers)


def resnet_upsampler(ngf: int = 64) -> nn.Sequential:
    """Two resize-conv ups with instance norm, then c7s1-3 and tanh."""
    layers: list[nn.Module] = []
    for i in range(2):
        c = ngf * 2 ** (2 - i)
        layers += [ResizeConv(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c // 2, 3))),
                   norm_layer("instance", c // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class StyleEncoder(nn.Module):
    """Strided convs, global average pool, linear to a `dim`-vector (trained towards the N(0, I)
    scale by the style-reconstruction loss). No norm layers (they would erase style).

    `stem=7`: MUNIT's full-resolution 7x7 first conv; `stem=4`: a 4x4 stride-2 first conv (the
    light variant: it runs four times per training step, so it must cost less than the generator).
    """

    def __init__(self, width: int = 64, n_down: int = 4, dim: int = 8, stem: int = 7):
        super().__init__()
        if stem == 7:
            layers: list[nn.Module] = [nn.Conv2d(3, width, 7, padding=3), nn.ReLU(True)]
        else:
            layers = [nn.Conv2d(3, width, 4, stride=2, padding=1), nn.ReLU(True)]
        c = width
        for i in range(n_down):
            nxt = min(c * 2, width * 4) if i < 2 else c
            layers += [nn.Conv2d(c, nxt, 4, stride=2, padding=1), nn.ReLU(True)]
            c = nxt
        layers += [nn.AdaptiveAvgPool2d(1)]
        self.body = nn.Sequential(*layers)
        self.fc = nn.Linear(c, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x).flatten(1))


class Decoder(nn.Module):
    """R(content, style): modulated blocks then an upsampler; an MLP maps style -> all gamma/beta."""

    def __init__(self, blocks: nn.Sequential, upsampler: nn.Sequential, style_dim: int = 8,
                 mlp_dim: int = 256):
        super().__init__()
        self.blocks = blocks
        self.upsampler = upsampler
        self.mods = [m for part in (blocks, upsampler) for m in part.modules() if isinstance(m, ModNorm)]
        n_params = sum(2 * m.channels for m in self.mods)
        self.mlp = nn.Sequential(nn.Linear(style_dim, mlp_dim), nn.ReLU(True), nn.Linear(mlp_dim, mlp_dim),
                                 nn.ReLU(True), nn.Linear(mlp_dim, n_params))
        self.style_dim = style_dim

    def modulation(self, style: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(gamma, beta) for each ModNorm, in order, each [N, C]."""
        p = self.mlp(style)
        out, i = [], 0
        for m in self.mods:
            out.append((p[:, i:i + m.channels], p[:, i + m.channels:i + 2 * m.channels]))
            i += 2 * m.channels
        return out

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        for m, (g, b) in zip(self.mods, self.modulation(style), strict=True):
            m.gamma, m.beta = g, b
        try:
            return self.upsampler(self.blocks(content))
        finally:
            for m in self.mods:
                m.gamma = m.beta = None

    @torch.no_grad()
    def bake(self, code: torch.Tensor) -> nn.Module:
        """A copy of blocks + upsampler with the style `code` ([1, D] or [D]) fixed in plain norms."""
        params = self.modulation(code.reshape(1, -1))
        net = nn.Sequential(copy.deepcopy(self.blocks), copy.deepcopy(self.upsampler))
        mods = [(name, m) for name, m in net.named_modules() if isinstance(m, ModNorm)]
        for (name, m), (g, b) in zip(mods, params, strict=True):
            parent_name, _, attr = name.rpartition(".")
            setattr(net.get_submodule(parent_name), attr, m.baked(g[0], b[0]))
        return net


def build_content_style(backbone: str, style_dim: int = 8, width: int | None = None
                        ) -> tuple[nn.Module, nn.Module, Decoder]:
    """(content encoder, style encoder, decoder) for `resnet9` or `light`."""
    if backbone == "resnet9":
        ngf = width or 64
        enc = resnet_content_encoder(ngf, 4)
        blocks = nn.Sequential(*[ModResnetBlock(ngf * 4, "adain") for _ in range(5)])
        dec = Decoder(blocks, resnet_upsampler(ngf), style_dim)
        style = StyleEncoder(ngf, 4, style_dim)
    elif backbone == "light":
        w = width or 32
        enc = light_encoder(w, 3, "batch", instance_out=True)
        blocks = nn.Sequential(*[InvertedResidual(w * 4, norm="batch", out_norm=ModNorm(w * 4, "film"))
                                 for _ in range(3)])
        up = light_upsampler(w, "batch", out_norm=lambda c: ModNorm(c, "film"))
        dec = Decoder(blocks, up, style_dim, mlp_dim=128)
        style = StyleEncoder(w // 2, 4, style_dim, stem=4)
    else:
        raise ValueError(f"unknown generator {backbone!r} (resnet9, light)")
    return enc, style, dec
