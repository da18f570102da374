"""The headless CLI end to end: real clip in, real files out, stats, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from avatar_cam.cli import main
from avatar_cam.demo import draw_demo_face
from avatar_cam.sinks import MANIFEST
from tests.vcam_backend import RecordingBackend, only_backends


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, f = cap.read()
        if not ok:
            return out
        out.append(f)


def test_clip_to_mp4_keeps_every_frame_tracks_the_face_and_leaks_nothing(
    clip_651: Path, tmp_path: Path
) -> None:
    out, stats = tmp_path / "out.mp4", tmp_path / "s.json"
    assert main(["--headless", "--input", str(clip_651), "--output", str(out), "--stats", str(stats)]) == 0
    s = json.loads(stats.read_text())
    for key in ("frames_in", "frames_out", "frames_with_face", "frames_fallback", "fps", "latency_ms",
                "provider", "style"):
        assert key in s
    assert s["frames_in"] == s["frames_out"] == s["frames_with_face"] == 62
    # the default style is the drawn character (issue 23), painted with Skia
    assert s["frames_fallback"] == 0 and s["style"] == "sunny" and s["provider"] == "skia"
    written, original = _frames(out), _frames(clip_651)
    assert len(written) == 62
    for w, o in zip(written, original, strict=True):
        raw = cv2.resize(o, (w.shape[1], w.shape[0]))
        assert np.abs(w.astype(int) - raw).mean() > 20, "an output frame looks like the camera frame"


def test_image_in_image_out_and_folder_in_folder_out(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "one.png"), draw_demo_face(0.0))
    cv2.imwrite(str(src / "two.jpg"), draw_demo_face(1.0))
    (src / "junk.png").write_bytes(b"junk")
    assert main(["--headless", "-i", str(src / "one.png"), "-o", str(tmp_path / "a.png")]) == 0
    assert cv2.imread(str(tmp_path / "a.png")).shape == (720, 1280, 3)  # the default output size
    stats = tmp_path / "s.json"
    assert main(["--headless", "-i", str(src), "-o", str(tmp_path / "out"), "--size", "320x240",
                 "--stats", str(stats)]) == 0
    # beside the pictures, the record of what avatar-cam wrote (a re-run may replace only those)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [MANIFEST, "one.png", "two.jpg"]
    s = json.loads(stats.read_text())
    assert s["frames_with_face"] == 2 and len(s["skipped_inputs"]) == 1
    assert "1 unreadable (skipped)" in capsys.readouterr().err  # said, not only in the stats


def test_photos_are_summed_up_without_a_frame_rate(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A photo's summary said '0.0 fps' (a folder's some rate): a rate means nothing for stills,
    what was written does."""
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "face.png"), draw_demo_face(0.0))
    cv2.imwrite(str(src / "plain.png"), np.full((120, 160, 3), 100, np.uint8))
    runs = [(src / "face.png", tmp_path / "a.png", "wrote 1 file, 1 with a face, latency"),
            (src, tmp_path / "out", "wrote 2 files, 1 with a face, 1 without a face (placeholder card: "
                                    "plain.png)"),
            (src, "none", "processed 2 files, 1 with a face")]
    for spec, out, said in runs:
        assert main(["--headless", "-i", str(spec), "-o", str(out), "--size", "160x120"]) == 0
        summary = capsys.readouterr().err.strip().splitlines()[-1]
        assert summary.startswith(f"avatar-cam: {said}") and "fps" not in summary, summary
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "2", "--size", "160x120"]) == 0
    assert " fps, latency p50 " in capsys.readouterr().err  # a video's frames still have a rate
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "1", "--size", "160x120"]) == 0
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("avatar-cam: 1 frame, ") and "fps" not in summary, summary  # one has none


def test_demo_input_into_the_virtual_camera(tmp_path: Path) -> None:
    with only_backends(recording=RecordingBackend):
        code = main(["--headless", "-i", "demo", "-o", "vcam", "--max-frames", "5", "--mirror",
                     "--mode", "overlay"])
    assert code == 0
    assert len(RecordingBackend.frames) == 5 and RecordingBackend.frames[0].shape == (720, 1280, 3)


