"""A look's colours (issue 27): the skin and hair read off a crop, the colour match that moves a
generator's output onto a picture's, and the look file that keeps them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.inference import Stylizer
from avatar_cam.palette import ColourMatch, Palette, crop_palette, hair_length
from avatar_cam.reference import make_look
from avatar_cam.styles import LOOK_FORMAT, StyleError, builtin_styles_dir, load_style, write_look
from tests.test_gui_helpers import style_code_style


def _lab(rgb: tuple[int, int, int]) -> np.ndarray:
    return cv2.cvtColor(np.array([[rgb]], np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0, 0]


def _crop(skin: tuple[int, int, int], hair: tuple[int, int, int], bg: tuple[int, int, int] = (230, 240, 250),
          n: int = 128) -> np.ndarray:
    """A flat cartoon crop laid out as the app crops faces: hair over the forehead, the face
    below it, a dark outline and eyes."""
    img = np.full((n, n, 3), bg, np.uint8)
    cv2.ellipse(img, (n // 2, int(0.25 * n)), (int(0.36 * n), int(0.2 * n)), 0, 180, 360, hair, -1)
    cv2.ellipse(img, (n // 2, int(0.55 * n)), (int(0.3 * n), int(0.36 * n)), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (n // 2, int(0.55 * n)), (int(0.3 * n), int(0.36 * n)), 0, 0, 360, (40, 30, 30), 2)
    for x in (0.4, 0.6):
        cv2.circle(img, (int(x * n), int(0.47 * n)), 4, (255, 255, 255), -1)
    return img


def test_the_palette_is_the_skin_and_the_hair_and_none_for_a_bald_head() -> None:
    p = crop_palette(_crop((235, 190, 160), (200, 80, 30)))
    assert np.linalg.norm(np.subtract(p.skin, _lab((235, 190, 160)))) < 2
    assert p.hair is not None and np.linalg.norm(np.subtract(p.hair, _lab((200, 80, 30)))) < 2
    bald = crop_palette(_crop((235, 190, 160), (230, 240, 250)))  # "hair" of the background's colour
    assert bald.hair is None
    assert Palette.from_json(json.loads(json.dumps(p.to_json()))).hair == pytest.approx(p.hair, abs=0.01)


def test_a_bald_head_has_the_skins_colour_for_hair_and_lines_over_it_are_not_hair() -> None:
    """Over a bald head the band above the forehead is skin (the hair of the picture is its skin,
    so a generator's drawn hair takes the skin's colour); dark outlines and squiggles there are
    not hair, however many (a bald DiceBear 'micah' with lilac curls read as black hair)."""
    skin = (200, 140, 110)
    n = 128
    bald = _crop(skin, skin, n=n)
    lined = bald.copy()
    for i in range(6):  # thin dark arcs and squiggles across the top of the head
        cv2.ellipse(lined, (n // 2, int((0.3 + 0.03 * i) * n)), (int(0.25 * n), int(0.12 * n)), 0, 200, 340,
                    (40, 30, 30) if i % 2 else (180, 160, 230), 1)
    for img in (bald, lined):
        p = crop_palette(img)
        assert p.hair is not None and np.linalg.norm(np.subtract(p.hair, p.skin)) < 1, p
    # the look of a bald picture draws the generator's hair in the picture's skin
    drawn = _crop((225, 180, 150), (60, 40, 30))
    out = ColourMatch(crop_palette(drawn), crop_palette(bald))(drawn)
    hair_px = (int(0.12 * n), n // 2)
    assert np.linalg.norm(_lab(tuple(int(v) for v in out[hair_px])) - _lab(skin)) < 4  # type: ignore[arg-type]


def test_pale_hair_near_the_skins_colour_is_hair_not_a_bald_head() -> None:
    """White or pale blond hair over pale skin (11 Lab apart in anime pictures) is within the
    skin-like tolerance of the band; only the skin's own fill is a bald head (both read bald)."""
    skin, blond = (250, 228, 214), (238, 224, 190)
    assert 6 < np.linalg.norm(_lab(skin) - _lab(blond)) < 12
    p = crop_palette(_crop(skin, blond))
    assert p.hair is not None and np.linalg.norm(np.subtract(p.hair, _lab(blond))) < 2, p


