"""The look check's expression sweep: it correlates what an edited mesh says with what the
output shows, so a generator that ignores the mesh scores nothing and one that follows it 1."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from avatar_cam.expression import Expression, measures_from_landmarks
from avatar_cam.styles import builtin_styles_dir
from training import look_check
from training.expression_aug import close_eyes, open_mouth
from training.look_check import EYE_SWEEP, MOUTH_SWEEP, sweep_corr
from training.testing import make_image_folder

DemoCrop = Callable[[float], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def meshes(demo_crop: DemoCrop) -> list[np.ndarray]:
    """The demo face's landmarks at three moments (mouth shut, eyes open)."""
    return [demo_crop(t)[1] for t in (0.5, 2.0, 3.5)]


def _parted(lm: np.ndarray, amount: float) -> np.ndarray:
    return open_mouth(np.zeros((128, 128, 3), np.uint8), lm, amount, np.random.default_rng(0))[1]


def _lowered(lm: np.ndarray, amount: float) -> np.ndarray:
    return close_eyes(np.zeros((128, 128, 3), np.uint8), lm, (amount, amount))[1]


def _mouth(e: Expression) -> float:
    return e.mouth_open


def _eyes(e: Expression) -> float:
    return float(np.mean(e.eye_open))


def test_a_renderer_that_draws_the_mesh_follows_every_sweep(meshes: list[np.ndarray]) -> None:
    # the "output" is the edited mesh itself, read back exactly
    def drawn(lm: np.ndarray) -> np.ndarray:
        return lm

    mouth = sweep_corr(meshes, MOUTH_SWEEP, _parted, drawn, measures_from_landmarks, _mouth)
    eyes = sweep_corr(meshes, EYE_SWEEP, _lowered, drawn, measures_from_landmarks, _eyes)
    assert mouth == pytest.approx(1.0) and eyes == pytest.approx(1.0)


def test_a_renderer_that_ignores_the_mesh_follows_nothing(meshes: list[np.ndarray]) -> None:
    still = meshes[0]
    assert sweep_corr(meshes, MOUTH_SWEEP, _parted, lambda lm: still, measures_from_landmarks, _mouth) is None

    def backwards(lm: np.ndarray) -> np.ndarray:  # opens the less, the more the mesh opens
        return _parted(still, max(0.0, 0.5 - measures_from_landmarks(lm).mouth_open))

    corr = sweep_corr(meshes, MOUTH_SWEEP, _parted, backwards, measures_from_landmarks, _mouth)
    assert corr is not None and corr < -0.5


def test_outputs_without_a_face_are_left_out(meshes: list[np.ndarray]) -> None:
    seen: list[int] = []

    def sometimes(lm: np.ndarray) -> Expression | None:
        seen.append(1)
        return None if len(seen) % 2 else measures_from_landmarks(lm)

    corr = sweep_corr(meshes, MOUTH_SWEEP, _parted, lambda lm: lm, sometimes, _mouth)
    assert corr == pytest.approx(1.0)
    assert sweep_corr(meshes[:1], MOUTH_SWEEP[:2], _parted, lambda lm: lm, lambda _: None, _mouth) is None


class Ran(Exception):
    """Raised instead of the long check: carries the arguments main gave `run`."""


@pytest.fixture
def inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """--held-out, --pictures, --holdout for 4 references and 2 faces; `run` raises `Ran`."""
    pictures = make_image_folder(tmp_path / "pictures", 4, 64, "B", 0)
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"val_B": [str(p) for p in sorted(pictures.iterdir())]}))
    judge = tmp_path / "judge"
    judge.mkdir()
    faces = sorted(make_image_folder(tmp_path / "faces", 2, 64, "A", 1).iterdir())
    (judge / "split.json").write_text(json.dumps({"val_A": [str(p) for p in faces]}))

    def run(*args: object) -> None:
        raise Ran(*args)

    monkeypatch.setattr(look_check, "run", run)
    return ["--held-out", str(split), "--pictures", str(pictures), "--holdout", str(judge)]


def _style(folder: Path, name: str, mesh_input: bool = True) -> Path:
    """The shipped flat-mesh and its style encoder as `folder/name.onnx`; without `mesh_input`
    a style fed camera pixels (no `input = face_mesh_drawing`) that still takes a reference."""
    shipped = builtin_styles_dir()
    (folder / "encoders").mkdir(parents=True, exist_ok=True)
    shutil.copy(shipped / "encoders" / "flat-mesh.onnx", folder / "encoders" / f"{name}.onnx")
    model = onnx.load(str(shipped / "flat-mesh.onnx"))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(name=name, style_encoder=f"encoders/{name}.onnx")
    if not mesh_input:
        meta.update(kind="content-invariant")
        del meta["input"]
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(folder / f"{name}.onnx"))
    return folder / f"{name}.onnx"


def _error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("look_check: error: "), err
    return err


