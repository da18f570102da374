"""A look from any cartoon picture (issue 27): the picture's crop and style code, the
look file it is saved as, how the app lists and runs it, and one clear line for every bad
picture with nothing saved and the style unchanged."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.demo import draw_demo_face
from avatar_cam.inference import Stylizer
from avatar_cam.reference import (
    ReferenceError,
    make_look,
    read_picture,
    style_code_from_image,
    supports_reference,
)
from avatar_cam.styles import (
    LOOK_FORMAT,
    StyleCatalog,
    StyleError,
    builtin_styles_dir,
    load_style,
    write_look,
)
from tests.conftest import huge_png
from tests.test_gui_helpers import mosaic_style, style_code_style


@pytest.fixture
def coded(tmp_path: Path) -> Path:
    """A style taking a 4-number code (output tanh(image + mean(code))) and its encoder (the
    picture's mean colour), in a user folder."""
    return style_code_style(tmp_path / "user" / "coded.onnx", dim=4)[0]


def _picture(path: Path, img: np.ndarray) -> Path:
    cv2.imwrite(str(path), img)
    return path


def _face_picture(path: Path) -> Path:
    """A drawn face (the demo face) on a plain background: the detector finds it."""
    return _picture(path, draw_demo_face(0.5))


def test_a_look_file_runs_its_base_style_with_its_own_code(coded: Path, tmp_path: Path) -> None:
    base = load_style(coded)
    code = np.array([[0.9, 0.9, 0.9, 0.9]], np.float32)
    path = write_look(coded.parent / "me.look.json", "me", base, code,
                           {"file": "me.png", "sha256": "0", "crop": "test"})
    info = load_style(path)
    assert (info.name, info.model_path, info.style_code_dim) == ("me", coded, 4)
    assert "look" in info.summary() and "coded" in info.summary()
    np.testing.assert_allclose(info.default_code(), code, rtol=1e-6)
    crop = np.full((64, 64, 3), 128, np.uint8)
    plain, own = Stylizer(base, "cpu", 1), Stylizer(info, "cpu", 1)
    assert (own(crop).astype(int) - plain(crop).astype(int)).mean() > 40  # tanh(0 + 0.9) vs tanh(0)
    plain.set_style_code(code)  # the same code set on the base style: the same picture
    assert np.array_equal(plain(crop), own(crop))
    names = [s.name for s in StyleCatalog([coded.parent]).styles]
    assert names == ["coded", "me"]  # the catalog lists it as a style of its own


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not a readable look file"),
    (json.dumps({"format": "other"}), "format must be"),
    (json.dumps({"format": LOOK_FORMAT, "name": "x", "base": "../coded.onnx", "style_code": [1]}),
     "'base' must be the file name"),
    (json.dumps({"format": LOOK_FORMAT, "name": "x", "base": "gone.onnx", "style_code": [1, 2, 3, 4]}),
     "neither beside it nor built in"),
    (json.dumps({"format": LOOK_FORMAT, "name": "x", "base": "coded.onnx", "style_code": [1, 2]}),
     "has 2 numbers"),
    ('{"format": "avatar-cam-look/1", "name": "x", "base": "coded.onnx", "style_code": [NaN, 1, 1, 1]}',
     "finite numbers"),
])
def test_a_broken_look_file_is_one_line(coded: Path, content: str, message: str) -> None:
    bad = coded.parent / "bad.look.json"
    bad.write_text(content)
    with pytest.raises(StyleError, match=message) as e:
        load_style(bad)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)
    catalog = StyleCatalog([coded.parent])
    assert [s.name for s in catalog.styles] == ["coded"] and len(catalog.problems) == 1


