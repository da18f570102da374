"""Stylizer, compositor, privacy gate and the whole pipeline on real MediaPipe + real ORT."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.composite import Compositor, Mode, parse_color, placeholder_card, surroundings
from avatar_cam.frame import Face, Frame
from avatar_cam.inference import Stylizer, provider_chain
from avatar_cam.pipeline import Pipeline, PipelineConfig, Stats
from avatar_cam.privacy import LiveHold, PrivacyGate
from avatar_cam.sources import VideoSource
from avatar_cam.styles import load_style


def test_stylizer_runs_on_cpu_and_keeps_size(style_file: Path) -> None:
    st = Stylizer(load_style(style_file), provider="cpu")
    crop = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    out = st(crop)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert st.provider == "cpu"
    # an 8px mosaic: every 8x8 tile is one colour
    assert (out[:8, :8] == out[0, 0]).all()


def test_stylizer_io_binding_matches_a_plain_run_frame_after_frame(style_file: Path) -> None:
    import onnxruntime as ort

    info = load_style(style_file)
    st = Stylizer(info, provider="cpu")
    plain = ort.InferenceSession(str(style_file), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    crops = [(rng.integers(0, 40, (64, 64, 3)) + v).astype(np.uint8) for v in (10, 100, 200)]
    outs = [st(c) for c in crops]  # each result must survive the next frame (own buffer)
    for crop, out in zip(crops, outs, strict=True):
        x = crop.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
        ref = plain.run([info.output_name], {info.input_name: x})[0][0].transpose(1, 2, 0)
        assert np.abs(out.astype(int) - np.clip((ref + 1) * 127.5, 0, 255).astype(int)).max() <= 1
        assert out.flags.c_contiguous
    assert not np.array_equal(outs[0], outs[1])


def test_provider_chain_always_ends_on_cpu_and_rejects_unknown() -> None:
    chain = provider_chain("auto")
    assert chain[-1] == "CPUExecutionProvider"
    with pytest.raises(ValueError, match="not available"):
        provider_chain("nonexistent")


def test_parse_color() -> None:
    assert parse_color("#102030") == (0x30, 0x20, 0x10)
    assert parse_color("1,2,3") == (3, 2, 1)
    with pytest.raises(ValueError):
        parse_color("red")


def test_avatar_mode_shows_only_the_cartoon_on_the_background() -> None:
    comp = Compositor(Mode.AVATAR, (320, 240), background=(1, 2, 3), custom=True)
    cartoon = np.full((64, 64, 3), 200, np.uint8)
    cartoon[:8] = 0  # its own background along the top: the chosen one replaces it
    out = comp.avatar(cartoon)
    assert out.shape == (240, 320, 3)
    assert (out[:, :20] == (1, 2, 3)).all(), "sides are plain background"
    assert (out[120, 160] == 200).all()
    mirrored = Compositor(Mode.AVATAR, (320, 240), mirror=True)
    asym = cartoon.copy()
    asym[:, :32] = 0
    assert mirrored.avatar(asym)[120, 200].sum() == 0, "mirror flips left and right"


def test_a_background_picture_covers_the_frame_and_is_never_stretched() -> None:
    square = np.zeros((100, 100, 3), np.uint8)
    square[40:60] = 255  # a 20-pixel band across a square picture
    comp = Compositor(Mode.AVATAR, (200, 100), background_image=square, custom=True)
    out = comp.avatar(np.zeros((8, 8, 3), np.uint8))
    band = np.nonzero(out[:, 2, 0] > 127)[0]  # the left edge, beside the cartoon
    # scaled twice (to the frame's width) and centre-cropped: the band is 40 rows, as wide as it
    # is tall relative to the picture; stretched it was 20
    assert len(band) == 40 and band[0] == 30


def test_a_chosen_background_replaces_the_cartoons_own_square_but_not_white_inside_it() -> None:
    """A generated cartoon on white, a chosen green: green around the head (no white square),
    the white of an eye inside the head stays white."""
    cartoon = np.full((96, 96, 3), 255, np.uint8)
    cv2.circle(cartoon, (48, 52), 34, (150, 110, 80), -1)  # the head
    cv2.circle(cartoon, (36, 48), 7, (255, 255, 255), -1)  # an eye's white
    comp = Compositor(Mode.AVATAR, (192, 96), background=(0, 255, 0), custom=True)  # BGR green
    out = comp.avatar(cartoon)
    x0 = 48  # the cartoon's square starts here in the 192-wide frame
    assert tuple(out[8, x0 + 8]) == (0, 255, 0), "the square's corner shows the chosen green"
    assert tuple(out[90, x0 + 8]) == (0, 255, 0)
    assert tuple(out[48, x0 + 36]) == (255, 255, 255), "the eye's white is kept"
    assert tuple(out[60, x0 + 48]) == (80, 110, 150), "the head is the cartoon's"


def test_without_a_chosen_background_the_cartoon_sits_on_its_own_colour() -> None:
    """No card: the field is the cartoon's own background colour (its top corners), eased over
    frames; a background the user chose wins."""
    comp = Compositor(Mode.AVATAR, (320, 240), background=(1, 2, 3))
    cartoon = np.full((64, 64, 3), (250, 240, 200), np.uint8)  # RGB: a cream background
    cartoon[20:, 16:48] = (120, 80, 60)  # the head and shoulders reach the bottom edge
    out = comp.avatar(cartoon)
    assert (out[:, :40] == (200, 240, 250)).all() and (out[5, 160] == (200, 240, 250)).all()
    cartoon[:] = (0, 0, 250)  # the next cartoon's background is blue: the field eases towards it
    field = comp.avatar(cartoon)[:, :40].reshape(-1, 3)
    old, new = np.array((200, 240, 250)), np.array((250, 0, 0))  # BGR
    assert (field == field[0]).all() and (np.minimum(old, new) < field[0]).all() \
        and (field[0] < np.maximum(old, new)).all()
    comp.set_background((1, 2, 3))  # the user's choice
    assert (comp.avatar(cartoon)[:, :40] == (1, 2, 3)).all()


def test_overlay_covers_the_face_and_keeps_the_rest() -> None:
    cam = np.full((240, 320, 3), 90, np.uint8)
    comp = Compositor(Mode.OVERLAY, (320, 240))
    m = np.array([[1.0, 0, -96], [0, 1.0, -56]])  # a 128px crop at (96, 56)
    out = comp.overlay(np.full((128, 128, 3), 250, np.uint8), cam, m)
    assert (out[120, 160] > 240).all(), "face centre is cartoon"
    assert (out[5, 5] == 90).all(), "far corner is camera"
    cam = np.zeros((360, 392, 3), np.uint8)
    cam[:50] = 200  # a top band: scaled 1.63x to cover 640x480, 54 rows are cropped off the top
    out = Compositor(Mode.OVERLAY, (640, 480)).overlay(np.zeros((128, 128, 3), np.uint8), cam,
                                                       np.array([[1.0, 0, 1000], [0, 1.0, 1000]]))
    assert out[20, 320].min() > 150 and out[40, 320].max() < 50, "aspect kept, not stretched"


def test_the_surroundings_round_a_drawn_character_take_no_face_pixel() -> None:
    """Overlay mode fills round a drawn character from the camera outside the face's ellipse:
    what is inside it (the face) changes nothing, and a plain surrounding fills it plainly."""
    rng = np.random.default_rng(3)
    picture = np.full((180, 160, 3), (40, 120, 200), np.uint8)
    yy, xx = np.mgrid[:180, :160]
    inside = ((xx - 80) / 55.0) ** 2 + ((yy - 95) / 70.0) ** 2 < 1
    fills = []
    for _ in range(2):
        picture[inside] = rng.integers(0, 256, (int(inside.sum()), 3))  # a different face each time
        fill = surroundings(picture, ~inside)
        assert fill is not None and fill.shape == picture.shape
        fills.append(fill)
    assert np.array_equal(fills[0], fills[1]), "a face pixel reached the fill"
    assert np.abs(fills[0].astype(int) - (40, 120, 200)).max() <= 1
    assert surroundings(picture, np.zeros((180, 160), bool)) is None


def test_overlay_puts_a_drawn_character_on_the_camera_round_it() -> None:
    cam = np.full((240, 320, 3), (30, 160, 90), np.uint8)
    cam[85:160, 135:185] = (0, 0, 255)  # the face, inside the overlay's ellipse
    portrait = np.zeros((128, 128, 4), np.uint8)
    portrait[50:80, 54:74] = 255  # a white head on transparency
    m = np.array([[1.0, 0, -96], [0, 1.0, -56]])  # a 128px crop at (96, 56)
    out = Compositor(Mode.OVERLAY, (320, 240)).overlay(portrait, cam, m)
    assert (out[120, 160] == 255).all(), "the character"
    around = out[95:150, 138:147].astype(int)  # the face beside the head
    assert np.abs(around - (30, 160, 90)).max() <= 2, "round it, the camera's surroundings"


def test_overlay_covers_the_faces_outline_beyond_its_ellipse() -> None:
    """A turned face's near cheek reaches past the paste's ellipse: with the face's outline given,
    what lies inside it never reaches the output."""
    rng = np.random.default_rng(5)
    cam = np.full((240, 320, 3), 90, np.uint8)
    m = np.array([[1.0, 0, -96], [0, 1.0, -56]])  # a 128px crop at (96, 56)
    cheek = np.array([[8.0, 30], [30, 30], [30, 110], [8, 110]])  # crop pixels, past the ellipse's left
    comp, cartoon = Compositor(Mode.OVERLAY, (320, 240)), np.full((128, 128, 3), 250, np.uint8)
    other = cam.copy()
    other[86:166, 104:126] = rng.integers(0, 256, (80, 22, 3))  # the cheek's camera pixels changed
    without = np.abs(comp.overlay(cartoon, cam, m).astype(int) - comp.overlay(cartoon, other, m))
    assert without.max() > 24, "the ellipse alone lets the cheek through"
    covered = np.abs(comp.overlay(cartoon, cam, m, cheek).astype(int)
                     - comp.overlay(cartoon, other, m, cheek))
    assert covered.max() <= 4, covered.max()  # the rim's feathering 2.5 sigmas out: under 1.5%


def _frame(image: np.ndarray, i: int = 0) -> Frame:
    return Frame(image, i, i / 30)


def test_privacy_gate_is_per_frame_and_the_live_hold_bridges_then_gives_the_card() -> None:
    gate, hold, comp = PrivacyGate((64, 48)), LiveHold(2), Compositor(Mode.AVATAR, (64, 48))
    cam = np.full((48, 64, 3), 7, np.uint8)
    good = _frame(cam)
    good.output = np.full((48, 64, 3), 100, np.uint8)
    assert gate(good) is good.output and good.fallback is None
    hold.remember(good, Mode.AVATAR)
    outs, held = [], []
    for i in range(4):
        f = _frame(cam, i + 1)
        f.fallback = "no_face"
        outs.append(gate(f))
        held.append(hold.recall(f, comp))
    assert all(np.array_equal(o, gate.card("no_face")) for o in outs), "the gate keeps no memory"
    assert (held[0] == 100).all() and (held[1] == 100).all()
    assert held[2] is None and held[3] is None, "after the hold, the card"
    assert gate.counts["no_face"] == 4


def test_a_held_picture_is_only_shown_in_the_mode_it_was_made_in() -> None:
    """Full mode restyles the whole scene: held into avatar mode (no camera picture at all) it
    showed the scene for a dozen frames after the switch. A frame's own mode decides, not the
    compositor's now (a switch to overlay mid-frame pasted the cartoon on an uncovered frame)."""
    cam = np.zeros((48, 64, 3), np.uint8)
    comp = Compositor(Mode.AVATAR, (64, 48))
    made = _frame(cam)
    made.output = np.full((48, 64, 3), 100, np.uint8)
    hold = LiveHold(frames=12)
    hold.remember(made, Mode.FULL)
    missed = _frame(cam, 1)
    missed.fallback = "no_face"
    assert hold.recall(missed, comp) is None, "a full-mode scene in avatar mode"
    hold.remember(made, Mode.AVATAR)
    assert hold.recall(missed, comp, mode=Mode.OVERLAY) is None
    assert hold.recall(missed, comp, mode=Mode.AVATAR) is not None


