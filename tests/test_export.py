"""export.onnx_export: torch module -> verified single-file style; fp16, dynamic, style input, atomicity.

Tiny networks with PyTorch's default init (activations of order 1, unlike the N(0, 0.02) training
init whose outputs are nearly constant), so the numeric checks compare real signal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from avatar_cam.inference import Stylizer
from avatar_cam.styles import KNOWN_KINDS, STYLE_CODE_INPUT, load_style
from export import onnx_export
from export.cli import main
from export.onnx_export import (
    FP16_TOLERANCE,
    FP32_TOLERANCE,
    EncoderExport,
    ExportError,
    ExportSpec,
    build_cases,
    encoder_references,
    export_style,
    fp16_network,
)

META = {"name": "tiny", "kind": "cyclegan", "license_note": "MIT; test weights", "trained_on": "nothing"}


class TinyGen(nn.Module):
    """Conv/instance-norm/ReLU down, reflection-padded block, transposed conv up, tanh (ResNet-9 ops)."""

    def __init__(self, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(3, width, 3), nn.InstanceNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(width * 2), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(width * 2, width * 2, 3), nn.BatchNorm2d(width * 2), nn.ReLU(),
            nn.ConvTranspose2d(width * 2, width, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.Conv2d(width, 3, 3, padding=1), nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TinyStyled(nn.Module):
    """forward(x, style_code=None): a code-modulated tiny generator (like StyleInputGenerator)."""

    def __init__(self, dim: int = 4, width: int = 8):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.mlp = nn.Linear(dim, 2 * width)
        self.norm = nn.InstanceNorm2d(width)
        self.out = nn.Sequential(nn.Conv2d(width, 3, 3, padding=1), nn.Tanh())
        self.register_buffer("code", torch.linspace(-1, 1, dim)[None])
        self.width = width

    def forward(self, x: torch.Tensor, style_code: torch.Tensor | None = None) -> torch.Tensor:
        s = self.code if style_code is None else style_code
        gb = self.mlp(s)
        g, b = gb[:, : self.width, None, None], gb[:, self.width:, None, None]
        return self.out(self.norm(self.enc(x)) * (1 + g) + b)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny() -> nn.Module:
    torch.manual_seed(0)
    net = TinyGen().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding them is checked too
        bn = net.body[9]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    return net


def _export(net: nn.Module, out: Path, **spec_kw) -> onnx_export.ExportResult:
    spec = ExportSpec(**{"size": 32, "trace_size": 32, **spec_kw}).check()
    return export_style(net, out, spec, META, build_cases(spec.size or spec.trace_size), say=lambda s: None)


def _only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_fp32_export_is_one_verified_file_the_app_runs(tiny: nn.Module, tmp_path: Path) -> None:
    res = _export(tiny, tmp_path / "s.onnx")
    assert _only_files(tmp_path) == ["s.onnx"]  # no external data, no leftovers
    model = onnx.load(str(tmp_path / "s.onnx"), load_external_data=False)
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert model.opset_import[0].version >= 17
    assert 0 < res.report.max_abs < FP32_TOLERANCE  # real signal, tiny error
    assert len(res.report.rows) >= 4
    info = load_style(tmp_path / "s.onnx")
    assert (info.name, info.kind, info.input_size, info.style_code_dim) == ("tiny", "cyclegan", 32, None)
    meta = info.metadata
    assert meta["precision"] == "fp32" and "max abs error" in meta["verified"]
    assert meta["input_size"] == "32" and meta["value_range"] == "-1,1"
    out = Stylizer(info, provider="cpu", threads=1)(np.full((32, 32, 3), 128, np.uint8))
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


def test_fp16_keeps_float32_io_halves_the_file_and_stays_in_tolerance(tiny: nn.Module, tmp_path: Path
                                                                      ) -> None:
    wide = TinyGen(width=32).eval()
    full = _export(wide, tmp_path / "f32.onnx")
    half = _export(wide, tmp_path / "f16.onnx", fp16=True)
    assert half.bytes < 0.6 * full.bytes
    assert half.report.max_abs < FP16_TOLERANCE
    assert half.report.max_abs > full.report.max_abs  # it really computes in half precision
    model = onnx.load(str(tmp_path / "f16.onnx"))
    f16 = onnx.TensorProto.FLOAT16
    assert any(t.data_type == f16 for t in model.graph.initializer)
    for vi in list(model.graph.input) + list(model.graph.output):
        assert vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert load_style(tmp_path / "f16.onnx").metadata["precision"] == "fp16"


def test_fp16_network_keeps_instance_norms_in_float32(tiny: nn.Module) -> None:
    half = fp16_network(tiny)
    assert next(tiny.parameters()).dtype == torch.float32  # the original is untouched
    convs = [m for m in half.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.weight.dtype == torch.float16 for c in convs)
    islands = [m for m in half.modules() if type(m).__name__ == "_Float32Island"]
    assert len(islands) == 2 and all(isinstance(m.inner, nn.InstanceNorm2d) for m in islands)


def test_dynamic_export_runs_at_other_sizes(tiny: nn.Module, tmp_path: Path) -> None:
    spec = ExportSpec(size=None, trace_size=32).check()
    cases = build_cases(32) + build_cases(48)[:1]
    res = export_style(tiny, tmp_path / "d.onnx", spec, META, cases, say=lambda s: None)
    assert {r[1] for r in res.report.rows} == {32, 48}
    info = load_style(tmp_path / "d.onnx")
    assert info.input_size is None and info.metadata["input_size"] == "dynamic"


def test_dynamo_exporter_also_works(tiny: nn.Module, tmp_path: Path) -> None:
    res = _export(tiny, tmp_path / "dy.onnx", exporter="dynamo")
    assert res.report.max_abs < FP32_TOLERANCE
    assert "dynamo exporter, opset 18" in res.metadata["exported_by"]


def test_style_input_export_takes_a_style_code(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = TinyStyled().eval()
    code = net.code.numpy().reshape(-1)
    spec = ExportSpec(size=32, trace_size=32, style_code_dim=4).check()
    other = ("another code", (code + 1.5).astype(np.float32))
    cases = build_cases(32, style_codes=[("", code), other])
    res = export_style(net, tmp_path / "sc.onnx", spec, {**META, "kind": "content-invariant"}, cases,
                       default_code=code, say=lambda s: None)
    assert res.report.rows[-1][0].endswith("another code")
    info = load_style(tmp_path / "sc.onnx")
    assert info.style_code_dim == 4
    stylizer = Stylizer(info, provider="cpu", threads=1)
    np.testing.assert_allclose(stylizer.style_code[0], code, rtol=1e-6)  # read from mean_style_code
    sess = ort.InferenceSession(str(tmp_path / "sc.onnx"), providers=["CPUExecutionProvider"])
    x = np.zeros((1, 3, 32, 32), np.float32)
    a = sess.run(None, {"image": x, STYLE_CODE_INPUT: code[None]})[0]
    b = sess.run(None, {"image": x, STYLE_CODE_INPUT: (code + 1.5)[None].astype(np.float32)})[0]
    assert np.abs(a - b).max() > 1e-3  # the input really steers the style
    # the app freezes the code into the model; the result is the file's with that code as input
    crop = np.full((32, 32, 3), 127, np.uint8)
    x = (crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5) - 1.0
    for c in (code, (code + 1.5).astype(np.float32)):
        stylizer.set_style_code(c[None])
        want = sess.run(None, {"image": x, STYLE_CODE_INPUT: c[None]})[0][0]
        want_u8 = np.clip((want + 1) * 127.5, 0, 255).transpose(1, 2, 0)
        assert np.abs(stylizer(crop).astype(float) - want_u8).max() <= 1.0


def _tiny_encoder(bad: bool = False) -> nn.Module:
    """Reference picture -> a 4-number code (mean colour through a linear map); `bad`: NaN."""
    torch.manual_seed(2)
    net = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 4)).eval()
    if bad:
        with torch.no_grad():
            net[2].weight[0, 0] = float("nan")
    return net


def test_the_style_encoder_ships_beside_the_style_verified(tmp_path: Path) -> None:
    from avatar_cam.reference import encode, find_style_encoder

    torch.manual_seed(1)
    net = TinyStyled().eval()
    code = net.code.numpy().reshape(-1)
    spec = ExportSpec(size=32, trace_size=32, style_code_dim=4).check()
    enc = EncoderExport(_tiny_encoder(), 32, encoder_references([], 32), {"name": "tiny encoder"})
    export_style(net, tmp_path / "sc.onnx", spec, {**META, "kind": "content-invariant"},
                 build_cases(32, style_codes=[("", code)]), default_code=code, say=lambda s: None,
                 encoder=enc)
    info = load_style(tmp_path / "sc.onnx")
    assert find_style_encoder(info) == tmp_path / "encoders" / "sc.onnx"
    assert "grey level" in info.metadata["style_encoder_verified"]
    picture = np.zeros((32, 32, 3), np.uint8)
    picture[..., 0] = 200
    sess = ort.InferenceSession(str(tmp_path / "encoders" / "sc.onnx"), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = enc.net(torch.from_numpy(picture.transpose(2, 0, 1)[None] / 127.5 - 1).float()).numpy()
    np.testing.assert_allclose(encode(sess, picture), want, atol=1e-5)
    assert _only_files(tmp_path) == ["encoders", "sc.onnx"]
    assert _only_files(tmp_path / "encoders") == ["sc.onnx"]


def test_a_failing_style_encoder_writes_nothing(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = TinyStyled().eval()
    code = net.code.numpy().reshape(-1)
    spec = ExportSpec(size=32, trace_size=32, style_code_dim=4).check()
    enc = EncoderExport(_tiny_encoder(bad=True), 32, encoder_references([], 32), {"name": "x"})
    with pytest.raises(ExportError, match="style encoder gives .* NaN"):
        export_style(net, tmp_path / "sc.onnx", spec, {**META, "kind": "content-invariant"},
                     build_cases(32, style_codes=[("", code)]), default_code=code, say=lambda s: None,
                     encoder=enc)
    assert _only_files(tmp_path) == []
    with pytest.raises(ExportError, match="only with a style that takes a style code"):
        export_style(net, tmp_path / "x.onnx", ExportSpec(size=32, trace_size=32), META, build_cases(32),
                     encoder=enc, say=lambda s: None)


def test_wrong_output_fails_and_leaves_the_old_file(tiny: nn.Module, tmp_path: Path) -> None:
    out = tmp_path / "s.onnx"
    out.write_bytes(b"previous style")

    def off_by_a_bit(x: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        return tiny(x) + 0.05

    spec = ExportSpec(size=32, trace_size=32)
    with pytest.raises(ExportError, match="ONNX Runtime disagrees with torch"):
        export_style(tiny, out, spec, META, build_cases(32), reference=off_by_a_bit, say=lambda s: None)
    assert out.read_bytes() == b"previous style"
    assert _only_files(tmp_path) == ["s.onnx"]


def test_crash_during_export_leaves_no_partial_file(tiny: nn.Module, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_export, "verify_numerics", boom)
    with pytest.raises(KeyboardInterrupt):
        _export(tiny, tmp_path / "s.onnx")
    assert _only_files(tmp_path) == []


def test_metadata_the_app_rejects_fails_cleanly(tiny: nn.Module, tmp_path: Path) -> None:
    spec = ExportSpec(size=32, trace_size=32)
    with pytest.raises(ExportError, match="the app rejects the file: .*kind 'anime'"):
        export_style(tiny, tmp_path / "s.onnx", spec, {**META, "kind": "anime"}, build_cases(32),
                     say=lambda s: None)
    assert _only_files(tmp_path) == []


def test_over_2gb_writes_external_data_beside_it(tiny: nn.Module, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "SINGLE_FILE_LIMIT", 1000)  # pretend the tiny model is huge
    _export(tiny, tmp_path / "big.onnx")
    assert _only_files(tmp_path) == ["big.onnx", "big.onnx.data"]
    load_style(tmp_path / "big.onnx")


@pytest.mark.parametrize(("spec", "message"), [
    (ExportSpec(size=30, size_multiple=4), "multiple of 4"),
    (ExportSpec(size=8, size_multiple=4), "at least 16"),
    (ExportSpec(opset=13), "opset 13 is too old"),
    (ExportSpec(exporter="magic"), "unknown exporter"),
])
def test_bad_specs(spec: ExportSpec, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        spec.check()


def test_random_init_light_is_honest_about_being_untrained(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "bench.onnx"
    rc = main(["--onnx", "--random-init", "--generator", "light", "--size", "32", "--out", str(out),
               "--name", "fast"])
    assert rc == 0, capsys.readouterr().err
    info = load_style(out)
    assert info.name == "fast-untrained"
    assert info.kind in KNOWN_KINDS and info.metadata["untrained"] == "true"
    assert info.metadata["trained_on"].startswith("nothing")
    assert float(info.metadata["gmac_256"]) > 0 and "gmac_32" in info.metadata
    assert "max abs error" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["--random-init", "--style-image", "x.png"], "--style-image needs a trained"),
    (["--run", "r", "--generator", "light"], "apply to --random-init only"),
    (["--random-init", "--style-input"], "--style-input needs --model content-invariant"),
    (["--random-init", "--generator", "light", "--size", "36"], "multiple of 8"),
    (["--random-init", "--name", "   "], "--name is only spaces"),  # listed as a blank style
])
def test_cli_usage_errors_are_one_line(argv: list[str], message: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    rc = main(["--onnx", *argv, "--out", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc in (1, 2) and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_an_empty_verify_images_folder_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--verify-images with no photos in it said nothing and verified on the built-in images only."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    rc = main(["--onnx", "--random-init", "--generator", "light", "--size", "32",
               "--out", str(tmp_path / "x.onnx"), "--verify-images", str(tmp_path / "empty")])
    err = capsys.readouterr().err.strip()
    assert rc in (1, 2) and "no photos in the --verify-images folder" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.onnx").exists()


def test_a_verify_images_folder_of_unreadable_files_is_an_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """A folder whose only "photo" is text named b.jpg verified on the built-in images alone."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "b.jpg").write_text("not a photo")
    rc = main(["--onnx", "--random-init", "--generator", "light", "--size", "32",
               "--out", str(tmp_path / "x.onnx"), "--verify-images", str(tmp_path / "bad")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "none of its 1 image files can be read" in err, err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--size", "36"], "multiple of 8"),
    (["--size", "16"], "at least 32"),
    (["--size", "32", "--opset", "9"], "opset 9 is too old"),
])
def test_a_size_or_opset_the_generator_cannot_take_is_bad_usage(argv: list[str], message: str, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """Exit 2 (bad usage, docs/export.md), not 1 (the export or its verification failed)."""
    rc = main(["--onnx", "--random-init", "--generator", "light", *argv, "--out", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("avatar-export: error: ") and message in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "x.onnx").exists()


def test_output_must_be_onnx(tiny: nn.Module, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="must be a .onnx file"):
        _export(tiny, tmp_path / "s.pt")
