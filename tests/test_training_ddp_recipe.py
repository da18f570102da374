"""The one-file training pack, and the one-shot GPU recipe (scripts/gpu_train.sh) run on the CPU
with a handful of steps on data the test makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from avatar_cam.mesh_drawing import draw_face_mesh  # noqa: E402
from training import pack  # noqa: E402
from training.data import UnpairedSteps, read_image, scan_images  # noqa: E402
from training.expression_aug import ExpressionAugConfig  # noqa: E402
from training.gpu_recipe import ARMS, arm_config  # noqa: E402
from training.options import ConfigError  # noqa: E402
from training.testing import make_image_folder  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def _mesh_pairs(root: Path, crop: np.ndarray, lm: np.ndarray, n: int = 4) -> Path:
    """mesh_pairs' layout (crops/, meshes/, landmarks/) from one real crop and its landmarks."""
    for sub in ("crops", "meshes", "landmarks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        name = f"pair_{i:03d}"
        cv2.imwrite(str(root / "crops" / f"{name}.jpg"), np.roll(crop, 2 * i, axis=1))
        cv2.imwrite(str(root / "meshes" / f"{name}.png"), draw_face_mesh(lm, crop.shape[0]))
        np.save(root / "landmarks" / f"{name}.npy", lm.astype(np.float32))
    return root


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory,
             demo_crop: Callable[[float], tuple[np.ndarray, np.ndarray]]) -> Path:
    """Prepared folders under every name the GPU recipe reads from a pack."""
    root = tmp_path_factory.mktemp("prepared")
    crop, lm = demo_crop(0.0)
    make_image_folder(root / "photos", 6, 48, "A", 0)
    make_image_folder(root / "anime", 6, 48, "B", 1)
    make_image_folder(root / "photo_meshes", 6, 48, "A", 2)
    for name in ("dicebear", "anime_pairs"):
        _mesh_pairs(root / name, crop, lm)
    return root


def _groups(root: Path) -> list[pack.Group]:
    return [pack.Group(d.name, d) for d in sorted(root.iterdir())]


def test_a_pack_reads_like_its_folders(prepared: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.zip"
    rep = pack.build(out, _groups(prepared))
    assert rep["groups"]["dicebear"] == {"folder": str(prepared / "dicebear"), "images": 4, "files": 12,
                                         "mb": rep["groups"]["dicebear"]["mb"]}
    with zipfile.ZipFile(out) as zf:  # stored: a member is one seek and read
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())
    for sub in ("photos", "dicebear/crops", "photo_meshes"):
        on_disk, packed = scan_images([prepared / sub]).paths, scan_images([out / sub]).paths
        assert [p.name for p in packed] == [p.name for p in on_disk]
        assert np.array_equal(read_image(packed[1]), read_image(on_disk[1]))
    assert [p.name for p in scan_images([out / "dicebear" / "crops" / "pair_00[12].jpg"]).paths] == [
        "pair_001.jpg", "pair_002.jpg"]
    with pytest.raises(FileNotFoundError, match="no such folder in the pack"):
        scan_images([out / "dicebear" / "nope"])
    # mesh pairs with their landmarks train from the pack, expression edits included
    crops = scan_images([out / "dicebear" / "crops"]).paths
    assert pack.exists(out / "dicebear" / "landmarks" / "pair_000.npy")
    assert not pack.exists(out / "dicebear" / "landmarks" / "pair_999.npy")
    ds = UnpairedSteps(scan_images([out / "photos"]).paths, crops, 64, 2, 4, with_mesh=True,
                       expression=ExpressionAugConfig(mouth=1.0, eyes=1.0, redraw=1.0))
    batch = ds[1]
    assert batch["B"].shape == batch["M"].shape == (2, 3, 64, 64)


def test_pack_limits_exclusion_and_size(prepared: Path, tmp_path: Path) -> None:
    held = tmp_path / "judge" / "split.json"  # held out by the judge: never in a pack
    held.parent.mkdir()
    held.write_text(json.dumps({"val_A": [str(prepared / "photos" / "a_001.png")],
                                "val_B": ["/elsewhere/trainB__pair_002.jpg"]}))
    out = tmp_path / "small.zip"
    rep = pack.build(out, [pack.Group.parse(f"photos={prepared / 'photos'}:3"),
                           pack.Group.parse(f"dicebear={prepared / 'dicebear'}:2")], [held])
    names = zipfile.ZipFile(out).namelist()
    photos = [n for n in names if n.startswith("photos/")]
    assert len(photos) == 3 and "photos/a_001.png" not in names
    stems = {n.rsplit("/", 1)[1].split(".")[0] for n in names if n.startswith("dicebear/")}
    assert len(stems) == 2 and "pair_002" not in stems  # a crop keeps its mesh and landmarks
    assert sum(n.startswith("dicebear/") for n in names) == 6 and rep["excluded_sources"] == 2
    with pytest.raises(ValueError, match="over --max-mb"):
        pack.build(tmp_path / "big.zip", _groups(prepared), max_mb=0.001)
    assert not (tmp_path / "big.zip").exists()
    assert pack.main([str(tmp_path / "x.zip"), f"nope={tmp_path / 'missing'}"]) == 2


