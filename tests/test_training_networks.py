"""Networks: shapes, value range, MAC counts, PatchGAN receptive field, style baking, ONNX export."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from training.macs import count_macs, count_params  # noqa: E402
from training.networks import (  # noqa: E402
    build_content_style,
    build_discriminator,
    build_generator,
)
from training.networks.patchgan import receptive_field  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["resnet9", "light"])
@pytest.mark.parametrize("size", [32, 64])
def test_generator_shape_and_range(name: str, size: int) -> None:
    torch.manual_seed(0)
    g = build_generator(name, width=8).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        y = g(x)
    assert y.shape == x.shape
    assert y.min() >= -1 and y.max() <= 1
    assert y.std() > 0  # not a constant image


@pytest.mark.parametrize("backbone", ["resnet9", "light"])
def test_content_style_shapes(backbone: str) -> None:
    torch.manual_seed(0)
    enc, style, dec = build_content_style(backbone, style_dim=4, width=8)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    c = enc(x)
    s = style(x)
    assert s.shape == (2, 4)
    y = dec(c, s)
    assert y.shape == x.shape and y.abs().max() <= 1
    # the style code changes the output
    assert not torch.allclose(dec(c, s + 3.0), y)


def test_resnet9_macs_and_params_match_the_reference() -> None:
    g = build_generator("resnet9")
    assert abs(count_macs(g, 256) / 1e9 - 49.55) < 0.05  # the figure quoted in the issue: 49.6
    assert abs(count_params(g) / 1e6 - 11.378) < 0.001  # reference ResNet-9: 11.378 M


def test_light_generator_budget_and_export_friendly_layers() -> None:
    g = build_generator("light")
    macs = count_macs(g, 256)
    assert macs <= 0.8e9, macs  # the issue allows 2.5 GMAC; the app wants ~30 fps at 25 GMAC/s
    kinds = {type(m) for m in g.modules()}
    assert nn.InstanceNorm2d not in kinds and nn.ConvTranspose2d not in kinds


@pytest.mark.parametrize("backbone", ["resnet9", "light"])
def test_content_invariant_generator_cost(backbone: str) -> None:
    enc, _, dec = build_content_style(backbone)
    baked = nn.Sequential(enc, dec.bake(torch.zeros(1, dec.style_dim)))
    limit = 2.5e9 if backbone == "light" else 60e9
    assert count_macs(baked, 256) <= limit


def test_mac_counter_by_hand() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, 16) == 16 * 16 * 8 * 3 * 9
    dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Conv2d(3, 4, 1)
            self.dw = dw
            self.up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.up(self.dw(self.a(x)))

    n = 8 * 8
    assert count_macs(Net(), 8) == n * 4 * 3 + n * 4 * 9 + n * 4 * 2 * 9


def test_patchgan_is_70x70() -> None:
    assert receptive_field(3) == 70
    d = build_discriminator(ndf=8)
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    # measured: the input pixels that influence one output logit span 70x70
    d = build_discriminator(ndf=4, norm="none")
    x = torch.zeros(1, 3, 128, 128, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    nz = (x.grad[0].abs().sum(0) > 0).nonzero()
    h = int(nz[:, 0].max() - nz[:, 0].min() + 1)
    w = int(nz[:, 1].max() - nz[:, 1].min() + 1)
    assert (h, w) == (70, 70)


@pytest.mark.parametrize("backbone", ["resnet9", "light"])
def test_baked_decoder_matches_modulated_decoder(backbone: str) -> None:
    torch.manual_seed(0)
    enc, style, dec = build_content_style(backbone, style_dim=4, width=8)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    for _ in range(2):  # give BatchNorm running stats that are not the defaults
        dec(enc(x), style(x))
    enc.eval(), dec.eval()
    code = torch.randn(1, 4)
    with torch.no_grad():
        c = enc(x)
        ref = dec(c, code.expand(3, -1))
        baked = dec.bake(code)
        out = baked(c)
    assert torch.allclose(ref, out, atol=1e-5)
    assert not any(type(m).__name__ == "ModNorm" for m in baked.modules())


def test_light_export_generator_goes_to_onnx_and_matches() -> None:
    ort = pytest.importorskip("onnxruntime")
    from training.models.content_invariant import FixedStyleGenerator

    torch.manual_seed(0)
    enc, _, dec = build_content_style("light", style_dim=4, width=8)
    enc.eval(), dec.eval()
    gen = FixedStyleGenerator(enc, dec.bake(torch.randn(1, 4))).eval()
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(gen, (x,), buf, input_names=["input"], output_names=["output"], dynamo=False,
                          opset_version=17)
    import onnx

    model = onnx.load_from_string(buf.getvalue())
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Conv", "Relu", "Resize", "Add", "Tanh", "Constant", "Identity",
                   "BatchNormalization", "InstanceNormalization"}, ops
    # one InstanceNorm, on the 1/8-resolution content map; every other norm folded or BatchNorm
    assert [n.op_type for n in model.graph.node].count("InstanceNormalization") <= 1
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        np.testing.assert_allclose(y, gen(x).numpy(), atol=1e-4)