def test_a_held_overlay_is_not_pasted_where_the_face_no_longer_is() -> None:
    """A held overlay puts the last cartoon where the face was; when this frame's face was found
    elsewhere (a generator fault on a frame after a jump, a fast turn), or the frame is of a new
    stream (a reconnect, another camera), the cartoon covered the old place and the face itself
    could go out. The gate's own check compares only same-sized pictures, so nothing caught it."""
    cam = np.random.default_rng(2).integers(0, 255, (120, 160, 3), np.uint8)
    comp = Compositor(Mode.OVERLAY, (320, 240))  # sent at another size than the camera's
    made = _frame(cam)
    made.output = np.zeros((240, 320, 3), np.uint8)
    made.cartoon = np.full((64, 64, 3), 128, np.uint8)
    made.crop_matrix = np.array([[1.0, 0, -10], [0, 1.0, -20]])  # the crop square: x 10-74, y 20-84
    hold = LiveHold(frames=12)
    hold.remember(made, Mode.OVERLAY)
    for box, held in (((20, 30, 40, 40), True), ((95, 40, 40, 40), False)):
        missed = _frame(cam, 1)
        missed.fallback = "generator_error"
        missed.face = Face(box, np.zeros((6, 2), np.float32))
        out = hold.recall(missed, comp, mode=Mode.OVERLAY, measured=missed.face)
        assert (out is not None) is held, box
    # no face measured on this frame: it may be anywhere (leaned in too close for the detector,
    # it went out beside the cartoon held at its old place): the card, even with the tracker's
    # last face still on the frame
    assert hold.recall(missed, comp, mode=Mode.OVERLAY, measured=None) is None
    later = _frame(cam, 40)
    later.output, later.cartoon, later.crop_matrix = made.output, made.cartoon, made.crop_matrix
    hold.remember(later, Mode.OVERLAY)
    restarted = _frame(cam, 2)  # a reconnected or another camera counts from 0: anyone, anywhere
    restarted.fallback = "no_face"
    on_it = Face((20, 30, 40, 40), np.zeros((6, 2), np.float32))
    assert hold.recall(restarted, comp, mode=Mode.OVERLAY, measured=on_it) is None


