"""ONNX Runtime: pick the best execution provider, open sessions, run a style on a face crop."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from pathlib import Path

import numpy as np
import onnxruntime as ort
import platformdirs

from avatar_cam.frame import Frame
from avatar_cam.palette import ColourMatch
from avatar_cam.styles import APP_NAME, STYLE_CODE_INPUT, StyleInfo, look_colour_match

# Best first. CUDA/TensorRT are listed by onnxruntime-gpu even without a GPU: what a session
# really uses is read back from `session.get_providers()`.
PREFERRED_PROVIDERS = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "DmlExecutionProvider",
    "CoreMLExecutionProvider",
    "CPUExecutionProvider",
)
SHORT_NAMES = {
    "TensorrtExecutionProvider": "tensorrt",
    "CUDAExecutionProvider": "cuda",
    "DmlExecutionProvider": "directml",
    "CoreMLExecutionProvider": "coreml",
    "CPUExecutionProvider": "cpu",
}


@functools.cache
def _loadable(*names: str) -> bool:
    for name in names:
        try:
            ctypes.CDLL(name)
            return True
        except OSError:
            continue
    return False


def _nvidia_ready() -> tuple[bool, bool]:
    """(CUDA usable, TensorRT usable): the driver and the runtime libraries ORT needs load.

    Without this check ORT prints a screen of errors on every machine without a GPU before it
    falls back to the CPU."""
    if platform.system() == "Windows":
        return _loadable("nvcuda.dll"), _loadable("nvinfer_10.dll", "nvinfer.dll")
    if platform.system() != "Linux":
        return False, False
    cuda = _loadable("libcuda.so.1") and _loadable("libcublasLt.so.13", "libcublasLt.so.12")
    return cuda, cuda and _loadable("libnvinfer.so.10")


def _has_provider_library(name: str) -> bool:
    """ONNX Runtime's own library for a GPU provider is installed: the standalone bundle leaves
    the CUDA and TensorRT ones out (scripts/avatar-cam.spec), though ORT still lists them."""
    return any((Path(ort.__file__).parent / "capi").glob(f"*onnxruntime_providers_{name}.*"))


def available_providers() -> set[str]:
    """Providers this machine can really run (GPU ones only with a driver and runtime present)."""
    available = set(ort.get_available_providers())
    cuda, trt = _nvidia_ready()
    if not (cuda and _has_provider_library("cuda")):
        available.discard("CUDAExecutionProvider")
    if not (trt and _has_provider_library("tensorrt")):
        available.discard("TensorrtExecutionProvider")
    return available


def provider_chain(requested: str = "auto") -> list[str | tuple[str, dict]]:
    """Providers to ask ORT for, best first; `requested` is auto or a short name (cpu, cuda...)."""
    available = available_providers()
    if requested != "auto":
        full = {v: k for k, v in SHORT_NAMES.items()}.get(requested, requested)
        if full not in available:
            raise ValueError(
                f"execution provider {requested!r} is not available here "
                f"(available: {', '.join(SHORT_NAMES.get(p, p) for p in sorted(available))})"
            )
        names = [full, "CPUExecutionProvider"] if full != "CPUExecutionProvider" else [full]
    else:
        names = [p for p in PREFERRED_PROVIDERS if p in available]
    chain: list[str | tuple[str, dict]] = []
    for name in names:
        if name == "TensorrtExecutionProvider":
            cache = Path(platformdirs.user_cache_dir(APP_NAME)) / "trt-engines"
            chain.append((name, {"trt_engine_cache_enable": True,
                                 "trt_engine_cache_path": str(cache),
                                 "trt_fp16_enable": True}))
        else:
            chain.append(name)
    return chain


def physical_cores() -> int:
    """CPU cores without SMT siblings (Linux sysfs topology; elsewhere the logical count)."""
    cpus = Path("/sys/devices/system/cpu")
    cores = set()
    for topo in cpus.glob("cpu[0-9]*/topology"):
        try:
            cores.add(((topo / "physical_package_id").read_text().strip(),
                       (topo / "core_id").read_text().strip()))
        except OSError:
            continue
    return len(cores) or os.cpu_count() or 1


def default_threads() -> int:
    """ORT intra-op threads when none are asked for: physical cores minus one, at least one.

    The capture thread and MediaPipe run beside ORT, and contending for the last core costs more
    than a second ORT thread gains. Measured with `avatar-bench --style anime-preview --frames
    800 --threads N` on the 2-core dev machine, two runs each: 1 thread 65.5 / 72.2 fps, latency
    p50 13.8 / 12.0 ms; 2 threads 42.0 / 41.4 fps, 23.2 / 23.4 ms (docs/benchmark.md)."""
    return max(1, physical_cores() - 1)


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Graph optimisations on, quiet logs, intra-op threads `threads` or `default_threads()`."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return opts


def open_session(model: Path | bytes, provider: str = "auto", threads: int | None = None
                 ) -> ort.InferenceSession:
    """A session for a model file (or its bytes) on the best provider of `provider`'s chain."""
    opts = session_options(threads)
    chain = provider_chain(provider)
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, opts, providers=chain)
    except Exception:
        # A GPU provider whose libraries are missing can fail outright instead of falling back.
        return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def frozen_style_code(path: Path, code: np.ndarray) -> bytes:
    """The model at `path` with its `style_code` input turned into a constant holding `code`.

    ONNX Runtime then folds the style MLP and the per-channel modulation into the convolutions,
    so a style run with one code costs what a style with the code baked in at export costs
    (`flat-mesh` at 144 px, one thread: 3.8 ms a frame, against 4.6 ms fed as an input)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inp = next(i for i in model.graph.input if i.name == STYLE_CODE_INPUT)
    model.graph.input.remove(inp)
    model.graph.initializer.append(numpy_helper.from_array(
        np.ascontiguousarray(code, np.float32).reshape(1, -1), STYLE_CODE_INPUT))
    return model.SerializeToString()


class Stylizer:
    """Runs one style on RGB uint8 crops through an ONNX Runtime I/O binding: the input and
    output buffers are allocated and bound once, so a frame costs one copy in (to the GPU where
    there is one), one copy out and the returned uint8 image. A style that takes a style code runs
    with `style.default_code()` frozen into the model (`frozen_style_code`); a look from a
    picture also moves the output's skin and hair onto the picture's (`colour_match`).

    One of the two `avatar_cam.renderers.StyleRenderer` kinds: it reads `frame.crop`."""

    needs_landmarks = False
    draws_frame = False

    def __init__(self, style: StyleInfo, provider: str = "auto", threads: int | None = None):
        self.style = style
        self._provider, self._threads = provider, threads
        self._input = np.empty((1, 3, style.size, style.size), np.float32)
        self._output = np.empty((1, 3, style.size, style.size), np.float32)
        self.style_code = style.default_code()
        self.colour_match: ColourMatch | None = look_colour_match(style)
        self._open()

    def _open(self) -> None:
        """The session and its I/O binding; a style code is frozen into the model."""
        style = self.style
        model = (style.model_path if self.style_code is None
                 else frozen_style_code(style.model_path, self.style_code))
        self.session = open_session(model, self._provider, self._threads)
        self.provider = SHORT_NAMES.get(self.session.get_providers()[0], self.session.get_providers()[0])
        self._binding = self.session.io_binding()
        self._binding.bind_cpu_input(style.input_name, self._input)  # backed by the buffer itself
        self._binding.bind_output(style.output_name, "cpu", 0, np.float32, self._output.shape,
                                  self._output.ctypes.data)

    @property
    def size(self) -> int:
        return self.style.size

    def set_style_code(self, code: np.ndarray) -> None:
        """Run with `code` from the next call on (a new session with the code frozen in)."""
        if self.style_code is None:
            raise ValueError(f"style {self.style.name} takes no style code")
        code = np.asarray(code, np.float32)
        if code.shape != self.style_code.shape:
            raise ValueError(f"style code has shape {code.shape}, the style wants "
                             f"{self.style_code.shape}")
        self.style_code = code.copy()
        self._open()

    def render(self, frame: Frame) -> np.ndarray:
        return self(frame.crop)

    def preview(self, crop_rgb: np.ndarray) -> np.ndarray:
        return self(crop_rgb)

    def reset(self) -> None:
        """Nothing to forget: a generator has no state between frames."""

    def __call__(self, crop_rgb: np.ndarray, outside: np.ndarray | None = None) -> np.ndarray:
        """RGB uint8 (size, size, 3) -> RGB uint8 cartoon of the same size; a look's colour match
        moves hair colours only where `outside` ((size, size) in [0, 1], outside the face) says,
        anywhere when it is None.

        Raises `FloatingPointError` when the model returns NaN/Inf, so callers treat it as a
        generator fault like any other exception."""
        x = self._input
        np.multiply(crop_rgb.transpose(2, 0, 1)[None], 2.0 / 255.0, out=x, casting="unsafe")
        x -= 1.0
        self.session.run_with_iobinding(self._binding)
        y = self._output[0]
        if not np.isfinite(np.add.reduce(y, axis=None, dtype=np.float64)):  # no per-frame mask
            raise FloatingPointError("style output has NaN/Inf")
        y += 1.0
        y *= 127.5
        np.clip(y, 0, 255, out=y)
        out = np.empty((self.style.size, self.style.size, 3), np.uint8)
        np.copyto(out, y.transpose(1, 2, 0), casting="unsafe")
        return out if self.colour_match is None else self.colour_match(out, outside)
