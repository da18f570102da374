"""Every place the app reads a picture file survives one OpenCV refuses to decode: a small PNG
whose header claims 40000x40000 px made cv2.imread / cv2.imdecode raise (a traceback from
`--input`, `--background`, a character's background picture, the creator, the thumbnails)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.character.creator import store_background
from avatar_cam.cli import main
from avatar_cam.image_files import TooLarge, decode_image, load_image
from avatar_cam.sources import SourceError, read_image
from avatar_cam.styles import StyleError, builtin_styles_dir, load_style
from tests.conftest import huge_png
from tests.vcam_backend import only_backends


def test_the_reader_answers_for_what_opencv_refuses(tmp_path: Path) -> None:
    huge = huge_png(tmp_path / "huge.png")
    ok = tmp_path / "ok.png"
    cv2.imwrite(str(ok), np.full((8, 8, 3), 70, np.uint8))
    with pytest.raises(TooLarge, match="over OpenCV's pixel limit"):
        decode_image(np.fromfile(str(huge), np.uint8))
    assert load_image(huge) is None and load_image(tmp_path) is None
    assert load_image(tmp_path / "no.png") is None
    assert load_image(ok).shape == (8, 8, 3)
    with pytest.raises(SourceError, match="too large to decode"):
        read_image(huge)


@pytest.mark.parametrize("flag", ["-i", "--background"])
def test_the_cli_says_one_line(tmp_path: Path, flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    huge = huge_png(tmp_path / "h.png")
    argv = ["--headless", "-i", "demo", "-o", "none", "--max-frames", "2", flag, str(huge)]
    with only_backends():
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("avatar-cam: error:") == 1 and "Traceback" not in err


def test_a_character_or_the_creator_refuses_it_as_a_background(tmp_path: Path) -> None:
    huge_png(tmp_path / "huge.png")
    data = json.loads((builtin_styles_dir() / "sunny.character.json").read_text())
    data["background"].update(kind="image", image="huge.png")
    path = tmp_path / "bg.character.json"
    path.write_text(json.dumps(data))
    with pytest.raises(StyleError, match="is not a readable image"):
        load_style(path)
    with pytest.raises(ValueError, match="not a picture that can be read"):
        store_background(tmp_path / "huge.png", tmp_path / "lib")