def test_a_cartoon_drawn_into_its_paste_box_is_pasted_and_held_as_the_square_was() -> None:
    """A character in overlay mode is drawn straight into the box it is pasted in (no warp):
    pasted, and held over a missed frame, it lands as the square cartoon it stands for does;
    held onto a camera of another size (its box no longer fits), the card."""
    cam = np.random.default_rng(3).integers(0, 255, (120, 160, 3), np.uint8)
    comp = Compositor(Mode.OVERLAY, (320, 240))
    matrix = np.array([[0.98, 0.17, -20], [-0.17, 0.98, -5]])  # a turned crop, as a tilted head's
    placed = comp.paste_box(cam.shape, matrix, 64)
    assert placed is not None
    at, _, (w, h) = placed
    square = np.zeros((64, 64, 4), np.uint8)
    square[..., :3], square[..., 3] = (200, 120, 40), 255
    drawn = cv2.warpAffine(square, at, (w, h), flags=cv2.INTER_NEAREST)  # what the renderer draws there
    ok = cv2.warpAffine(np.ones((64, 64), np.uint8), at, (w, h), flags=cv2.INTER_NEAREST) > 0
    drawn[~ok] = 0
    expected = comp.overlay(square, cam, matrix)
    pasted = comp.overlay(drawn, cam, matrix, side=64)
    # the same picture, but for a few levels where the square's resampled rim meets the feathering
    assert np.abs(pasted.astype(int) - expected).max() <= 8
    assert np.abs(pasted.astype(int) - cv2.resize(cam, (320, 240))).max() > 100, "the cartoon is there"
    with pytest.raises(ValueError, match="paste box"):
        comp.overlay(square, cam, matrix, side=64)
    made = _frame(cam)
    made.output, made.cartoon, made.crop_matrix, made.cartoon_side = pasted, drawn, matrix, 64
    hold = LiveHold(frames=12)
    hold.remember(made, Mode.OVERLAY)
    missed = _frame(cam, 1)
    missed.fallback = "generator_error"
    missed.face = Face((25, 25, 30, 30), np.zeros((6, 2), np.float32))
    held = hold.recall(missed, comp, mode=Mode.OVERLAY, measured=missed.face)
    assert held is not None and np.array_equal(held, pasted)
    bigger = _frame(np.zeros((240, 320, 3), np.uint8), 2)
    bigger.fallback = "generator_error"
    assert hold.recall(bigger, comp, mode=Mode.OVERLAY, measured=missed.face) is None


