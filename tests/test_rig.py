"""The rig styles (issue 14): a character drawn from Face Mesh parameters, no camera pixel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.align import crop_matrix
from avatar_cam.composite import Mode
from avatar_cam.demo import draw_demo_face
from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.frame import Frame
from avatar_cam.pipeline import Pipeline, PipelineConfig
from avatar_cam.renderers import RigRenderer
from avatar_cam.rig.character import load_character
from avatar_cam.rig.draw import draw_character
from avatar_cam.rig.params import ParamSmoother, RigParams, crop_rotation
from avatar_cam.styles import RIG_KIND, StyleCatalog, StyleError, builtin_styles_dir, load_style
from tests.conftest import ROOT

RIGS = sorted(builtin_styles_dir().glob("*.rig.json"))


def test_two_shipped_characters_load_and_differ() -> None:
    assert len(RIGS) >= 2
    pictures = []
    for path in RIGS:
        info = load_style(path)
        assert info.kind == RIG_KIND and info.size == 512
        assert path.with_name(path.name.removesuffix(".rig.json") + ".md").is_file(), "style card"
        img = draw_character(load_character(path), RigParams())
        assert img.shape == (512, 512, 3) and img.dtype == np.uint8
        pictures.append(img)
    assert np.abs(pictures[0].astype(int) - pictures[1]).mean() > 20


def _mutated(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads(RIGS[0].read_text())
    change(data)
    path = tmp_path / "bad.rig.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.pop("eyes"), "missing eyes"),
    (lambda d: d["mouth"].update(smile=1), "unknown smile"),
    (lambda d: d["colours"].update(skin="pink"), "colours.skin"),
    (lambda d: d["head"].update(width=3), "head.width must be a number"),
    (lambda d: d["ears"].update(shape="square"), "ears.shape"),
    (lambda d: d["cheeks"].update(whiskers="yes"), "cheeks.whiskers"),
    (lambda d: d.update(format="other/2"), "format"),
    (lambda d: d.update(size=10), "size must be"),
])
def test_rig_file_problems_are_one_line_style_errors(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = _mutated(tmp_path, change)
    with pytest.raises(StyleError, match=expected) as err:
        load_style(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_not_json_is_a_style_error(tmp_path: Path) -> None:
    path = tmp_path / "x.rig.json"
    path.write_text("{not json")
    with pytest.raises(StyleError, match="not valid JSON"):
        load_style(path)


def test_catalog_lists_rigs_with_onnx_styles_and_resolves_them(tmp_path: Path, style_file: Path) -> None:
    shutil.copy(RIGS[0], tmp_path / RIGS[0].name)
    shutil.copy(style_file, tmp_path / "mosaic.onnx")
    (tmp_path / "broken.rig.json").write_text("{}")
    catalog = StyleCatalog([tmp_path])
    kinds = {s.path.name: s.kind for s in catalog.styles}
    assert kinds[RIGS[0].name] == RIG_KIND and "mosaic.onnx" in kinds
    assert len(catalog.problems) == 1 and "broken.rig.json" in catalog.problems[0]
    name = load_style(RIGS[0]).name
    assert catalog.resolve(name).path.name == RIGS[0].name
    assert catalog.resolve(str(tmp_path / RIGS[0].name)).kind == RIG_KIND


def test_crop_rotation_is_the_eye_line_angle_the_crop_levelled() -> None:
    for angle in (-20.0, 0.0, 13.0):
        a = np.radians(angle)
        right, left = np.array([100.0, 100.0]), np.array([100 + 60 * np.cos(a), 100 + 60 * np.sin(a)])
        assert crop_rotation(crop_matrix(right, left, (130, 120), 200, 256)) == pytest.approx(angle)
    assert crop_rotation(None) == 0.0


@pytest.fixture(scope="module")
def rig_pipeline() -> Pipeline:
    return Pipeline(load_style(RIGS[0]), PipelineConfig(output_size=(320, 240), hold_frames=2))


def _params_at(pipe: Pipeline, t: float) -> RigParams:
    frame = pipe.process(Frame(draw_demo_face(t), 0, t, still=True))  # still: no smoothing lag
    assert frame.fallback is None, frame.fallback
    assert isinstance(pipe.stylizer, RigRenderer)
    return pipe.stylizer.params


def test_parameters_follow_blink_mouth_gaze_and_tilt_of_the_demo_face(rig_pipeline: Pipeline) -> None:
    """Real MediaPipe on the drawn demo face, whose blink, gaze and tilt are known (its lipless
    mouth does not read as open to Face Mesh: see the closed loop below for the mouth)."""
    blink, open_eyes = _params_at(rig_pipeline, 0.05), _params_at(rig_pipeline, 0.5)
    assert blink.eye_open_r < 0.5 and blink.eye_open_l < 0.5
    assert open_eyes.eye_open_r > 0.8 and open_eyes.eye_open_l > 0.8
    right, left = _params_at(rig_pipeline, 1.2), _params_at(rig_pipeline, 3.6)  # iris +/- 5 px
    assert right.gaze_x > left.gaze_x + 0.3
    tilt_a, tilt_b = _params_at(rig_pipeline, 2.24), _params_at(rig_pipeline, 6.73)  # drawn at +/-12 deg
    assert tilt_a.roll == pytest.approx(12, abs=3) and tilt_b.roll == pytest.approx(-12, abs=3)


def test_closed_loop_a_drawn_open_mouth_and_turn_read_back_as_such(rig_pipeline: Pipeline) -> None:
    """The character drawn in a pose, used as the camera picture, gives that pose back."""
    ch = load_character(RIGS[0])

    def read(p: RigParams) -> RigParams:
        img = cv2.copyMakeBorder(draw_character(ch, p)[..., ::-1], 0, 0, 64, 64, cv2.BORDER_REPLICATE)
        rig_pipeline.process(Frame(np.ascontiguousarray(img), 0, 0.0, still=True))
        return rig_pipeline.stylizer.params  # type: ignore[union-attr]

    assert read(RigParams(mouth_open=1.0)).mouth_open > read(RigParams()).mouth_open + 0.3
    assert read(RigParams(yaw=25)).yaw > read(RigParams(yaw=-25)).yaw + 10


def test_every_parameter_moves_the_drawing() -> None:
    ch = load_character(RIGS[0])
    rest = draw_character(ch, RigParams())
    pose = {"yaw": 25.0, "pitch": -20.0, "roll": 15.0, "eye_open_r": 0.0, "eye_open_l": 0.0,
            "gaze_x": 1.0, "gaze_y": 1.0, "brow_r": 1.0, "brow_l": 1.0, "mouth_open": 0.8,
            "mouth_width": 1.0, "smile": 1.0, "head_x": 0.1, "head_y": 0.1, "head_scale": 1.2}
    assert set(pose) == set(RigParams.names())
    for name, value in pose.items():
        moved = draw_character(ch, RigParams(**{name: value}))
        assert (np.abs(moved.astype(int) - rest).max(axis=2) > 40).sum() > 20, name


def test_the_cartoon_depends_on_landmarks_only_never_on_camera_pixels(rig_pipeline: Pipeline) -> None:
    face = Frame(draw_demo_face(0.5), 0, 0.0, still=True)
    rig_pipeline.process(face)
    renderer = rig_pipeline.stylizer
    assert isinstance(renderer, RigRenderer)
    noise = Frame(np.random.default_rng(0).integers(0, 255, face.image.shape, np.uint8), 0, 0.0,
                  crop=np.zeros_like(face.crop), crop_matrix=face.crop_matrix, landmarks=face.landmarks)
    renderer.reset()
    assert np.array_equal(renderer.render(noise), face.cartoon)
    with pytest.raises(ValueError, match="landmarks"):
        renderer.render(Frame(face.image, 0, 0.0, crop=face.crop))


@pytest.mark.parametrize("mode", list(Mode))
def test_rig_in_every_mode_then_no_face_holds_then_shows_the_card(mode: Mode) -> None:
    pipe = Pipeline(load_style(RIGS[-1]), PipelineConfig(mode=mode, output_size=(320, 240), hold_frames=2))
    for i in range(6):
        frame = pipe.process(Frame(draw_demo_face(i / 30), i, i / 30))
        assert frame.fallback is None and frame.output.shape == (240, 320, 3)
        assert frame.landmarks is not None and frame.landmarks.shape == (478, 3)
        assert "landmarks" in frame.timings_ms
    last = frame.output
    blank = np.full((480, 640, 3), 128, np.uint8)
    outs = [pipe.process(Frame(blank.copy(), 10 + i, 1 + i / 30)) for i in range(8)]
    assert all(f.fallback == "no_face" for f in outs[-3:])
    assert np.array_equal(outs[-1].output, pipe.gate.card("no_face"))
    if mode is Mode.OVERLAY:  # the held drawing goes onto this moment's camera image (LiveHold)
        assert not np.array_equal(outs[0].output, outs[-1].output), "held the last drawing first"
    else:
        assert any(np.array_equal(f.output, last) for f in outs), "held the last drawing first"


def test_mesh_miss_and_landmark_fault_are_counted_fallbacks(rig_pipeline: Pipeline) -> None:
    real = rig_pipeline.landmarker
    rig_pipeline.landmarker = lambda crop: None  # type: ignore[assignment]
    assert rig_pipeline.process(Frame(draw_demo_face(0.5), 0, 0.0, still=True)).fallback == "no_face"

    def boom(crop: np.ndarray) -> np.ndarray:
        raise RuntimeError("mesh broke")

    rig_pipeline.landmarker = boom  # type: ignore[assignment]
    frame = rig_pipeline.process(Frame(draw_demo_face(0.5), 0, 0.0, still=True))
    assert frame.fallback == "detector_error" and rig_pipeline.stats.errors["landmarks:RuntimeError"] == 1
    rig_pipeline.landmarker = real


def test_mediapipe_finds_a_face_in_each_character_drawing() -> None:
    poses = [RigParams(), RigParams(eye_open_l=0.0), RigParams(mouth_open=0.9), RigParams(yaw=20, roll=10)]
    with ExpressionAnalyzer() as analyzer:
        for path in RIGS:
            ch = load_character(path)
            for p in poses:
                assert analyzer.landmarks(draw_character(ch, p), bgr=False) is not None, (path.name, p)
            wide = analyzer.analyze(draw_character(ch, RigParams(mouth_open=1.0)), bgr=False)
            shut = analyzer.analyze(draw_character(ch, RigParams(mouth_open=0.0)), bgr=False)
            assert wide.mouth_open > shut.mouth_open, path.name


def test_smoother_passes_a_blink_within_frames_and_damps_jitter() -> None:
    smooth = ParamSmoother()
    rng = np.random.default_rng(0)
    jitter_in, jitter_out = [], []
    for i in range(60):
        noisy = 0.8 + rng.normal(0, 0.02)
        jitter_in.append(noisy)
        jitter_out.append(smooth(RigParams(eye_open_r=noisy), i / 30).eye_open_r)
    assert np.std(np.diff(jitter_out[10:])) < 0.6 * np.std(np.diff(jitter_in[10:]))
    closed = [smooth(RigParams(eye_open_r=0.0), (60 + i) / 30).eye_open_r for i in range(3)]
    assert closed[-1] < 0.25
    smooth.reset()
    assert smooth(RigParams(yaw=17.0), 10.0).yaw == pytest.approx(17.0)


def test_bench_times_the_rig_renderer(tmp_path: Path, style_file: Path) -> None:
    from avatar_cam.bench import main

    out = tmp_path / "bench.json"
    assert main(["--generator-only", "--styles", str(RIGS[0]), "--runs", "5", "--warmup-runs", "1",
                 "--baseline", str(style_file), "--json", str(out)]) == 0
    row = json.loads(out.read_text())["generators"][0]
    assert row["kind"] == RIG_KIND and row["size"] == 512 and row["ms_p50"] > 0


def test_the_readme_names_the_default_style() -> None:
    default = json.loads((builtin_styles_dir() / "default.json").read_text())["default"]
    assert default in (ROOT / "README.md").read_text()
    assert cv2.imread(str(ROOT / "docs" / "screenshot.png")) is not None