def test_a_style_fed_camera_pixels_is_refused(inputs: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """It took a photo-input style that ships an encoder and measured it on mesh drawings."""
    style = _style(tmp_path / "styles", "pixels", mesh_input=False)
    assert look_check.main(["--style", str(style), *inputs]) == 2
    assert "does not take a face-mesh drawing" in _error(capsys)
    assert look_check.main(["--style", "ada", *inputs]) == 2  # a drawn character: no mesh drawing either
    assert "does not take a face-mesh drawing" in _error(capsys)


def test_the_default_out_is_named_after_the_style_and_checked_first(inputs: list[str], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """An absolute --style path made the default out the style file itself: the whole check ran,
    then failed with 'File exists'."""
    style = _style(tmp_path / "styles", "mine")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Ran) as ran:
        look_check.main(["--style", str(style), *inputs])
    assert ran.value.args[4] == Path("runs/look/mine") and (tmp_path / "runs" / "look" / "mine").is_dir()
    assert look_check.main(["--style", str(style), *inputs, "--out", str(style)]) == 2
    assert "is a file" in _error(capsys)


@pytest.mark.parametrize(("option", "message"), [
    (["--faces", "-1"], "--faces must be at least 1 (got -1)"),
    (["--faces", "0"], "--faces must be at least 1 (got 0)"),
    (["--refs", "1"], "--refs must be at least 2 (got 1)"),
    (["--sheet-faces", "0"], "--sheet-faces must be at least 1 (got 0)"),
])
def test_counts_out_of_range_are_one_line(option: list[str], message: str, inputs: list[str],
                                          capsys: pytest.CaptureFixture) -> None:
    """--faces -1 dropped the last face and went on."""
    assert look_check.main(["--style", "flat-mesh", *inputs, *option]) == 2
    assert _error(capsys) == f"look_check: error: {message}"


def test_faces_the_styles_run_trained_on_are_left_out(inputs: list[str], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """The judge's held-out photos were split apart from the mesh styles' runs, which trained on
    62 of them (as mesh drawings named `trainA__<photo>.png`): those are not held-out faces."""
    split = Path(inputs[1])
    judge_faces = json.loads((Path(inputs[5]) / "split.json").read_text())["val_A"]
    trained = Path(judge_faces[0])
    split.write_text(json.dumps({**json.loads(split.read_text()),
                                 "train_A": [f"photos/meshes/trainA__{trained.stem}.png"]}))
    with pytest.raises(Ran) as ran:
        look_check.main(["--style", "flat-mesh", *inputs])
    assert [Path(p) for p in ran.value.args[2]] == [Path(judge_faces[1])]
    assert "1 held-out photos of" in capsys.readouterr().err


def test_a_holdout_that_is_not_a_run_says_so(inputs: list[str], tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """--holdout naming no run (or the default runs/judge from another folder) said 'need >= 2
    references (2) and held-out photos (0)'."""
    assert look_check.main(["--style", "flat-mesh", *inputs, "--holdout", str(tmp_path / "nope")]) == 2
    err = _error(capsys)
    assert "--holdout" in err and "is not a training run" in err
    pictures = inputs[inputs.index("--pictures") + 1]
    assert look_check.main(["--style", "flat-mesh", *inputs, "--out", pictures]) == 2
    assert "is the pictures folder" in _error(capsys)


def test_dominant_colours_read_the_skin_where_big_low_eyes_cover_the_cheek_boxes() -> None:
    """An anime or `adventurer` picture draws its eyes over the fixed cheek boxes: their median
    is the eyes' white and black, not the skin. The dominant reading finds the skin and hair."""
    n = 128
    skin, hair, sky = (236, 200, 170), (120, 70, 40), (170, 210, 240)
    img = np.full((n, n, 3), sky, np.uint8)
    cv2.ellipse(img, (n // 2, int(0.55 * n)), (int(0.36 * n), int(0.42 * n)), 0, 0, 360, skin, -1)
    img[int(0.04 * n):int(0.26 * n), int(0.18 * n):int(0.82 * n)] = hair
    for cx in (0.34, 0.66):  # big eyes, low: white with a large dark iris, over the cheek boxes
        cv2.ellipse(img, (int(cx * n), int(0.57 * n)), (int(0.11 * n), int(0.09 * n)), 0, 0, 360,
                    (250, 250, 250), -1)
        cv2.circle(img, (int(cx * n), int(0.59 * n)), int(0.065 * n), (40, 30, 60), -1)

    def lab(rgb: tuple[int, int, int]) -> np.ndarray:
        return cv2.cvtColor(np.array([[rgb]], np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0, 0]

    boxes, dominant = look_check.colours(img), look_check.dominant_colours(img)
    assert np.linalg.norm(boxes["skin"] - lab(skin)) > 20  # the flaw the dominant reading mends
    assert np.linalg.norm(dominant["skin"] - lab(skin)) < 3
    assert np.linalg.norm(dominant["hair"] - lab(hair)) < 3