def test_privacy_gate_blocks_the_camera_frame_itself() -> None:
    gate = PrivacyGate((64, 48))
    cam = np.random.default_rng(1).integers(0, 255, (48, 64, 3), np.uint8)
    for out in (cam, cam[:], cam.copy()):  # the same buffer, a view of it, an equal copy
        f = _frame(cam)
        f.output = out
        res = gate(f)
        assert f.fallback == "raw_blocked"
        assert not np.array_equal(res, cam)
    f = _frame(cam)
    f.face = Face((10, 10, 20, 20), np.zeros((6, 2), np.float32))
    f.output = cam.copy()
    f.output[0, 0] += 1  # differs outside the face, raw inside it
    gate(f)
    assert f.fallback == "raw_blocked"


def test_placeholder_card_has_no_camera_content() -> None:
    card = placeholder_card((320, 240), "Looking for your face...")
    assert card.shape == (240, 320, 3) and card.std() > 0


@pytest.mark.parametrize("mode", list(Mode))
def test_pipeline_on_a_real_clip_never_emits_a_camera_frame(clip_651: Path, style_file: Path,
                                                          mode: Mode) -> None:
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=mode, output_size=(392, 360)))
    src = VideoSource(clip_651)
    n = 0
    while (frame := src.read()) is not None and n < 20:
        pipe.process(frame)
        assert frame.output is not None and frame.output.shape == (360, 392, 3)
        assert not np.shares_memory(frame.output, frame.image)
        assert not np.array_equal(frame.output, frame.image)
        if mode is not Mode.FULL:
            assert frame.face is not None and frame.fallback is None
        n += 1
    assert n == 20


