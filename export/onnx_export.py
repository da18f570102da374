"""A torch generator -> one verified ONNX style file (the contract in `avatar_cam/styles.py`).

`export_style` does the whole job and either leaves a checked file at `out` or nothing new:

1. trace the network (TorchScript exporter for fp32, dynamo exporter for fp16; either on request)
   into an in-memory `ModelProto`: input `image` float32 [1,3,S,S] (or dynamic H, W), optional
   input `style_code` float32 [1,D], output `cartoon` float32 [1,3,S,S]; an fp16 export keeps
   float32 inputs and outputs (casts inside) and runs the instance norms in float32;
2. write the metadata and save it into a private temporary folder next to `out` as ONE file
   (external data only for a model over 2 GB, which no network here comes near);
3. verify: `onnx.checker` (full check), ONNX Runtime (CPU) against the float32 torch reference on
   real-looking inputs, max/mean abs error printed and held to a tolerance, then the app's own
   loader (`load_style`, which probes the file) and its `Stylizer` on a uint8 crop;
4. record the measured error in the metadata, re-check with the app's loader, and `os.replace`
   the file into place. Any failure (or Ctrl-C) removes the temporary folder; `out` is untouched.

A style with a `style_code` input may ship its style encoder (`EncoderExport`): a second ONNX
file, `encoders/<out stem>.onnx` beside `out` and named in the style's metadata
(`style_encoder`), exported and verified the same way (ONNX Runtime vs torch on reference
pictures, then the app's own encoder call and its `Stylizer` with that code against torch), and
moved into place just before the style.

The module name avoids `onnx.py` so it never shadows the `onnx` package.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper
from torch import nn

from avatar_cam.align import centred_square
from avatar_cam.styles import STYLE_CODE_INPUT, StyleError, StyleInfo, code_text, load_style

IMAGE_INPUT = "image"
OUTPUT = "cartoon"
ENCODER_INPUT = "reference"
ENCODER_DIR = "encoders"
DEFAULT_OPSET = 17
DYNAMO_MIN_OPSET = 18
EXPORTERS = ("auto", "torchscript", "dynamo")
# protobuf caps one message at 2 GB; above this the weights go to `NAME.onnx.data` beside the file.
SINGLE_FILE_LIMIT = 2**31 - 2**20

# Tolerances on the [-1, 1] output scale (1/127.5 = one 8-bit grey level), ONNX Runtime (CPU) vs
# the float32 torch model. fp32: only op-order / fused-kernel rounding, typically 1e-6..1e-4 (up
# to 6e-4 seen on untrained ResNet-9s, whose tiny activations sit near the instance-norm epsilon),
# so 5e-3 (0.6 grey level) max and 1e-4 mean; a real export bug is off by 0.1 or more.
# fp16: weights and activations rounded to 11-bit mantissas; measured 2e-3..4e-2 max (see
# docs/export.md), so 0.08 (about 10 grey levels, on a single pixel) and a mean of 0.01.
FP32_TOLERANCE = 5e-3
FP16_TOLERANCE = 0.08
FP16_MEAN_TOLERANCE = 0.01
FP32_MEAN_TOLERANCE = 1e-4

Reference = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]
log = logging.getLogger("export")


class ExportError(RuntimeError):
    """An export that cannot be completed or fails verification; the message is one line."""


# -- wrappers that fix the graph signature --------------------------------------------------------


class _Float32Island(nn.Module):
    """Runs a normalisation layer in float32 inside an fp16 network (fp16 variance can overflow)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.float()).to(x.dtype)


def fp16_network(net: nn.Module) -> nn.Module:
    """A half-precision copy of `net` whose instance norms still compute in float32.

    BatchNorm stays fp16: in eval mode it is an affine map that the exporter folds into the conv.
    """
    half = copy.deepcopy(net).half()
    for name, m in list(half.named_modules()):
        if isinstance(m, nn.InstanceNorm2d) and name:
            parent_name, _, child = name.rpartition(".")
            parent = half.get_submodule(parent_name) if parent_name else half
            setattr(parent, child, _Float32Island(m))
    return half


