"""The privacy promise under faults: a short run of the fault harness (the full one is
`python -m tests.fault_harness --frames 10000`), and proof that its leak check can fail."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.privacy import PrivacyGate
from avatar_cam.styles import StyleCatalog, load_style
from export.placeholder import write_placeholder_style
from tests.fault_harness import FAULTS, default_clips, reached_sink_raw, run_harness


@pytest.fixture
def styles_and_corrupt(tmp_path: Path):  # type: ignore[no-untyped-def]
    a = load_style(write_placeholder_style(tmp_path / "a.onnx", block=16, metadata={"name": "a"}))
    b = load_style(write_placeholder_style(tmp_path / "b.onnx", block=32, metadata={"name": "b"}))
    character = StyleCatalog().resolve("sunny")  # the default: drawn, idles when the face is lost
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(a.path.read_bytes()[:300])
    return [character, a, b], corrupt


def test_leak_check_sees_the_camera_whole_resized_mirrored_or_in_the_face() -> None:
    rng = np.random.default_rng(0)
    cam = rng.integers(0, 255, (120, 160, 3), np.uint8)
    other = rng.integers(0, 255, (120, 160, 3), np.uint8)
    assert reached_sink_raw(cam, cam, None)
    assert reached_sink_raw(cam, cam.copy()[:, ::-1].copy(), None)
    assert reached_sink_raw(cam, cv2.resize(cam, (320, 240)), None)
    face_only = other.copy()
    face_only[20:60, 30:70] = cam[20:60, 30:70]
    assert reached_sink_raw(cam, face_only, (30, 20, 40, 40))
    assert reached_sink_raw(cam, cv2.resize(face_only, (320, 240)), (30, 20, 40, 40))
    assert reached_sink_raw(cam, face_only[:, ::-1].copy(), (30, 20, 40, 40))
    assert not reached_sink_raw(cam, other, (30, 20, 40, 40))
    cartoon_face = cam.copy()
    cartoon_face[20:60, 30:70] = 128  # overlay mode: camera around, cartoon on the face
    assert not reached_sink_raw(cam, cartoon_face, (30, 20, 40, 40))


@pytest.mark.parametrize("mode", ["avatar", "overlay"])
def test_no_camera_frame_reaches_a_sink_under_every_fault(styles_and_corrupt, mode: str) -> None:  # type: ignore[no-untyped-def]
    styles, corrupt = styles_and_corrupt
    r = run_harness(default_clips(), styles, corrupt, frames=400, mode=mode, seed=1, rate=0.03,
                    swap_every_s=0.1)
    assert r["camera_frames_reaching_sink"] == 0, r["leak_frame_indexes"]
    assert r["frames"] == 400
    for fault in FAULTS:
        assert r["injected"].get(fault, 0) > 0, f"{fault} was never injected"
    injected_generator = r["injected"]["generator_error"] + r["injected"]["generator_nan"]
    assert r["fallbacks"]["generator_error"] == injected_generator
    assert (r["fallbacks"]["detector_error"] + r["detector_faults_on_fallen_back_frames"]
            == r["injected"]["detector_error"])
    assert r["fallbacks"]["source_lost"] == r["injected"]["disconnect"]
    assert r["fallbacks"].get("no_face", 0) > 0
    assert r["errors"]["sink:OSError"] == r["injected"]["sink_error"]
    assert r["style_swaps"] > 0 and r["corrupt_style_refused"] > 0


def test_the_harness_catches_a_broken_gate(styles_and_corrupt, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    def leaky(self: PrivacyGate, frame):  # type: ignore[no-untyped-def]
        frame.output = frame.output if frame.fallback is None else frame.image
        return frame.output

    monkeypatch.setattr(PrivacyGate, "__call__", leaky)
    styles, corrupt = styles_and_corrupt
    # generated styles only: a character's idle picture (itself checked against the camera
    # image) would cover most of what this leaky gate lets through
    onnx_styles = [s for s in styles if s.kind != "character"]
    r = run_harness(default_clips(), onnx_styles, corrupt, frames=150, seed=1, rate=0.05)
    assert r["camera_frames_reaching_sink"] > 0