def test_generator_faults_and_nan_become_fallbacks(demo_face: np.ndarray, style_file: Path) -> None:
    pipe = Pipeline(load_style(style_file), PipelineConfig(output_size=(320, 240), hold_frames=1))
    ok = pipe.process(_frame(demo_face))
    assert ok.fallback is None

    def boom(_frame: Frame) -> np.ndarray:
        raise RuntimeError("GPU fell off")

    real = pipe.stylizer
    real.render = boom  # type: ignore[method-assign]
    bad = pipe.process(_frame(demo_face.copy(), 1))
    assert bad.fallback == "generator_error"
    assert np.array_equal(bad.output, ok.output), "holds the last good cartoon"
    assert pipe.stats.errors["generator:RuntimeError"] == 1
    del real.render
    real.session.run_with_iobinding = lambda *a, **k: real._output.fill(np.nan)  # type: ignore
    nan = pipe.process(_frame(demo_face.copy(), 2))
    assert nan.fallback == "generator_error" and pipe.stats.errors["generator:FloatingPointError"] == 1


def test_no_face_pause_and_no_style_give_placeholders(style_file: Path) -> None:
    pipe = Pipeline(load_style(style_file), PipelineConfig(output_size=(320, 240)))
    blank = np.full((240, 320, 3), 128, np.uint8)
    assert pipe.process(_frame(blank)).fallback == "no_face"
    pipe.paused = True
    assert pipe.process(_frame(blank)).fallback == "paused"
    pipe.paused = False
    pipe.drop_style("broken")
    assert pipe.process(_frame(blank)).fallback == "no_style"
    pipe.set_style(load_style(style_file))
    assert pipe.style is not None