def test_the_code_comes_from_the_app_crop_of_the_picture(coded: Path, tmp_path: Path) -> None:
    code, crop = style_code_from_image(load_style(coded), _face_picture(tmp_path / "face.png"))
    assert crop.face and crop.how.startswith("face found") and crop.rgb.shape == (64, 64, 3)
    np.testing.assert_allclose(code[0, :3], crop.rgb.reshape(-1, 3).mean(0) / 127.5 - 1, atol=1e-4)
    # no face: a centred square, said so
    yy, xx = np.mgrid[0:90, 0:120]
    stripes = np.stack([(xx * 2) % 255, (yy * 3) % 255, np.full_like(xx, 90)], -1).astype(np.uint8)
    _, crop = style_code_from_image(load_style(coded), _picture(tmp_path / "stripes.png", stripes))
    assert not crop.face and crop.how == "no face found: took a centred square"


def test_pictures_are_read_as_training_read_its_cartoons(tmp_path: Path) -> None:
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = (0, 0, 255, 255)  # opaque red half, transparent half
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    img = read_picture(tmp_path / "a.png")
    assert img[0, 0].tolist() == [0, 0, 255] and img[0, 39].tolist() == [255, 255, 255]
    cv2.imwrite(str(tmp_path / "g.png"), np.full((40, 40), 65535, np.uint16))
    grey = read_picture(tmp_path / "g.png")
    assert grey.shape == (40, 40, 3) and grey.max() == 255


def test_a_jpeg_is_read_turned_as_its_exif_says(tmp_path: Path) -> None:
    """A phone's photo stores its pixels sideways with an EXIF orientation: the picture is read
    upright, as viewers show it (it was read lying on its side)."""
    pixels = np.zeros((40, 80, 3), np.uint8)
    pixels[:, :40] = (0, 0, 255)  # red left half of a wide picture
    jpeg = cv2.imencode(".jpg", pixels)[1].tobytes()
    # an APP1 Exif segment: big-endian TIFF, one IFD entry, Orientation (0x0112) = 6 (turn 90 cw)
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" \
        + b"\x00\x00\x00\x00"
    app1 = b"\xff\xe1" + (len(tiff) + 8).to_bytes(2, "big") + b"Exif\x00\x00" + tiff
    (tmp_path / "phone.jpg").write_bytes(jpeg[:2] + app1 + jpeg[2:])
    img = read_picture(tmp_path / "phone.jpg")
    assert img.shape == (80, 40, 3), "upright: the wide picture turned a quarter"
    assert img[5, 20, 2] > 200 and img[75, 20, 2] < 60, "the red half on top after a clockwise turn"


def _cut_half(path: Path) -> Path:
    data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8))[1]
    path.write_bytes(data.tobytes()[: len(data) // 2])
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "missing.png", "no such picture"),
    (lambda d: (d / "pictures").mkdir() or d / "pictures", "a folder, not a picture"),
    (lambda d: (d / "notes.png").write_text("hello") and d / "notes.png", "not a picture"),
    (lambda d: _picture(d / "tiny.png", np.full((20, 20, 3), 90, np.uint8)), "too small"),
    (lambda d: _picture(d / "plain.png", np.full((100, 100, 3), (40, 160, 200), np.uint8)), "plain colour"),
    (lambda d: huge_png(d / "huge.png"), "too large"),  # over OpenCV's pixel limit: cv2.error before
    # refused from its header (it was decoded first: 2.4 GB and 7 s for a real one)
    (lambda d: huge_png(d / "big.png", 20_000), "too large .20000x20000 px.; at most 50 megapixels"),
    (lambda d: (d / "anim.gif").write_bytes(b"GIF89a" + bytes(64)) and d / "anim.gif", "a GIF"),
    (lambda d: _cut_half(d / "cut.png"), "damaged or incomplete"),
    (lambda d: "", "no picture given"),
])
def test_a_bad_picture_is_one_line_and_saves_nothing(coded: Path, tmp_path: Path,
                                                     make: Callable[[Path], Path], message: str) -> None:
    picture = make(tmp_path)
    with pytest.raises(ReferenceError, match=message) as e:
        make_look(load_style(coded), picture, coded.parent)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in coded.parent.iterdir()) == ["coded.onnx", "encoders"]