def test_every_arm_is_a_valid_256px_run_on_the_pack(tmp_path: Path) -> None:
    for arm, (recipe, _) in ARMS.items():
        cfg = arm_config(arm, tmp_path / "p.zip", tmp_path / "out", 2.5, {})
        assert (REPO / "training" / "recipes" / recipe).is_file()
        assert cfg.size == 256 and cfg.device == "auto" and cfg.minutes == 2.5 and cfg.threads == 0
        assert all(d.startswith(str(tmp_path / "p.zip")) for d in cfg.data_a + cfg.data_b)
        assert cfg.out == str(tmp_path / "out" / "runs" / arm)


def test_init_from_fine_tunes_each_arm_from_its_own_compact_checkpoint(tmp_path: Path) -> None:
    """--init-from ROOT: `flat-mesh` starts from ROOT/flat_mesh (the shipped styles' layout in
    training/resume); an arm without a checkpoint there is one error before anything trains."""
    root = tmp_path / "resume"
    (root / "flat_mesh").mkdir(parents=True)
    (root / "flat_mesh" / "config.json").write_text("{}")
    cfg = arm_config("flat-mesh", tmp_path / "p.zip", tmp_path / "out", 1.0, {"size": 128}, root)
    assert cfg.init_from == str(root / "flat_mesh") and cfg.size == 128
    assert arm_config("flat-mesh", tmp_path / "p.zip", tmp_path / "out", 1.0, {}).init_from == ""
    with pytest.raises(ConfigError, match="no checkpoint for arm anime-mesh"):
        arm_config("anime-mesh", tmp_path / "p.zip", tmp_path / "out", 1.0, {}, root)


def test_gpu_recipe_runs_on_the_cpu(prepared: Path, tmp_path: Path) -> None:
    """scripts/gpu_train.sh end to end with 2 steps per arm: one mesh arm (its recipe as shipped,
    expression edits on) and the paper's CycleGAN arm, 32 px."""
    train_pack = tmp_path / "train.zip"
    pack.build(train_pack, _groups(prepared))
    judge = tmp_path / "judge"  # the held-out photos avatar-eval reports on
    judge.mkdir()
    held = sorted((prepared / "dicebear" / "crops").iterdir())[:2]
    (judge / "split.json").write_text(json.dumps({"val_A": [str(p) for p in held]}))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHON": sys.executable, "PACK": str(train_pack), "MINUTES": "5",
           "HOLDOUT": str(judge), "NPROC": "1", "OMP_NUM_THREADS": "1"}
    tiny = ["steps=2", "size=32", "gen_width=8", "ndf=8", "style_dim=4", "batch_size=2", "val_count=1",
            "sample_count=1", "log_every=1", "threads=1", "workers=0", "device=cpu"]
    t0 = time.monotonic()
    proc = subprocess.run(["bash", "scripts/gpu_train.sh", str(out), "--arms", "flat-mesh,cyclegan-resnet9",
                           *(a for s in tiny for a in ("--set", s))],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"gpu_train.sh, 2 arms: {time.monotonic() - t0:.1f} s")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["processes"] == 1 and set(summary["arms"]) == {"flat-mesh", "cyclegan-resnet9"}
    from avatar_cam.styles import load_style

    for arm, rec in summary["arms"].items():
        assert rec["steps"] == 2 and rec["steps_per_s"] > 0, rec
        assert not [k for k in rec if k.endswith("_error")], rec
        run_cfg = json.loads((out / "runs" / arm / "config.json").read_text())
        assert run_cfg["data_b"][0].startswith(str(train_pack))  # trained from the pack
        assert json.loads((out / "compact" / arm / "checkpoints" / "latest.json").read_text())["step"] == 2
        assert load_style(Path(rec["style"])).name == run_cfg["name"]
        assert rec["eval"]["photos"] == 2 and (out / "eval" / arm / "contact_sheet.png").is_file()
    assert "| flat-mesh | 2 |" in (out / "summary.md").read_text()
    assert "| flat-mesh | 2 |" in proc.stdout