class ImageAdapter(nn.Module):
    """`image -> cartoon`, optionally casting to fp16 inside (float32 in and out either way)."""

    def __init__(self, net: nn.Module, fp16: bool = False):
        super().__init__()
        self.net = fp16_network(net) if fp16 else net
        self.fp16 = fp16

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if self.fp16:
            return self.net(image.half()).float()
        return self.net(image)


class StyleCodeAdapter(nn.Module):
    """`(image, style_code) -> cartoon` for a net with `forward(x, style_code)`."""

    def __init__(self, net: nn.Module, fp16: bool = False):
        super().__init__()
        self.net = fp16_network(net) if fp16 else net
        self.fp16 = fp16

    def forward(self, image: torch.Tensor, style_code: torch.Tensor) -> torch.Tensor:
        if self.fp16:
            return self.net(image.half(), style_code.half()).float()
        return self.net(image, style_code)


# -- export ---------------------------------------------------------------------------------------


@dataclass
class ExportSpec:
    """How to export: fixed `size` (None: dynamic H and W), precision, exporter, style input."""

    size: int | None = 256
    trace_size: int = 256  # example input size for tracing (= size when fixed)
    fp16: bool = False
    opset: int = DEFAULT_OPSET
    exporter: str = "auto"  # auto: torchscript for fp32, dynamo for fp16 (see `resolved_exporter`)
    style_code_dim: int | None = None  # set: the graph has a second input `style_code` [1, D]
    size_multiple: int = 4  # input sides must be multiples of this (the generator's total stride)

    @property
    def resolved_exporter(self) -> str:
        """`auto` picks the TorchScript exporter (fast, runs the float32 net once) for fp32 and the
        dynamo exporter (traces with fake tensors) for fp16: TorchScript tracing runs the network,
        and torch's CPU half-precision convolutions take minutes for these generators."""
        if self.exporter != "auto":
            return self.exporter
        return "dynamo" if self.fp16 else "torchscript"

    @property
    def tolerance(self) -> float:
        return FP16_TOLERANCE if self.fp16 else FP32_TOLERANCE

    @property
    def mean_tolerance(self) -> float:
        return FP16_MEAN_TOLERANCE if self.fp16 else FP32_MEAN_TOLERANCE

    def check(self) -> ExportSpec:
        if self.exporter not in EXPORTERS:
            raise ExportError(f"unknown exporter {self.exporter!r} ({', '.join(EXPORTERS)})")
        for s in (self.size, self.trace_size):
            if s is not None and (s < 4 * self.size_multiple or s % self.size_multiple):
                raise ExportError(f"size {s} must be a multiple of {self.size_multiple} and at least "
                                  f"{4 * self.size_multiple} for this generator")
        if self.opset < DEFAULT_OPSET:
            raise ExportError(f"opset {self.opset} is too old; use {DEFAULT_OPSET} or newer")
        return self


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the exporters' deprecation chatter and dynamo's per-op log lines."""
    names = ("torch.onnx", "torch._dynamo", "torch.export", "torch._export", "onnxscript")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def torch_to_onnx(net: nn.Module, spec: ExportSpec) -> onnx.ModelProto:
    """Trace `net` (float32, eval, CPU) into an in-memory ModelProto with the contract's names."""
    spec.check()
    net = net.float().cpu().eval()
    adapter: nn.Module = (StyleCodeAdapter(net, spec.fp16) if spec.style_code_dim
                          else ImageAdapter(net, spec.fp16)).eval()
    s = spec.size or spec.trace_size
    example: tuple[torch.Tensor, ...] = (torch.zeros(1, 3, s, s),)
    names = [IMAGE_INPUT]
    if spec.style_code_dim:
        example += (torch.zeros(1, spec.style_code_dim),)
        names.append(STYLE_CODE_INPUT)
    try:
        with _quiet_exporter(), torch.no_grad():
            if spec.resolved_exporter == "dynamo":
                model = _dynamo_export(adapter, example, names, spec)
            else:
                model = _torchscript_export(adapter, example, names, spec)
    except ExportError:
        raise
    except Exception as e:  # the exporters raise many types; keep the first line
        raise ExportError(f"the {spec.resolved_exporter} exporter failed: "
                          f"{type(e).__name__}: {_first_line(e)}") from e
    return model


