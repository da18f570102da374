"""Shared pieces for the GUI tests (no tests here): tiny style files, fake cameras, a recording
pyvirtualcam backend and a Qt wait loop."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from avatar_cam.demo import draw_demo_face
from avatar_cam.frame import Frame
from avatar_cam.sources import SourceError, SourceLost

META = {"kind": "placeholder", "value_range": "-1,1", "license_note": "MIT (test)",
        "trained_on": "nothing (test graph)"}
MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def _save(model: onnx.ModelProto, path: Path, meta: dict[str, str]) -> Path:
    model.ir_version = 8
    helper.set_model_props(model, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def mosaic_style(path: Path, name: str, block: int = 16, size: int = 64) -> Path:
    """A valid style: average-pool mosaic with `block`-pixel tiles."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("cartoon", TensorProto.FLOAT, [1, 3, size, size])
    scales = numpy_helper.from_array(np.array([1, 1, block, block], np.float32), "scales")
    nodes = [helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[block, block],
                              strides=[block, block]),
             helper.make_node("Resize", ["p", "", "scales"], ["cartoon"], mode="nearest")]
    graph = helper.make_graph(nodes, name, [x], [y], initializer=[scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _save(model, path, META | {"name": name, "input_size": str(size)})


def nan_style(path: Path, name: str = "broken-nan", size: int = 64) -> Path:
    """Passes the catalog's static checks, fails the probe: the output is all NaN."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("cartoon", TensorProto.FLOAT, [1, 3, size, size])
    nan = numpy_helper.from_array(np.array(np.nan, np.float32), "nan")
    graph = helper.make_graph([helper.make_node("Mul", ["image", "nan"], ["cartoon"])], name,
                              [x], [y], initializer=[nan])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _save(model, path, META | {"name": name, "input_size": str(size)})


def style_code_style(path: Path, dim: int = 4, size: int = 64) -> tuple[Path, Path]:
    """A style with a `style_code` input (output = tanh(8-pixel mosaic of the image + mean(code)):
    not the picture itself, which the style check refuses) and its encoder (global average pool
    of the image, tiled to `dim`), as `encoders/<stem>.onnx`."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])
    c = helper.make_tensor_value_info("style_code", TensorProto.FLOAT, [1, dim])
    y = helper.make_tensor_value_info("cartoon", TensorProto.FLOAT, [1, 3, size, size])
    scales = numpy_helper.from_array(np.array([1, 1, 8, 8], np.float32), "scales")
    nodes = [helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[8, 8], strides=[8, 8]),
             helper.make_node("Resize", ["p", "", "scales"], ["q"], mode="nearest"),
             helper.make_node("ReduceMean", ["style_code"], ["m"], keepdims=0),
             helper.make_node("Add", ["q", "m"], ["s"]),
             helper.make_node("Tanh", ["s"], ["cartoon"])]
    graph = helper.make_graph(nodes, "coded", [x, c], [y], initializer=[scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    _save(model, path, META | {"name": "coded", "input_size": str(size), "kind": "content-invariant"})
    ex = helper.make_tensor_value_info("img", TensorProto.FLOAT, [1, 3, size, size])
    ey = helper.make_tensor_value_info("code", TensorProto.FLOAT, [1, dim])
    shape = numpy_helper.from_array(np.array([1, 3], np.int64), "shape")
    reps = numpy_helper.from_array(np.array([1, (dim + 2) // 3], np.int64), "reps")
    starts = numpy_helper.from_array(np.array([0], np.int64), "starts")
    ends = numpy_helper.from_array(np.array([dim], np.int64), "ends")
    axes = numpy_helper.from_array(np.array([1], np.int64), "axes")
    enodes = [helper.make_node("GlobalAveragePool", ["img"], ["g"]),
              helper.make_node("Reshape", ["g", "shape"], ["r"]),
              helper.make_node("Tile", ["r", "reps"], ["t"]),
              helper.make_node("Slice", ["t", "starts", "ends", "axes"], ["code"])]
    egraph = helper.make_graph(enodes, "encoder", [ex], [ey],
                               initializer=[shape, reps, starts, ends, axes])
    enc = helper.make_model(egraph, opset_imports=[helper.make_opsetid("", 17)])
    enc_path = path.parent / "encoders" / f"{path.stem}.onnx"
    enc_path.parent.mkdir(parents=True, exist_ok=True)
    enc.ir_version = 8
    onnx.save(enc, str(enc_path))
    return path, enc_path


class FakeCamera:
    """A live source drawing the demo face at ~`fps`; raises SourceLost after `lose_after`."""

    live = True
    still = False

    def __init__(self, name: str = "fake camera", fps: float = 30.0, lose_after: int | None = None):
        self.name, self.fps, self.lose_after = name, fps, lose_after
        self.count = 0
        self.closed = False
        self._t0 = time.perf_counter()

    def read(self) -> Frame:
        time.sleep(1.0 / self.fps)
        if self.lose_after is not None and self.count >= self.lose_after:
            raise SourceLost(f"{self.name} unplugged")
        self.count += 1
        t = time.perf_counter()
        return Frame(draw_demo_face(t - self._t0), self.count - 1, t, name=None)

    def close(self) -> None:
        self.closed = True


class FakeFactory:
    """Source factory: `plan` is a list consumed per open: a FakeCamera kwargs dict, or an
    exception message (that open raises SourceError). The last entry repeats."""

    def __init__(self, plan: list[dict | str]):
        self.plan = plan
        self.opened: list[tuple[str, object]] = []

    def __call__(self, spec: str, size: tuple[int, int]) -> FakeCamera:
        step = self.plan[min(len(self.opened), len(self.plan) - 1)]
        if isinstance(step, str):
            self.opened.append((spec, step))
            raise SourceError(step)
        cam = FakeCamera(name=f"fake {spec}", **step)
        self.opened.append((spec, cam))
        return cam


class RecordingBackend:
    """A pyvirtualcam backend that keeps what it is sent (register with register_backend)."""

    instances: list[RecordingBackend] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None,
                 **kw: object):
        self.width, self.height, self.fps = width, height, fps
        self.frames: list[np.ndarray] = []
        self.closed = False
        self._device = device or "/dev/video-test"
        RecordingBackend.instances.append(self)

    def send(self, frame: np.ndarray) -> None:
        self.frames.append(frame.reshape(self.height, self.width, 3).copy())

    def close(self) -> None:
        self.closed = True

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return None


def wait_until(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Process Qt events until `cond()` holds; fail with `what` after `timeout` seconds."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QApplication.processEvents()
        if cond():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def pump(seconds: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


def settings_open_in_time(path: Path, seconds: float = 60) -> bool:
    """Whether `AppSettings(path)` returns, tried in a process of its own: Qt's settings reader
    blocked on a named pipe for good (holding the interpreter's lock, so a thread cannot guard
    it), and a test that hangs the suite is no test."""
    code = "import sys; from avatar_cam.gui.settings import AppSettings; AppSettings(sys.argv[1]).mirror"
    try:
        return subprocess.run([sys.executable, "-c", code, str(path)], timeout=seconds).returncode == 0
    except subprocess.TimeoutExpired:
        return False
