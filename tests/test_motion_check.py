"""The motion check (`avatar-eval --motion`): measured on the rendered output, judged per signal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from training import motion_check as mc


def _row(**values: float) -> dict[str, float]:
    base = dict.fromkeys(mc.SIGNALS, 0.0)
    base.update(eye_r=0.3, eye_l=0.3)
    base.update(values)
    return base


def _result(camera: list, output: list) -> mc.ClipResult:
    return mc.ClipResult("c", camera, output, [], [])


def test_a_picture_that_follows_passes_and_a_frozen_one_fails() -> None:
    t = np.linspace(0, 6, 60)
    person = [_row(mouth_open=0.2 + 0.2 * np.sin(x), yaw=10 * np.sin(0.7 * x)) for x in t]
    follows = [_row(mouth_open=0.1 + 0.3 * np.sin(x), yaw=4 * np.sin(0.7 * x)) for x in t]
    frozen = [_row() for _ in t]
    good, bad = _result(person, follows).summary(), _result(person, frozen).summary()
    assert good["signals"]["mouth_open"]["corr"] == pytest.approx(1.0)
    assert good["signals"]["mouth_open"]["moves"] and not good["signals"]["brow_r"]["moves"]
    assert mc.verdict(good) == []
    assert bad["signals"]["mouth_open"]["corr"] == 0.0
    assert any(m.startswith("mouth_open") for m in mc.verdict(bad))
    assert any(m.startswith("yaw") for m in mc.verdict(bad))


def test_false_winks_and_missing_faces_are_counted() -> None:
    person = [_row(mouth_open=0.1 * (i % 3)) for i in range(20)]
    output = [_row(eye_r=0.05 if i < 4 else 0.3, mouth_open=0.1 * (i % 3)) for i in range(20)]
    output[5] = None
    s = _result(person, output).summary()
    assert s["output_face_rate"] == pytest.approx(0.95)
    assert s["false_wink_rate"] == pytest.approx(4 / 19)
    misses = " ".join(mc.verdict(s))
    assert "false winks" in misses and "face on" in misses


def test_gaze_is_compared_only_where_the_persons_eyes_are_open() -> None:
    t = np.linspace(0, 6, 40)
    person = [_row(gaze_x=0.05 * np.sin(x)) for x in t]
    output = [_row(gaze_x=0.08 * np.sin(x)) for x in t]
    for i in (10, 11, 12):  # a blink: the person's irises read anywhere on the lids, the drawing's too
        person[i] = _row(eye_r=0.05, eye_l=0.06, gaze_x=0.05)
        output[i] = _row(eye_r=0.05, eye_l=0.05, gaze_x=-0.1)
    s = _result(person, output).summary()
    assert s["gaze_compared"] == 37
    assert s["signals"]["gaze_x"]["corr"] == pytest.approx(1.0)
    assert s["compared"] == 40  # every other signal keeps every frame
    half = _result(person, [_row(gaze_x=0.0) if i in (10, 11, 12) else o for i, o in enumerate(output)])
    assert half.summary()["signals"]["gaze_x"]["corr"] == pytest.approx(1.0)
    faceless = _result(person, [None if i == 0 else o for i, o in enumerate(output)]).summary()
    assert mc.mean_summary([s, faceless])["gaze_compared"] == 36  # what every size compared


def test_several_sizes_are_judged_on_their_mean() -> None:
    t = np.linspace(0, 6, 40)
    person = [_row(mouth_open=0.2 + 0.2 * np.sin(x)) for x in t]
    close = [_row(mouth_open=0.2 + 0.2 * np.sin(x) + (0.2 if i % 2 else 0.0)) for i, x in enumerate(t)]
    exact = _result(person, person).summary()
    rough = _result(person, close).summary()
    rough_mouth = rough["signals"]["mouth_open"]["corr"]
    assert rough_mouth < 0.9
    mean = mc.mean_summary([exact, rough])
    assert mean["sizes"] == 2
    assert mean["signals"]["mouth_open"]["corr"] == pytest.approx((1.0 + rough_mouth) / 2)
    assert mean["signals"]["mouth_open"]["corr_min"] == pytest.approx(rough_mouth)
    assert mean["signals"]["mouth_open"]["moves"] and not mean["signals"]["yaw"]["moves"]
    assert mc.verdict(mean) == []  # the mean meets the goal that one size misses
    assert mc.verdict(rough) != []


def _demo_clip(path: Path, frames: int = 20) -> Path:
    from avatar_cam.demo import draw_demo_face

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    for i in range(frames):
        writer.write(draw_demo_face(i / 15 * 2.0, (320, 240)))
    writer.release()
    return path


def test_motion_check_runs_the_app_pipeline_on_a_clip(tmp_path: Path) -> None:
    """A real clip (the demo face) through a character (by its old name) at 320x180; the CLI
    writes the table."""
    from training.evaluate import main

    clip = _demo_clip(tmp_path / "clip.mp4")
    out = tmp_path / "out"
    assert main(["--motion", "--style", "rig-sunny", "--clips", str(clip), "--size", "320x180",
                 "--out", str(out)]) == 0
    result = json.loads((out / "motion.json").read_text())["clips"]["clip.mp4"]
    assert result["frames"] == 20 and result["camera_face_rate"] == 1.0
    assert set(result["signals"]) == set(mc.SIGNALS)
    assert (out / "motion_sheet.png").is_file()


def test_motion_check_at_several_sizes_writes_each_and_their_mean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.evaluate import main

    clip = _demo_clip(tmp_path / "clip.mp4", 12)
    out = tmp_path / "out"
    assert main(["--motion", "--style", "sunny", "--clips", str(clip), "--size", "320x180,352x198",
                 "--out", str(out)]) == 0
    record = json.loads((out / "motion.json").read_text())
    assert record["sizes"] == ["320x180", "352x198"]
    per = [record["per_size"][s]["clip.mp4"]["signals"]["yaw"]["corr"] for s in record["sizes"]]
    assert record["clips"]["clip.mp4"]["signals"]["yaw"]["corr"] == pytest.approx(np.mean(per))
    printed = capsys.readouterr().out
    assert "at 352x198:" in printed and "mean over 320x180, 352x198 (judged):" in printed
    tables = subprocess.run([sys.executable, str(Path(__file__).parents[1] / "scripts" / "motion_tables.py"),
                             str(out)], capture_output=True, text=True, check=True).stdout
    assert "`sunny` at the mean of 320x180, 352x198:" in tables  # the table is the mean, not one size
    assert main(["--motion", "--style", "sunny", "--clips", str(clip), "--size", "320x180,big"]) == 2
    assert "'big' is not WIDTHxHEIGHT" in capsys.readouterr().err


def test_motion_check_refuses_a_missing_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from training.evaluate import main

    assert main(["--motion", "--style", "rig-sunny", "--clips", str(tmp_path / "nope.mp4")]) == 2
    assert "no such clip" in capsys.readouterr().err