def test_opencv_runs_on_the_calling_thread(style_file: Path) -> None:
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(4)
    try:
        Pipeline(load_style(style_file), PipelineConfig(output_size=(320, 240)))
        # measured: its worker woke for every small call, ~1 ms CPU a frame, for no time saved
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)


def test_ort_threads_leave_a_core_for_capture_and_face(monkeypatch: pytest.MonkeyPatch) -> None:
    from avatar_cam import inference

    monkeypatch.setattr(inference, "physical_cores", lambda: 2)
    assert inference.session_options().intra_op_num_threads == 1, "measured: 1 beats 2 on 2 cores"
    monkeypatch.setattr(inference, "physical_cores", lambda: 8)
    assert inference.session_options().intra_op_num_threads == 7
    assert inference.session_options(3).intra_op_num_threads == 3


def test_a_gpu_provider_needs_ort_s_own_library_for_it(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    """The standalone bundle leaves ORT's CUDA and TensorRT libraries out: with a GPU driver and
    runtime present, a provider whose library is missing is not offered (ORT would fail, then
    fall back with a screen of errors)."""
    import onnxruntime as ort

    from avatar_cam import inference

    listed = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    monkeypatch.setattr(ort, "get_available_providers", lambda: listed)
    monkeypatch.setattr(inference, "_nvidia_ready", lambda: (True, True))
    (tmp_path / "capi").mkdir()
    monkeypatch.setattr(ort, "__file__", str(tmp_path / "__init__.py"))
    assert inference.available_providers() == {"CPUExecutionProvider"}
    (tmp_path / "capi" / "libonnxruntime_providers_cuda.so").touch()
    assert inference.available_providers() == {"CUDAExecutionProvider", "CPUExecutionProvider"}
    (tmp_path / "capi" / "onnxruntime_providers_tensorrt.dll").touch()
    assert inference.available_providers() == set(listed)


def test_an_overlay_never_sends_the_face_beside_a_cartoon_that_lags_behind_it(style_file: Path) -> None:
    """The tracker smooths the face's box, so after a jump (a fast lean, a cut in a video, the
    camera switching resolution) the box, and the cartoon pasted on it, trails by most of the
    jump for a frame or two: the face itself went out beside the cartoon, fresh (no fallback),
    unless the bystander look happened to fall on that frame. Such a frame gets the card."""
    from avatar_cam.demo import draw_demo_face

    face = cv2.resize(draw_demo_face(0.4), (320, 240))
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(960, 360)))
    for i in range(8):  # a jump on frame 5, between the bystander looks (frames 0, 3, 6)
        x = 0 if i < 5 else 640
        cam = np.full((360, 960, 3), 90, np.uint8)
        cam[60:300, x:x + 320] = face
        frame = pipe.process(_frame(cam, i))
        assert i < 5 or frame.face is not None, "the face is tracked after the jump"
        inner = (slice(130, 230), slice(x + 110, x + 210))  # the middle of the face, where it is now
        same = (np.abs(frame.output[inner].astype(int) - cam[inner]).max(axis=2) <= 6).mean()
        assert same < 0.2, f"frame {i}: {same:.0%} of the face was sent as the camera saw it"