def test_styles_without_a_code_or_an_encoder_say_so(coded: Path, tmp_path: Path) -> None:
    picture = _face_picture(tmp_path / "face.png")
    fixed = load_style(mosaic_style(tmp_path / "m.onnx", "fixed"))
    assert not supports_reference(fixed) and supports_reference(load_style(coded))
    with pytest.raises(ReferenceError, match="fixed look"):
        style_code_from_image(fixed, picture)
    (coded.parent / "encoders" / "coded.onnx").unlink()
    assert not supports_reference(load_style(coded))
    with pytest.raises(ReferenceError, match="ships no style encoder"):
        style_code_from_image(load_style(coded), picture)


def test_make_look_saves_once_per_picture(coded: Path, tmp_path: Path) -> None:
    picture = _face_picture(tmp_path / "Me & my cat!.png")
    info, note = make_look(load_style(coded), picture, coded.parent)
    assert info.name == "coded-Me-my-cat" and info.path.name == "coded-Me-my-cat.look.json"
    assert "face found" in note and str(info.path) in note
    assert make_look(load_style(coded), picture, coded.parent)[0].path == info.path  # same again
    (tmp_path / "other").mkdir()
    other = _picture(tmp_path / "other" / "Me & my cat!.png", cv2.flip(draw_demo_face(0.5), 1))
    assert make_look(load_style(coded), other, coded.parent)[0].name == "coded-Me-my-cat-2"
    # from a look, the new one is made on its base style
    again, _ = make_look(info, _face_picture(tmp_path / "b.png"), coded.parent)
    assert again.model_path == coded and again.name == "coded-b"
    # any script's letters stay ("mön ami" became "m-n-ami"); the catalog lists x before x-2
    assert make_look(info, _face_picture(tmp_path / "mön ami.png"), coded.parent)[0].name == "coded-mön-ami"
    listed = [s.name for s in StyleCatalog([coded.parent]).styles if s.name.startswith("coded-Me")]
    assert listed == ["coded-Me-my-cat", "coded-Me-my-cat-2"]


def test_a_base_style_from_elsewhere_is_copied_so_the_look_lasts(tmp_path: Path) -> None:
    elsewhere = style_code_style(tmp_path / "downloads" / "coded.onnx", dim=4)[0]
    user = tmp_path / "mine"
    info, _ = make_look(load_style(elsewhere), _face_picture(tmp_path / "face.png"), user)
    assert info.model_path == user / "coded.onnx" and (user / "encoders" / "coded.onnx").is_file()
    for p in (tmp_path / "downloads").rglob("*"):
        if p.is_file():
            p.unlink()
    assert supports_reference(load_style(info.path))


def test_the_shipped_mesh_styles_take_a_picture(tmp_path: Path) -> None:
    """flat-mesh and anime-mesh ship their style encoders; a DiceBear-like drawn face gives a
    code different from the mean, and the look renders."""
    picture = _face_picture(tmp_path / "face.png")
    for name in ("flat-mesh", "anime-mesh"):
        style = load_style(builtin_styles_dir() / f"{name}.onnx")
        assert supports_reference(style), name
        info, _ = make_look(style, picture, tmp_path / "user")
        assert info.model_path == style.path
        assert np.abs(info.default_code() - style.default_code()).max() > 0.1
        crop = np.full((style.size, style.size, 3), 0, np.uint8)  # an empty mesh drawing
        assert Stylizer(info, "cpu", 1)(crop).shape == (style.size, style.size, 3)


def _drawn(path: Path, skin: str, hair: str, style: str = "side_part") -> Path:
    """A picture of `sunny` redrawn with these colours and hair: a cartoon whose colours are known."""
    from avatar_cam.character.draw import draw_frame
    from avatar_cam.character.model import parse_character
    from avatar_cam.character.params import Pose

    data = json.loads((builtin_styles_dir() / "sunny.character.json").read_text())
    data["face"]["skin"] = skin
    data["hair"].update(colour=hair, style=style)
    return _picture(path, draw_frame(parse_character(data), Pose(), (512, 512))[..., :3])


def _lab(hex_colour: str) -> np.ndarray:
    rgb = np.array([[[int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]]], np.float32) / 255.0
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0, 0]