def _torchscript_export(adapter: nn.Module, example: tuple, names: list[str], spec: ExportSpec
                        ) -> onnx.ModelProto:
    dynamic = None
    if spec.size is None:
        dynamic = {IMAGE_INPUT: {2: "height", 3: "width"}, OUTPUT: {2: "height", 3: "width"}}
    buf = io.BytesIO()
    torch.onnx.export(adapter, example, buf, dynamo=False, opset_version=spec.opset,
                      input_names=names, output_names=[OUTPUT], dynamic_axes=dynamic,
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    return onnx.load_model_from_string(buf.getvalue())


def _dynamo_export(adapter: nn.Module, example: tuple, names: list[str], spec: ExportSpec
                   ) -> onnx.ModelProto:
    shapes = None
    if spec.size is None:
        dyn = torch.export.Dim.DYNAMIC
        shapes = ({2: dyn, 3: dyn},) + ((None,) if len(example) > 1 else ())
    prog = torch.onnx.export(adapter, example, dynamo=True, opset_version=max(spec.opset, DYNAMO_MIN_OPSET),
                             input_names=names, output_names=[OUTPUT], dynamic_shapes=shapes,
                             optimize=True, verbose=False, external_data=False)
    if prog is None:
        raise ExportError("the dynamo exporter returned no program")
    return prog.model_proto


def set_metadata(model: onnx.ModelProto, metadata: dict[str, str]) -> None:
    """Replace `metadata_props` with `metadata` (all values as strings, keys sorted)."""
    helper.set_model_props(model, {k: str(v) for k, v in sorted(metadata.items())})


def save_model(model: onnx.ModelProto, path: Path) -> list[Path]:
    """Write `model` to `path` as one file (external data beside it only over 2 GB); returns files."""
    if model.ByteSize() <= SINGLE_FILE_LIMIT:
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it visible
        return [path]
    data = path.with_name(path.name + ".data")
    copy_ = onnx.ModelProto()
    copy_.CopyFrom(model)  # saving with external data strips the tensors of the proto it is given
    onnx.save_model(copy_, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=data.name, size_threshold=1024)
    return [path, data]


# -- verification ---------------------------------------------------------------------------------


@dataclass
class Case:
    """One verification input: a label, an image [1,3,S,S] in [-1,1] and an optional style code."""

    label: str
    image: np.ndarray
    style_code: np.ndarray | None = None


@dataclass
class VerifyReport:
    """Measured agreement of ONNX Runtime with torch."""

    rows: list[tuple[str, int, float, float]] = field(default_factory=list)  # label, size, max, mean
    app_levels: int = -1  # max |Stylizer uint8 - torch uint8| in grey levels
    provider: str = "cpu"

    @property
    def max_abs(self) -> float:
        return max((r[2] for r in self.rows), default=math.nan)

    @property
    def mean_abs(self) -> float:
        return float(np.mean([r[3] for r in self.rows])) if self.rows else math.nan

    def table(self) -> str:
        lines = [f"  {'input':<34} {'size':>5} {'max abs':>10} {'mean abs':>10}"]
        lines += [f"  {label[:34]:<34} {size:>5} {mx:>10.3e} {mean:>10.3e}"
                  for label, size, mx, mean in self.rows]
        return "\n".join(lines)


def to_model_input(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 RGB -> [1,3,H,W] float32 in [-1, 1], exactly as the app's Stylizer does it."""
    x = np.empty((1, 3, *rgb.shape[:2]), np.float32)
    np.multiply(rgb.transpose(2, 0, 1)[None], 2.0 / 255.0, out=x, casting="unsafe")
    x -= 1.0
    return x


def read_rgb(path: Path, size: int) -> np.ndarray | None:
    """An image file as a centre-cropped `size`x`size` RGB uint8 array (None if unreadable)."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return None if img is None else centred_square(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), size)


def synthetic_images(size: int) -> list[tuple[str, np.ndarray]]:
    """Inputs every export is checked on: the app's drawn demo face, the same face turned and shot
    like a webcam frame (blur, dimmer, sensor noise), a textured colour gradient and a hard-edged,
    saturated checkerboard."""
    from avatar_cam.demo import draw_demo_face

    rng = np.random.default_rng(0)
    faces = []
    for t in (0.4, 2.3):
        face = cv2.cvtColor(draw_demo_face(t), cv2.COLOR_BGR2RGB)
        h, w = face.shape[:2]
        side = int(h * 0.9)
        faces.append(centred_square(face[:side, (w - side) // 2:(w + side) // 2], size))
    cam = cv2.GaussianBlur(faces[1], (0, 0), max(size / 256, 0.5)).astype(np.float64) * 0.8 + 10
    cam = np.clip(cam + rng.normal(0, 6, cam.shape), 0, 255).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    grad = np.stack([xx * 230 + 15, yy * 200 + 30, (1 - xx) * 180 + 40], -1)
    grad = np.clip(grad + rng.normal(0, 12, grad.shape), 0, 255).astype(np.uint8)
    tile = max(size // 8, 1)
    check = (((np.arange(size)[:, None] // tile) + (np.arange(size)[None] // tile)) % 2).astype(bool)
    board = np.where(check[..., None], np.array([255, 240, 0], np.uint8), np.array([0, 20, 255], np.uint8))
    return [("demo face (drawn)", faces[0]), ("demo face, webcam-like", cam), ("gradient + noise", grad),
            ("saturated checkerboard", board)]


def read_labelled(paths: Sequence[Path], size: int, n: int, kind: str) -> list[tuple[str, np.ndarray]]:
    """The first `n` readable pictures of `paths` at `size`, labelled "<kind> <file name>"."""
    out: list[tuple[str, np.ndarray]] = []
    for p in paths:
        if len(out) >= n:
            break
        rgb = read_rgb(Path(p), size)
        if rgb is not None:
            out.append((f"{kind} {Path(p).name}", rgb))
    return out


def build_cases(size: int, photos: Sequence[Path] = (), n_photos: int = 3,
                style_codes: Sequence[tuple[str, np.ndarray]] = ()) -> list[Case]:
    """Real photos (up to `n_photos` readable ones) plus `synthetic_images`, each with the first style
    code; the remaining codes are checked on the first image (style-input exports)."""
    images = read_labelled(photos, size, n_photos, "photo") + synthetic_images(size)
    codes: list[tuple[str, np.ndarray | None]] = [
        (label, np.asarray(c, np.float32).reshape(1, -1)) for label, c in style_codes] or [("", None)]
    first_label, first_code = codes[0]
    cases = [Case(label, to_model_input(rgb), first_code) for label, rgb in images]
    for label, code in codes[1:]:
        cases.append(Case(f"{images[0][0]} + {label}", to_model_input(images[0][1]), code))
    return cases


def _first_line(e: BaseException) -> str:
    return ((str(e).strip().splitlines() or [type(e).__name__])[0])[:300]


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as the app runs it
    opts.log_severity_level = 3
    opts.intra_op_num_threads = min(2, os.cpu_count() or 1)
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@torch.no_grad()
def torch_output(reference: Reference, case: Case) -> np.ndarray:
    code = None if case.style_code is None else torch.from_numpy(case.style_code)
    return reference(torch.from_numpy(case.image), code).float().numpy()


def verify_numerics(path: Path, reference: Reference, cases: Sequence[Case], spec: ExportSpec
                    ) -> VerifyReport:
    """ONNX Runtime (CPU) vs the float32 torch reference on every case; ExportError past tolerance."""
    try:
        sess = _session(path)
    except Exception as e:  # ORT raises Fail, InvalidGraph, NotImplemented, ...
        raise ExportError(f"ONNX Runtime cannot open the exported model: {_first_line(e)}") from None
    report = VerifyReport(provider="cpu")
    for case in cases:
        feeds = {IMAGE_INPUT: case.image}
        if spec.style_code_dim:
            if case.style_code is None:
                raise ExportError("style-input export verified without a style code")
            feeds[STYLE_CODE_INPUT] = case.style_code
        try:
            got = sess.run([OUTPUT], feeds)[0]
        except Exception as e:
            raise ExportError(f"ONNX Runtime fails on '{case.label}' ({case.image.shape[-1]} px): "
                              f"{_first_line(e)}") from None
        want = torch_output(reference, case)
        if not np.isfinite(want).all():
            raise ExportError(f"the torch model itself outputs NaN/Inf on '{case.label}' (diverged "
                              "training or damaged weights?)")
        if got.shape != want.shape:
            raise ExportError(f"ONNX output shape {list(got.shape)} != torch {list(want.shape)} "
                              f"on '{case.label}'")
        if not np.isfinite(got).all():
            raise ExportError(f"ONNX output has NaN/Inf on '{case.label}'")
        diff = np.abs(got.astype(np.float64) - want)
        report.rows.append((case.label, case.image.shape[-1], float(diff.max()), float(diff.mean())))
    if report.max_abs > spec.tolerance or report.mean_abs > spec.mean_tolerance:
        worst = max(report.rows, key=lambda r: r[2])
        raise ExportError(
            f"ONNX Runtime disagrees with torch: max abs error {report.max_abs:.3e} (tolerance "
            f"{spec.tolerance:.0e}), mean {report.mean_abs:.3e} (tolerance {spec.mean_tolerance:.0e}); "
            f"worst on '{worst[0]}'")
    return report


def check_in_app(path: Path, reference: Reference, image: np.ndarray, spec: ExportSpec,
                 default_code: np.ndarray | None) -> int:
    """The app's loader accepts the file and its Stylizer (uint8 RGB in and out, style code from
    the metadata) matches torch; returns the largest difference in grey levels."""
    try:
        info = load_style(path, probe=True)
    except StyleError as e:
        raise ExportError(f"the app rejects the file: {e}") from None
    if (info.style_code_dim or None) != spec.style_code_dim:
        raise ExportError(f"the app sees style_code_dim={info.style_code_dim}, "
                          f"expected {spec.style_code_dim}")
    code = None if default_code is None else default_code.astype(np.float32).reshape(1, -1)
    levels, allowed = _stylizer_vs_torch(info, image, reference, None, code, spec.tolerance)
    if levels > allowed:
        raise ExportError(f"the app's Stylizer output differs from torch by {levels} grey levels "
                          f"(allowed {allowed})")
    return levels


def _stylizer_vs_torch(info: StyleInfo, image: np.ndarray, reference: Reference,
                       app_code: np.ndarray | None,
                       torch_code: np.ndarray | None, tolerance: float) -> tuple[int, int]:
    """The app's Stylizer (with `app_code` set, when given) against torch (with `torch_code`) on
    `image` at the style's size: the largest difference and the allowed one, in grey levels."""
    from avatar_cam.inference import Stylizer

    rgb = centred_square(image, info.size)
    stylizer = Stylizer(info, provider="cpu", threads=min(2, os.cpu_count() or 1))
    if app_code is not None:
        stylizer.set_style_code(app_code)
    got = stylizer(rgb).astype(np.int16)
    want = torch_output(reference, Case("app", to_model_input(rgb), torch_code))[0]
    want_u8 = np.clip((want + 1.0) * 127.5, 0, 255).transpose(1, 2, 0).astype(np.uint8).astype(np.int16)
    return int(np.abs(got - want_u8).max()), math.ceil(tolerance * 127.5) + 1


# -- the style encoder ----------------------------------------------------------------------------


@dataclass
class EncoderExport:
    """The style encoder shipped beside a style that takes a style code."""

    net: nn.Module  # reference [N, 3, S, S] in [-1, 1] -> style code [N, D]
    size: int  # S: the side of the reference crop it reads (the training size)
    references: list[tuple[str, np.ndarray]]  # verification pictures: label, RGB uint8 S x S
    metadata: dict[str, str] = field(default_factory=dict)


def encoder_references(pictures: Sequence[Path], size: int, n: int = 6) -> list[tuple[str, np.ndarray]]:
    """Up to `n` readable cartoon pictures plus the built-in synthetic images, at `size`."""
    return read_labelled(pictures, size, n, "cartoon") + synthetic_images(size)


def _encode_ort(path: Path, rgb: np.ndarray) -> np.ndarray:
    from avatar_cam.reference import encode

    return encode(_session(path), rgb)


def export_encoder(enc: EncoderExport, staged: Path, opset: int, tolerance: float) -> str:
    """Trace, save, check and verify the encoder at `staged`; returns the verification line."""
    net = enc.net.float().cpu().eval()
    buf = io.BytesIO()
    try:
        with _quiet_exporter(), torch.no_grad():
            torch.onnx.export(net, (torch.zeros(1, 3, enc.size, enc.size),), buf, dynamo=False,
                              opset_version=opset, input_names=[ENCODER_INPUT],
                              output_names=[STYLE_CODE_INPUT], do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL)
    except Exception as e:
        raise ExportError(f"the style encoder does not export: {type(e).__name__}: {_first_line(e)}") from e
    model = onnx.load_model_from_string(buf.getvalue())
    set_metadata(model, enc.metadata)
    staged.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, staged)
    try:
        onnx.checker.check_model(str(staged), full_check=True)
    except Exception as e:
        raise ExportError(f"onnx checker rejects the style encoder: {_first_line(e)}") from None
    worst = 0.0
    for label, rgb in enc.references:
        with torch.no_grad():
            want = net(torch.from_numpy(to_model_input(rgb))).numpy().reshape(1, -1)
        got = _encode_ort(staged, rgb)  # the app's own call: uint8 RGB in, [1, D] out
        if got.shape != want.shape or not np.isfinite(got).all():
            raise ExportError(f"the style encoder gives {list(got.shape)} (torch {list(want.shape)}) "
                              f"or NaN/Inf on '{label}'")
        worst = max(worst, float(np.abs(got.astype(np.float64) - want).max()))
    if worst > tolerance:
        raise ExportError(f"ONNX Runtime's style codes disagree with torch by {worst:.3e} "
                          f"(tolerance {tolerance:.0e})")
    line = (f"onnxruntime {ort.__version__} CPU (the app's encoder call) vs torch float32 on "
            f"{len(enc.references)} pictures: max abs code error {worst:.3e} (tolerance {tolerance:.0e})")
    set_metadata(model, {**enc.metadata, "verified": line})
    save_model(model, staged)
    return line


