"""`avatar-bench` on the pipeline: CPU per frame and per stage, and the run paced like a camera.
The fields and how they relate are checked here; how fast anything is, only the bench says."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from avatar_cam.bench import main

STAGES = {"capture", "landmarks", "crop", "render", "gate", "sink"}  # a character's stages


def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    assert main(["--frames", "12", "--warmup", "3", "--size", "320x240", "--json", str(out), *args]) == 0
    return json.loads(out.read_text())


def _sane(r: dict) -> None:
    assert r["frames"] == 12 and r["style"] == "sunny" and r["fallbacks"] == {}
    assert set(r["cpu_stages"]) == set(r["stages"]) and set(r["stages"]) >= STAGES
    assert all(v["mean"] >= 0 and v["p95"] >= 0 for v in r["cpu_stages"].values())
    assert r["cpu_ms_per_frame"] > 0 and 0 < r["cpu_share"] <= (os.cpu_count() or 1) + 0.5
    # the stages' CPU is part of the frames' CPU (same run, same clock)
    assert sum(v["mean"] for v in r["cpu_stages"].values()) <= r["cpu_ms_per_frame"] * 1.001
    assert 0 < r["latency_ms"]["p50"] <= r["latency_ms"]["p95"] and r["fps"] > 0


def test_full_speed_run_reports_cpu_per_frame_and_per_stage(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture) -> None:
    r = _run(tmp_path, "--input", "demo")  # the demo clip by name, as avatar-cam takes it
    _sane(r)
    assert r["pace_fps"] is None and "frames_dropped" not in r
    text = capsys.readouterr().out
    assert "CPU ms" in text and "ms a frame" in text and "of one core" in text


def test_paced_run_reports_the_cpu_share_and_camera_to_sink_latency(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    r = _run(tmp_path, "--pace", "20")
    _sane(r)
    assert r["pace_fps"] == 20 and r["frames_dropped"] >= 0 and r["camera_cpu_ms_per_frame"] > 0
    assert r["fps"] <= 20 * 1.5, "no more frames are processed than the camera delivers"
    assert "camera to sink" in capsys.readouterr().out


@pytest.fixture
def no_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing may be timed: a run that gets this far fails the test."""
    def ran(args: object) -> dict:
        raise AssertionError("the benchmark ran")
    monkeypatch.setattr("avatar_cam.bench.bench_pipeline", ran)
    monkeypatch.setattr("avatar_cam.bench.bench_generators", ran)


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("avatar-bench: error: ") and err.count("\n") == 1, err
    return err


def test_a_missing_input_is_one_error_line_and_exit_1(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "results" / "bench.json"
    assert main(["--input", str(tmp_path / "missing.mp4"), "--frames", "10", "--json", str(out)]) == 1
    assert "missing.mp4: no such file" in _one_error_line(capsys)
    assert not out.exists(), "checking the --json destination leaves no file behind"


@pytest.mark.parametrize("where", ["file/bench.json", "folder"], ids=["folder-is-a-file", "a-folder"])
def test_a_json_destination_that_cannot_be_written_fails_before_the_benchmark(
        tmp_path: Path, where: str, no_bench: None, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    out = tmp_path / where
    assert main(["--frames", "30", "--json", str(out)]) == 1
    assert f"--json {out}: cannot write" in _one_error_line(capsys)


@pytest.mark.parametrize("flag", [["--frames", "0"], ["--frames", "-5"], ["--pace", "0"], ["--pace", "nan"],
                                  ["--runs", "0", "--generator-only"]])
def test_a_count_or_rate_out_of_range_is_refused(flag: list[str], no_bench: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as bad:
        main(flag)
    assert bad.value.code == 1
    assert f"argument {flag[0]}: '{flag[1]}' must be" in _one_error_line(capsys)
