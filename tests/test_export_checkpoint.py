"""avatar-export on real (tiny) training runs: every model kind, the app pipeline, bad checkpoints.

The runs are trained here for 2 steps at 32 px with 8-channel generators on drawn images: real
checkpoints from `training.trainer.train`, small enough for CI.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from avatar_cam.inference import Stylizer
from avatar_cam.reference import encode, find_style_encoder
from avatar_cam.styles import load_style
from export.cli import main
from export.sources import config_sha256
from training.checkpoint import load_for_export

KINDS = [("cyclegan", "resnet9"), ("cyclegan", "light"), ("content-invariant", "resnet9"),
         ("content-invariant", "light")]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _draw_folder(folder: Path, seed: int, n: int = 6) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.full((48, 48, 3), rng.integers(60, 200, 3), np.uint8)
        cv2.circle(img, (24, 22), 14, tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
        cv2.circle(img, (18, 19), 3, (20, 20, 20), -1)
        cv2.circle(img, (30, 19), 3, (20, 20, 20), -1)
        cv2.imwrite(str(folder / f"{i:02d}.png"), img)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    pytest.importorskip("training.trainer")
    from training.options import TrainConfig
    from training.trainer import train

    root = tmp_path_factory.mktemp("runs")
    photos = _draw_folder(root / "data" / "photos", 0)
    cartoons = _draw_folder(root / "data" / "cartoons", 1)
    out = {}
    for model, gen in KINDS:
        cfg = TrainConfig(model=model, generator=gen, data_a=[str(photos)], data_b=[str(cartoons)], size=32,
                          steps=2, gen_width=8, ndf=8, val_count=2, save_every=1, sample_every=100,
                          log_every=1, progress=False, workers=0, out=str(root / f"{model}-{gen}"),
                          keep_checkpoints=0, name=f"test-{model}-{gen}",
                          license_note="MIT; drawn test images")
        out[(model, gen)] = train(cfg)
    return out


def _export(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    rc = main(["--onnx", *argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize(("model", "gen"), KINDS)
def test_every_kind_exports_verifies_and_runs_in_the_app(model: str, gen: str, runs: dict, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    run = runs[(model, gen)]
    out = tmp_path / "style.onnx"
    rc, stdout, err = _export(["--run", str(run), "--out", str(out)], capsys)
    assert rc == 0, err
    assert "max abs" in stdout and "wrote" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["style.onnx"]
    info = load_style(out)
    meta = info.metadata
    assert (info.kind, info.name, info.input_size) == (model, f"test-{model}-{gen}", 32)
    assert meta["generator"] == gen and meta["step"] == "2" and meta["source"] == "training run"
    cfg = json.loads((run / "config.json").read_text())
    assert meta["config_sha256"] == config_sha256(cfg)
    assert meta["weights_sha256"] == json.loads((run / "checkpoints" / "latest.json").read_text())[
        "weights_sha256"]
    assert "photos" in meta["trained_on"] and meta["license_note"] == "MIT; drawn test images"
    assert meta["data_a"].endswith("data/photos") and meta["data_b"].endswith("data/cartoons")
    assert float(meta["gmac_256"]) > 0 and int(meta["params"]) > 0
    assert float(meta["verified"].split("max abs error ")[1].split(",")[0]) < 5e-3
    # the app pipeline: a uint8 face crop through the real Stylizer
    face = cv2.cvtColor(cv2.imread(str(sorted((run.parent / "data" / "photos").iterdir())[0])),
                        cv2.COLOR_BGR2RGB)
    cartoon = Stylizer(info, provider="cpu", threads=1)(cv2.resize(face, (32, 32)))
    assert cartoon.shape == (32, 32, 3) and cartoon.dtype == np.uint8


def test_fp16_and_dynamic_exports_of_a_run(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = runs[("cyclegan", "resnet9")]
    rc, _, err = _export(["--run", str(run), "--out", str(tmp_path / "h.onnx"), "--fp16"], capsys)
    assert rc == 0, err
    info = load_style(tmp_path / "h.onnx")
    assert info.name.endswith("-fp16") and info.metadata["precision"] == "fp16"
    rc, stdout, err = _export(["--run", str(run), "--out", str(tmp_path / "d.onnx"), "--dynamic"], capsys)
    assert rc == 0, err
    assert load_style(tmp_path / "d.onnx").input_size is None
    assert re.search(r"\s24\s+\d", stdout)  # also verified at a second size (3/4 of 32)


def test_periodic_checkpoint_by_file(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ck = runs[("cyclegan", "light")] / "checkpoints" / "step_0000001.safetensors"
    rc, _, err = _export(["--checkpoint", str(ck), "--out", str(tmp_path / "s.onnx"), "--size", "48"], capsys)
    assert rc == 0, err
    info = load_style(tmp_path / "s.onnx")
    assert info.metadata["step"] == "1" and info.metadata["checkpoint"] == "step_0000001.json"
    assert info.input_size == 48 and info.metadata["training_size"] == "32"



def test_a_checkpoint_copied_out_of_its_run_with_the_config_beside_it(runs: dict, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    """A checkpoint's files moved out of RUN/checkpoints/ with config.json copied beside them
    export; without the config the error says where it is looked for."""
    run = runs[("cyclegan", "light")]
    loose = tmp_path / "loose"
    loose.mkdir()
    for f in (run / "checkpoints").glob("latest.*"):
        shutil.copy(f, loose / f.name)
    out = tmp_path / "s.onnx"
    rc, _, err = _export(["--checkpoint", str(loose / "latest.json"), "--out", str(out)], capsys)
    assert rc == 1 and "config.json copied beside it" in err
    shutil.copy(run / "config.json", loose / "config.json")
    rc, _, err = _export(["--checkpoint", str(loose / "latest.json"), "--out", str(out)], capsys)
    assert rc == 0, err
    assert load_style(out).metadata["checkpoint"] == "latest.json"

def test_content_invariant_style_image_and_style_input(runs: dict, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    from safetensors.torch import load_file

    run = runs[("content-invariant", "resnet9")]
    ref = sorted((run.parent / "data" / "cartoons").iterdir())[3]
    rc, _, err = _export(["--run", str(run), "--out", str(tmp_path / "ref.onnx"), "--style-image", str(ref)],
                         capsys)
    assert rc == 0, err
    info = load_style(tmp_path / "ref.onnx")
    assert info.name.endswith(f"-{ref.stem}") and info.metadata["style_source"].startswith("reference image")
    assert info.style_code_dim is None

    rc, _, err = _export(["--run", str(run), "--out", str(tmp_path / "in.onnx"), "--style-input"], capsys)
    assert rc == 0, err
    info = load_style(tmp_path / "in.onnx")
    assert info.style_code_dim == 8 and info.metadata["style_code_dim"] == "8"
    mean = load_file(str(run / "checkpoints" / "latest.safetensors"))["style_mean"].numpy()
    stylizer = Stylizer(info, provider="cpu", threads=1)
    np.testing.assert_allclose(stylizer.style_code[0], mean, rtol=1e-6, atol=1e-7)
    assert stylizer(np.full((32, 32, 3), 100, np.uint8)).shape == (32, 32, 3)
    # the style encoder ships beside it, verified, and gives the torch Es's codes
    assert info.metadata["style_encoder"] == "encoders/in.onnx"
    assert "within" in info.metadata["style_encoder_verified"]
    encoder = find_style_encoder(info)
    assert encoder == tmp_path / "encoders" / "in.onnx"
    model, _, _ = load_for_export(run)
    picture = cv2.cvtColor(cv2.resize(cv2.imread(str(ref)), (32, 32)), cv2.COLOR_BGR2RGB)
    with torch.no_grad():
        want = model.style_encoder_for_export()(
            torch.from_numpy(picture.transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1)).numpy()
    got = encode(ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"]), picture)
    np.testing.assert_allclose(got, want, atol=1e-4)
    enc_meta = ort.InferenceSession(str(encoder)).get_modelmeta().custom_metadata_map
    assert enc_meta["kind"] == "style-encoder" and enc_meta["style"] == "in.onnx"
    assert "max abs code error" in enc_meta["verified"]


def test_cyclegan_has_no_reference_styles(runs: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = runs[("cyclegan", "resnet9")]
    rc, _, err = _export(["--run", str(run), "--out", str(tmp_path / "x.onnx"), "--style-input"], capsys)
    assert rc == 1 and "needs a content-invariant run" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def _copy_run(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


def _truncate(run: Path) -> Path:
    w = run / "checkpoints" / "latest.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    return run


def _garbage_weights_no_json(run: Path) -> Path:
    w = run / "checkpoints" / "step_0000001.safetensors"
    (run / "checkpoints" / "step_0000001.json").unlink()
    w.write_bytes(b"\x00" * 100)
    return w


def _bad_json(run: Path) -> Path:
    (run / "checkpoints" / "latest.json").write_text("{not json")
    return run


def _no_config(run: Path) -> Path:
    (run / "config.json").unlink()
    return run


def _other_generator(run: Path) -> Path:
    cfg = json.loads((run / "config.json").read_text())
    cfg["generator"] = "light"
    (run / "config.json").write_text(json.dumps(cfg))
    return run


def _other_width(run: Path) -> Path:
    cfg = json.loads((run / "config.json").read_text())
    cfg["gen_width"] = 16
    (run / "config.json").write_text(json.dumps(cfg))
    return run


def _empty_dir(run: Path) -> Path:
    shutil.rmtree(run / "checkpoints")
    return run


def _nan_weights(run: Path) -> Path:
    """A diverged run: a valid file whose generator holds NaN (its JSON hash updated to match)."""
    import hashlib

    from safetensors.torch import load_file, save_file

    ck = run / "checkpoints"
    tensors = load_file(str(ck / "latest.safetensors"))
    key = next(k for k in tensors if k.startswith("G_A.") and k.endswith("weight"))
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    save_file(tensors, str(ck / "latest.safetensors"))
    doc = json.loads((ck / "latest.json").read_text())
    doc["weights_sha256"] = hashlib.sha256((ck / "latest.safetensors").read_bytes()).hexdigest()
    (ck / "latest.json").write_text(json.dumps(doc))
    return run


@pytest.mark.parametrize(("damage", "message"), [
    (_truncate, "sha256 differs"),
    (_garbage_weights_no_json, "not a readable safetensors file"),
    (_bad_json, "corrupt checkpoint JSON"),
    (_no_config, "config is needed"),
    (_other_generator, "weights do not fit"),
    (_other_width, "of another shape"),
    (_empty_dir, "no checkpoint found"),
    (lambda run: run / "nope", "no such run directory"),
    (_nan_weights, "the torch model itself outputs NaN/Inf"),
])
def test_bad_checkpoints_give_one_line_and_no_file(damage, message: str, runs: dict, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    target = damage(_copy_run(runs[("cyclegan", "resnet9")], tmp_path))
    outdir = tmp_path / "styles"
    outdir.mkdir()
    flag = "--checkpoint" if str(target).endswith(".safetensors") else "--run"
    rc, _, err = _export([flag, str(target), "--out", str(outdir / "s.onnx")], capsys)
    assert rc == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("avatar-export: error: ") and message in lines[0], err
    assert not list(outdir.iterdir())


def test_exported_styles_drive_the_headless_app(runs: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    """The whole app (MediaPipe, crop, Stylizer, compositor, privacy gate) on an exported style."""
    from avatar_cam.cli import main as app_main
    from avatar_cam.demo import draw_demo_face

    face = tmp_path / "face.png"
    cv2.imwrite(str(face), draw_demo_face(0.0))
    cases = ((("cyclegan", "resnet9"), []), (("content-invariant", "light"), ["--style-input"]))
    for (model, gen), extra in cases:
        style = tmp_path / f"{model}-{gen}.onnx"
        rc, _, err = _export(["--run", str(runs[(model, gen)]), "--out", str(style), *extra], capsys)
        assert rc == 0, err
        stats = tmp_path / "stats.json"
        assert app_main(["--headless", "-i", str(face), "-o", str(tmp_path / f"{gen}.png"),
                         "--style", str(style), "--stats", str(stats)]) == 0
        s = json.loads(stats.read_text())
        assert s["frames_with_face"] == 1 and s["frames_fallback"] == 0
        assert load_style(style).name in json.dumps(s["style"])
        assert cv2.imread(str(tmp_path / f"{gen}.png")) is not None


def test_model_card_from_style_run_and_eval(runs: dict, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    from export import card

    run = runs[("content-invariant", "light")]
    style = tmp_path / "tiny-anime.onnx"
    assert _export(["--run", str(run), "--name", "tiny-anime", "--out", str(style)], capsys)[0] == 0
    summary = {"n": 4, "output_face_rate": 0.75, "keypoint_error": 0.03, "mouth_open_diff": 0.05,
               "eye_open_diff": 0.06, "yaw_diff": 3.0, "mouth_open_corr": 0.8, "eye_open_corr": 0.65,
               "false_wink_rate": 0.25}
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps({
        "n_photos": 4, "fid": None, "fid_error": "no Inception weights", "expression": summary,
        "failure_checks": {"luma_corr": 0.81, "diversity_ratio": 0.9, "checkerboard_ratio": 1.2},
        "judge": {"n": 4, "cartoon_rate": 0.25},
        "identity": {"n": 4, "median_distance": 0.41, "frac_ge_0_6": 0.25, "rank1": 0.75, "gallery": 4,
                     "chance": 0.25},
        "groups": {"gender=female": {**summary, "n": 2, "judge": {"n": 2, "cartoon_rate": 0.5},
                                     "identity": {"n": 2, "median_distance": 0.7, "frac_ge_0_6": 1.0,
                                                  "rank1": 0.0}},
                   "age=60+": {**summary, "n": 0}},
        "clips": {"651.mp4": {"frames_with_face": 62, "output_face_rate": 1.0, "mouth_open_corr": 0.7,
                              "eye_open_corr": 0.55, "flicker": 0.8}}}))
    notes = tmp_path / "notes.md"
    notes.write_text("## Look\nFlat colours.\n")
    rc = card.main(["--style", str(style), "--run", str(run), "--eval", str(tmp_path / "eval"),
                    "--recipe", "training/recipes/x.toml", "--notes", str(notes), "--speed-ms", "4.4"])
    assert rc == 0
    text = style.with_suffix(".md").read_text()
    assert text.startswith("# tiny-anime\n")
    steps = json.loads((run / "checkpoints" / "latest.json").read_text())["step"]
    assert f"{steps} steps of batch" in text and "avatar-train --config training/recipes/x.toml" in text
    assert "| gender=female | 2 | 0.75 |" in text and "age=60+" not in text  # empty groups left out
    assert "| all held-out photos | 4 | 0.75 | 0.030 | 0.050 | 0.060 | 3.0 | 0.80 | 0.65 |" in text
    assert "| 651.mp4 | 62 | 1.00 | 0.70 | 0.55 | 0.80 |" in text
    assert "False winks: 25.0% of the cartoons" in text and "## Look" in text and "4.4 ms" in text
    assert "no Inception weights" in text and "brightness correlation photo→cartoon 0.81" in text
    assert "| all held-out photos | 4 | 0.25 | 0.41 | 0.25 | 0.750 |" in text and "chance 0.250" in text
    assert "| gender=female | 2 | 0.50 | 0.70 | 1.00 | 0.000 |" in text
    assert card.main(["--style", str(style), "--run", str(run), "--eval", str(tmp_path),
                      "--recipe", "r.toml"]) == 2
    # the motion check and the look check, when given
    from training.motion_check import SIGNALS

    sig = {k: {"corr": 0.5, "camera_std": 0.1, "moves": True} for k in SIGNALS}
    (tmp_path / "motion").mkdir()
    (tmp_path / "motion" / "motion.json").write_text(json.dumps({"style": "x", "size": [1280, 720], "clips": {
        "651.mp4": {"signals": {**sig, "gaze_x": {"corr": 0.81, "camera_std": 0.03, "moves": True}},
                    "false_wink_rate": 0.05, "output_face_rate": 1.0}}}))
    (tmp_path / "look").mkdir()
    (tmp_path / "look" / "look.json").write_text(json.dumps({
        "references": 16, "faces": 50, "domain": "flat", "colour_rank1": 0.55, "colour_pairwise": 0.903,
        "colour_rank1_unmatched": 0.3, "colour_rank1_dominant": 0.956,
        "colour_rank1_dominant_unmatched": 0.595, "judge_domain_rate": 0.976, "identity_frac_ge_0_6": 0.918,
        "identity_rank1": 0.042,
        "identity_chance": 0.02, "mouth_open_corr": 0.76, "eye_open_corr": 0.71, "mouth_sweep_corr": 0.91,
        "eye_sweep_corr": 0.88}))
    assert card.main(["--style", str(style), "--run", str(run), "--eval", str(tmp_path / "eval"),
                      "--recipe", "r.toml", "--motion", str(tmp_path / "motion"),
                      "--look", str(tmp_path / "look")]) == 0
    text = style.with_suffix(".md").read_text()
    assert "## Motion check" in text and "| 651.mp4 | 0.50 |" in text and "| 0.81 |" in text
    assert "pipeline, at 1280x720)" in text
    doc = json.loads((tmp_path / "motion" / "motion.json").read_text())
    (tmp_path / "motion" / "motion.json").write_text(json.dumps({**doc, "size": [1232, 693],
                                                                 "sizes": ["1232x693", "1280x720"]}))
    assert card.main(["--style", str(style), "--run", str(run), "--eval", str(tmp_path / "eval"),
                      "--recipe", "r.toml", "--motion", str(tmp_path / "motion")]) == 0
    assert "pipeline, the mean over 1232x693, 1280x720)" in style.with_suffix(".md").read_text()
    assert "16 held-out flat references x 50 held-out photos" in text
    assert ("| 55.0% | 90.3% | 30.0% | 95.6% (59.5%) | 97.6% | 91.8% | 4.2% (2.0%) | 0.76 | 0.71 "
            "| 0.91 / 0.88 |") in text
    assert "no eval.json" in capsys.readouterr().err


def test_training_wall_time_counts_rewound_steps_once_each(tmp_path: Path) -> None:
    from export.card import training_wall_time_s

    rows = [(10, 1.0), (20, 2.0), (10, 1.0), (20, 1.0)]  # resumed at step 0 after step 20
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "it_per_s": r}) + "\n"
                                                    for s, r in rows))
    assert training_wall_time_s(tmp_path) == pytest.approx(10 + 5 + 10 + 10)


def test_card_judge_identity_section_is_rewritten_in_place(tmp_path: Path) -> None:
    from export import card

    style = tmp_path / "hand.onnx"
    style.write_bytes(b"")  # only the card next to it is touched
    hand = "# hand\n\nWritten by hand.\n\n## Later\nkept\n"
    style.with_suffix(".md").write_text(hand)
    doc = {"n_photos": 3, "judge": {"n": 3, "cartoon_rate": 1.0},
           "identity": {"n": 3, "median_distance": 0.9, "frac_ge_0_6": 1.0, "rank1": 0.0, "gallery": 3,
                        "chance": 1 / 3}, "groups": {}}
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(doc))
    args = ["--style", str(style), "--eval", str(tmp_path / "eval"), "--judge-identity-only"]
    assert card.main(args) == 0
    once = style.with_suffix(".md").read_text()
    assert once.startswith(hand) and "| all held-out photos | 3 | 1.00 | 0.90 | 1.00 | 0.000 |" in once
    doc["identity"]["median_distance"] = 0.8
    (tmp_path / "eval" / "eval.json").write_text(json.dumps(doc))
    assert card.main(args) == 0
    twice = style.with_suffix(".md").read_text()
    assert twice.count(card.JUDGE_HEADING) == 1 and "| 0.80 |" in twice and "## Later\nkept" in twice
    assert card.main(["--style", str(style), "--eval", str(tmp_path / "eval")]) == 2  # full card needs a run
