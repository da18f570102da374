"""Data: bad files counted, deterministic batches, augmentation, hold-out split, prepare."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from avatar_cam.align import DEFAULT_CROP, align_face, face_crop_matrix  # noqa: E402
from avatar_cam.frame import Face  # noqa: E402
from training.data import (  # noqa: E402
    AugmentConfig,
    UnpairedSteps,
    augment,
    domain_dirs,
    holdout_split,
    prepare,
    scan_images,
)
from training.testing import make_image_folder  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def test_bad_files_are_warned_once_each_skipped_and_counted(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    d = make_image_folder(tmp_path / "A", 3)
    (d / "notes.txt").write_text("not an image")
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (d / "empty.png").write_bytes(b"")
    (d / ".DS_Store").write_bytes(b"x")  # hidden: ignored silently
    cv2.imwrite(str(d / "dot.png"), np.zeros((1, 1, 3), np.uint8))  # OpenCV's traceback before
    cv2.imwrite(str(d / "sliver.png"), np.zeros((4, 400, 3), np.uint8))
    with caplog.at_level(logging.WARNING, logger="training.data"):
        res = scan_images([d])
    assert len(res.paths) == 3
    assert sorted(Path(p).name for p, _ in res.skipped) == ["broken.jpg", "dot.png", "empty.png", "notes.txt",
                                                           "sliver.png"]
    reasons = dict((Path(p).name, r) for p, r in res.skipped)
    assert reasons["notes.txt"] == "not an image file" and "1x1 px, too small" in reasons["dot.png"]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 5
    assert "5 files skipped" in res.summary("A")


def test_a_file_pattern_takes_a_subset_of_a_folder(tmp_path: Path) -> None:
    d = make_image_folder(tmp_path / "B", 4)
    for i, p in enumerate(sorted(d.iterdir())):
        p.rename(d / f"{'toon' if i % 2 else 'peeps'}_{i}.png")
    assert [p.name for p in scan_images([d / "toon_*.png"]).paths] == ["toon_1.png", "toon_3.png"]
    assert len(scan_images([d]).paths) == 4
    with pytest.raises(FileNotFoundError, match="missing"):
        scan_images([tmp_path / "missing" / "toon_*.png"])


def test_batches_are_a_pure_function_of_seed_and_step(tmp_path: Path) -> None:
    a = scan_images([make_image_folder(tmp_path / "A", 5, 40, "A")]).paths
    b = scan_images([make_image_folder(tmp_path / "B", 3, 40, "B")]).paths
    ds = UnpairedSteps(a, b, 32, 2, 20, seed=7, with_a2=True)
    x = ds[4]
    assert set(x) == {"A", "A2", "B"} and x["A"].shape == (2, 3, 32, 32)
    assert x["A"].min() >= -1 and x["A"].max() <= 1
    again = UnpairedSteps(a, b, 32, 2, 20, seed=7, with_a2=True)[4]
    assert all(torch.equal(x[k], again[k]) for k in x)
    assert not torch.equal(x["A"], ds[5]["A"])
    assert not torch.equal(x["A"], UnpairedSteps(a, b, 32, 2, 20, seed=8)[4]["A"])
    # each epoch visits every image once
    seen = [ds.index("A", s, j) for s in range(5) for j in range(2)]
    assert sorted(seen[:5]) == list(range(5)) and sorted(seen[5:]) == list(range(5))


def test_augment(tmp_path: Path) -> None:
    img = (np.random.default_rng(0).random((50, 60, 3)) * 255).astype(np.uint8)
    rng = np.random.default_rng(1)
    plain = AugmentConfig(flip=False, min_scale=1.0, max_aspect=1.0, jitter=0.0)
    out = augment(img, 32, rng, plain, color=True)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    # colour jitter only touches photos
    cfg = AugmentConfig(flip=False, min_scale=1.0, max_aspect=1.0, jitter=0.3)
    a = augment(img, 32, np.random.default_rng(2), cfg, color=False)
    b = augment(img, 32, np.random.default_rng(2), plain, color=False)
    c = augment(img, 32, np.random.default_rng(2), cfg, color=True)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_holdout_split_and_folder_layout(tmp_path: Path) -> None:
    paths = [Path(f"/x/{i}.png") for i in range(10)]
    train, val = holdout_split(paths, 3, seed=0)
    assert len(val) == 3 and not set(train) & set(val) and len(train) == 7
    assert holdout_split(list(reversed(paths)), 3, seed=0)[1] == val  # order does not matter
    (tmp_path / "trainA").mkdir()
    assert domain_dirs(str(tmp_path), ["/extra"], "A") == [str(tmp_path / "trainA"), "/extra"]
    with pytest.raises(FileNotFoundError, match="trainB"):
        domain_dirs(str(tmp_path), [], "B")


def test_a_held_out_split_after_a_parent_never_holds_out_what_it_trained_on() -> None:
    paths = [Path(f"/x/b_{i:03d}.png") for i in range(20)]
    trained, held = holdout_split(paths, 5, seed=0)
    parent = ({p.stem for p in trained}, {p.stem for p in held})
    meshes = [Path(f"/y/meshes/b_{i:03d}.png") for i in range(20)]  # other files of the same sources
    for n_val, seed in ((5, 0), (3, 4), (8, 4)):
        train, val = holdout_split(meshes, n_val, seed, parent)
        assert {p.stem for p in val} <= parent[1] and len(val) == min(n_val, 5)  # the parent's first
        assert len(train) == 20 - len(val)
    new = [Path(f"/x/new_{i}.png") for i in range(3)]  # then images the parent never saw
    _, val = holdout_split(paths + new, 7, seed=1, parent=parent)
    assert set(held) <= set(val) and len(set(val) & set(new)) == 2


def test_a_folder_given_twice_or_inside_another_is_listed_once(tmp_path: Path) -> None:
    d = make_image_folder(tmp_path / "A", 3)
    (d / "sub").mkdir()
    (d / "sub" / "x.png").write_bytes((d / "a_000.png").read_bytes())
    res = scan_images([d, d, d / "sub", tmp_path / "A" / ".." / "A"])
    assert len(res.paths) == len({p.resolve() for p in res.paths}) == 4 and res.duplicates == 9


def _mesh_pairs(root: Path, n: int = 4) -> list[Path]:
    """Crops and mesh drawings that are copies of them: a batch pairs them right when B == M."""
    crops = make_image_folder(root / "crops", n, 48, "B", 1)
    make_image_folder(root / "meshes", n, 48, "B", 1)
    return scan_images([crops]).paths


def test_a_cartoon_is_never_paired_with_another_cartoons_mesh(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    from training.data import DataError, mesh_path_for

    crops = _mesh_pairs(tmp_path / "mp")
    photos = scan_images([make_image_folder(tmp_path / "A", 3, 48, "A")]).paths
    mesh_path_for(crops[1]).unlink()
    with pytest.raises(DataError, match=r"1 of 4 missing, e\.g\. .*meshes/b_001\.png"):
        UnpairedSteps(photos, crops, 32, 2, 4, with_mesh=True)
    mesh_path_for(crops[1]).write_bytes(b"\x89PNG\r\n\x1a\n broken")  # there, but unreadable
    ds = UnpairedSteps(photos, crops, 32, 4, 4, seed=2, with_mesh=True)
    with caplog.at_level(logging.WARNING, logger="training.data"):
        for step in range(3):
            batch = ds[step]
            assert torch.equal(batch["B"], batch["M"]), step  # the pair is skipped whole
    assert f"skipping the pair {crops[1]}: its mesh {mesh_path_for(crops[1])}: unreadable" in caplog.text
    with pytest.raises(DataError, match="are mesh drawings"):  # meshes/ given as the cartoons
        UnpairedSteps(photos, scan_images([tmp_path / "mp" / "meshes"]).paths, 32, 2, 4, with_mesh=True)


class _FakeTracker:
    """Finds a face only in images whose top-left pixel is white, at a known place."""

    def still(self, image: np.ndarray) -> Face | None:
        if image[0, 0, 0] != 255:
            return None
        kp = np.array([[24, 28], [40, 28], [32, 36], [32, 44], [18, 30], [46, 30]], np.float32)
        return Face(box=(16, 16, 32, 36), keypoints=kp)


def test_prepare_crops_like_the_app_and_lists_missing_faces(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(0)
    imgs = {}
    for i in range(3):
        img = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        img[0, 0] = 255 if i < 2 else 0
        cv2.imwrite(str(raw / f"p{i}.png"), img)
        imgs[i] = img
    (raw / "bad.jpg").write_bytes(b"nope")
    out = tmp_path / "out"
    rep = prepare([raw], out, size=48, tracker_factory=_FakeTracker, progress=False)
    assert rep["written"] == 2 and rep["not_found"] == [str(raw / "p2.png")]
    assert rep["unreadable"] == [str(raw / "bad.jpg")]
    assert json.loads((out / "prepare_report.json").read_text())["not_found"] == rep["not_found"]
    crop = cv2.imread(str(out / "p0.jpg"))
    assert crop.shape == (48, 48, 3)
    kp = np.array([[24, 28], [40, 28], [32, 36], [32, 44], [18, 30], [46, 30]], np.float32)
    ref = align_face(imgs[0], Face(box=(16, 16, 32, 36), keypoints=kp), 48, DEFAULT_CROP)
    ref_jpeg = cv2.imdecode(cv2.imencode(".jpg", ref, [cv2.IMWRITE_JPEG_QUALITY, 95])[1], cv2.IMREAD_COLOR)
    assert np.array_equal(crop, ref_jpeg)  # exactly the app's crop (after the same JPEG encoding)
    mask = cv2.warpAffine(np.ones((64, 64), np.float32), face_crop_matrix(
        Face(box=(16, 16, 32, 36), keypoints=kp), 48, DEFAULT_CROP), (48, 48))
    assert rep["outside_mean"] == pytest.approx(1 - mask.mean(), abs=1e-3)
    # a second pass skips what is there; the report is not mistaken for an image
    rep2 = prepare([raw], out, size=48, tracker_factory=_FakeTracker, progress=False)
    assert rep2["already_there"] == 2 and not scan_images([out]).skipped
    # the cartoon domain keeps a face-less image whole and says how many faces it found
    rep3 = prepare([raw], tmp_path / "b", size=48, tracker_factory=_FakeTracker, progress=False,
                   domain="cartoon")
    assert rep3["written"] == 3 and rep3["found"] == 2
    assert rep3["whole_image"] == rep3["not_found"] == [str(raw / "p2.png")]
    whole = cv2.resize(imgs[2], (48, 48), interpolation=cv2.INTER_AREA)
    whole = cv2.imdecode(cv2.imencode(".jpg", whole, [cv2.IMWRITE_JPEG_QUALITY, 95])[1],
                         cv2.IMREAD_COLOR)
    assert np.array_equal(cv2.imread(str(tmp_path / "b" / "p2.jpg")), whole)


@pytest.mark.skipif(not (SHARED / "utkface").is_dir(), reason="shared datasets not present")
def test_prepare_with_mediapipe_on_a_real_photo(tmp_path: Path) -> None:
    pytest.importorskip("mediapipe")
    src = tmp_path / "src"
    src.mkdir()
    for photo in sorted((SHARED / "utkface").glob("*.jpg"))[:3]:
        (src / photo.name).write_bytes(photo.read_bytes())
    (src / "blank.png").write_bytes(cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))[1].tobytes())
    rep = prepare([src], tmp_path / "out", size=64, progress=False)
    assert rep["written"] >= 2 and str(src / "blank.png") in rep["not_found"]
    assert rep["written"] + len(rep["not_found"]) == 4


@pytest.mark.skipif(not (SHARED / "utkface").is_dir(), reason="shared datasets not present")
def test_prepare_finds_97_percent_of_tight_crops_and_prepares_cartoons(tmp_path: Path) -> None:
    import random

    pytest.importorskip("mediapipe")
    photos = random.Random(7).sample(sorted((SHARED / "utkface").glob("*.jpg")), 100)
    src = tmp_path / "photos"
    src.mkdir()
    for p in photos:  # links only: nothing of the data set is copied
        (src / p.name).symlink_to(p)
    rep = prepare([src], tmp_path / "a", size=64, progress=False)
    assert rep["found"] == rep["written"] and rep["found"] >= 97, rep["not_found"]
    anime = sorted((SHARED / "selfie2anime" / "trainB").glob("*.jpg"))[:20]
    cartoons = tmp_path / "cartoons"
    cartoons.mkdir()
    for p in anime:
        (cartoons / p.name).symlink_to(p)
    rep = prepare([cartoons], tmp_path / "b", size=64, progress=False, domain="cartoon")
    assert rep["written"] == 20 and rep["found"] + len(rep["whole_image"]) == 20
    assert rep["found"] >= 10, "MediaPipe finds most anime faces once padded"
