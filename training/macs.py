"""Count parameters and multiply-accumulates (MACs) of a network with forward hooks.

Convs count `output elements x (in_channels / groups) x kernel area`; transposed convs count
`input elements x out_channels / groups x kernel area` (so the CycleGAN ResNet-9 is 49.6 GMAC at
256x256); linear layers `in x out` per row. Norms, activations and resizes are not counted.
Runs on the meta device (no compute) when the network allows, else on CPU without grad.
`python -m training.macs` prints the table for every generator.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from training.networks import GENERATORS, build_content_style, build_discriminator, build_generator


def count_params(net: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in net.parameters())


def _layer_macs(m: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> int:
    if isinstance(m, nn.ConvTranspose2d):
        k = m.kernel_size[0] * m.kernel_size[1]
        return inp.numel() * (m.out_channels // m.groups) * k
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0] * m.kernel_size[1]
        return out.numel() * (m.in_channels // m.groups) * k
    if isinstance(m, nn.Linear):
        return out.numel() * m.in_features
    return 0


def count_macs(net: nn.Module, size: int = 256, batch: int = 1,
               call: Callable[[nn.Module, torch.Tensor], object] | None = None) -> int:
    """MACs of one forward pass on a `batch`x3x`size`x`size` input (per whole batch).

    `call(net, x)` runs the forward pass when the network needs more than `net(x)`.
    """
    total = 0

    def hook(m: nn.Module, args: tuple, out: object) -> None:
        nonlocal total
        if args and isinstance(args[0], torch.Tensor) and isinstance(out, torch.Tensor):
            total += _layer_macs(m, args[0], out)

    def run(model: nn.Module, device: str) -> None:
        handles = [m.register_forward_hook(hook) for m in model.modules()
                   if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
        try:
            x = torch.zeros(batch, 3, size, size, device=device)
            with torch.no_grad():
                (call or (lambda n, t: n(t)))(model, x)
        finally:
            for h in handles:
                h.remove()

    was_training = net.training
    try:
        meta = copy.deepcopy(net).to("meta").eval()
        run(meta, "meta")
    except (NotImplementedError, RuntimeError):
        total = 0
        net.eval()
        run(net, "cpu")
        net.train(was_training)
    return total


def describe(name: str, net: nn.Module, size: int = 256,
             call: Callable[[nn.Module, torch.Tensor], object] | None = None) -> str:
    """One line: name, params (M) and GMACs at `size`."""
    return (f"{name}: {count_params(net) / 1e6:.3f} M params, "
            f"{count_macs(net, size, call=call) / 1e9:.3f} GMAC at {size}x{size}")


def describe_all(size: int = 256) -> list[str]:
    """Params and MACs of every network, one line each (printed in the run log and by macs.py)."""
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


def main() -> None:
    """Print params and MACs of every generator and the discriminator at 256x256."""
    for line in describe_all(256):
        print(line)


if __name__ == "__main__":
    main()