def test_frames_an_output_did_not_take_end_in_one_error_line_and_exit_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose output lost frames (a disk that filled up) must not end as if it succeeded."""
    from avatar_cam import sinks

    real = sinks._imwrite
    written: list[int] = []

    def fill_up(path: Path, image_bgr: np.ndarray) -> None:
        if written:
            raise sinks.SinkError(f"{path}: cannot write (No space left on device)")
        real(path, image_bgr)
        written.append(1)

    monkeypatch.setattr(sinks, "_imwrite", fill_up)
    out = tmp_path / "frames"
    assert main(["--headless", "-i", "demo", "-o", str(out), "--max-frames", "4", "--size", "320x180"]) == 1
    err = capsys.readouterr().err
    assert err.count("avatar-cam: error:") == 1
    assert "3 frame(s) not written" in err and "No space left on device" in err
    assert (out / "000000.png").is_file()  # the frame it did take is there


@pytest.mark.parametrize(("flag", "value"), [("--size", "0x0"), ("--size", "abc"), ("--size", "-5x10"),
                                             ("--fps", "nan"), ("--fps", "0"), ("--fps", "-5")])
def test_a_bad_flag_value_is_one_line_and_exit_1(flag: str, value: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as bad:
        main(["--headless", "-i", "demo", "-o", "none", flag, value])
    err = capsys.readouterr().err
    assert bad.value.code == 1 and err.count("\n") == 1
    assert err.startswith(f"avatar-cam: error: argument {flag}")
    # a value starting with '-' is read as a flag by argparse ('expected one argument'): the
    # line names the value and how to pass it
    assert value in err and ("expected one argument" not in err or f"write {flag}={value}" in err), err


def test_an_odd_video_size_is_announced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.mp4"
    assert main(["--headless", "-i", "demo", "-o", str(out), "--max-frames", "2", "--size", "321x181"]) == 0
    assert "the video is 320x180" in capsys.readouterr().err
    ok, frame = cv2.VideoCapture(str(out)).read()
    assert ok and frame.shape == (180, 320, 3)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--style", "nope"], "no style named 'nope'"),
        (["--style", "/nonexistent/x.onnx"], "no such style file"),
        (["-i", "/nonexistent.mp4"], "no such file"),
        (["-i", "42"], "camera 42 cannot be opened"),
        (["--background", "blue"], "background colour"),
        (["--background", "/nonexistent/bg.png"], "background image"),
        (["--background", ""], "--background is empty"),  # it replaced the style's own with slate
        (["-o", "vcam"], "virtual camera unavailable"),
        (["--max-frames", "0"], "--max-frames must be at least 1"),
        (["-i", "2147483648"], "no such camera"),
        (["--calibrate", "--style", "flat-mesh"], "--calibrate needs a drawn character style"),
        (["--style", ""], "the style name is empty"),
        (["--style", " "], "the style name is empty"),
        (["--provider", "foo"], "--provider 'foo' is not an execution provider"),
        (["--provider", ""], "--provider '' is not an execution provider"),
    ],
)
def test_bad_input_exits_1_with_one_clear_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                               expected: str) -> None:
    argv = ["--headless", "-i", "demo", "-o", "none", *args]
    with only_backends():
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("avatar-cam: error:") == 1
    line = next(ln for ln in err.splitlines() if "avatar-cam: error:" in ln)
    assert expected in line and err.strip().endswith(line), "the error is one line, and the last"


def test_list_styles_and_cameras_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-styles", "--list-cameras"]) == 0
    out = capsys.readouterr().out
    assert "user styles folder" in out and ("no camera found" in out or ": " in out.splitlines()[-1])


def test_list_styles_shows_the_builtin_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-styles"]) == 0
    assert "* " in capsys.readouterr().out


def test_the_app_never_imports_torch() -> None:
    code = (
        "import sys, avatar_cam.cli, avatar_cam.pipeline, avatar_cam.styles, avatar_cam.demo;"
        "import avatar_cam.face, avatar_cam.inference, avatar_cam.sinks, avatar_cam.sources;"
        "import avatar_cam.gui.app, avatar_cam.bench;"
        "assert 'torch' not in sys.modules and 'training' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_background_image_fills_the_avatar_frame(tmp_path: Path) -> None:
    bg = np.zeros((100, 100, 3), np.uint8)
    bg[:] = (0, 200, 0)
    cv2.imwrite(str(tmp_path / "bg.png"), bg)
    out = tmp_path / "o.png"
    assert main(["--headless", "-i", "demo", "-o", str(out), "--max-frames", "1",
                 "--background", str(tmp_path / "bg.png")]) == 0
    img = cv2.imread(str(out))
    assert tuple(img[240, 5]) == (0, 200, 0), "the side of a 640x480 avatar frame shows the image"


def test_calibrate_saves_the_neutral_face_and_expressiveness_is_checked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from avatar_cam.character.params import Calibration
    from avatar_cam.gui.settings import AppSettings

    monkeypatch.setenv("AVATAR_CAM_SETTINGS", str(tmp_path / "s.ini"))
    # a video plays as recorded: no settling second, so 2.4 s of it calibrate (the shared clips
    # are 2.3-2.6 s long)
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "72", "--size", "320x180",
                 "--calibrate", "--expressiveness", "1.5"]) == 0
    err = capsys.readouterr().err
    assert "calibrated: your neutral face" in err and str(tmp_path / "s.ini") in err
    assert "neutral face for 2 s" in err
    saved = AppSettings().calibration
    assert saved != Calibration() and saved.gain == 1.0, "the flag's gain is for this run only"
    (tmp_path / "afile").write_text("a file where the settings' folder would be")
    monkeypatch.setenv("AVATAR_CAM_SETTINGS", str(tmp_path / "afile" / "s.ini"))
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "110", "--size", "320x180",
                 "--calibrate"]) == 0
    err = capsys.readouterr().err
    assert "(not saved: " in err and "cannot be written" in err and "saved in" not in err, err
    with pytest.raises(SystemExit) as bad:
        main(["--headless", "-i", "demo", "--expressiveness", "9"])
    err = capsys.readouterr().err
    assert bad.value.code == 1 and "outside 0.25 .. 3" in err and err.count("\n") == 1, err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_pipe_as_the_settings_file_gets_a_note_and_the_run_goes_on(tmp_path: Path) -> None:
    """Qt's settings reader blocked on a named pipe for good (run in a process of its own, so
    that a block fails this test instead of hanging the suite)."""
    os.mkfifo(tmp_path / "pipe.ini")
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from avatar_cam.cli import main; sys.exit(main(sys.argv[1:]))",
         "--headless", "-i", "demo", "-o", "none", "--max-frames", "2", "--size", "320x180"],
        env={**os.environ, "AVATAR_CAM_SETTINGS": str(tmp_path / "pipe.ini")}, capture_output=True,
        text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "pipe.ini is a pipe or device, not a settings file" in run.stderr
    assert run.stderr.count("note:") == 1, run.stderr


def test_reference_makes_a_look_saves_it_and_runs_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`--style anime-mesh --reference PICTURE`: the picture's look, saved per user, listed, used."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    picture = tmp_path / "my cartoon.png"
    cv2.imwrite(str(picture), draw_demo_face(0.5))
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), draw_demo_face(1.0))
    out = tmp_path / "out.png"
    argv = ["--headless", "--style", "anime-mesh", "--reference", str(picture), "-i", str(face),
            "-o", str(out)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    saved = tmp_path / "data" / "avatar-cam" / "styles" / "anime-mesh-my-cartoon.look.json"
    assert "look 'anime-mesh-my-cartoon' from my cartoon.png (face found" in err and str(saved) in err
    assert "style anime-mesh-my-cartoon |" in err and out.is_file()
    assert main(["--list-styles"]) == 0
    assert "anime-mesh-my-cartoon (look: anime-mesh" in capsys.readouterr().out
    assert main(["--headless", "--style", "anime-mesh-my-cartoon", "-i", str(face), "-o", "none"]) == 0


def test_reference_with_the_default_character_makes_a_character(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`--reference PICTURE` with the default drawn character: a new character in the picture's
    colours, saved per user, listed and used."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    picture = tmp_path / "my cartoon.png"
    cv2.imwrite(str(picture), draw_demo_face(0.5))
    out = tmp_path / "out.png"
    argv = ["--headless", "--reference", str(picture), "-i", "demo", "-o", str(out), "--max-frames", "1"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    saved = tmp_path / "data" / "avatar-cam" / "styles" / "sunny-my-cartoon.character.json"
    assert "character 'sunny-my-cartoon'" in err and str(saved) in err and out.is_file()
    assert "style sunny-my-cartoon |" in err
    assert main(["--list-styles"]) == 0
    assert "sunny-my-cartoon" in capsys.readouterr().out


@pytest.mark.parametrize(("style", "picture", "expected"), [
    ("anime-mesh", "missing.png", "no such picture"),
    ("anime-mesh", "notes.png", "not a picture"),
    ("placeholder-mosaic", "face.png", "has a fixed look"),
])
def test_a_bad_reference_exits_1_with_one_line_and_saves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        style: str, picture: str, expected: str) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (tmp_path / "notes.png").write_text("not a picture")
    cv2.imwrite(str(tmp_path / "face.png"), draw_demo_face(0.5))
    argv = ["--headless", "-i", "demo", "-o", "none", "--style", style,
            "--reference", str(tmp_path / picture)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("avatar-cam: error:") == 1 and err.count("\n") == 1
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("style", ["anime-mesh", None])
def test_a_refused_run_saves_no_look(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str], style: str | None) -> None:
    """A good reference with a run refused for its input or output: one error line and no look
    or character saved (an audit's run said 'saved as ...' and then refused to run)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    picture = tmp_path / "pic.png"
    cv2.imwrite(str(picture), draw_demo_face(0.5))
    chosen = ["--style", style] if style else []
    for run in (["-i", str(picture), "-o", str(picture)], ["-i", str(tmp_path / "gone.mp4"), "-o", "none"]):
        assert main(["--headless", *chosen, "--reference", str(picture), *run]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "avatar-cam: error:" in err and "saved" not in err, err
        assert not list((tmp_path / "data").rglob("*.json")), "nothing saved for a refused run"


def test_a_run_never_writes_over_what_it_reads_or_an_earlier_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Output or stats naming the input (also through a hard link), a stats path on another file
    (a character's .json too), a video or picture output on a file of the user's, frames into a
    folder of an earlier run's frames, a video into one image, a looped video with no end: one
    error line, exit 1, before anything is written (the helper's sweep overwrote a clip with
    --stats; an audit replaced a clip through a hard link, a saved character with --stats, and
    a video and a photo with -o)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    photo, clip, old = photos / "p.png", tmp_path / "clip.mp4", tmp_path / "old"
    cv2.imwrite(str(photo), draw_demo_face(0.0))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    for i in range(3):
        writer.write(cv2.resize(draw_demo_face(0.3 * i), (320, 240)))
    writer.release()
    old.mkdir()
    (old / "000000.png").write_bytes(b"an earlier run's frame")
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine.json").write_text('{"format": "avatar-cam-character/2", "name": "mine"}')
    os.link(clip, tmp_path / "clip-link.mp4")  # the same file under another name
    (tmp_path / "other.mp4").write_bytes(clip.read_bytes())  # the user's own files, same kinds
    (tmp_path / "photo2.png").write_bytes(photo.read_bytes())
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    video = ["-i", str(clip), "-o", str(tmp_path / "o.mp4")]
    cases = [
        (["-i", str(photo), "-o", str(photo)], "is the input"),
        (["-i", str(photos), "-o", str(photos)], "is the input"),
        ([*video, "--stats", str(clip)], "is the input"),
        ([*video, "--stats", str(tmp_path / "o.mp4")], "is the output"),
        ([*video, "--stats", str(tmp_path / "notes.txt")], "not an earlier run's summary"),
        ([*video, "--stats", str(tmp_path / "mine.json")], "not an earlier run's summary"),
        (["-i", str(clip), "-o", str(tmp_path / "clip-link.mp4")], "is the input"),
        (["-i", str(clip), "-o", str(tmp_path / "other.mp4")], "not written by avatar-cam"),
        (["-i", str(photo), "-o", str(tmp_path / "photo2.png")], "not written by avatar-cam"),
        (["-i", str(clip), "-o", str(old)], "earlier run"),
        (["-i", str(clip), "-o", str(tmp_path / "one.png")], "one image cannot hold"),
        (["-i", str(photos), "-o", str(tmp_path / "one.png")], "a folder of images goes to a folder"),
        (["-i", str(photos), "-o", str(tmp_path / "all.mp4")], "not into a video"),  # 33 ms a photo
        (["-i", str(clip), "--loop", "-o", str(tmp_path / "o.mp4")], "--max-frames"),
    ]
    for args, expected in cases:
        assert main(["--headless", *args]) == 1, args
        err = capsys.readouterr().err
        assert expected in err and err.count("avatar-cam: error:") == 1, (args, err)
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before
    # a refused run leaves no folder it made (a looped video into new/deeper/o.mp4 left new/deeper)
    deep = tmp_path / "new" / "deeper" / "o.mp4"
    assert main(["--headless", "-i", str(clip), "--loop", "-o", str(deep)]) == 1
    assert "--max-frames" in capsys.readouterr().err and not (tmp_path / "new").exists()


def test_a_rerun_replaces_its_own_outputs_until_the_user_changes_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A video, a picture and a summary avatar-cam wrote are replaced by the next run (the usual
    try-again loop); once the user has changed one it is theirs and is refused."""
    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), draw_demo_face(0.0))
    video, picture, stats = tmp_path / "out" / "o.mp4", tmp_path / "out" / "o.png", tmp_path / "s.json"
    runs = [["-i", "demo", "-o", str(video), "--max-frames", "2", "--size", "160x90", "--stats", str(stats)],
            ["-i", str(photo), "-o", str(picture), "--size", "160x90"]]
    for _ in range(2):
        for args in runs:
            assert main(["--headless", *args]) == 0, capsys.readouterr().err
    assert cv2.VideoCapture(str(video)).get(cv2.CAP_PROP_FRAME_COUNT) == 2
    for path, args in ((video, runs[0]), (picture, runs[1])):
        path.write_bytes(path.read_bytes() + b"edited")
        assert main(["--headless", *args]) == 1
        assert "not written by avatar-cam" in capsys.readouterr().err
    stats.write_text("{}")
    assert main(["--headless", *runs[0][:6], "--stats", str(stats)]) == 1
    assert "not an earlier run's summary" in capsys.readouterr().err


def test_a_damaged_video_that_stops_decoding_says_so(clip_651: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A clip with 20 KB zeroed in the middle decoded 23 of its 62 frames: the run ended with
    exit 0, a 23-frame output and a summary that looked complete."""
    data = bytearray(clip_651.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 20_000] = bytes(20_000)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    stats = tmp_path / "s.json"
    run = ["--headless", "-o", "none", "--size", "160x90", "--stats", str(stats), "-i"]
    assert main([*run, str(damaged)]) == 0
    ended = json.loads(stats.read_text())["input_ended_early"]
    assert 0 < ended["frames_read"] < ended["frames_in_file"] == 62
    assert f"stopped decoding after {ended['frames_read']} of the 62 frames" in capsys.readouterr().err
    assert main([*run, str(clip_651)]) == 0
    assert "input_ended_early" not in json.loads(stats.read_text())
    assert "stopped decoding" not in capsys.readouterr().err


def test_fps_on_a_video_says_the_video_keeps_its_own_rate(clip_651: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o.mp4"
    assert main(["--headless", "-i", str(clip_651), "-o", str(out), "--fps", "10", "--max-frames", "3",
                 "--size", "320x180"]) == 0
    assert "keeps the video's 24 fps" in capsys.readouterr().err
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FPS) == pytest.approx(24.0)


def test_a_provider_name_is_checked_whatever_the_style(capsys: pytest.CaptureFixture[str]) -> None:
    """A typo was run silently with a drawn character (which needs no provider); a real name that
    this machine lacks is still only refused where a style needs it, as before."""
    from avatar_cam.options import check_provider

    assert check_provider("CUDA") == "cuda" and check_provider("auto") == "auto"
    assert check_provider("CPUExecutionProvider") == "CPUExecutionProvider"
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "3", "--provider", "cdua"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("avatar-cam: error: --provider 'cdua' is not an "
                                                   "execution provider (use auto, tensorrt, cuda, "
                                                   "directml, coreml or cpu)"), err
    for name in ("cpu", "tensorrt", "coreml"):  # the character runs; the provider is not used
        assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "2", "--size", "160x120",
                     "--provider", name]) == 0


def test_a_folder_output_never_replaces_files_avatar_cam_did_not_write(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tester's sweep: photos -> photos/sub, then photos/sub -> photos replaced the original
    photos with their cartoons. A folder output may replace only what avatar-cam wrote there
    (a re-run into the same folder works); anything else is refused before a frame is processed."""
    photos, sub = tmp_path / "photos", tmp_path / "photos" / "sub"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.jpg"), draw_demo_face(0.0))
    cv2.imwrite(str(photos / "b.jpg"), draw_demo_face(1.0))
    originals = {n: (photos / n).read_bytes() for n in ("a.jpg", "b.jpg")}
    small = ["--size", "160x120"]
    assert main(["--headless", "-i", str(photos), "-o", str(sub), *small]) == 0
    assert main(["--headless", "-i", str(photos), "-o", str(sub), *small]) == 0  # again: its own files
    capsys.readouterr()
    assert main(["--headless", "-i", str(sub), "-o", str(photos), *small]) == 1
    err = capsys.readouterr().err
    assert err.count("avatar-cam: error:") == 1 and err.count("\n") == 1, err
    assert "already holds a.jpg and 1 more file(s)" in err and "avatar-cam did not write" in err
    assert {n: (photos / n).read_bytes() for n in ("a.jpg", "b.jpg")} == originals
    # one of its files the user has replaced since is the user's
    (sub / "b.jpg").write_bytes(originals["a.jpg"])
    assert main(["--headless", "-i", str(photos), "-o", str(sub), *small]) == 1
    assert "already holds b.jpg that this run" in capsys.readouterr().err
    assert (sub / "b.jpg").read_bytes() == originals["a.jpg"]
    # one photo into a folder holding a picture of the same name
    assert main(["--headless", "-i", str(photos / "a.jpg"), "-o", str(tmp_path), *small]) == 0
    capsys.readouterr()
    assert main(["--headless", "-i", str(sub / "a.jpg"), "-o", str(photos), *small]) == 1
    assert "already holds a.jpg" in capsys.readouterr().err
    assert (photos / "a.jpg").read_bytes() == originals["a.jpg"]
    # numbered frames: a picture of the user's among the names the run would give is refused,
    # one past them is left alone
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "000003.png").write_bytes(b"mine")
    assert main(["--headless", "-i", "demo", "-o", str(frames), "--max-frames", "5", *small]) == 1
    assert "already holds 000003.png" in capsys.readouterr().err
    assert sorted(p.name for p in frames.iterdir()) == ["000003.png"]
    assert main(["--headless", "-i", "demo", "-o", str(frames), "--max-frames", "3", *small]) == 0
    assert (frames / "000003.png").read_bytes() == b"mine"


@pytest.mark.parametrize("folder", [False, True])
def test_calibrate_with_photos_is_refused_before_the_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        folder: bool) -> None:
    """A photo never gives the 2 s calibration needs: said up front, not as 'did not finish'."""
    monkeypatch.setenv("AVATAR_CAM_SETTINGS", str(tmp_path / "s.ini"))
    cv2.imwrite(str(tmp_path / "face.png"), draw_demo_face(0.5))
    spec = tmp_path if folder else tmp_path / "face.png"
    assert main(["--headless", "-i", str(spec), "-o", "none", "--calibrate"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.count("avatar-cam: error:") == 1, err
    assert "--calibrate learns your neutral face from 2 s of a camera or video" in err
    assert ("a folder of photos" if folder else "a photo (face.png)") in err
    assert not (tmp_path / "s.ini").exists()


def test_full_mode_with_a_picture_style_claims_no_face_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Full mode runs a camera-picture style on the whole frame and looks for no face: it said
    '3 frames, 0 with a face' of a clip with a face on every frame. A style drawn from the face
    (the character, a mesh style) still tracks it in full mode and counts."""
    stats = tmp_path / "s.json"
    base = ["--headless", "-i", "demo", "-o", "none", "--max-frames", "3", "--size", "160x120",
            "--mode", "full", "--stats", str(stats)]
    assert main([*base, "--style", "placeholder-mosaic"]) == 0
    err = capsys.readouterr().err
    assert "3 frames, faces not looked for in full mode, 0 fallback" in err and "with a face" not in err
    s = json.loads(stats.read_text())
    assert s["faces_tracked"] is False and s["frames_with_face"] is None
    assert s["files_without_face"] is None and s["names_without_face"] is None
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), draw_demo_face(0.5))
    assert main([*base[:2], str(folder), *base[3:], "--style", "placeholder-mosaic"]) == 0
    err = capsys.readouterr().err
    assert "1 file (faces not looked for in full mode)" in err and "placeholder card" not in err
    assert main(base) == 0  # the drawn character
    assert "3 frames, 3 with a face" in capsys.readouterr().err
    s = json.loads(stats.read_text())
    assert s["faces_tracked"] is True and s["frames_with_face"] == 3