def test_hair_length_is_how_far_down_the_sides_the_hair_falls() -> None:
    skin, hair, n = (235, 190, 160), (90, 50, 30), 128
    short = _crop(skin, hair, n=n)
    medium, long = short.copy(), short.copy()
    for x0, x1 in ((0, int(0.24 * n)), (int(0.76 * n), n)):
        cv2.rectangle(medium, (x0, int(0.2 * n)), (x1, int(0.64 * n)), hair, -1)
        cv2.rectangle(long, (x0, int(0.2 * n)), (x1, n), hair, -1)
    assert [hair_length(c, crop_palette(c)) for c in (short, medium, long)] == ["short", "medium", "long"]
    one_side = short.copy()
    cv2.rectangle(one_side, (0, int(0.2 * n)), (int(0.24 * n), n), hair, -1)
    assert hair_length(one_side, crop_palette(one_side)) == "short"  # both sides, or it is a shadow
    bald = _crop(skin, skin, n=n)
    assert hair_length(bald, crop_palette(bald)) is None


def test_hair_filling_one_top_corner_is_still_the_hair() -> None:
    """A tight crop whose black hair fills the top right corner: the two corners' median was the
    hair's colour, so the hair over the forehead counted as background (18 of 400 anime faces had
    no hair colour for it). Corners that agree still make the background."""
    hair, n = (25, 20, 25), 128
    img = _crop((240, 215, 195), hair, bg=(110, 60, 140))
    img[: int(0.3 * n), int(0.7 * n):] = hair  # the hair falls over the right corner
    p = crop_palette(img)
    assert p.hair is not None and np.linalg.norm(np.subtract(p.hair, _lab(hair))) < 3
    hat = _crop((240, 215, 195), (110, 60, 140), bg=(110, 60, 140))  # a hat of the background's colour
    assert crop_palette(hat).hair is None