def test_an_overlay_after_the_camera_changes_resolution_covers_the_face_where_it_now_is(
        style_file: Path) -> None:
    """The optical flow that follows the face between detections works on a picture shrunk to a
    fixed side: after a switch to a resolution of the same shape it saw the same picture, kept
    the face at its old pixel position and the cartoon went there, off the face, until the
    next detection."""
    from avatar_cam.demo import draw_demo_face

    small = cv2.copyMakeBorder(cv2.resize(draw_demo_face(0.4), (240, 180)), 0, 0, 0, 240,
                               cv2.BORDER_CONSTANT, value=(90, 90, 90))  # 480x180, the face left
    grain = np.random.default_rng(0).integers(-24, 24, small.shape)  # a camera's texture: flow holds on
    small = np.clip(small + cv2.GaussianBlur(grain.astype(np.float32), (0, 0), 1.5), 0, 255).astype(np.uint8)
    pipe = Pipeline(load_style(style_file), PipelineConfig(mode=Mode.OVERLAY, output_size=(960, 360)))
    for i in range(8):  # 960x360 from frame 5 on: between detections and bystander looks
        cam = small if i < 5 else cv2.resize(small, (960, 360), interpolation=cv2.INTER_LINEAR)
        frame = pipe.process(_frame(cam, i))
        s = cam.shape[1] // 480
        inner = (slice(65 * s, 115 * s), slice(95 * s, 145 * s))  # the middle of the face, in camera pixels
        out = cv2.resize(frame.output, (cam.shape[1], cam.shape[0]))
        same = (np.abs(out[inner].astype(int) - cam[inner]).max(axis=2) <= 6).mean()
        assert same < 0.2, f"frame {i}: {same:.0%} of the face was sent as the camera saw it"


def test_a_face_only_held_is_not_counted_as_a_frame_with_a_face() -> None:
    """A landmark style's frame whose face is held from an earlier frame (no landmarks on this
    one) is a `no_face` fallback: counted there only, so the counts never add up to more frames
    than there were (an audit's clip: 20 with a face + 19 no_face of 35)."""
    stats = Stats()
    face = Face(box=(0.0, 0.0, 10.0, 10.0), keypoints=np.zeros((6, 2), np.float32))
    for fallback in (None, "no_face"):
        frame = Frame(np.zeros((8, 8, 3), np.uint8), 0, 0.0)
        frame.face, frame.fallback = face, fallback
        stats.add(frame, 1.0)
    assert stats.frames_with_face == 1 and stats.fallbacks["no_face"] == 1


def test_the_cover_check_reads_the_ellipse_the_paste_draws() -> None:
    """`Compositor.covers` says a face box is covered exactly when the points it checks lie where
    the paste's own mask (`_paste_mask`, drawn afresh each frame) weighs at least one half: the
    check and the paste share one ellipse, to within the face size's 2% steps."""
    from avatar_cam.composite import COVER_REACH, _box_ellipse, _paste_mask

    n = 256
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # camera pixels = cartoon pixels = output pixels
    mask = _paste_mask(n, identity, (n, n), None)
    comp = Compositor(Mode.OVERLAY, (1280, 720))
    cx, cy = 0.5 * n, 0.52 * n
    for shift in (0.0, 0.1, -0.12):  # the box centred, and off to either side
        flips = {}
        for name in ("check", "paste"):
            for side in np.arange(0.40, 1.2, 0.02) * n:
                box = (cx + shift * n - side / 2, cy - side / 2, side, side)
                if name == "check":
                    inside = comp.covers(box, identity, n)
                else:
                    at = np.round(_box_ellipse(box, COVER_REACH)).astype(int)
                    ok = ((at >= 0) & (at < n)).all()
                    inside = bool(ok and (mask[at[:, 1], at[:, 0]] >= 128).all())
                if not inside:
                    flips[name] = side
                    break
        assert abs(flips["check"] - flips["paste"]) <= 0.02 * n + 1e-9, (shift, flips)