def test_a_drawn_character_takes_a_pictures_skin_and_hair(tmp_path: Path) -> None:
    """With a drawn character, a picture gives a new character in its skin and hair colours
    (ears, lips, brows drawn from them), listed with the styles; the same picture again gives
    the same file; a bald picture gives a bald character; the original is untouched."""
    sunny = StyleCatalog([builtin_styles_dir()]).resolve("sunny")
    before = sunny.path.read_bytes()
    assert supports_reference(sunny)
    user = tmp_path / "user"
    picture = _drawn(tmp_path / "blond.png", skin="#8d5524", hair="#e6c36a")
    info, note = make_look(sunny, picture, user)
    assert info.path == user / "sunny-blond.character.json" and info.kind == "character"
    assert "skin and hair colours, side part hair" in note and "face found" in note
    made = json.loads(info.path.read_text())
    assert np.linalg.norm(_lab(made["face"]["skin"]) - _lab("#8d5524")) < 6, made["face"]
    assert np.linalg.norm(_lab(made["hair"]["colour"]) - _lab("#e6c36a")) < 6, made["hair"]
    assert made["ears"]["inner"] != json.loads(before)["ears"]["inner"]  # drawn from the new skin
    assert made["hair"]["style"] == "side_part" and made["clothing"] == json.loads(before)["clothing"]
    assert make_look(sunny, picture, user)[0].path == info.path  # the same picture: the same file
    assert [s.name for s in StyleCatalog([user]).styles] == ["sunny-blond"]
    long, note = make_look(sunny, _drawn(tmp_path / "long.png", skin="#f1c27d", hair="#222222", style="long"),
                           user)
    assert json.loads(long.path.read_text())["hair"]["style"] == "long" and "long hair" in note
    bald, note = make_look(sunny, _drawn(tmp_path / "bald.png", skin="#f1c27d", hair="#222222", style="bald"),
                           user)
    assert json.loads(bald.path.read_text())["hair"]["style"] == "bald" and "bald like the picture" in note
    assert sunny.path.read_bytes() == before


def test_a_characters_background_picture_stays_with_the_new_character(tmp_path: Path) -> None:
    """A character with a picture background (the creator keeps it in `backgrounds/`, a path
    relative to the styles folder; or next to a character file elsewhere) gives a character
    whose background is in the styles folder by a relative path: the folder can be moved."""
    import shutil

    user, elsewhere = tmp_path / "user", tmp_path / "elsewhere"
    elsewhere.mkdir()
    cv2.imwrite(str(elsewhere / "beach.png"), np.full((90, 160, 3), (200, 150, 40), np.uint8))
    data = json.loads((builtin_styles_dir() / "sunny.character.json").read_text())
    data["name"] = "beachy"
    data["background"].update(kind="image", image="beach.png")
    (elsewhere / "beachy.character.json").write_text(json.dumps(data))
    base = load_style(elsewhere / "beachy.character.json", probe=False)
    picture = _drawn(tmp_path / "blond.png", skin="#8d5524", hair="#e6c36a")
    info, _ = make_look(base, picture, user)
    image = json.loads(info.path.read_text())["background"]["image"]
    assert not Path(image).is_absolute() and (user / image).is_file(), image
    again, _ = make_look(load_style(info.path, probe=False), picture, user)  # from a user character
    assert json.loads(again.path.read_text())["background"]["image"] == image
    shutil.move(user, tmp_path / "moved")
    shutil.rmtree(elsewhere)
    assert sorted(s.name for s in StyleCatalog([tmp_path / "moved"]).styles) == [
        "beachy-blond", "beachy-blond-blond"]


@pytest.mark.parametrize(("note", "first"), [("MIT", "MIT. Colours from a.png."), ("", "Colours from a.png."),
                                             ("MIT.", "MIT. Colours from a.png.")])