def test_an_afro_is_a_round_volume_not_long_hair_and_a_brim_is_not_one() -> None:
    """A big round volume (wide at the temples, down to the mouth, not past the chin) was read
    as long hair; hair that falls past the chin in strips, on both sides or one, and a brim or
    turban that stops above the mouth are no afro."""
    skin, hair, n = (235, 190, 160), (60, 40, 30), 128
    afro = np.full((n, n, 3), (230, 240, 250), np.uint8)
    cv2.ellipse(afro, (n // 2, int(0.42 * n)), (int(0.47 * n), int(0.42 * n)), 0, 0, 360, hair, -1)
    cv2.ellipse(afro, (n // 2, int(0.55 * n)), (int(0.3 * n), int(0.36 * n)), 0, 0, 360, skin, -1)
    assert hair_length(afro, crop_palette(afro)) == "afro"
    long = afro.copy()
    for x0, x1 in ((int(0.04 * n), int(0.26 * n)), (int(0.74 * n), int(0.96 * n))):
        cv2.rectangle(long, (x0, int(0.5 * n)), (x1, n), hair, -1)
    assert hair_length(long, crop_palette(long)) == "long"
    one_side = afro.copy()  # straight hair over one shoulder (anime faces fill the temples too)
    cv2.rectangle(one_side, (int(0.74 * n), int(0.5 * n)), (int(0.96 * n), n), hair, -1)
    assert hair_length(one_side, crop_palette(one_side)) != "afro"
    brim = np.full((n, n, 3), (230, 240, 250), np.uint8)
    cv2.ellipse(brim, (n // 2, int(0.2 * n)), (int(0.3 * n), int(0.2 * n)), 0, 0, 360, hair, -1)
    cv2.rectangle(brim, (0, int(0.25 * n)), (n, int(0.6 * n)), hair, -1)
    cv2.ellipse(brim, (n // 2, int(0.62 * n)), (int(0.3 * n), int(0.3 * n)), 0, 0, 360, skin, -1)
    assert hair_length(brim, crop_palette(brim)) == "medium"


def test_the_match_moves_skin_and_hair_and_leaves_lines_and_eyes() -> None:
    drawn = _crop((225, 180, 150), (110, 70, 40))
    wanted = Palette(tuple(_lab((120, 80, 60))), tuple(_lab((230, 110, 20))))  # type: ignore[arg-type]
    out = ColourMatch(crop_palette(drawn), wanted)(drawn)
    after = crop_palette(out)
    assert np.linalg.norm(np.subtract(after.skin, wanted.skin)) < 3
    assert after.hair is not None and np.linalg.norm(np.subtract(after.hair, wanted.hair)) < 3
    n = drawn.shape[0]
    # an eye's white and the background (40+ Lab from the skin) keep their colour within a few
    # levels even under this light -> dark skin shift (38 L)
    for y, x in ((int(0.47 * n), int(0.4 * n)), (0, 0)):
        assert np.abs(out[y, x].astype(int) - drawn[y, x]).max() <= 14
    # a picture without hair moves only the skin
    same_hair = ColourMatch(crop_palette(drawn), Palette(wanted.skin, None))(drawn)
    hair_px = (int(0.15 * n), n // 2)
    assert np.abs(same_hair[hair_px].astype(int) - drawn[hair_px]).max() <= 6


def test_a_look_with_colours_runs_with_them_and_a_bad_palette_is_one_line(tmp_path: Path) -> None:
    coded = style_code_style(tmp_path / "user" / "coded.onnx", dim=4)[0]
    base = load_style(coded)
    code = np.zeros((1, 4), np.float32)
    crop = _crop((225, 180, 150), (110, 70, 40), n=64)
    plain = Stylizer(base, "cpu", 1)(crop)
    colours = {"drawn": crop_palette(plain), "reference": Palette(tuple(_lab((90, 60, 45))), None)}  # type: ignore[arg-type]
    path = write_look(coded.parent / "me.look.json", "me", base, code, {"file": "me.png"}, colours)
    own = Stylizer(load_style(path), "cpu", 1)(crop)
    assert np.linalg.norm(np.subtract(crop_palette(own).skin, colours["reference"].skin)) < 4
    assert np.linalg.norm(np.subtract(crop_palette(plain).skin, colours["reference"].skin)) > 20
    data = json.loads(path.read_text())
    data["colours"]["reference"]["skin"] = [50, "a", 3]
    bad = coded.parent / "bad.look.json"
    bad.write_text(json.dumps({**data, "format": LOOK_FORMAT}))
    with pytest.raises(StyleError, match="'colours'") as e:
        load_style(bad)
    assert "\n" not in str(e.value)


def test_a_shipped_style_takes_an_orange_haired_pictures_colours(tmp_path: Path) -> None:
    """The generator alone draws orange hair brown (docs/styles.md); the saved look's colours
    bring the picture's back."""
    picture = tmp_path / "orange.png"
    big = _crop((250, 215, 190), (240, 120, 20), n=256)
    cv2.imwrite(str(picture), cv2.cvtColor(big, cv2.COLOR_RGB2BGR))
    style = load_style(builtin_styles_dir() / "flat-mesh.onnx")
    info, _ = make_look(style, picture, tmp_path / "user")
    data = json.loads(info.path.read_text())
    reference = Palette.from_json(data["colours"]["reference"])
    drawn = Palette.from_json(data["colours"]["drawn"])
    from avatar_cam.demo import sample_face_crop
    from avatar_cam.renderers import make_renderer

    shown = crop_palette(make_renderer(info, "cpu", threads=1).preview(sample_face_crop(info.size)))
    assert reference.hair is not None and drawn.hair is not None and shown.hair is not None
    before = np.linalg.norm(np.subtract(drawn.hair, reference.hair))
    after = np.linalg.norm(np.subtract(shown.hair, reference.hair))
    assert after < 0.5 * before, (before, after)


def test_inside_the_face_a_dark_hair_colour_does_not_lighten_the_mouth(
        demo_crop: Callable[[float], tuple[np.ndarray, np.ndarray]]) -> None:
    """A look whose code draws dark hair and whose picture has light brown hair: dark pixels
    move outside the face (the hair) and stay dark inside it (mouth, lines, pupils)."""
    from avatar_cam.mesh_drawing import draw_face_mesh
    from avatar_cam.mesh_style import outside_face

    dark = (40, 30, 25)
    match = ColourMatch(Palette(tuple(_lab((150, 100, 70))), tuple(_lab(dark))),  # type: ignore[arg-type]
                        Palette(tuple(_lab((150, 100, 70))), tuple(_lab((190, 120, 60)))))  # type: ignore[arg-type]
    crop, lm = demo_crop(3.5)
    n = crop.shape[0]
    drawing = np.ascontiguousarray(draw_face_mesh(lm, n)[..., ::-1])
    outside = outside_face(drawing)
    c = n // 2
    assert outside[0, 0] > 0.99 and outside[c, c] < 0.01  # corner: background; centre: face
    img = np.full((n, n, 3), dark, np.uint8)
    out = match(img, outside)
    assert np.abs(out[c, c].astype(int) - dark).max() <= 3
    assert np.abs(out[0, 0].astype(int) - (190, 120, 60)).max() <= 8
    assert np.abs(match(img)[c, c].astype(int) - (190, 120, 60)).max() <= 8  # no mask: anywhere


def test_a_hair_as_pale_as_the_skin_takes_the_pictures_hair_outside_the_face(
        demo_crop: Callable[[float], tuple[np.ndarray, np.ndarray]]) -> None:
    """A look whose code draws white hair over pale skin (under `MIN_APART` apart: one colour to a
    colour match) and whose picture has pink hair: outside the face the white becomes the pink,
    inside it stays the skin's; with no face given, nothing turns pink."""
    from avatar_cam.mesh_drawing import draw_face_mesh
    from avatar_cam.mesh_style import outside_face
    from avatar_cam.palette import MIN_APART

    skin, white, pink = (250, 232, 220), (248, 240, 238), (225, 160, 175)
    assert np.linalg.norm(_lab(skin) - _lab(white)) < MIN_APART
    match = ColourMatch(Palette(tuple(_lab(skin)), tuple(_lab(white))),  # type: ignore[arg-type]
                        Palette(tuple(_lab(skin)), tuple(_lab(pink))))  # type: ignore[arg-type]
    crop, lm = demo_crop(3.5)
    n = crop.shape[0]
    outside = outside_face(np.ascontiguousarray(draw_face_mesh(lm, n)[..., ::-1]))
    c = n // 2
    img = np.full((n, n, 3), white, np.uint8)
    out = match(img, outside)
    assert np.abs(out[0, 0].astype(int) - pink).max() <= 8  # the hair, outside the face
    assert np.abs(out[c, c].astype(int) - white).max() <= 4  # inside: the skin's shift (none)
    assert np.abs(match(img)[0, 0].astype(int) - white).max() <= 4  # no face given: not moved
    # a pale blue background 17 Lab from that hair keeps most of its colour (with no skin colour
    # beside the hair's to hold it, a white background went a quarter of the way to pink)
    sky = np.array([[white, (200, 215, 235)]], np.uint8)
    moved = np.abs(match(sky, np.ones((1, 2), np.float32)).astype(int) - sky)
    assert moved[0, 1].max() < moved[0, 0].max() / 3, moved


def test_a_generators_shaded_hair_is_read_outside_its_face_and_matched() -> None:
    """Hair drawn in many shades (no one colour covers a fifth of the band: `crop_palette` finds
    none) is read as the median of the band outside the face, so a look's match moves it."""
    from avatar_cam.palette import drawn_palette

    def _lab_image(rgb: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)

    n, rng = 144, np.random.default_rng(0)
    img = np.full((n, n, 3), (90, 80, 200), np.uint8)
    hair, face = np.zeros((n, n), np.uint8), np.zeros((n, n), np.uint8)
    cv2.ellipse(hair, (n // 2, int(0.45 * n)), (int(0.42 * n), int(0.45 * n)), 0, 0, 360, 255, -1)
    cv2.ellipse(face, (n // 2, int(0.6 * n)), (int(0.3 * n), int(0.36 * n)), 0, 0, 360, 255, -1)
    shades = np.stack([rng.integers(200, 256, (n, n)), rng.integers(80, 200, (n, n)),
                       rng.integers(60, 170, (n, n))], -1).astype(np.uint8)  # pink to orange
    img[hair > 0] = shades[hair > 0]
    img[face > 0] = (230, 190, 160)
    outside = (face == 0).astype(np.float32)
    shown = (hair > 0) & (face == 0)
    assert crop_palette(img).hair is None
    drawn = drawn_palette(img, outside)
    assert drawn.hair is not None
    assert np.linalg.norm(np.subtract(drawn.hair, np.median(_lab_image(img)[shown], axis=0))) < 3
    blond = (225, 200, 120)
    out = ColourMatch(drawn, Palette(drawn.skin, tuple(_lab(blond))))(img, outside)  # type: ignore[arg-type]
    before = np.linalg.norm(np.median(_lab_image(img)[shown], axis=0) - _lab(blond))
    after = np.linalg.norm(np.median(_lab_image(out)[shown], axis=0) - _lab(blond))
    assert after < 0.5 * before, (before, after)  # the far shades move less (`REACH`)


def test_a_generators_shaded_hair_is_matched_at_the_middle_of_its_shades() -> None:
    """Hair a generator draws in a spread of shades is matched from the median of its shades (the
    band outside the face near its most common colour), not from that most common colour alone:
    from there the whole hair moved past the picture's colour (anime 1069's reddish brown came out
    a greyer brown). After the match the hair's median lands on the picture's hair."""
    from avatar_cam.palette import drawn_palette

    n = 144
    dark, light, skin = np.array([150, 80, 70]), np.array([200, 140, 90]), (235, 200, 180)
    img = _crop(skin, (150, 80, 70), n=n)
    hair = (img == (150, 80, 70)).all(-1)
    rows = (np.arange(n) - 0.05 * n) / (0.19 * n)  # 0 to 1 down the band over the forehead
    t = (np.clip(rows, 0, 1) ** 2)[:, None, None]  # most of its rows near the dark end
    shades = np.broadcast_to(np.round(dark + t * (light - dark)), (n, n, 3)).astype(np.uint8)
    img[hair] = shades[hair]
    face = np.zeros((n, n), np.uint8)
    cv2.ellipse(face, (n // 2, int(0.55 * n)), (int(0.3 * n), int(0.36 * n)), 0, 0, 360, 255, -1)
    outside = (face == 0).astype(np.float32)
    band = np.zeros((n, n), bool)
    band[int(0.05 * n):int(0.24 * n), int(0.25 * n):int(0.75 * n)] = True
    shown = hair & band & (face == 0)
    lab = cv2.cvtColor(img.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    wanted = _lab((120, 60, 40))

    def off_by(drawn: Palette) -> float:  # the matched hair's median from the wanted colour
        out = ColourMatch(drawn, Palette(drawn.skin, tuple(wanted)))(img, outside)  # type: ignore[arg-type]
        return float(np.linalg.norm(np.median(cv2.cvtColor(out.astype(np.float32) / 255.0,
                                                           cv2.COLOR_RGB2LAB)[shown], axis=0) - wanted))

    common, drawn = crop_palette(img), drawn_palette(img, outside)
    assert common.hair is not None and drawn.hair is not None
    assert np.linalg.norm(np.subtract(drawn.hair, np.median(lab[shown], axis=0))) < 1.5
    assert off_by(drawn) < 0.5 < 1.5 < off_by(common), (off_by(drawn), off_by(common))
    bald = _crop(skin, skin, n=n)  # a bald drawing keeps its hair the skin's own
    assert drawn_palette(bald, outside).bald
