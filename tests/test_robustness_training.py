"""Issue 8 on the training/export side: bad data folders, a checkpoint of another model kind, bad
config files, a full disk and SIGKILL during a checkpoint write.

Every run here is a real `avatar-train` run (32 px, 8-channel light generators, a few steps).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from safetensors import SafetensorError  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from avatar_cam.demo import draw_demo_face  # noqa: E402
from avatar_cam.styles import builtin_styles_dir  # noqa: E402
from training import checkpoint as ckpt  # noqa: E402
from training import cli  # noqa: E402
from training.checkpoint import load_for_export  # noqa: E402
from training.data import read_image  # noqa: E402
from training.testing import ctrl_c_at, make_image_folder, tiny_config  # noqa: E402
from training.trainer import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HUGE = (8000, 6000)
BAD_FILES = ("notes.txt", "truncated.jpg", "truncated.png")
ODD_IMAGES = ("gray.png", "rgba.png", "cmyk.jpg", "huge.jpg")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    rc = cli.main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _error_line(err: str) -> str:
    """The CLI's own error: exactly one `avatar-train...: error:` line."""
    lines = [ln for ln in err.strip().splitlines() if ": error: " in ln and ln.startswith("avatar-train")]
    assert len(lines) == 1, err
    return lines[0]


def _files(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir()) if p.is_file()}