def check_code_in_app(path: Path, reference: Reference, enc: EncoderExport, encoder: Path,
                      image: np.ndarray, spec: ExportSpec) -> int:
    """The app's Stylizer run with the code the exported encoder gives for a reference picture
    matches torch with torch's code; returns the largest difference in grey levels."""
    info = load_style(path, probe=False)
    label, picture = enc.references[0]
    code = _encode_ort(encoder, picture)
    with torch.no_grad():
        torch_code = enc.net.float().cpu().eval()(torch.from_numpy(to_model_input(picture))).numpy()
    levels, allowed = _stylizer_vs_torch(info, image, reference, code, torch_code.reshape(1, -1),
                                         spec.tolerance)
    if levels > allowed:
        raise ExportError(f"with the code of '{label}', the app's Stylizer differs from torch by "
                          f"{levels} grey levels (allowed {allowed})")
    return levels


# -- the whole job --------------------------------------------------------------------------------


@dataclass
class ExportResult:
    """What `export_style` wrote and measured."""

    path: Path
    bytes: int
    export_seconds: float
    verify_seconds: float
    report: VerifyReport
    metadata: dict[str, str]


@contextlib.contextmanager
def staging_dir(out: Path) -> Iterator[Path]:
    """A private temporary folder beside `out` (same filesystem, so the final rename is atomic);
    removed afterwards whatever happens."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _versions(spec: ExportSpec) -> str:
    from avatar_cam import __version__

    exporter = spec.resolved_exporter
    opset = max(spec.opset, DYNAMO_MIN_OPSET) if exporter == "dynamo" else spec.opset
    return (f"avatar-export (avatar-cam {__version__}); torch {torch.__version__}, {exporter} "
            f"exporter, opset {opset}; onnx {onnx.__version__}")


def export_style(net: nn.Module, out: str | Path, spec: ExportSpec, metadata: dict[str, str],
                 cases: Sequence[Case], reference: Reference | None = None,
                 default_code: np.ndarray | None = None, say: Callable[[str], None] = print,
                 encoder: EncoderExport | None = None) -> ExportResult:
    """Export `net`, verify it, and move it to `out` atomically (see the module docstring); with
    `encoder` (a style-code export only), its style encoder too.

    `reference(image, style_code)` is the float32 torch computation the file must reproduce
    (default: `net` itself). `metadata` must hold the contract's keys except `input_size`,
    `value_range` and `precision`, which are set here.
    """
    out = Path(out)
    if out.suffix != ".onnx":
        raise ExportError(f"{out}: the output must be a .onnx file")
    if out.is_dir():
        raise ExportError(f"{out}: is a folder")
    spec.check()
    if encoder is not None and not spec.style_code_dim:
        raise ExportError("a style encoder ships only with a style that takes a style code")
    if reference is None:
        net_ref = net.float().cpu().eval()

        def reference(x: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
            return net_ref(x) if code is None else net_ref(x, code)

    meta = dict(metadata)
    meta.update(input_size=str(spec.size) if spec.size else "dynamic", value_range="-1,1",
                precision="fp16" if spec.fp16 else "fp32", exported_by=_versions(spec),
                exported_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                size_multiple=str(spec.size_multiple))
    if spec.style_code_dim:
        meta["style_code_dim"] = str(spec.style_code_dim)
        if default_code is not None:
            meta["mean_style_code"] = code_text(default_code)
    encoder_name = f"{ENCODER_DIR}/{out.stem}.onnx"
    if encoder is not None:
        meta["style_encoder"] = encoder_name

    t0 = time.perf_counter()
    model = torch_to_onnx(net, spec)
    set_metadata(model, meta)
    export_s = time.perf_counter() - t0
    say(f"exported in {export_s:.1f} s ({spec.resolved_exporter}, {'fp16' if spec.fp16 else 'fp32'}, "
        f"{'dynamic size' if spec.size is None else f'{spec.size}x{spec.size}'})")

    with staging_dir(out) as tmp:
        staged = tmp / out.name
        t1 = time.perf_counter()
        staged_encoder = tmp / encoder_name
        if encoder is not None:
            enc_meta = {**encoder.metadata, "style": out.name, "input_size": str(encoder.size),
                        "value_range": "-1,1", "style_code_dim": str(spec.style_code_dim),
                        "exported_by": meta["exported_by"], "exported_at": meta["exported_at"]}
            encoder = dataclasses.replace(encoder, metadata=enc_meta)
            line = export_encoder(encoder, staged_encoder, spec.opset, FP32_TOLERANCE)
            say(f"style encoder: {line}")
        files = save_model(model, staged)
        try:
            onnx.checker.check_model(str(staged), full_check=True)
        except Exception as e:
            raise ExportError(f"onnx checker rejects the exported model: {_first_line(e)}") from None
        report = verify_numerics(staged, reference, cases, spec)
        say(f"ONNX Runtime (CPU) vs torch float32 on {len(report.rows)} inputs:\n{report.table()}")
        report.app_levels = check_in_app(staged, reference, _first_rgb(cases), spec, default_code)
        if encoder is not None:
            levels = check_code_in_app(staged, reference, encoder, staged_encoder, _first_rgb(cases), spec)
            meta["style_encoder_verified"] = (f"{line}; the app's Stylizer with the code of "
                                              f"{encoder.references[0][0]} within {levels} grey level(s)")
            say(f"app check with the encoder's code: Stylizer vs torch within {levels} grey level(s)")
        meta["verified"] = (f"onnxruntime {ort.__version__} CPU vs torch float32 on "
                            f"{len(report.rows)} inputs: max abs error {report.max_abs:.3e}, "
                            f"mean {report.mean_abs:.3e} "
                            f"(tolerance {spec.tolerance:.0e}); app Stylizer within "
                            f"{report.app_levels} grey level(s)")
        set_metadata(model, meta)
        files = save_model(model, staged)
        try:
            load_style(staged, probe=False)  # the final bytes, as the app will open them
        except StyleError as e:
            raise ExportError(f"the app rejects the file: {e}") from None
        verify_s = time.perf_counter() - t1
        if encoder is not None:
            (out.parent / ENCODER_DIR).mkdir(exist_ok=True)
            os.replace(staged_encoder, out.parent / encoder_name)
        for f in files[1:]:  # external data (only over 2 GB) goes first, the model last
            os.replace(f, out.parent / f.name)
        os.replace(files[0], out)
    size = sum((out.parent / f.name).stat().st_size for f in files)
    return ExportResult(out, size, export_s, verify_s, report, meta)


def _first_rgb(cases: Sequence[Case]) -> np.ndarray:
    x = cases[0].image[0]
    return np.clip((x + 1.0) * 127.5 + 0.5, 0, 255).transpose(1, 2, 0).astype(np.uint8)