def test_a_background_full_mode_does_not_use_is_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    """--background with --mode full and a style that restyles the whole picture was ignored
    without a word."""
    argv = ["--headless", "-i", "demo", "-o", "none", "--max-frames", "2", "--background", "#102030"]
    assert main([*argv, "--mode", "full", "--style", "placeholder-mosaic"]) == 0
    assert "--background is not used in full mode" in capsys.readouterr().err
    assert main([*argv, "--mode", "full"]) == 0  # the default character draws its scene: used
    assert "--background is not used" not in capsys.readouterr().err


def test_a_character_whose_background_picture_is_gone_says_so_headless(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The window showed the note; the headless run used the gradient without a word."""
    from avatar_cam.styles import builtin_styles_dir

    data = json.loads((builtin_styles_dir() / "sunny.character.json").read_text())
    data["background"].update(kind="image", image="backgrounds/beach.png")
    style = tmp_path / "beach.character.json"
    style.write_text(json.dumps(data))
    assert main(["--headless", "--style", str(style), "-i", "demo", "-o", "none", "--max-frames", "2",
                 "--size", "160x120"]) == 0
    err = capsys.readouterr().err
    assert "note: " in err and "'backgrounds/beach.png' is missing; using its gradient" in err


def test_a_folder_whose_pictures_cannot_be_read_is_one_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Files with picture names, none readable: exit 1 with one line and no output folder (it
    said 'wrote 0 files' and exited 0)."""
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "b.jpg").write_text("not a picture")
    (junk / "a.txt").write_text("notes")
    assert main(["--headless", "-i", str(junk), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "none of its 1 picture files could be read" in err and err.count("avatar-cam: error:") == 1, err
    assert not (tmp_path / "out").exists()


def test_a_run_stopped_by_ctrl_c_says_so_in_its_summary(tmp_path: Path) -> None:
    """Ctrl+C ends a headless run cleanly; its summary says it was stopped (a file output ends
    there), which a complete run's does not."""
    import signal
    import time

    stats = tmp_path / "s.json"
    proc = subprocess.Popen([sys.executable, "-m", "avatar_cam", "--headless", "-i", "demo", "--loop",
                             "-o", "none", "--size", "160x90", "--stats", str(stats)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(8)  # started and running
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(stats.read_text())
    assert summary["stopped"] is True and summary["frames_out"] > 0
    assert "(stopped: Ctrl+C or TERM)" in err.strip().splitlines()[-1], err
    assert "input_ended_early" not in summary and "stopped decoding" not in err, "stopped, not damaged"
    assert main(["--headless", "-i", "demo", "-o", "none", "--max-frames", "3", "--size", "160x90",
                 "--stats", str(stats)]) == 0
    assert json.loads(stats.read_text())["stopped"] is False


def test_background_in_overlay_mode_and_a_made_folder_are_notes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A first-day walkthrough: --background in overlay mode changed nothing and said nothing, and
    a mistyped output folder was made without a word."""
    argv = ["--headless", "-i", "demo", "--max-frames", "1", "--size", "160x90", "--background", "0,128,0"]
    assert main([*argv, "-o", "none", "--mode", "overlay"]) == 0
    assert "--background is not used in overlay mode" in capsys.readouterr().err
    assert main([*argv, "-o", "none"]) == 0
    assert "--background is not used" not in capsys.readouterr().err
    out = tmp_path / "typo" / "deeper" / "x.png"
    assert main([*argv, "-o", str(out)]) == 0 and out.is_file()
    err = capsys.readouterr().err
    assert f"made the folder {tmp_path / 'typo'} for the output" in err
    assert main([*argv, "-o", str(tmp_path / "typo" / "y.png")]) == 0
    assert "made the folder" not in capsys.readouterr().err


def test_expressiveness_with_a_generated_style_is_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    """--expressiveness with flat-mesh changed nothing (the output byte for byte the same at 0.25
    and 3) and said nothing."""
    argv = ["--headless", "-i", "demo", "-o", "none", "--max-frames", "1", "--size", "160x90",
            "--expressiveness", "2"]
    assert main([*argv, "--style", "flat-mesh"]) == 0
    assert "--expressiveness is not used by flat-mesh" in capsys.readouterr().err
    assert main(argv) == 0
    assert "--expressiveness is not used" not in capsys.readouterr().err
