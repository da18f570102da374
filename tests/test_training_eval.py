"""avatar-eval on tiny sets: FID/KID through torch-fidelity (fake and random-weight Inception
features), the missing-weights message, expression metrics, per-group results, style files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training import evaluate as ev  # noqa: E402
from training.testing import make_image_folder, tiny_config  # noqa: E402
from training.trainer import train  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def fidelity() -> None:
    """Skip (with the reason) where torch-fidelity is not installed."""
    try:
        ev.import_torch_fidelity()
    except ev.EvalError as e:
        pytest.skip(f"FID/KID path not testable: {e}")


def _fake_features(images: np.ndarray) -> np.ndarray:
    """Mean colour and a few coarse statistics: enough to tell two image sets apart."""
    x = images.astype(np.float64) / 255
    return np.concatenate([x.mean((1, 2)), x.std((1, 2)), x[:, ::8, ::8].reshape(len(x), -1)[:, :10]], 1)


def test_fid_kid_from_features(fidelity: None) -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 8)), rng.normal(size=(30, 8))
    far = rng.normal(loc=2.0, size=(30, 8))
    same, diff = ev.fid_kid(a, b), ev.fid_kid(a, far)
    assert diff["fid"] > 5 * same["fid"] and diff["kid_mean"] > same["kid_mean"]
    assert ev.fid_kid(a, b[:5])["kid_subset_size"] == 5  # KID subsets never exceed the smaller set
    with pytest.raises(ev.EvalError):
        ev.fid_kid(a, b[:1])


def test_missing_or_bad_inception_weights_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ev.EvalError, match="not found"):
        ev.inception_features(str(tmp_path / "nope.pth"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage")
    with pytest.raises(ev.EvalError, match="not a usable Inception state dict"):
        ev.inception_features(str(bad))
    # a folder (the download folder given instead of the file in it) was "not found"
    with pytest.raises(ev.EvalError, match=f"^{tmp_path}: a folder, not an Inception weights file"):
        ev.inception_features(str(tmp_path))


def test_inception_path_with_local_weights(tmp_path: Path, fidelity: None) -> None:
    """The real torch-fidelity Inception-v3, with random weights saved as a local file."""
    ev.import_torch_fidelity()
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with ev._patched(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None), \
            ev._patched(fe, "load_state_dict_from_url", lambda *a, **k: {}):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    weights = tmp_path / "inception.pth"
    torch.save(net.state_dict(), weights)
    features = ev.inception_features(str(weights))
    imgs = (np.random.default_rng(0).random((2, 64, 64, 3)) * 255).astype(np.uint8)
    f = features(imgs)
    assert f.shape == (2, 2048) and np.isfinite(f).all()


def test_utk_groups() -> None:
    assert ev.utk_group("utkface__34_1_2_20170116174525125.jpg.chip.jpg") == {
        "age": "20-39", "gender": "female", "ethnicity": "Asian"}
    assert ev.utk_group("8_0_4_2017.jpg") == {"age": "0-12", "gender": "male", "ethnicity": "Others"}
    assert ev.utk_group("female_1003.jpg") is None


def test_eval_a_run_with_fake_features_and_analyzer(tmp_path: Path, fidelity: None) -> None:
    run = train(tiny_config(tmp_path, steps=1, val_count=4))
    photos = make_image_folder(tmp_path / "photos", 4, 40, "A", seed=3)
    names = ["25_0_1_2017.png", "70_1_3_2017.png", "30_0_1_2017.png", "plain.png"]
    paths = []
    for p, n in zip(sorted(photos.iterdir()), names, strict=True):
        paths.append(p.rename(p.with_name(n)))
    from avatar_cam.expression import measures_from_landmarks

    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, (478, 3))

    def analyze(rgb: np.ndarray):  # noqa: ANN202 - a face whose mouth opens with brightness
        if rgb.mean() < 5:
            return None
        lm = base.copy()
        lm[14, 1] += rgb.mean() / 10
        return measures_from_landmarks(lm)

    gen, size, source, cfg = ev.run_generator(str(run))
    out = tmp_path / "eval"
    res = ev.evaluate(gen, size, paths, sorted((tmp_path / "data" / "B").iterdir()), out, source,
                      features=_fake_features, analyze=analyze, extra={"config": cfg})
    assert res["n_photos"] == 4 and res["fid"] is not None and res["kid_subset_size"] == 4
    ex = res["expression"]
    assert ex["input_face_rate"] == 1.0 and ex["n_compared"] == ex["n"] * ex["output_face_rate"]
    assert ex["keypoint_error"] is not None and ex["mouth_open_diff"] >= 0
    assert set(res["groups"]) == {"age=20-39", "age=60+", "gender=male", "gender=female",
                                  "ethnicity=Black", "ethnicity=Indian"}
    assert res["groups"]["gender=male"]["n"] == 2
    assert json.loads((out / "eval.json").read_text())["n_photos"] == 4
    assert (out / "contact_sheet.png").stat().st_size > 0


def test_eval_cli_on_a_run_without_inception_weights(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """No weights in torch's hub cache and no download: FID/KID are null with the reason, the rest
    is measured."""
    run = train(tiny_config(tmp_path, steps=1, val_count=3))

    def offline(*args: object, **kwargs: object) -> dict:
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    rc = ev.main(["--run", str(run), "--no-judge", "--no-identity"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "FID/KID not computed" in err and "could not be downloaded" in err
    res = json.loads((run / "eval" / "eval.json").read_text())
    assert res["fid"] is None and "--inception-weights PATH" in res["fid_error"]
    assert res["n_photos"] == 3 and res["expression"]["n"] == 3  # held-out photos from split.json
    # a checkpoint file of the run finds the run's held-out split too (it asked for --photos)
    assert ev.main(["--run", str(run / "checkpoints" / "latest.json"), "--no-judge", "--no-identity",
                    "--no-fid"]) == 0


def test_a_bad_inception_weights_file_stops_before_any_work(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing or unreadable --inception-weights file was a warning after every cartoon had been
    made and measured, and exit 0: now one line and exit 2, before anything is generated."""
    photos = make_image_folder(tmp_path / "p", 2, 40, "A")
    cartoons = make_image_folder(tmp_path / "c", 2, 40, "B", 1)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a weights file")
    generated: list[object] = []
    monkeypatch.setattr(ev, "evaluate", lambda *args, **kwargs: generated.append(args))
    out = tmp_path / "out"
    for weights, message in ((tmp_path / "missing.pth", "Inception weights not found: "),
                             (garbage, f"{garbage}: not a usable Inception state dict")):
        rc = ev.main(["--passthrough", "--photos", str(photos), "--cartoons", str(cartoons),
                      "--inception-weights", str(weights), "--out", str(out)])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1, err
        assert err.startswith(f"avatar-eval: error: {message}") and str(weights) in err, err
    assert not generated and not out.exists()


