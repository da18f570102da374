"""Shared fixtures: styles the tests build themselves, real faces, the shared clips when present."""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from export.placeholder import build_placeholder_style

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# no test reads or writes the user's own settings (window state, calibration)
os.environ.setdefault("AVATAR_CAM_SETTINGS",
                      str(Path(tempfile.mkdtemp(prefix="avatar-cam-tests-")) / "settings.ini"))

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """2 shared cores: one torch thread is ~10x faster for tiny nets than two contending ones."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def qapp():  # type: ignore[no-untyped-def]
    """The one QApplication (offscreen) for the window tests."""
    widgets = pytest.importorskip("PySide6.QtWidgets")
    return widgets.QApplication.instance() or widgets.QApplication([])


@pytest.fixture(scope="session")
def clip_651() -> Path:
    path = MEDIA / "651.mp4"
    if not path.is_file():
        pytest.skip(f"real talking-head clip not present at {path} (only on machines with ../shared)")
    return path


@pytest.fixture(scope="session")
def demo_face() -> np.ndarray:
    """A drawn face MediaPipe detects (always available, no real person)."""
    from avatar_cam.demo import draw_demo_face

    return draw_demo_face(0.4)


def _demo_crop(t: float) -> tuple[np.ndarray, np.ndarray]:
    from avatar_cam.align import DEFAULT_CROP, align_face
    from avatar_cam.demo import draw_demo_face
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.face import FaceDetector
    from avatar_cam.mesh_drawing import crop_landmarks

    img = draw_demo_face(t)
    det = FaceDetector()
    face = det.detect(img)[0]
    det.close()
    crop = align_face(img, face, 128, DEFAULT_CROP)
    with ExpressionAnalyzer() as a:
        lm = crop_landmarks(a, crop)
    assert lm is not None, "Face Mesh found no face in the demo crop"
    return crop, lm


@pytest.fixture(scope="session")
def demo_crop() -> Callable[[float], tuple[np.ndarray, np.ndarray]]:
    """(BGR 128px crop, landmarks in the crop) of the demo face at time t, found the app's way."""
    return functools.cache(_demo_crop)


def write_model(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def style_file(tmp_path: Path) -> Path:
    """A tiny valid style file (64px mosaic) made with onnx.helper."""
    return write_model(build_placeholder_style(size=64, block=8, metadata={"name": "tiny-test"}),
                       tmp_path / "tiny.onnx")


def identity_model(inputs: list, outputs: list, nodes: list, meta: dict[str, str],
                   opset: int = 17, domains: tuple[str, ...] = ()) -> onnx.ModelProto:
    """A hand-made graph for the bad-style tests."""
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    helper.set_model_props(model, meta)
    return model


VALID_META = {
    "name": "t", "kind": "placeholder", "input_size": "32", "value_range": "-1,1",
    "license_note": "test", "trained_on": "nothing",
}


def tensor(name: str, shape: list, dtype: int = TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


def huge_png(path: Path, side: int = 40_000) -> Path:
    """A small PNG whose header says side x side px: over OpenCV's pixel limit, where cv2.imread
    and cv2.imdecode raise instead of returning None."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    return path
