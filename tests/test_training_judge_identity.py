"""The style judge (architecture, training on generated images, split, weights round trip) and the
dlib identity measure (distances, retrieval ranks, avatar-eval's judge/identity fields)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.conftest import DATASETS  # noqa: E402
from training import evaluate as ev  # noqa: E402
from training import identity as idm  # noqa: E402
from training import judge as jm  # noqa: E402
from training.testing import make_image_folder  # noqa: E402


def _flat_folder(path: Path, n: int, size: int, seed: int) -> Path:
    """Flat "avatars": one saturated background colour, a disc without outline, no shading."""
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        img = np.zeros((size, size, 3), np.uint8)
        img[:] = rng.integers(0, 256, 3)
        cv2.circle(img, (size // 2, size // 2), size // 3, tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
        cv2.imwrite(str(path / f"f_{i:03d}.png"), img)
    return path


def _classes(tmp: Path, n: int) -> dict[str, list[Path]]:
    dirs = {"photo": make_image_folder(tmp / "photo", n, 40, "A", 0),
            "anime": make_image_folder(tmp / "anime", n, 40, "B", 1),
            "flat": _flat_folder(tmp / "flat", n, 40, 2)}
    return {c: [d] for c, d in dirs.items()}


def test_judge_forward_shape_and_size_budget() -> None:
    model = jm.StyleJudge()
    out = model(torch.zeros(5, 3, 64, 64))
    assert out.shape == (5, 3)
    assert sum(p.numel() for p in model.parameters()) * 4 < 1_000_000  # < 1 MB of float32 weights
    assert model(torch.zeros(2, 3, 96, 96)).shape == (2, 3)  # global pooling: any input size


def test_judge_split_is_the_training_holdout_and_disjoint(tmp_path: Path) -> None:
    from training.data import holdout_split, scan_images

    dirs = _classes(tmp_path, 12)
    small, large = jm.judge_split(dirs, 2, seed=0), jm.judge_split(dirs, 5, seed=0)
    for c in jm.CLASSES:
        train, val = large[c]
        assert not set(train) & set(val) and len(val) == 5
        assert set(small[c][1]) <= set(val)  # a run's val_count held-out images stay held out
        assert val == holdout_split(scan_images(dirs[c]).paths, 5, 0)[1]  # the same rule as avatar-train


def test_judge_split_holds_out_what_a_run_holds_out_despite_a_corrupt_file(tmp_path: Path) -> None:
    """The judge listed folders without decoding, avatar-train with: one corrupt file shifted the
    permutation, so a run on the same folder trained on the judge's held-out photos, and the judge
    held out the corrupt file itself."""
    from training.testing import tiny_config
    from training.trainer import build_split

    photos = make_image_folder(tmp_path / "photos", 10, 40, "A", 0)
    (photos / "a_0035.png").write_bytes(b"not a png")  # sorts among the good ones
    held = jm.judge_split({"photo": [photos]}, 3)["photo"][1]
    run = build_split(tiny_config(tmp_path, data_a=[str(photos)], val_count=3))
    assert held == run.val_a and photos / "a_0035.png" not in held


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "--max-train", "0"], "--max-train must be at least 1 (got 0)"),
    (["train", "--size", "0"], "--size must be at least 16 (got 0)"),
    (["train", "--steps", "0"], "--steps must be at least 1 (got 0)"),
    (["split", "--n-val", "0"], "--n-val must be at least 1 (got 0)"),
])
def test_judge_options_out_of_range_are_one_line(argv: list[str], message: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    """--max-train 0 and --size 0 ended in tracebacks; --steps 0 wrote an untrained judge (exit 0)."""
    ds = tmp_path / "datasets"
    make_image_folder(ds / "selfie2anime" / "trainB", 8, 40, "B", 1)
    _flat_folder(ds / "dicebear", 8, 40, 2)
    photos = make_image_folder(tmp_path / "photos", 8, 40, "A", 0)
    out = tmp_path / "judge"
    rc = jm.main([*argv, "--datasets", str(ds), "--photos", str(photos), "--split-out", str(out),
                  *(["--n-val", "3"] if "--n-val" not in argv else [])])
    assert rc == 2 and capsys.readouterr().err.strip() == f"judge: error: {message}"
    assert not out.exists()


def test_judge_split_command_writes_the_holdout_without_training(tmp_path: Path) -> None:
    ds = tmp_path / "datasets"
    make_image_folder(ds / "selfie2anime" / "trainB", 8, 40, "B", 1)
    _flat_folder(ds / "dicebear", 8, 40, 2)
    photos = make_image_folder(tmp_path / "photos", 8, 40, "A", 0)
    out = tmp_path / "judge"
    assert jm.main(["split", "--datasets", str(ds), "--photos", str(photos), "--split-out", str(out),
                    "--n-val", "3"]) == 0
    split = json.loads((out / "split.json").read_text())
    expected = jm.judge_split({"photo": [photos], "anime": [ds / "selfie2anime" / "trainB"],
                               "flat": [ds / "dicebear"]}, 3, seed=0)
    assert split["val_A"] == [str(x) for x in expected["photo"][1]] and len(split["val_flat"]) == 3
    assert sorted(p.name for p in out.iterdir()) == ["split.json"]


def test_judge_train_writes_beside_its_split_not_over_the_shipped_judge(tmp_path: Path,
                                                                      one_torch_thread: None) -> None:
    """Without --out the weights go to the split's folder (the shipped judge is replaced only when
    --out names its folder)."""
    ds = tmp_path / "datasets"
    make_image_folder(ds / "selfie2anime" / "trainB", 8, 40, "B", 1)
    _flat_folder(ds / "dicebear", 8, 40, 2)
    photos = make_image_folder(tmp_path / "photos", 8, 40, "A", 0)
    shipped = jm.DEFAULT_WEIGHTS.stat().st_mtime_ns
    out = tmp_path / "judge"
    assert jm.main(["train", "--datasets", str(ds), "--photos", str(photos), "--split-out", str(out),
                    "--n-val", "3", "--steps", "2", "--size", "32", "--max-train", "4"]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["split.json", "style_judge.json", "style_judge.safetensors"]
    assert jm.DEFAULT_WEIGHTS.stat().st_mtime_ns == shipped


def test_judge_learns_three_generated_styles_and_round_trips(tmp_path: Path, one_torch_thread: None) -> None:
    split = jm.judge_split(_classes(tmp_path, 40), 10, seed=0)
    train = {c: jm._load(split[c][0], 36) for c in jm.CLASSES}
    val = {c: jm._load(split[c][1], 32) for c in jm.CLASSES}
    untrained = jm.accuracy(jm.StyleJudge(8), val, 32)
    model = jm.train_judge(train, 32, steps=80, batch_per_class=8, width=8)
    acc = jm.accuracy(model, val, 32)
    assert min(acc["per_class"].values()) >= 0.9, (acc, untrained)
    assert np.asarray(acc["confusion"]).sum() == 30
    path = tmp_path / "j.safetensors"
    jm.save_judge(model, 32, path)
    judge = jm.Judge(path)
    assert judge.size == 32 and judge.classes == jm.CLASSES
    assert judge.labels(val["flat"][:3] + val["photo"][:2]) == ["flat"] * 3 + ["photo"] * 2
    with pytest.raises(FileNotFoundError, match="training.judge train"):
        jm.Judge(tmp_path / "missing.safetensors")


def test_shipped_judge_weights_are_small_and_documented() -> None:
    weights = jm.DEFAULT_WEIGHTS
    if not weights.is_file():
        pytest.skip(f"no judge weights at {weights}")
    assert weights.stat().st_size < 1_000_000
    report = json.loads(weights.with_suffix(".json").read_text())
    assert set(report["held_out_accuracy"]["per_class"]) == set(jm.CLASSES)
    assert jm.Judge().probabilities([np.zeros((80, 80, 3), np.uint8)]).shape == (1, 3)


def test_retrieval_ranks_on_synthetic_descriptors() -> None:
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(20, 128))
    dist, ranks = idm.own_ranks(gallery + 0.01 * rng.normal(size=gallery.shape), gallery)
    assert (ranks == 1).all() and dist.max() < 0.2
    shuffled = np.roll(gallery, 1, axis=0)  # query i is gallery i-1: its own entry is never nearest
    dist, ranks = idm.own_ranks(shuffled, gallery)
    assert (ranks > 1).all()
    q = np.array([[0.0, 0.0], [0.0, 0.0]])
    g = np.array([[1.0, 0.0], [0.0, 1.0]])  # both at distance 1 from each query: a tie counts against
    assert idm.own_ranks(q, g)[1].tolist() == [2, 2]
    s = idm.summarize_identity([0.2, 0.7, 0.6, 0.1], [1, 3, 1, 2], gallery=4, detected=[True] * 4)
    assert s["median_distance"] == pytest.approx(0.4) and s["frac_ge_0_6"] == 0.5
    assert s["rank1"] == 0.5 and s["chance"] == 0.25 and s["mean_rank"] == 1.75


def test_judge_identity_fields_per_record_and_group() -> None:
    class FakeJudge:
        def labels(self, images: list[np.ndarray]) -> list[str]:
            return ["anime" if im.mean() > 100 else "photo" for im in images]

    class FakeIdentity:
        def pairs(self, photos: list, cartoons: list) -> tuple[np.ndarray, np.ndarray, list[bool]]:
            d = np.eye(len(photos))
            return d, d[::-1].copy(), [True] * len(photos)

    photos = [np.zeros((8, 8, 3), np.uint8)] * 3
    cartoons = [np.full((8, 8, 3), v, np.uint8) for v in (200, 200, 0)]
    records = [{"group": g} for g in ({"age": "0-12", "gender": "male", "ethnicity": "White"},
                                      {"age": "0-12", "gender": "female", "ethnicity": "White"}, None)]
    ev.add_judge_identity(records, photos, cartoons, FakeJudge(), FakeIdentity())
    s = ev.judge_identity_summary(records, 3)
    assert s["judge"]["cartoon_rate"] == pytest.approx(2 / 3) and s["judge"]["input_photo_rate"] == 1.0
    assert s["identity"]["rank1"] == pytest.approx(1 / 3)  # only the middle cartoon maps to itself
    assert records[1]["identity"] == {"distance": 0.0, "rank": 1, "detected": True}


@pytest.fixture(scope="module")
def face_id() -> idm.FaceIdentity:
    try:
        return idm.FaceIdentity()
    except idm.IdentityError as e:
        pytest.skip(f"dlib identity not testable: {e}")


def _utk(pattern: str, tmp: Path) -> np.ndarray:
    """The app's crop of one UTKFace photo, made by `avatar-train prepare`."""
    from training.data import prepare

    paths = sorted((DATASETS / "utkface").glob(pattern)) if DATASETS.is_dir() else []
    if not paths:
        pytest.skip(f"no UTKFace photo {pattern} under {DATASETS} (../shared absent)")
    src = tmp / "src" / pattern.split("*")[0]
    src.mkdir(parents=True)
    (src / paths[0].name).write_bytes(paths[0].read_bytes())
    prepare([src], tmp / "crops", size=256, progress=False)
    crop = next((tmp / "crops").glob("*.jpg"))
    return cv2.cvtColor(cv2.imread(str(crop)), cv2.COLOR_BGR2RGB)


def test_identity_same_image_vs_different_people(face_id: idm.FaceIdentity, tmp_path: Path) -> None:
    a, b = _utk("30_0_1_*.jpg", tmp_path / "a"), _utk("5_1_2_*.jpg", tmp_path / "b")  # man of 30, girl of 5
    da, dc, found = face_id.pairs([a, b], [a, b])
    assert all(found)  # padded: dlib finds the face in the app's crop
    dist, ranks = idm.own_ranks(dc, da)
    assert dist.max() < 1e-6 and ranks.tolist() == [1, 1]
    assert np.linalg.norm(da[0] - da[1]) > idm.SAME_PERSON
    blank = np.full_like(a, 128)
    _, d_blank, _ = face_id.pairs([a], [blank])  # no face where the photo had one: far away
    assert np.linalg.norm(da[0] - d_blank[0]) > idm.SAME_PERSON


def test_face_box_of_the_app_crop() -> None:
    left, top, right, bottom = idm.crop_face_box(160)
    assert right - left == 100 and (left + right) / 2 == 80 and (top + bottom) / 2 > 80  # hair above