def test_the_licence_note_reads_as_sentences_and_names_one_picture(tmp_path: Path, note: str,
                                                                   first: str) -> None:
    """A base note without a full stop (a V1 rig's "MIT") or none at all still reads as
    sentences, and a character made from a made one names only its own picture."""
    data = json.loads((builtin_styles_dir() / "sunny.character.json").read_text())
    data.update(name="kid", license_note=note)
    (tmp_path / "kid.character.json").write_text(json.dumps(data))
    a = _drawn(tmp_path / "a.png", skin="#8d5524", hair="#e6c36a")
    info, _ = make_look(load_style(tmp_path / "kid.character.json", probe=False), a, tmp_path / "user")
    assert json.loads(info.path.read_text())["license_note"] == first
    b = _drawn(tmp_path / "b.png", skin="#f1c27d", hair="#222222")
    again, _ = make_look(load_style(info.path, probe=False), b, tmp_path / "user")
    assert json.loads(again.path.read_text())["license_note"] == first.replace("a.png", "b.png")


def test_a_picture_unlike_the_styles_own_kind_gives_a_code_within_their_range(
        coded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """anime-mesh turned a bald, dark-skinned DiceBear face into a code beyond any anime
    picture's (-7.8 where theirs stop at -5.6) and drew magenta noise. A style file may carry the
    range its own kind of picture gives (`export.code_limits`); a reference's code is kept inside
    it, and the look's note says so."""
    from export.code_limits import main as write_limits_cli
    from export.code_limits import measure

    own = tmp_path / "own"
    own.mkdir()
    rng = np.random.default_rng(0)
    for i in range(60):  # the style's "own kind": demo faces on grey-blue backgrounds
        face = draw_demo_face(i / 20)
        face[:40] = rng.integers(90, 140, 3)
        cv2.imwrite(str(own / f"{i:03d}.png"), face)
    low, high, used = measure(load_style(coded), sorted(own.iterdir()))
    assert used == 60 and low.shape == high.shape == (4,) and (low <= high).all()
    assert write_limits_cli([str(coded), str(own)]) == 0
    style = load_style(coded)
    lo, hi = style.code_limits()
    np.testing.assert_allclose(lo[0], low, rtol=1e-6)

    unlike = draw_demo_face(0.5)
    unlike[unlike.sum(-1) > 600] = (255, 0, 255)  # a magenta world around the face
    code, crop = style_code_from_image(style, _picture(tmp_path / "unlike.png", unlike))
    assert (code >= lo - 1e-6).all() and (code <= hi + 1e-6).all()
    assert "kept within theirs" in crop.how
    _, crop = style_code_from_image(style, own / "010.png")  # one of them: as it is
    assert "kept within" not in crop.how
    assert write_limits_cli([str(coded), str(tmp_path / "nothing-here")]) == 1  # one line, no change
    assert load_style(coded).code_limits() is not None
    # arguments named in the line (each said "only 0 usable pictures; give at least 50" or Errno 2)
    (tmp_path / "notsplit.json").write_text('{"val_A": []}')
    for extra, message in ((["--count", "0"], "--count must be at least 1"),
                           (["--split", str(tmp_path / "notsplit.json")], "no train_B list")):
        assert write_limits_cli([str(coded), str(own), *extra]) == 1
        assert message in capsys.readouterr().err
    assert write_limits_cli([str(coded), str(tmp_path / "nothing-here")]) == 1
    assert "not a folder of pictures" in capsys.readouterr().err


def test_broken_code_limits_in_a_style_are_one_line(coded: Path, tmp_path: Path) -> None:
    import dataclasses

    style = load_style(coded)
    assert style.code_limits() is None  # none written: any code goes, as before
    for low, high in (("a,b,c,d", "1,1,1,1"), ("0,0,0", "1,1,1"), ("2,2,2,2", "1,1,1,1")):
        bad = dataclasses.replace(style, metadata={**style.metadata, "style_code_low": low,
                                                   "style_code_high": high})
        with pytest.raises(ValueError, match="style_code_low/style_code_high") as err:
            bad.code_limits()
        assert "\n" not in str(err.value)
        with pytest.raises(ReferenceError, match="style_code_low"):
            style_code_from_image(bad, _face_picture(tmp_path / "face.png"))
