"""Expression augmentation of mesh pairs: the edits move landmarks and pixels together, and the
app's own Face Mesh reads the edited expression back from the pixels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.expression import ExpressionAnalyzer, measures_from_landmarks
from avatar_cam.mesh_drawing import (
    LEFT_BROW,
    LEFT_EYE,
    LIPS_INNER,
    RIGHT_BROW,
    RIGHT_EYE,
    crop_landmarks,
    draw_face_mesh,
)
from training.expression_aug import (
    _LOWER_INNER,
    _UPPER_INNER,
    ExpressionAugConfig,
    augment_expression,
    close_eyes,
    look,
    move_brows,
    open_mouth,
    pitch_head,
    redraw_brows,
    redraw_eyes,
    redraw_mouth,
)

DemoCrop = Callable[[float], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def demo_pair(demo_crop: DemoCrop) -> tuple[np.ndarray, np.ndarray]:
    """(RGB crop, landmarks in the crop) of the demo face with its mouth shut."""
    crop, lm = demo_crop(3.5)  # the demo person faces the camera, eyes open, mouth shut
    return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), lm


def _read_back(rgb: np.ndarray) -> np.ndarray:
    with ExpressionAnalyzer() as a:
        lm = crop_landmarks(a, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert lm is not None, "Face Mesh lost the face in the edited crop"
    return lm


def _inside(lm: np.ndarray, idx: list[int], size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [np.round(lm[idx, :2]).astype(np.int32)], 255)
    return cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0


def test_open_mouth_moves_landmarks_and_pixels_together(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    before = measures_from_landmarks(lm)
    out, new = open_mouth(rgb, lm, 0.4, np.random.default_rng(0))
    after = measures_from_landmarks(new)
    assert after.mouth_open > before.mouth_open + 0.3, (before.mouth_open, after.mouth_open)
    upper = [13, 82, 312, 10, 1, 33, 263]  # upper lip, forehead, nose, eyes stay put
    assert np.allclose(new[upper], lm[upper])
    assert new[152, 1] > lm[152, 1] + 5  # the chin drops with the jaw
    inside = _inside(new, LIPS_INNER, 128)
    assert inside.sum() > 30 and out[inside].mean() < 80  # a dark opening where the mesh says
    # the app's Face Mesh reads the opened mouth from the pixels alone
    read = measures_from_landmarks(_read_back(out))
    assert read.mouth_open > measures_from_landmarks(_read_back(rgb)).mouth_open + 0.15, read.mouth_open


def test_close_eyes_shuts_the_lids_and_paints_skin(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    out, new = close_eyes(rgb, lm, (1.0, 0.0))
    r, l0, l1 = measures_from_landmarks(new).eye_open[0], *measures_from_landmarks(lm).eye_open
    assert r < 0.1 < l0 and measures_from_landmarks(new).eye_open[1] == pytest.approx(l1)
    eye = _inside(lm, RIGHT_EYE, 128)
    cheek = rgb[int(lm[205, 1]), int(lm[205, 0])].astype(float)
    assert np.abs(out[eye].astype(float).mean(0) - cheek).max() < 40  # the eye is skin now
    assert np.array_equal(out[:, 64:], rgb[:, 64:])  # the left eye (image right) untouched
    read = measures_from_landmarks(_read_back(out)).eye_open
    assert read[0] < 0.6 * measures_from_landmarks(_read_back(rgb)).eye_open[0], read


def test_redrawn_mouth_follows_the_landmarks_only(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    shut = lm.copy()
    seam = (lm[_UPPER_INNER, 1].mean() + lm[_LOWER_INNER, 1].mean()) / 2
    shut[_UPPER_INNER + _LOWER_INNER, 1] = seam  # the inner lips meet
    _, opened = open_mouth(rgb, lm, 0.4, np.random.default_rng(0))
    mouth = _inside(opened, LIPS_INNER, 128)
    drawn_open, drawn_shut = redraw_mouth(rgb, opened), redraw_mouth(rgb, shut)
    assert drawn_open[mouth].mean() < 80 < drawn_shut[mouth].mean()  # dark only where the lips part
    assert np.array_equal(drawn_open[:40], rgb[:40])  # eyes and above untouched
    # Face Mesh reads the drawn mouths as drawn
    assert (measures_from_landmarks(_read_back(drawn_open)).mouth_open
            > measures_from_landmarks(_read_back(drawn_shut)).mouth_open + 0.2)


@pytest.mark.parametrize("wink", [0.0, 1.0])
def test_wink_share_decides_one_eye_or_both(demo_pair: tuple[np.ndarray, np.ndarray], wink: float) -> None:
    rgb, lm = demo_pair
    before = measures_from_landmarks(lm).eye_open
    cfg = ExpressionAugConfig(mouth=0.0, eyes=1.0, wink=wink, redraw=0.0)
    for seed in range(6):
        _, new = augment_expression(rgb, lm, np.random.default_rng(seed), cfg)
        after = measures_from_landmarks(new).eye_open
        shut = [a < 0.8 * b for a, b in zip(after, before, strict=True)]
        assert sum(shut) == (1 if wink else 2), (seed, shut)


def test_no_edit_drawn_leaves_the_pair_alone(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    nothing = ExpressionAugConfig(mouth=0.0, eyes=0.0, redraw=0.0)
    out, new = augment_expression(rgb, lm, np.random.default_rng(0), nothing)
    assert np.array_equal(out, rgb) and np.array_equal(new, lm)


def test_redrawn_eyes_look_where_the_moved_irises_are(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    left, right = look(lm, -0.25, 0.0), look(lm, 0.25, 0.0)
    assert measures_from_landmarks(right).gaze[0] - measures_from_landmarks(left).gaze[0] > 0.3
    assert np.array_equal(left[:468], lm[:468])  # only the irises move
    drawn_left, drawn_right = redraw_eyes(rgb, left), redraw_eyes(rgb, right)
    assert np.array_equal(drawn_left[90:], rgb[90:])  # the mouth and chin untouched
    # the app's Face Mesh reads the drawn gaze from the pixels
    assert (measures_from_landmarks(_read_back(drawn_right)).gaze[0]
            - measures_from_landmarks(_read_back(drawn_left)).gaze[0]) > 0.1
    # a shut eye is drawn shut: no white left between the lids
    _, shut = close_eyes(rgb, lm, (1.0, 1.0))

    def whites(img: np.ndarray) -> int:
        return int((img[30:80].min(-1) >= 245).sum())

    assert whites(redraw_eyes(rgb, shut)) == 0 < whites(redraw_eyes(rgb, lm))


def test_a_covered_eye_takes_a_large_cartoon_eyes_lower_half(
        demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    """An anime eye sits lower than Face Mesh's outline of it, and its lower half joins the fringe
    through the lashes: the blobs leave it under the redrawn eye; the ellipse takes it."""
    rgb, lm = demo_pair
    eye = lm[RIGHT_EYE, :2]
    centre, width = eye.mean(0), float(np.ptp(eye[:, 0]))
    drawn = rgb.copy()
    low = (round(centre[0]), round(centre[1] + 0.45 * width))
    cv2.circle(drawn, low, round(0.22 * width), (90, 40, 120), -1)  # the big iris's lower half
    cv2.line(drawn, low, (low[0] - round(0.5 * width), 0), (90, 40, 120), 2)  # lashes to the fringe
    blob = np.zeros(rgb.shape[:2], np.uint8)
    cv2.circle(blob, low, round(0.15 * width), 255, -1)

    def purple(img: np.ndarray) -> float:
        return float((np.abs(img[blob > 0].astype(int) - (90, 40, 120)).max(-1) < 30).mean())

    assert purple(redraw_eyes(drawn, lm)) > 0.5  # the blobs alone leave it
    covered = redraw_eyes(drawn, lm, 2.0)
    assert purple(covered) == 0.0
    assert np.array_equal(covered[:5], drawn[:5])  # the fringe above the face is not painted over
    assert np.array_equal(covered[100:], drawn[100:])  # nor the mouth and chin
    assert np.array_equal(redraw_eyes(rgb, lm, 0.0), redraw_eyes(rgb, lm))


def test_brows_move_with_their_landmarks_and_the_eyes_stay(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    up, lm_up = move_brows(rgb, lm, (-0.05, -0.05))
    down, lm_down = move_brows(rgb, lm, (0.05, 0.05))
    width = np.linalg.norm(lm[234, :2] - lm[454, :2])
    for new, sign in ((lm_up, -1), (lm_down, 1)):
        moved = sign * (new[RIGHT_BROW + LEFT_BROW, 1] - lm[RIGHT_BROW + LEFT_BROW, 1])
        # the brows as a whole by 2% of the face's width or more (the warp is held to a third of
        # the brow-to-lid gap), each point of them at least half that (the fade below the brow)
        assert moved.mean() > 0.02 * width and np.all(moved > 0.01 * width), moved
        assert np.allclose(new[RIGHT_EYE + LEFT_EYE + LIPS_INNER], lm[RIGHT_EYE + LEFT_EYE + LIPS_INNER],
                           atol=0.05)
    assert np.array_equal(up[int(lm[LIPS_INNER, 1].min()):], rgb[int(lm[LIPS_INNER, 1].min()):])
    # the drawn brows (dark pixels above the eyes) move as far as their landmarks
    top, eyes = int(lm[RIGHT_BROW, 1].min()) - 8, int(lm[RIGHT_EYE, 1].min()) - 1
    x0, x1 = int(lm[RIGHT_BROW, 0].min()), int(lm[RIGHT_BROW, 0].max())

    def brow_y(img: np.ndarray) -> float:
        ys = np.nonzero(img[top:eyes, x0:x1].max(-1) < 100)[0]
        return float(ys.mean()) + top

    for img, new in ((up, lm_up), (down, lm_down)):
        shift = (new[RIGHT_BROW, 1] - lm[RIGHT_BROW, 1]).mean()
        assert brow_y(img) - brow_y(rgb) == pytest.approx(shift, abs=0.35 * abs(shift))


def test_redrawn_brows_follow_the_landmarks_only(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    x0, x1 = int(lm[RIGHT_BROW, 0].min()) + 2, int(lm[RIGHT_BROW, 0].max()) - 2
    top, eyes = int(lm[RIGHT_BROW, 1].min()) - 10, int(lm[RIGHT_EYE, 1].min()) - 1

    def brow_y(img: np.ndarray) -> float:
        ys = np.nonzero(img[top:eyes, x0:x1].max(-1) < 100)[0]
        return float(ys.mean()) + top

    for dy in (-3.0, 0.0):
        moved = lm.copy()
        moved[RIGHT_BROW + LEFT_BROW, 1] += dy  # the landmarks move, the drawn brows do not
        drawn = redraw_brows(rgb, moved)
        assert brow_y(drawn) == pytest.approx(moved[RIGHT_BROW, 1].mean(), abs=1.0)
        below = int(lm[RIGHT_EYE, 1].mean()) + 1
        assert np.array_equal(drawn[below:], rgb[below:])  # the eyes' lower half and below untouched


def test_pitch_moves_the_middle_of_the_face_not_its_ends(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    down, lm_down = pitch_head(rgb, lm, 12.0)
    up, lm_up = pitch_head(rgb, lm, -12.0)
    nose = 1
    move = lm_down[nose, 1] - lm[nose, 1]
    assert move > 2 and lm_up[nose, 1] - lm[nose, 1] == pytest.approx(-move)
    assert abs(lm_down[10, 1] - lm[10, 1]) < 0.5 * move and abs(lm_down[152, 1] - lm[152, 1]) < 0.5 * move
    assert np.array_equal(lm_down[:, 0], lm[:, 0])  # vertical only
    pitch = (measures_from_landmarks(_read_back(down)).pitch, measures_from_landmarks(_read_back(up)).pitch)
    assert abs(pitch[0] - pitch[1]) > 5, pitch  # Face Mesh reads a turned head


def test_new_edits_at_chance_zero_draw_no_random_number(demo_pair: tuple[np.ndarray, np.ndarray]) -> None:
    rgb, lm = demo_pair
    rng, same = np.random.default_rng(7), np.random.default_rng(7)
    augment_expression(rgb, lm, rng, ExpressionAugConfig(mouth=0.0, eyes=0.0, redraw=0.0))
    same.random(3)  # mouth, redraw and eyes: the draws of recipes made before these edits
    assert rng.random() == same.random()
    cfg = ExpressionAugConfig(mouth=0.0, eyes=0.0, brows=1.0, pitch=1.0, eye_redraw=1.0, gaze=1.0,
                              brow_redraw=1.0)
    out, new = augment_expression(rgb, lm, np.random.default_rng(0), cfg)
    assert not np.array_equal(out, rgb) and not np.allclose(new, lm)


torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder prepared by `python -m training.mesh_pairs` from demo faces."""
    from avatar_cam.demo import draw_demo_face
    from training.mesh_pairs import prepare_mesh_pairs

    root = tmp_path_factory.mktemp("expr")
    (root / "in").mkdir()
    for i, t in enumerate((0.0, 0.7, 1.4, 2.1)):
        cv2.imwrite(str(root / "in" / f"face{i}.png"), draw_demo_face(t, (320, 240)))
    report = prepare_mesh_pairs([root / "in"], root / "out", size=64, progress=False)
    assert report["written"] == 4
    return root / "out"