# -- 1. data folders -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def messy_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Drawn faces (MediaPipe finds them) as JPEG/PNG, grayscale, RGBA with a transparent border,
    CMYK JPEG and an 8000x6000 JPEG, next to a text file and truncated JPEG and PNG files."""
    from PIL import Image

    d = tmp_path_factory.mktemp("messy")
    for i in range(4):
        cv2.imwrite(str(d / f"face_{i}.{'jpg' if i % 2 else 'png'}"), draw_demo_face(0.4 * i))
    cv2.imwrite(str(d / "gray.png"), cv2.cvtColor(draw_demo_face(2.0), cv2.COLOR_BGR2GRAY))
    bgra = cv2.cvtColor(draw_demo_face(2.4), cv2.COLOR_BGR2BGRA)
    bgra[:, :120, 3] = 0
    bgra[:, :120, :3] = 0  # what the transparent part hides: black
    cv2.imwrite(str(d / "rgba.png"), bgra)
    Image.fromarray(cv2.cvtColor(draw_demo_face(2.8), cv2.COLOR_BGR2RGB)).convert("CMYK").save(d / "cmyk.jpg")
    cv2.imwrite(str(d / "huge.jpg"), draw_demo_face(3.2, HUGE))
    (d / "notes.txt").write_text("not an image")
    jpg, png = (d / "face_1.jpg").read_bytes(), (d / "face_0.png").read_bytes()
    (d / "truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (d / "truncated.png").write_bytes(png[: len(png) * 9 // 10])
    return d


def test_odd_images_decode_to_bgr_and_huge_jpegs_decode_reduced(messy_photos: Path) -> None:
    gray, rgba, cmyk = (read_image(messy_photos / n) for n in ODD_IMAGES[:3])
    assert gray.shape == rgba.shape == cmyk.shape == (480, 640, 3)
    assert (rgba[:, :120] == 255).all(), "a transparent background must become white, not black"
    ref = draw_demo_face(2.8)
    assert np.abs(cmyk.astype(int) - ref).mean() < 8, "CMYK decoded with the wrong colours"
    assert read_image(messy_photos / "huge.jpg", min_side=128).shape == (750, 1000, 3)  # 1/8 scale
    assert read_image(messy_photos / "huge.jpg", min_side=1024).shape == (1500, 2000, 3)  # 1/4
    for name in BAD_FILES[1:]:
        assert read_image(messy_photos / name) is None


def test_decompression_bombs_are_refused_from_the_header(tmp_path: Path) -> None:
    """A PNG that claims 20000x20000 pixels (1.2 GB decoded) is skipped without being decoded."""
    import struct
    import zlib

    from training.data import decode_image, scan_images

    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    idat = b"IDAT" + zlib.compress(b"\0" * 1000)
    chunks = [ihdr, idat, b"IEND"]
    data = b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(c) - 4) + c
                                          + struct.pack(">I", zlib.crc32(c)) for c in chunks)
    (tmp_path / "bomb.png").write_bytes(data)
    assert decode_image(tmp_path / "bomb.png") == (None, "too large to decode (20000x20000 pixels)")
    res = scan_images([tmp_path])
    assert res.paths == [] and res.skipped == [(str(tmp_path / "bomb.png"),
                                                "too large to decode (20000x20000 pixels)")]


def test_huge_image_does_not_blow_memory_in_the_loader(messy_photos: Path, tmp_path: Path) -> None:
    """Peak RSS while scanning, batching and sampling an 8000x6000 JPEG (144 MB decoded in full)."""
    small = make_image_folder(tmp_path / "small", 1, 48)
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from training.data import UnpairedSteps, load_plain, scan_images\n"
        "huge, small = Path(sys.argv[1]), next(Path(sys.argv[2]).iterdir())\n"
        "UnpairedSteps([small], [small], 32, 1, 1)[0]; load_plain([small], 32)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "assert scan_images([huge.parent]).paths\n"
        "batch = UnpairedSteps([huge], [huge], 32, 2, 1)[0]\n"
        "assert batch['A'].shape == (2, 3, 32, 32) and load_plain([huge], 32).shape == (1, 3, 32, 32)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n"
    )
    huge_dir = tmp_path / "huge"
    huge_dir.mkdir()
    os.link(messy_photos / "huge.jpg", huge_dir / "huge.jpg")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    res = subprocess.run([sys.executable, "-c", code, str(huge_dir / "huge.jpg"), str(small)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    growth_mb = float(res.stdout.strip().splitlines()[-1])
    assert growth_mb < 60, f"loading one 8000x6000 JPEG grew the peak RSS by {growth_mb:.0f} MB"


def test_training_on_a_messy_folder_skips_and_counts_bad_files(messy_photos: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    cartoons = make_image_folder(tmp_path / "B", 4, 48, "B")
    out = tmp_path / "run"
    # 8 usable photos, 1 held out: 4 steps of 2 load every training photo at least once
    rc, stdout, err = _run(["--model", "cyclegan", "--generator", "light", "--data-a", str(messy_photos),
                            "--data-b", str(cartoons), "--out", str(out), "--size", "32", "--batch-size", "2",
                            "--steps", "4", "--val-count", "1", "--workers", "0", "--sample-every", "1000",
                            "--set", "ndf=8", "--set", "gen_width=8", "--set", "sample_count=1",
                            "--no-progress"], capsys)
    assert rc == 0, err
    assert "run directory" in stdout
    assert (f"domain A: 8 images in {messy_photos}; skipped 3 files: 2 unreadable image, "
            "1 not an image file (each warned above)") in err
    for name in BAD_FILES:
        assert err.count(f"skipping {messy_photos / name}:") == 1, err
    assert f"skipping {messy_photos / 'truncated.jpg'}: unreadable image (truncated, corrupt" in err
    assert f"skipping {messy_photos / 'notes.txt'}: not an image file" in err
    split = json.loads((out / "split.json").read_text())
    used = {Path(p).name for p in split["train_A"] + split["val_A"]}
    assert used == {f"face_{i}.{'jpg' if i % 2 else 'png'}" for i in range(4)} | set(ODD_IMAGES)
    weights = load_file(str(out / "checkpoints" / "latest.safetensors"))
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 4
    assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


def test_prepare_on_a_messy_folder_crops_every_face_and_counts_the_rest(
        messy_photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("mediapipe")
    out = tmp_path / "prepared"
    argv = ["prepare", "--input", str(messy_photos), "--out", str(out), "--size", "64"]
    rc, stdout, err = _run(argv, capsys)
    assert rc == 0, err
    assert stdout.startswith("prepare: 8 crops written, 0 already there, 8 faces found, 0 without a face, "
                             "2 unreadable, 1 not images"), stdout
    report = json.loads((out / "prepare_report.json").read_text())
    assert sorted(Path(p).name for p in report["unreadable"]) == ["truncated.jpg", "truncated.png"]
    assert [Path(p).name for p in report["not_an_image"]] == ["notes.txt"]
    for name in BAD_FILES[1:]:
        assert err.count(f"skipping {messy_photos / name}: unreadable image") == 1, err
    crops = sorted(p.name for p in out.glob("*.jpg"))
    assert crops == sorted(f"{Path(n).stem}.jpg" for n in [f"face_{i}" for i in range(4)] + list(ODD_IMAGES))
    assert all(cv2.imread(str(out / c)).shape == (64, 64, 3) for c in crops)


def test_empty_and_imageless_folders_are_one_clear_error(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture) -> None:
    empty, texts, notes = tmp_path / "empty", tmp_path / "texts", tmp_path / "notes"
    for d in (empty, texts, notes):
        d.mkdir()
    (texts / "readme.txt").write_text("x")
    (texts / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (notes / "readme.txt").write_text("x")
    cartoons = make_image_folder(tmp_path / "B", 2, 48, "B")
    base = ["--data-b", str(cartoons), "--size", "32", "--steps", "1", "--no-progress"]
    rc, _, err = _run(["--data-a", str(empty), "--out", str(tmp_path / "r1"), *base], capsys)
    assert rc == 2
    assert _error_line(err) == f"avatar-train: error: domain A: no images found in {empty}"
    rc, _, err = _run(["--data-a", str(texts), "--out", str(tmp_path / "r2"), *base], capsys)
    assert rc == 2
    assert _error_line(err) == (f"avatar-train: error: domain A: no images found in {texts} "
                                "(skipped 2 files: 1 unreadable image, 1 not an image file)")
    rc, _, err = _run(["--data-a", str(tmp_path / "nope"), "--out", str(tmp_path / "r3"), *base], capsys)
    assert rc == 2 and _error_line(err) == f"avatar-train: error: data folder not found: {tmp_path / 'nope'}"
    assert not any((tmp_path / r / "checkpoints").exists() for r in ("r1", "r2", "r3"))
    # prepare: the same, and no output folder is made
    for folder, tail in ((empty, ""), (notes, " (only 1 not an image file)")):
        out = tmp_path / f"prep_{folder.name}"
        rc, stdout, err = _run(["prepare", "--input", str(folder), "--out", str(out)], capsys)
        assert rc == 2 and not stdout and not out.exists()
        assert _error_line(err) == f"avatar-train prepare: error: no images in {folder}{tail}"
    # a folder of files named like images that are not: one line, exit 2 (it said "0 crops", exit 0)
    rc, _, err = _run(["prepare", "--input", str(texts), "--out", str(tmp_path / "prep_texts")], capsys)
    assert rc == 2 and "no crops" in _error_line(err)


def test_prepare_never_writes_into_its_input_and_checks_its_size(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    photos = make_image_folder(tmp_path / "photos", 3, 64, "A")
    before = _files(photos)
    for out, extra in ((photos, ["--overwrite"]), (photos / "crops", []), (tmp_path, [])):
        rc, _, err = _run(["prepare", "--input", str(photos), "--out", str(out), *extra], capsys)
        assert rc == 2 and "is the input" in _error_line(err), out
    for size in ("0", "-5", "16"):
        rc, _, err = _run(["prepare", "--input", str(photos), "--out", str(tmp_path / "p"), "--size", size],
                          capsys)
        assert rc == 2 and "--size" in _error_line(err)
    (tmp_path / "afile").write_text("x")
    rc, _, err = _run(["prepare", "--input", str(photos), "--out", str(tmp_path / "afile" / "p")], capsys)
    assert rc == 2 and "Not a directory" in _error_line(err)
    assert _files(photos) == before and not (photos / "crops").exists()


# -- 2. a checkpoint of another model kind -----------------------------------------------------------

@pytest.fixture(scope="module")
def kind_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    return {m: train(tiny_config(root, m, "light", steps=2, save_every=1, keep_checkpoints=0,
                                 out=str(root / m))) for m in ("cyclegan", "content-invariant")}


def _hybrid(kind_runs: dict[str, Path], config_of: str, weights_of: str, tmp_path: Path) -> Path:
    """A run folder whose config.json is one kind and whose checkpoints are another's."""
    run = tmp_path / f"{config_of}-config-{weights_of}-weights"
    shutil.copytree(kind_runs[config_of], run)
    shutil.rmtree(run / "checkpoints")
    shutil.copytree(kind_runs[weights_of] / "checkpoints", run / "checkpoints")
    return run


