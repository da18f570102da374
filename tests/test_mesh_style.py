"""The mesh-conditioned style: the mesh drawing, pair preparation, paired batches, the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.expression import ExpressionAnalyzer
from avatar_cam.face import FaceDetector
from avatar_cam.mesh_drawing import (
    EYE,
    EYE_SCALE,
    LEFT_IRIS,
    LIPS_INNER,
    MOUTH,
    PUPIL,
    RIGHT_EYE,
    RIGHT_IRIS,
    draw_face_mesh,
    face_from_landmarks,
)

DemoCrop = Callable[[float], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def demo_landmarks(demo_crop: DemoCrop) -> tuple[np.ndarray, np.ndarray]:
    """(crop, landmarks in the crop) of the generated demo face, found the app's way."""
    return demo_crop(3.5)  # the demo person faces the camera, eyes open, mouth shut


def _colour_area(img: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(img.astype(int) - colour) < 30, axis=-1).sum())


def test_drawing_shows_the_mouth_opening(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = demo_landmarks
    closed = lm.copy()
    inner = np.array(LIPS_INNER)
    closed[inner, 1] = lm[inner, 1].mean()  # inner lips on one line: mouth shut
    opened = lm.copy()
    lower = np.array(LIPS_INNER[1:10])  # the inner lower lip, corner (78) to corner (308) exclusive
    opened[lower, 1] += 12
    a_closed = _colour_area(draw_face_mesh(closed, 128), MOUTH)
    a_open = _colour_area(draw_face_mesh(opened, 128), MOUTH)
    assert a_open > 100 and a_closed < a_open / 6, (a_closed, a_open)  # a closed mouth is a thin line


def test_drawing_shows_a_closed_eye(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    _, lm = demo_landmarks
    shut = lm.copy()
    eye = np.array(RIGHT_EYE)
    shut[eye, 1] = lm[eye, 1].mean()
    shut[468:473, :2] = lm[eye, :2].mean(0)  # the iris collapses onto the lid line too
    open_img, shut_img = draw_face_mesh(lm * 2, 256), draw_face_mesh(shut * 2, 256)
    # the right eye lies in the image-left half; its white vanishes when it closes
    white = _colour_area(open_img[:, :128], EYE), _colour_area(shut_img[:, :128], EYE)
    assert white[0] > 40 and white[1] < white[0] / 3, white  # a shut eye is a thin lid line


def test_drawing_shows_where_the_irises_look(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    """Irises (with pupils) inside eyes drawn `EYE_SCALE` times the mesh's outline: a gaze shift
    of a tenth of an eye width moves the drawn pupil by more than a pixel at 128 px."""
    _, lm = demo_landmarks
    width = np.linalg.norm(lm[133, :2] - lm[33, :2])
    looked = lm.copy()
    looked[468:478, 0] += 0.1 * width

    def pupil_x(img: np.ndarray) -> float:
        ys, xs = np.nonzero(np.all(np.abs(img[:, :64].astype(int) - PUPIL) < 30, axis=-1))
        return float(xs.mean())

    shift = pupil_x(draw_face_mesh(looked, 128)) - pupil_x(draw_face_mesh(lm, 128))
    assert shift == pytest.approx(EYE_SCALE * 0.1 * width, abs=0.5) and shift > 1.0


def test_motion_gain_scales_gaze_brows_and_nods_about_a_running_average(
        demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    from avatar_cam.expression import measures_from_landmarks
    from avatar_cam.mesh_drawing import LEFT_BROW, LEFT_EYE, RIGHT_BROW, RIGHT_EYE, nod_field
    from avatar_cam.mesh_style import EYE_CORNERS, MotionGain

    _, lm = demo_landmarks
    irises = list(range(468, 478))

    def offsets(points: np.ndarray) -> np.ndarray:  # each iris along its own eye's axis, eye widths
        found = []
        for iris, (outer, inner) in zip((RIGHT_IRIS, LEFT_IRIS), EYE_CORNERS, strict=True):
            axis = points[inner, :2] - points[outer, :2]
            centre = (points[outer, :2] + points[inner, :2]) / 2
            found.append(float((points[iris[0], :2] - centre) @ axis / np.linalg.norm(axis) ** 2))
        return np.array(found)

    def along_eyes(points: np.ndarray, by: float) -> np.ndarray:  # irises moved `by` eye widths
        moved = points.copy()
        for iris, (outer, inner) in zip((RIGHT_IRIS, LEFT_IRIS), EYE_CORNERS, strict=True):
            moved[iris, :2] += by * (points[inner, :2] - points[outer, :2])
        return moved

    # a still: irises twice as far from each eye's centre, nothing else moves
    still = MotionGain(still_gaze=2.0)(lm)
    assert offsets(still) == pytest.approx(2 * offsets(lm), abs=1e-9)
    assert np.allclose(np.delete(still, irises, 0), np.delete(lm, irises, 0))

    # the first frame stays the average
    gain = MotionGain(gaze=3.0, pitch=3.0, brows=2.0, neutral_s=1e6, limit=0.3)
    first = gain(lm, 0.0)  # drawn as it is, the irises only pulled softly towards the eye's middle
    assert np.allclose(np.delete(first, irises, 0), np.delete(lm, irises, 0))
    assert offsets(first) == pytest.approx(0.3 * np.tanh(offsets(lm) / 0.3), abs=1e-9)
    looked = gain(along_eyes(lm, 0.04), 1 / 30)  # a glance: its departure drawn three times, saturating
    assert offsets(looked) == pytest.approx(0.3 * np.tanh((offsets(lm) + 3 * 0.04) / 0.3), abs=1e-6)
    assert (offsets(looked) - offsets(first) > 2.5 * 0.04).all()

    raised = lm.copy()
    raised[RIGHT_BROW + LEFT_BROW, 1] -= 1.5  # both brows up 1.5 px on a level face
    drawn = gain(raised, 2 / 30)
    assert np.allclose(drawn[RIGHT_BROW + LEFT_BROW, 1] - lm[RIGHT_BROW + LEFT_BROW, 1], -3.0, atol=0.05)

    gain = MotionGain(gaze=1.0, pitch=3.0, brows=1.0, neutral_s=1e6, limit=1e6)  # nods alone
    rest = measures_from_landmarks(lm)
    gain(lm, 0.0)
    a = np.radians(4.0)  # the head tips back: Face Mesh's pitch rises
    cy, cz = lm[:, 1].mean(), lm[:, 2].mean()
    nodded = lm.copy()
    nodded[:, 1] = cy + (lm[:, 1] - cy) * np.cos(a) + (lm[:, 2] - cz) * np.sin(a)
    nodded[:, 2] = cz - (lm[:, 1] - cy) * np.sin(a) + (lm[:, 2] - cz) * np.cos(a)
    departure = measures_from_landmarks(nodded).pitch - rest.pitch
    assert departure > 1.0
    drawn = gain(nodded, 1 / 30)
    moved = drawn[:, 1] - nodded[:, 1]
    want = nod_field(nodded, -2.0 * departure)(nodded[:, 0], nodded[:, 1])
    nose, chin = 1, 152
    assert moved[[nose, chin]] == pytest.approx(want[[nose, chin]], abs=1e-6)
    assert moved[nose] < -1.0  # the middle of the face drawn further up
    assert abs(moved[chin]) < 0.5 * abs(moved[nose])
    eyes = (RIGHT_EYE + RIGHT_IRIS + RIGHT_BROW, LEFT_EYE + LEFT_IRIS + LEFT_BROW)
    for part, corners in zip(eyes, EYE_CORNERS, strict=True):
        # each eye's lids, iris and brow move as one with its corners: a nod is not a blink or a raise
        assert np.allclose(moved[part], want[list(corners)].mean(), atol=1e-6)


def test_drawing_depends_only_on_landmarks(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    crop, lm = demo_landmarks
    d = draw_face_mesh(lm, 128)
    assert d.shape == (128, 128, 3) and d.dtype == np.uint8
    assert np.array_equal(d, draw_face_mesh(lm.copy(), 128))
    assert not np.array_equal(d, draw_face_mesh(lm + [3, 0, 0], 128))
    with pytest.raises(ValueError, match="478"):
        draw_face_mesh(lm[:100], 128)


def test_face_from_landmarks_frames_like_the_detector(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    from avatar_cam.demo import draw_demo_face

    img = draw_demo_face(0.4)
    det = FaceDetector()
    face = det.detect(img)[0]
    det.close()
    with ExpressionAnalyzer() as a:
        lm = a.landmarks(img)
    mesh_face = face_from_landmarks(lm)
    (x, y, w, h), (mx, my, mw, mh) = face.box, mesh_face.box
    assert abs(mw - w) < 0.2 * w and abs(mh - h) < 0.25 * h
    assert abs((mx + mw / 2) - (x + w / 2)) < 0.1 * w and abs((my + mh / 2) - (y + h / 2)) < 0.15 * h
    assert np.linalg.norm(mesh_face.eyes[0] - face.eyes[0]) < 0.1 * w


def test_prepare_mesh_pairs_writes_pairs_and_lists_misses(tmp_path: Path) -> None:
    from avatar_cam.demo import draw_demo_face
    from training.mesh_pairs import main

    src = tmp_path / "in"
    src.mkdir()
    for i, t in enumerate((0.1, 0.5, 0.9)):
        cv2.imwrite(str(src / f"face{i}.png"), draw_demo_face(t, (320, 240)))
    cv2.imwrite(str(src / "blank.png"), np.full((200, 200, 3), 120, np.uint8))
    out = tmp_path / "out"
    assert main([str(src), "--out", str(out), "--size", "64", "--no-progress"]) == 0
    report = json.loads((out / "mesh_pairs.json").read_text())
    assert report["written"] == 3 and [Path(p).name for p in report["no_face"]] == ["blank.png"]
    crops = sorted(p.name for p in (out / "crops").iterdir())
    meshes = sorted(p.name for p in (out / "meshes").iterdir())
    assert crops == [f"face{i}.jpg" for i in range(3)] and meshes == [f"face{i}.png" for i in range(3)]
    assert cv2.imread(str(out / "meshes" / "face0.png")).shape == (64, 64, 3)
    assert main([str(tmp_path / "nope"), "--out", str(out)]) == 2


torch = pytest.importorskip("torch")


def _paired_folder(root: Path, n: int = 6) -> Path:
    from training.testing import make_image_folder

    crops = make_image_folder(root / "crops", n, 48, "B", 1)
    make_image_folder(root / "meshes", n, 48, "A", 2)
    for p in (root / "meshes").iterdir():  # same names as the crops
        p.rename(p.with_name(p.name.replace("a_", "b_")))
    return crops


def test_mesh_batches_stay_paired_through_augmentation(tmp_path: Path) -> None:
    from training.data import AugmentConfig, UnpairedSteps, mesh_path_for, scan_images
    from training.testing import make_image_folder

    crops = _paired_folder(tmp_path)
    for p in scan_images([crops]).paths:  # meshes identical to their crops: pairs must match exactly
        mesh_path_for(p).write_bytes(Path(p).read_bytes())
    photos = make_image_folder(tmp_path / "photos", 5, 48, "A", 3)
    ds = UnpairedSteps(scan_images([photos]).paths, scan_images([crops]).paths, 32, 3, 10, seed=4,
                       aug=AugmentConfig(flip=True, min_scale=0.5, jitter=0.2), with_mesh=True)
    for step in range(4):
        batch = ds[step]
        assert set(batch) == {"A", "B", "M"}
        assert torch.equal(batch["B"], batch["M"]), step


def test_mesh_conditioned_trains_exports_and_learns(tmp_path: Path, one_torch_thread: None) -> None:
    from training.checkpoint import load_for_export
    from training.data import UnpairedSteps, scan_images
    from training.models import create_model
    from training.testing import tiny_config
    from training.trainer import train

    crops = _paired_folder(tmp_path / "pairs")
    cfg = tiny_config(tmp_path, "mesh-conditioned", "light", steps=3, sample_every=2, save_every=2)
    cfg.data_b = [str(crops)]
    run = train(cfg)
    model, loaded, step = load_for_export(run)
    assert step == 3 and loaded.model == "mesh-conditioned"
    meta = model.export_metadata()
    assert meta["kind"] == "mesh-conditioned" and meta["input"] == "face_mesh_drawing"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        y = model.generator_for_export()(x)
    assert y.shape == x.shape and y.abs().max() <= 1
    # the paired path alone learns: the reconstruction loss halves in 60 steps
    torch.manual_seed(0)
    cfg2 = tiny_config(tmp_path / "overfit", "mesh-conditioned", "light", lr=1e-3, pool_size=0,
                       lambda_gan=0.0)
    cfg2.data_b = [str(crops)]
    m = create_model(cfg2).train()
    ds = UnpairedSteps(scan_images(cfg2.data_a).paths[:2], scan_images(cfg2.data_b).paths[:2], 32, 2, 1,
                       with_mesh=True)
    ds.aug = type(ds.aug)(flip=False, min_scale=1.0, max_aspect=1.0, jitter=0.0)
    batch = ds[0]
    hist = [m.step(batch)["rec"] for _ in range(60)]
    assert np.mean(hist[-5:]) < 0.5 * np.mean(hist[:5]), (hist[:5], hist[-5:])


def test_exported_mesh_style_runs_on_the_drawing_in_the_app(tmp_path: Path, one_torch_thread: None,
                                                             demo_face: np.ndarray) -> None:
    from avatar_cam.align import warp_crop
    from avatar_cam.frame import Frame
    from avatar_cam.mesh_style import MeshStylizer
    from avatar_cam.pipeline import Pipeline, PipelineConfig
    from avatar_cam.renderers import make_renderer
    from avatar_cam.styles import load_style, takes_mesh
    from export.cli import main as export_main
    from training.evaluate import style_generator
    from training.testing import tiny_config
    from training.trainer import train

    crops = _paired_folder(tmp_path / "pairs")
    cfg = tiny_config(tmp_path, "mesh-conditioned", "light", steps=2)
    cfg.data_b = [str(crops)]
    out = tmp_path / "mesh.onnx"
    assert export_main(["--onnx", "--run", str(train(cfg)), "--out", str(out), "--size", "128"]) == 0
    info = load_style(out)
    assert info.kind == "mesh-conditioned" and takes_mesh(info)
    st = make_renderer(info, "cpu", 1)
    assert isinstance(st, MeshStylizer) and st.needs_landmarks
    pipe = Pipeline(info, PipelineConfig(provider="cpu", threads=1))
    frame = pipe.process(Frame(demo_face.copy(), 0, 0.0))
    assert frame.fallback is None and frame.cartoon is not None and frame.cartoon.shape == (128, 128, 3)
    # the generator saw the drawing of the pipeline's crop landmarks, not the crop
    assert frame.landmarks is not None
    drawing = np.ascontiguousarray(draw_face_mesh(frame.landmarks, 128)[..., ::-1])
    assert np.array_equal(frame.cartoon, st.stylizer(drawing))
    assert frame.crop is None, "no crop pixels are cut for a style that never reads them"
    other = Frame(np.zeros_like(demo_face), 1, 0.0)  # any camera pixels behind the same landmarks
    other.crop = np.random.default_rng(0).integers(0, 255, (128, 128, 3), np.uint8)
    other.landmarks = frame.landmarks
    assert np.array_equal(st.render(other), frame.cartoon)
    blank = pipe.process(Frame(np.full_like(demo_face, 90), 1, 0.04))
    assert blank.fallback == "no_face"
    run, size, desc = style_generator(str(out))
    assert size == 128 and "face mesh" in desc
    # avatar-eval draws the mesh of the crop found on its own (static Face Mesh); same drawing here
    crop = np.ascontiguousarray(warp_crop(demo_face, frame.crop_matrix, 128)[..., ::-1])
    evaluated = run(crop).astype(int)  # rounds where the app truncates
    assert np.abs(evaluated - st.preview(crop)).max() <= 1


def test_compact_checkpoint_resumes_and_is_small(tmp_path: Path, one_torch_thread: None) -> None:
    import shutil

    from training.checkpoint import load_for_export
    from training.compact import main as compact_main
    from training.testing import tiny_config
    from training.trainer import train

    crops = _paired_folder(tmp_path / "pairs")
    cfg = tiny_config(tmp_path, "mesh-conditioned", "light", steps=3, save_every=3)
    cfg.data_b = [str(crops)]
    run = train(cfg)
    full = sum(p.stat().st_size for p in (run / "checkpoints").glob("latest.*"))
    out = tmp_path / "compact"
    assert compact_main([str(run), "--out", str(out)]) == 0
    assert (out / "metrics.jsonl").read_text() == (run / "metrics.jsonl").read_text()  # cards need it
    small = sum(p.stat().st_size for p in (out / "checkpoints").glob("latest.*"))
    assert small < 0.45 * full, (small, full)
    (m0, _, s0), (m1, _, s1) = load_for_export(run), load_for_export(out)
    assert s0 == s1 == 3
    for (k, a), b in zip(m0.state_dict().items(), m1.state_dict().values(), strict=True):
        assert b.dtype == a.dtype and torch.allclose(a.float(), b.float(), atol=2e-3, rtol=2e-3), k
    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    cfg2 = tiny_config(tmp_path, "mesh-conditioned", "light", steps=5, save_every=5)
    cfg2.data_b, cfg2.out = [str(crops)], str(resumed)
    train(cfg2, resume=True)
    assert json.loads((resumed / "checkpoints" / "latest.json").read_text())["step"] == 5
    assert compact_main([str(tmp_path / "nothing"), "--out", str(out)]) == 2
    assert compact_main([str(run), "--out", str(out)]) == 0  # an earlier compact copy is replaced
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 3
    assert not (tmp_path / "compact.part").exists()
    # never over the run itself, a folder inside it, or a folder holding anything else
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "mine.txt").write_text("keep")
    listing = sorted(p.relative_to(run) for p in run.rglob("*"))
    for target in (run, run / "checkpoints", notes, resumed, run / "train.log"):
        assert compact_main([str(run), "--out", str(target)]) == 2, target
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == listing
    assert (notes / "mine.txt").read_text() == "keep" and (resumed / "train.log").exists()


def test_feature_mask_covers_eyes_brows_and_mouth_only(demo_landmarks: tuple[np.ndarray, np.ndarray]) -> None:
    from training.models.mesh_conditioned import feature_mask

    _, lm = demo_landmarks
    drawing = draw_face_mesh(lm, 128)
    t = torch.from_numpy(drawing[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    mask = feature_mask(t, grow=2)[0, 0].numpy()
    for i in (13, 14, 61, 291, 159, 386, 468, 473, 105, 334):  # lips, eye lids, irises, brows
        x, y = np.round(lm[i, :2]).astype(int)
        assert mask[y, x] == 1, i
    for i in (234, 454, 152, 10):  # cheeks, chin, forehead edge: face oval only
        x, y = np.round(lm[i, :2] + (lm[1, :2] - lm[i, :2]) * 0.1).astype(int)
        assert mask[y, x] == 0, i
    assert mask[:5, :5].sum() == 0 and 0.03 < mask.mean() < 0.4, mask.mean()


def test_style_lowpass_hides_detail_from_the_style_code(tmp_path: Path, one_torch_thread: None) -> None:
    from training.models import create_model
    from training.testing import tiny_config

    y = torch.rand(2, 3, 32, 32) * 2 - 1
    shuffled = y.clone()  # pixels permuted inside each 8x8 block: same block means, other detail
    blocks = shuffled.unfold(2, 8, 8).unfold(3, 8, 8).reshape(2, 3, 4, 4, 64)
    blocks = blocks[..., torch.randperm(64)].reshape(2, 3, 4, 4, 8, 8)
    shuffled = blocks.permute(0, 1, 2, 4, 3, 5).reshape(2, 3, 32, 32)
    codes = {}
    for k in (0, 8):
        cfg = tiny_config(tmp_path / str(k), "mesh-conditioned", "light", style_lowpass=k)
        m = create_model(cfg).eval()
        with torch.no_grad():
            codes[k] = (m.Es(y), m.Es(shuffled), m.style_encoder_for_export()(shuffled))
    assert not torch.allclose(codes[0][0], codes[0][1], atol=1e-4)  # full view: detail changes the code
    assert torch.allclose(codes[8][0], codes[8][1], atol=1e-5)
    assert torch.allclose(codes[8][1], codes[8][2], atol=1e-5)  # the exported encoder pools too


def test_features_loss_is_reported_and_trains(tmp_path: Path, one_torch_thread: None) -> None:
    from training.data import UnpairedSteps, scan_images
    from training.models import create_model
    from training.testing import tiny_config

    crops = _paired_folder(tmp_path / "pairs")
    torch.manual_seed(0)
    cfg = tiny_config(tmp_path, "mesh-conditioned", "light", lambda_features=5.0, style_lowpass=4,
                      lr=1e-3, pool_size=0, lambda_gan=0.0)
    cfg.data_b = [str(crops)]
    m = create_model(cfg).train()
    ds = UnpairedSteps(scan_images(cfg.data_a).paths[:2], scan_images(cfg.data_b).paths[:2], 32, 2, 1,
                       with_mesh=True)
    batch = ds[0]
    hist = [m.step(batch) for _ in range(40)]
    assert all("features" in h for h in hist)
    assert np.mean([h["features"] for h in hist[-5:]]) < 0.6 * np.mean([h["features"] for h in hist[:5]])


def test_look_loss_is_reported_and_steers_the_generator(tmp_path: Path, one_torch_thread: None) -> None:
    """`lambda_look`: a photo mesh drawn with another cartoon's code must read back as that code;
    the term reaches the generator, and Es is trainable again after it."""
    from training.data import UnpairedSteps, scan_images
    from training.models import create_model
    from training.testing import tiny_config

    crops = _paired_folder(tmp_path / "pairs")
    after = {}
    for look in (0.0, 1.0):
        torch.manual_seed(0)
        cfg = tiny_config(tmp_path, "mesh-conditioned", "light", lambda_look=look, pool_size=0)
        cfg.data_b = [str(crops)]
        m = create_model(cfg).train()
        ds = UnpairedSteps(scan_images(cfg.data_a).paths[:2], scan_images(cfg.data_b).paths[:2], 32, 2, 1,
                           with_mesh=True)
        losses = m.step(ds[0])
        assert ("look" in losses) == (look > 0) and np.isfinite(losses.get("look", 0.0))
        assert all(p.requires_grad for p in m.Es.parameters())
        after[look] = torch.cat([p.detach().flatten() for p in m.R.parameters()])
    assert not torch.allclose(after[0.0], after[1.0])