def test_edited_batches_pair_each_cartoon_with_its_edited_mesh(prepared: Path) -> None:
    from training.data import AugmentConfig, UnpairedSteps, landmarks_path_for, scan_images
    from training.expression_aug import augment_expression as edit

    crops = scan_images([prepared / "crops"]).paths
    photos = scan_images([prepared / "meshes"]).paths
    plain = AugmentConfig(flip=False, min_scale=1.0, max_aspect=1.0, jitter=0.0)
    cfg = ExpressionAugConfig(mouth=1.0, eyes=0.0)
    ds = UnpairedSteps(photos, crops, 64, 2, 4, seed=3, aug=plain, with_mesh=True, expression=cfg)
    batch = ds[1]
    assert set(batch) == {"A", "B", "M"}
    for j in range(2):
        p = crops[ds.index("B", 1, j)]
        lm = np.load(landmarks_path_for(p))
        rgb = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        want, moved = edit(rgb, lm, np.random.default_rng([3, 5, 1, j]), cfg)
        mesh = cv2.cvtColor(draw_face_mesh(moved, 64), cv2.COLOR_BGR2RGB)
        got_b = ((batch["B"][j].permute(1, 2, 0).numpy() + 1) * 127.5).round()
        got_m = ((batch["M"][j].permute(1, 2, 0).numpy() + 1) * 127.5).round()
        assert np.abs(got_b - want).max() <= 1 and np.abs(got_m - mesh).max() <= 1
        assert not np.array_equal(mesh, cv2.cvtColor(cv2.imread(str(prepared / "meshes" / f"{p.stem}.png")),
                                                     cv2.COLOR_BGR2RGB))  # drawn anew, mouth open
    again = ds[1]
    assert all(torch.equal(batch[k], again[k]) for k in batch)  # a step's batch is reproducible


