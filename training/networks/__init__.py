"""Network factories: generators (`resnet9`, `light`), content/style networks, the PatchGAN."""

from __future__ import annotations

from torch import nn

from training.networks.common import init_weights
from training.networks.content_style import Decoder, StyleEncoder, build_content_style
from training.networks.light import LightGenerator
from training.networks.patchgan import PatchDiscriminator
from training.networks.resnet import ResnetGenerator

GENERATORS = ("resnet9", "light")

__all__ = ["GENERATORS", "Decoder", "LightGenerator", "PatchDiscriminator", "ResnetGenerator",
           "StyleEncoder", "build_content_style", "build_discriminator", "build_generator",
           "init_weights"]


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