def test_weights_of_the_wrong_kind_name_the_file_and_what_is_wrong(tmp_path: Path) -> None:
    """A pickle with more than tensors in it ended in torch's advice to load it with
    weights_only=False (not safe, and not ours to give)."""
    import torch

    pickled = tmp_path / "run.pth"
    torch.save({"config": Path("x")}, pickled)
    with pytest.raises(ev.EvalError) as bad:
        ev.inception_features(str(pickled))
    assert str(pickled) in str(bad.value) and "a pickle holding more than tensors" in str(bad.value)
    assert "weights_only" not in str(bad.value)


def test_another_models_weights_name_the_file_and_the_key(tmp_path: Path, fidelity: None) -> None:
    """Another model's weights said only "Error(s) in loading state_dict", without the file or
    what did not fit."""
    import torch

    other = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(2, 3, 1, 1)}, other)
    with pytest.raises(ev.EvalError) as wrong:
        ev.inception_features(str(other))
    assert str(wrong.value).startswith(f"{other}: not torch-fidelity's Inception-v3 weights (")
    assert "key" in str(wrong.value)


def test_eval_cli_on_a_style_file(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from training.models import create_model

    model = create_model(tiny_config(tmp_path))
    gen = model.generator_for_export()
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(gen, (torch.zeros(1, 3, 32, 32),), buf, input_names=["input"],
                          output_names=["output"], dynamo=False, opset_version=17)
    m = onnx.load_from_string(buf.getvalue())
    meta = {**model.export_metadata(), "name": "tiny"}
    onnx.helper.set_model_props(m, meta)
    style = tmp_path / "tiny.onnx"
    onnx.save(m, str(style))
    photos = make_image_folder(tmp_path / "p", 3, 40, "A")
    out = tmp_path / "style_eval"
    assert ev.main(["--style", str(style), "--photos", str(photos), "--no-fid", "--out", str(out)]) == 0
    res = json.loads((out / "eval.json").read_text())
    assert res["n_photos"] == 3 and res["fid_error"] == "skipped (--no-fid)"
    assert ev.main(["--style", str(tmp_path / "none.onnx"), "--photos", str(photos)]) == 2
    # a run's held-out photos, as for `--run`
    run = tmp_path / "run"
    run.mkdir()
    held = sorted(photos.iterdir())[:2]
    (run / "split.json").write_text(json.dumps({"val_A": [str(x) for x in held], "val_B": []}))
    assert ev.main(["--style", str(style), "--holdout", str(run), "--no-fid", "--out", str(out)]) == 0
    assert json.loads((out / "eval.json").read_text())["n_photos"] == 2
    assert ev.main(["--style", str(style), "--holdout", str(tmp_path / "p"), "--no-fid"]) == 2
    assert ev.main(["--style", str(style), "--no-fid"]) == 2


def test_flicker_counts_jitter_not_motion() -> None:
    moving = [np.full((8, 8, 3), 5 * t * t, np.uint8) for t in range(6)]  # accelerating change
    assert ev.flicker(moving, moving) == pytest.approx(1.0)
    steady = [np.full((8, 8, 3), 30 * t, np.uint8) for t in range(6)]  # smooth motion: no jitter
    assert ev.flicker(moving, steady) == pytest.approx(0.0)
    jitter = [(m.astype(int) + (20 if t % 2 else 0)).astype(np.uint8) for t, m in enumerate(moving)]
    assert ev.flicker(moving, jitter) == pytest.approx(4.0)  # |10 -+ 40| against 10
    assert ev.flicker(moving[:2], moving[:2]) is None


def test_clips_go_through_the_apps_crop(tmp_path: Path) -> None:
    from avatar_cam.demo import ensure_demo_clip

    clip = ensure_demo_clip(tmp_path / "demo.mp4")
    identity = ev.evaluate_clips(lambda rgb: rgb, 64, [clip], tmp_path / "out")[clip.name]
    assert identity["frames_with_face"] > 100  # the drawn face is found on (almost) every frame
    assert identity["flicker"] == pytest.approx(1.0)
    assert (tmp_path / "out" / "clips_sheet.png").stat().st_size > 0
    rng = np.random.default_rng(0)

    def noisy_generator(rgb: np.ndarray) -> np.ndarray:
        return np.clip(rgb + rng.integers(-40, 40, rgb.shape), 0, 255).astype(np.uint8)

    noisy = ev.evaluate_clips(noisy_generator, 64, [clip], tmp_path / "noisy")[clip.name]
    assert noisy["flicker"] > 1.5
    with pytest.raises(ev.EvalError, match="cannot open"):
        ev.evaluate_clips(lambda rgb: rgb, 64, [tmp_path / "missing.mp4"], tmp_path / "out")


def test_frontier_measures_and_plots_every_style(tmp_path: Path, style_file: Path) -> None:
    from training import frontier

    photos = make_image_folder(tmp_path / "photos", 3, 64)
    out = tmp_path / "frontier"
    assert frontier.main(["--styles", str(style_file), "--photos", str(photos), "--runs", "3",
                          "--out", str(out)]) == 0
    doc = json.loads((out / "frontier.json").read_text())
    (row,) = doc["rows"]
    assert row["ms_p50"] > 0 and row["n_photos"] == 3 and row["output_face_rate"] is not None
    assert doc["budget_ms"] == pytest.approx(1000 / 30 - 4.0)
    assert (out / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    assert frontier.main(["--styles", str(style_file), "--holdout", str(tmp_path)]) == 2


def test_failure_checks_catch_inversion_collapse_and_checkerboard() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    noise = [rng.integers(0, 20, (32, 32, 3)) for _ in range(4)]
    photos = [np.clip(np.stack([xx * 4 + 40 * i, yy * 4, xx + yy], -1) + noise[i], 0, 255).astype(np.uint8)
              for i in range(4)]
    same = ev.failure_checks(photos, photos)
    assert same["luma_corr"] == pytest.approx(1.0) and same["diversity_ratio"] == pytest.approx(1.0)
    assert same["checkerboard_ratio"] == pytest.approx(1.0)
    assert ev.failure_checks(photos, [255 - p for p in photos])["luma_corr"] < -0.9
    assert ev.failure_checks(photos, [photos[0]] * 4)["diversity_ratio"] == 0.0
    grid = ((xx + yy) % 2 * 60)[..., None].astype(np.uint8)
    assert ev.failure_checks(photos, [np.clip(p.astype(int) + grid, 0, 255).astype(np.uint8) for p in photos]
                             )["checkerboard_ratio"] > 3


def test_false_winks_count_only_where_the_person_keeps_both_eyes_even() -> None:
    def rec(photo: tuple[float, float], cartoon: tuple[float, float]) -> dict:
        return {"input_face": True, "output_face": True,
                "input": {"eye_open": list(photo), "mouth_open": 0.1},
                "output": {"eye_open": list(cartoon), "mouth_open": 0.1},
                "diff": dict.fromkeys(["keypoint_error", "mouth_open_diff", "eye_open_diff", "yaw_diff",
                                       "pitch_diff", "roll_diff", "gaze_diff"], 0.0)}

    records = [rec((0.3, 0.3), (0.4, 0.1)),   # a wink the person did not make
               rec((0.3, 0.28), (0.4, 0.35)),  # both open
               rec((0.0, 0.0), (0.02, 0.01)),  # both shut: not a wink
               rec((0.3, 0.05), (0.4, 0.1))]   # the person winks: not counted
    assert ev.false_wink(records[0]) is True and ev.false_wink(records[3]) is None
    assert ev.summarize(records)["false_wink_rate"] == pytest.approx(1 / 3)


def _mesh_run(tmp_path: Path) -> Path:
    """A tiny mesh-conditioned run whose photos are `mesh_pairs` output: meshes/*.png (trained on)
    with their crops/*.jpg beside them."""
    pairs = tmp_path / "pairs"
    crops_b = make_image_folder(pairs / "crops", 6, 48, "B", 1)
    make_image_folder(pairs / "meshes", 6, 48, "B", 2)
    photos = tmp_path / "photos"
    make_image_folder(photos / "meshes", 6, 48, "A", 3)
    for p in make_image_folder(photos / "crops", 6, 48, "A", 4).iterdir():
        p.rename(p.with_suffix(".jpg"))  # mesh_pairs writes JPEG crops; the bytes are read as they are
    return train(tiny_config(tmp_path, "mesh-conditioned", steps=1, val_count=2,
                             data_a=[str(photos / "meshes")], data_b=[str(crops_b)]))


def test_a_mesh_run_is_measured_on_its_photos_not_its_mesh_drawings(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    """A mesh-conditioned run holds out mesh drawings as its photos: avatar-eval took them for
    photos, found no face mesh in them and measured black frames (exit 0). It takes the crops
    `mesh_pairs` wrote beside them and says so; without them it asks for photos in one line."""
    run = _mesh_run(tmp_path)
    held = ev.held_out(run)[0]
    assert {p.parent.name for p in held} == {"meshes"} and len(held) == 2
    assert ev.photo_crops(run, held) == [tmp_path / "photos" / "crops" / f"{p.stem}.jpg" for p in held]
    out = tmp_path / "eval"
    assert ev.main(["--run", str(run), "--no-fid", "--no-judge", "--no-identity", "--out", str(out)]) == 0
    assert "holds out face-mesh drawings; evaluating the photo crops" in capsys.readouterr().err
    doc = json.loads((out / "eval.json").read_text())
    assert [r["name"] for r in doc["per_image"]] == [f"{p.stem}.jpg" for p in held]
    for p in (tmp_path / "photos" / "crops").iterdir():
        p.unlink()
    assert ev.main(["--run", str(run), "--no-fid", "--out", str(tmp_path / "eval2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("avatar-eval: error: ") and "--photos" in err, err
    assert not (tmp_path / "eval2").exists()


def test_a_judge_file_asked_for_that_does_not_load_is_one_error(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """--judge naming a file that is not judge weights gave a safetensors traceback, one that is
    missing only a note; --frames 0 ran the clips, then failed writing the sheet."""
    photos = make_image_folder(tmp_path / "p", 2, 40, "A")
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 64)
    for judge, message in (("junk.safetensors", "not style judge weights"),
                           ("gone.safetensors", "not found")):
        assert ev.main(["--passthrough", "--photos", str(photos), "--no-fid", "--no-identity",
                        "--judge", str(tmp_path / judge), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("avatar-eval: error:") == 1 and "Traceback" not in err, err
    assert ev.main(["--passthrough", "--motion", "--frames", "0"]) == 2
    assert "--frames must be at least 1 (got 0)" in capsys.readouterr().err
    # the contact sheet into the photo folder would be a photo of the next evaluation
    assert ev.main(["--passthrough", "--photos", str(photos), "--no-fid", "--no-judge", "--no-identity",
                    "--out", str(photos)]) == 2
    assert "is the image folder" in capsys.readouterr().err and len(list(photos.iterdir())) == 2


def test_limit_must_be_at_least_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--limit -3 evaluated photos[:-3] (one of four) as if nothing were wrong."""
    photos = make_image_folder(tmp_path / "p", 4, 40, "A")
    for bad in ("-3", "0"):
        assert ev.main(["--passthrough", "--photos", str(photos), "--no-fid", "--limit", bad,
                        "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"avatar-eval: error: --limit must be at least 1 (got {bad})"
    assert not (tmp_path / "out").exists()


def test_photos_a_run_trained_on_are_left_out(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The judge's held-out photos were split apart from the mesh runs, which trained on 62 of
    them (as `trainA__<photo>.png` mesh drawings): `--exclude-trained` (and, with `--run` and a
    `--holdout` elsewhere, the run's own split) leaves those out."""
    photos = sorted(make_image_folder(tmp_path / "p", 4, 40, "A").iterdir())
    holdout = tmp_path / "judge"
    holdout.mkdir()
    (holdout / "split.json").write_text(json.dumps({"val_A": [str(x) for x in photos], "val_B": []}))
    trained = tmp_path / "split.json"
    trained.write_text(json.dumps({"train_A": [f"photos128/meshes/trainA__{photos[0].stem}.png"],
                                   "train_B": [], "val_A": [], "val_B": []}))
    out = tmp_path / "out"
    assert ev.main(["--passthrough", "--holdout", str(holdout), "--exclude-trained", str(trained),
                    "--no-fid", "--no-judge", "--no-identity", "--out", str(out)]) == 0
    assert json.loads((out / "eval.json").read_text())["n_photos"] == 3
    assert "1 photos left out: trained on by" in capsys.readouterr().err
    trained.write_text(json.dumps({"train_A": [str(x) for x in photos]}))
    assert ev.main(["--passthrough", "--holdout", str(holdout), "--exclude-trained", str(trained),
                    "--no-fid", "--out", str(out)]) == 2
    assert "no photo left to evaluate" in capsys.readouterr().err


def test_the_frontier_measures_a_mesh_run_on_its_photo_crops(tmp_path: Path, style_file: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`training.frontier --holdout MESH_RUN` timed and scored styles on the run's mesh drawings."""
    from training import frontier

    run = _mesh_run(tmp_path)
    seen: list[list[Path]] = []
    monkeypatch.setattr(frontier, "measure", lambda styles, photos, *rest: seen.append(photos) or [])
    monkeypatch.setattr(frontier, "plot", lambda *a, **k: None, raising=False)
    frontier.main(["--styles", str(style_file), "--holdout", str(run), "--out", str(tmp_path / "f")])
    assert seen and {p.parent.name for p in seen[0]} == {"crops"}
