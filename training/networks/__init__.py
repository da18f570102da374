"""Network factories: generators (`resnet9`, `light`), content/style networks, the PatchGAN."""

from __future__ import annotations

import torch
from torch import nn

from training.networks.common import init_weights
from training.networks.content_style import Decoder, StyleEncoder, build_content_style
from training.networks.light import LightGenerator
from training.networks.patchgan import PatchDiscriminator
from training.networks.resnet import ResnetGenerator

GENERATORS = ("resnet9", "light")

__all__ = ["GENERATORS", "Decoder", "LightGenerator", "PatchDiscriminator", "ResnetGenerator",
           "StyleEncoder", "build_content_style", "build_discriminator", "build_generator",
           "describe_all", "init_weights"]


def build_generator(name: str, upsample: str = "transpose", width: int | None = None) -> nn.Module:
    """An image-to-image generator, initialised N(0, 0.02)."""
    if name == "resnet9":
        net: nn.Module = ResnetGenerator(ngf=width or 64, n_blocks=9, upsample=upsample)
    elif name == "light":
        net = LightGenerator(width=width or 32)
    else:
        raise ValueError(f"unknown generator {name!r} (resnet9, light)")
    return init_weights(net)


def build_discriminator(ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> nn.Module:
    """The 70x70 PatchGAN (n_layers=3), initialised N(0, 0.02)."""
    return init_weights(PatchDiscriminator(ndf, n_layers, norm))


def describe_all(size: int = 256) -> list[str]:
    """Params and MACs of every network, one line each (printed in the run log and by macs.py)."""
    from training.macs import describe

    lines = [describe("generator resnet9 (transpose up)", build_generator("resnet9"), size),
             describe("generator resnet9 (resize up)", build_generator("resnet9", "resize"), size),
             describe("generator light", build_generator("light"), size)]
    for backbone in GENERATORS:
        enc, _style, dec = build_content_style(backbone)
        baked = nn.Sequential(enc, dec.bake(torch.zeros(1, dec.style_dim)))
        lines.append(describe(f"content-invariant {backbone} (Ec + R, fixed style)", baked, size))
        lines.append(describe(f"style encoder {backbone} (once per reference)", _style, size))
    lines.append(describe("discriminator patchgan 70x70", build_discriminator(), size))
    return lines