def test_expression_needs_landmarks_and_mesh_model(prepared: Path, tmp_path: Path) -> None:
    from training.data import DataError, UnpairedSteps, scan_images
    from training.options import ConfigError
    from training.testing import tiny_config

    bare = tmp_path / "crops"
    bare.mkdir()
    for p in (prepared / "crops").iterdir():
        (bare / p.name).write_bytes(p.read_bytes())
    with pytest.raises(DataError, match="landmarks"):
        UnpairedSteps(scan_images([prepared / "meshes"]).paths, scan_images([bare]).paths, 64, 2, 4,
                      with_mesh=True, expression=ExpressionAugConfig())
    with pytest.raises(ConfigError, match="mesh-conditioned"):
        tiny_config(tmp_path, "content-invariant", expression_mouth=0.5).validate()
    with pytest.raises(ConfigError, match="chances"):
        tiny_config(tmp_path, "mesh-conditioned", expression_eyes=1.5).validate()
    with pytest.raises(ConfigError, match="mesh-conditioned"):
        tiny_config(tmp_path, "cyclegan", mouth_redraw=1.0).validate()
    with pytest.raises(ConfigError, match="mesh-conditioned"):
        tiny_config(tmp_path, "content-invariant", eye_redraw=1.0).validate()
    with pytest.raises(ConfigError, match="chances"):
        tiny_config(tmp_path, "mesh-conditioned", expression_gaze=2.0).validate()
    with pytest.raises(ConfigError, match="eye_cover must be >= 0"):
        tiny_config(tmp_path, "mesh-conditioned", eye_cover=-1.0).validate()