@pytest.mark.parametrize(("config_of", "weights_of"), [("content-invariant", "cyclegan"),
                                                       ("cyclegan", "content-invariant")])
def test_export_refuses_a_checkpoint_of_another_model_kind(kind_runs: dict, config_of: str, weights_of: str,
                                                           tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    from export.cli import main as export_main

    run = _hybrid(kind_runs, config_of, weights_of, tmp_path)
    styles = tmp_path / "styles"
    styles.mkdir()
    periodic = run / "checkpoints" / "step_0000001.safetensors"
    for target in (["--run", str(run)], ["--checkpoint", str(periodic)]):
        rc = export_main(["--onnx", *target, "--out", str(styles / "s.onnx")])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == 1 and len(lines) == 1, err
        assert lines[0].startswith("avatar-export: error: ") and "weights do not fit" in lines[0]
        assert f"the file holds a {weights_of}/light model" in lines[0]
        assert not list(styles.iterdir())


def test_resume_refuses_another_model_kind_and_touches_nothing(kind_runs: dict, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    shutil.copytree(kind_runs["cyclegan"], run)
    before = _files(run / "checkpoints")
    for flag, value, expected in (
            ("--model", "content-invariant", "model ('cyclegan' -> 'content-invariant')"),
            ("--generator", "resnet9", "generator ('light' -> 'resnet9')")):
        argv = ["--resume", "--out", str(run), flag, value, "--steps", "4", "--no-progress"]
        rc, _, err = _run(argv, capsys)
        assert rc == 2
        line = _error_line(err)
        assert line.startswith("avatar-train: error: --resume with different options: ") and expected in line
    hybrid = _hybrid(kind_runs, "content-invariant", "cyclegan", tmp_path)
    hybrid_before = _files(hybrid / "checkpoints")
    rc, _, err = _run(["--resume", "--out", str(hybrid), "--steps", "4", "--no-progress"], capsys)
    assert rc == 2
    line = _error_line(err)
    assert "no usable checkpoint" in line and "the file holds a cyclegan/light model" in line, line
    assert _files(run / "checkpoints") == before and _files(hybrid / "checkpoints") == hybrid_before


# -- 3. bad --config files ---------------------------------------------------------------------------

BAD_CONFIGS = [
    ("missing.toml", None, "config file not found: {path}"),
    ("syntax.toml", "[train]\nsize = = 32\n", "{path}: not valid TOML ("),
    ("unknown.toml", "[train]\nsize = 32\nlamda_cycle = 5.0\n", "{path}: unknown option(s) lamda_cycle"),
    ("type.toml", '[train]\nsize = "big"\n', "{path}: size should be int, got 'big'"),
    ("bool.toml", "[train]\nsteps = true\n", "{path}: steps should be int, got True"),
    ("list.toml", "[train]\ndata_a = [1, 2]\n",
     "{path}: data_a should be a list of folder names, got [1, 2]"),
    ("table.toml", "[trian]\nsize = 32\n", "{path}: unknown table(s) trian (options go at the top level"),
    ("binary.toml", b"\xff\xfe\x00size = 3", "{path}: not a text file (not UTF-8)"),
    ("list.json", "[1, 2]", "{path}: expected a table of options, got list"),
    ("broken.json", '{"size": 32', "{path}: not valid JSON ("),
    ("folder.toml", "DIR", "{path}: not a config file (a folder?)"),
    ("zero.toml", "[train]\nsave_every = 0\n", "save_every must be >= 1, not 0"),
    ("size.toml", "[train]\nsize = 30\n", "--size must be a multiple of 8 and >= 32, not 30"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_file_is_one_clear_line(name: str, content: str | bytes | None, message: str,
                                           tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    out = tmp_path / "run"
    rc, stdout, err = _run(["--config", str(path), "--data-a", str(tmp_path), "--data-b", str(tmp_path),
                            "--out", str(out), "--no-progress"], capsys)
    assert rc == 2 and not stdout
    assert err.count("\n") == 1, err  # one line, no traceback, no log
    assert err.startswith("avatar-train: error: " + message.format(path=path)), err
    assert not out.exists()


# -- 4. a full disk and SIGKILL during a checkpoint write ----------------------------------------------

def _same_run(a: Path, b: Path) -> None:
    """Two runs ended in the same state: weights, optimiser/pool/RNG state, step, LR."""
    for name in ("latest.safetensors", "latest.state.safetensors"):
        ta, tb = load_file(str(a / "checkpoints" / name)), load_file(str(b / "checkpoints" / name))
        assert ta.keys() == tb.keys()
        assert all(torch.equal(ta[k], tb[k]) for k in ta), name
    ja, jb = (json.loads((r / "checkpoints" / "latest.json").read_text()) for r in (a, b))
    assert (ja["step"], ja["info"]["lr"], ja["rng"]) == (jb["step"], jb["info"]["lr"], jb["rng"])


KW = dict(steps=4, lr_decay_start=100, save_every=1000)  # only `latest`: no periodic file to fall back on


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("straight")
    return train(tiny_config(root, out=str(root / "run"), **KW))


def _two_step_run(tmp_path: Path) -> Path:
    cfg = tiny_config(tmp_path, out=str(tmp_path / "run"), **{**KW, "steps": 2})
    return train(cfg)


@pytest.mark.parametrize("fail_at", ["weights", "state", "json"])
def test_disk_full_during_a_checkpoint_write_keeps_the_previous_one(
        fail_at: str, straight: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    run = _two_step_run(tmp_path)
    d = run / "checkpoints"
    before = _files(d)
    armed = {"on": False, "tensor_files": 0}
    real_save_file, real_save = ckpt.save_file, ckpt.save_checkpoint
    real_write = getattr(ckpt, "_write_text", None) or (lambda path, text: path.write_text(text))

    def save_file(tensors, filename, metadata=None):  # noqa: ANN001, ANN202
        real_save_file(tensors, filename, metadata=metadata)
        if armed["on"]:
            armed["tensor_files"] += 1  # 1: the weights, 2: the training state
            if fail_at == {1: "weights", 2: "state"}.get(armed["tensor_files"]):
                with open(filename, "r+b") as f:  # the disk filled up half-way through the file
                    f.truncate(os.path.getsize(filename) // 2)
                # what safetensors really raises on a full disk (see the tmpfs test below)
                raise SafetensorError("Error while serializing: I/O error: No space left on device "
                                      "(os error 28)")

    def write_text(path: Path, text: str) -> None:
        if armed["on"] and fail_at == "json":
            real_write(path, text[: len(text) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        real_write(path, text)

    def save_checkpoint(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        armed["on"] = args[2] == 4  # only the save of step 4 hits the full disk
        try:
            return real_save(*args, **kwargs)
        finally:
            armed["on"] = False

    monkeypatch.setattr(ckpt, "save_file", save_file)
    monkeypatch.setattr(ckpt, "_write_text", write_text, raising=False)
    monkeypatch.setattr(ckpt, "save_checkpoint", save_checkpoint)
    rc, _, err = _run(["--resume", "--out", str(run), "--steps", "4", "--no-progress"], capsys)
    assert rc == 1
    assert _error_line(err).endswith(": No space left on device"), err
    assert "checkpoint of step 4 not saved" in err and "the previous checkpoint is intact" in err
    # the previous checkpoint is byte for byte what it was, loadable, and nothing half-written is left
    assert _files(d) == before
    _, _, step = load_for_export(run)
    assert step == 2
    monkeypatch.undo()
    rc, _, err = _run(["--resume", "--out", str(run), "--steps", "4", "--no-progress"], capsys)
    assert rc == 0 and "resumed at step 2" in err, err
    _same_run(run, straight)


def _mount_tmpfs(path: Path, size: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                         capture_output=True, timeout=30)
    return res.returncode == 0


def test_a_really_full_disk_keeps_the_previous_checkpoint(straight: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """The same on a real full filesystem: a small tmpfs holds the checkpoints (root only)."""
    run = tmp_path / "run"
    d = run / "checkpoints"
    if not _mount_tmpfs(d, "8m"):
        pytest.skip("needs root and mount to make a small tmpfs")
    try:
        train(tiny_config(tmp_path, out=str(run), **{**KW, "steps": 2}))
        before = _files(d)
        weights_size = (d / "latest.safetensors").stat().st_size
        st = os.statvfs(d)
        filler = d / "filler.bin"
        with open(filler, "wb") as f:  # leave room for half of the next weights file
            f.write(b"\0" * (st.f_bavail * st.f_frsize - weights_size // 2))
        rc, _, err = _run(["--resume", "--out", str(run), "--steps", "4", "--no-progress"], capsys)
        assert rc == 1 and _error_line(err).endswith(": No space left on device"), err
        filler.unlink()
        assert _files(d) == before
        assert load_for_export(run)[2] == 2
        rc, _, err = _run(["--resume", "--out", str(run), "--steps", "4", "--no-progress"], capsys)
        assert rc == 0 and "resumed at step 2" in err, err
        _same_run(run, straight)
    finally:
        if subprocess.run(["umount", str(d)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(d)], capture_output=True)


_PAUSING_CHILD = """
import os, sys, time
from pathlib import Path
target, nth, marker = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
real_replace, seen = os.replace, [0]
def replace(src, dst, *a, **k):
    if Path(dst).name == target:
        seen[0] += 1
        if seen[0] == nth:  # the checkpoint write is half-way: wait here to be killed
            marker.write_text(str(src))
            time.sleep(600)
    return real_replace(src, dst, *a, **k)
os.replace = replace
from training.cli import main
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.parametrize("target", ["latest.safetensors", "latest.json"])
def test_sigkill_during_a_checkpoint_write_resumes_from_the_last_complete_one(target: str, tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture
                                                                              ) -> None:
    """Killed while step 4's `latest` is being written (step_0000004 is complete): before any of
    its renames, or after the tensor files but before the JSON (the inconsistent state)."""
    kw = dict(steps=6, save_every=2, keep_checkpoints=0, lr_decay_start=3)
    cfg = tiny_config(tmp_path, out=str(tmp_path / "killed"), **kw)
    cfg_file = tmp_path / "killed.json"
    cfg_file.write_text(json.dumps(cfg.to_dict()))
    marker = tmp_path / "paused"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    log = tmp_path / "child.log"
    with open(log, "wb") as child_err:
        proc = subprocess.Popen([sys.executable, "-c", _PAUSING_CHILD, target, "2", str(marker),
                                 "--config", str(cfg_file), "--threads", "1"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=child_err)
    try:
        deadline = time.time() + 120
        while not marker.exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        reached = marker.exists()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert reached, f"the child never reached the checkpoint write: {log.read_text()[-2000:]}"
    d = tmp_path / "killed" / "checkpoints"
    assert any(".tmp" in p.name for p in d.iterdir()), "killed before anything was staged?"
    assert json.loads((d / "step_0000004.json").read_text())["step"] == 4
    rc, _, err = _run(["--resume", "--out", str(tmp_path / "killed"), "--no-progress"], capsys)
    assert rc == 0, err
    assert "resumed at step 4" in err, err
    assert not [p.name for p in d.iterdir() if ".tmp" in p.name]
    straight_run = train(tiny_config(tmp_path, out=str(tmp_path / "straight"), **kw))
    _same_run(tmp_path / "killed", straight_run)


def test_a_device_this_machine_lacks_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: --device cuda is valid here")
    photos, cartoons = (make_image_folder(tmp_path / d, 2, 48, d) for d in ("A", "B"))
    rc, _, err = _run(["--data-a", str(photos), "--data-b", str(cartoons), "--size", "32", "--steps", "1",
                       "--no-progress", "--device", "cuda", "--out", str(tmp_path / "r")], capsys)
    assert rc == 2 and "no CUDA GPU here" in _error_line(err)  # was an AttributeError traceback


def test_resuming_after_the_data_moved_is_one_clear_line(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    photos, cartoons = (make_image_folder(tmp_path / d, 3, 48, d) for d in ("A", "B"))
    base = ["--data-a", str(photos), "--data-b", str(cartoons), "--size", "32", "--no-progress",
            "--out", str(tmp_path / "r"), "--val-count", "1"]
    rc, _, _ = _run([*base, "--steps", "2", "--save-every", "2"], capsys)
    assert rc == 0
    shutil.rmtree(photos)
    saved = _files(tmp_path / "r" / "checkpoints")
    rc, _, err = _run(["--resume", "--out", str(tmp_path / "r"), "--steps", "4", "--no-progress"], capsys)
    line = _error_line(err)
    assert rc == 2 and ("moved or deleted" in line or "not found" in line), err
    assert _files(tmp_path / "r" / "checkpoints") == saved  # the checkpoint is untouched


def test_every_tool_says_in_one_line_when_a_path_is_missing_or_under_a_file(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """avatar-eval, avatar-export, the judge and the compact copy: a missing data folder or an
    output under a regular file was a FileNotFoundError / NotADirectoryError traceback."""
    from export.cli import main as export_main
    from training.compact import main as compact_main
    from training.evaluate import main as eval_main
    from training.judge import main as judge_main

    afile = tmp_path / "afile"
    afile.write_text("x")
    style = builtin_styles_dir() / "placeholder-mosaic.onnx"
    cases = [
        (eval_main, ["--style", str(style), "--photos", str(tmp_path / "nope")], "avatar-eval: error:"),
        (export_main, ["--onnx", "--random-init", "--out", str(afile / "x.onnx")], "avatar-export: error:"),
        (judge_main, ["train", "--photos", str(tmp_path / "nope"), "--out", str(tmp_path / "j")],
         "judge: error:"),
        (compact_main, [str(tmp_path / "run"), "--out", str(afile / "c")], "training.compact: error:"),
    ]
    for main, argv, prefix in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert prefix in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_a_small_dataset_is_warned_about_when_most_of_it_is_held_out(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "cyclegan", "light", steps=1)
    cfg.val_count = 50  # the default: 3 photos would leave 1 to train on, silently
    cfg.data_a = [str(make_image_folder(tmp_path / "few", 3, 48, "A"))]
    log = (train(cfg) / "train.log").read_text()
    assert "domain A: only 1 of 3 images are trained on" in log
    assert "domain A: 1 to train on, 2 held out" in log


def test_training_tools_without_the_training_extra_say_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """The app's wheel alone (no torch): avatar-train and avatar-export ended in a traceback."""
    import sys

    from export import launch

    gone = ("torch.", "export.", "training.trainer")
    for name in [m for m in sys.modules if m == "torch" or m.startswith(gone)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch: ModuleNotFoundError
    assert launch.main() == 1
    assert cli.main(["--data-a", "a", "--data-b", "b", "--steps", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["avatar-export: error: needs the training extra (torch is not installed): "
                   "pip install 'avatar-cam[train]'",
                   "avatar-train: error: needs the training extra (torch is not installed): "
                   "pip install 'avatar-cam[train]'"]


def test_a_diverging_run_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--lr 1e9 ended in a FloatingPointError traceback."""
    photos, cartoons = (make_image_folder(tmp_path / d, 2, 48, d) for d in ("A", "B"))
    rc, _, err = _run(["--model", "cyclegan", "--generator", "light", "--data-a", str(photos),
                       "--data-b", str(cartoons), "--size", "32", "--steps", "20", "--lr", "1e12",
                       "--out", str(tmp_path / "run"), "--no-progress"], capsys)
    assert rc == 1 and "Traceback" not in err
    assert _error_line(err).startswith("avatar-train: error: training diverged (non-finite loss at step")


def test_ctrl_c_while_training_leaves_the_sample_grid_of_its_step(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C saved a checkpoint after the step in flight but drew no sample grid: nothing to
    look at for where the run stood. The grid is the one a scheduled sample of that step draws."""
    from training import trainer

    photos, cartoons = (make_image_folder(tmp_path / d, 6, 48, d) for d in ("A", "B"))
    base = ["--model", "cyclegan", "--generator", "light", "--data-a", str(photos), "--data-b", str(cartoons),
            "--size", "32", "--steps", "6", "--val-count", "2", "--no-progress", "--set", "ndf=8",
            "--set", "gen_width=8"]
    assert cli.main([*base, "--out", str(tmp_path / "straight"), "--sample-every", "3"]) == 0
    monkeypatch.setattr(trainer, "create_model", ctrl_c_at(trainer.create_model, 3))
    run = tmp_path / "stopped"
    with pytest.raises(SystemExit) as stopped:
        cli.main([*base, "--out", str(run)])  # sample_every 500: no scheduled grid
    assert stopped.value.code == 128 + signal.SIGINT
    assert json.loads((run / "checkpoints" / "latest.json").read_text())["step"] == 3
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["latest.png", "step_0000003.png"]
    grid = cv2.imread(str(run / "samples" / "step_0000003.png"))
    assert np.array_equal(grid, cv2.imread(str(tmp_path / "straight" / "samples" / "step_0000003.png")))
    assert np.array_equal(grid, cv2.imread(str(run / "samples" / "latest.png")))
