"""Checkpoints: exact resume (step, LR, RNG, weights) after a crash or SIGKILL, atomic writes,
corrupt and mismatched files as one-line CheckpointErrors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import load_file  # noqa: E402

from training import checkpoint as ckpt  # noqa: E402
from training.checkpoint import CheckpointError, load_for_export  # noqa: E402
from training.testing import tiny_config  # noqa: E402
from training.trainer import train  # noqa: E402

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def _final(run: Path) -> tuple[dict, dict, dict]:
    d = run / "checkpoints"
    return (load_file(str(d / "latest.safetensors")), load_file(str(d / "latest.state.safetensors")),
            json.loads((d / "latest.json").read_text()))


def _assert_same(a: Path, b: Path) -> None:
    wa, sa, ja = _final(a)
    wb, sb, jb = _final(b)
    assert ja["step"] == jb["step"]
    assert ja["info"]["lr"] == jb["info"]["lr"]
    assert ja["rng"] == jb["rng"]
    assert wa.keys() == wb.keys() and sa.keys() == sb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k
    for k in sa:  # optimiser moments, image pools, torch/numpy RNG
        assert torch.equal(sa[k], sb[k]), k


class _Crash(Exception):
    pass


@pytest.mark.parametrize(("model", "ema"), [("cyclegan", 0.0), ("content-invariant", 0.0),
                                           ("content-invariant", 0.9)])
def test_resume_after_crash_is_bit_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: str,
                                         ema: float) -> None:
    kw = dict(steps=5, save_every=2, lr_decay_start=1, g_ema=ema)
    straight = train(tiny_config(tmp_path, model, out=str(tmp_path / "straight"), **kw))

    real_save = ckpt.save_checkpoint

    def save_then_crash(run_dir, m, step, info, periodic=False, keep=0):  # noqa: ANN001, ANN202
        real_save(run_dir, m, step, info, periodic, keep)
        if step == 2:
            raise _Crash

    monkeypatch.setattr(ckpt, "save_checkpoint", save_then_crash)
    crashed = tmp_path / "crashed"
    with pytest.raises(_Crash):
        train(tiny_config(tmp_path, model, out=str(crashed), **kw))
    monkeypatch.setattr(ckpt, "save_checkpoint", real_save)
    assert json.loads((crashed / "checkpoints" / "latest.json").read_text())["step"] == 2
    torch.manual_seed(123)  # whatever the process did meanwhile must not matter
    train(tiny_config(tmp_path, model, out=str(crashed), **kw), resume=True)
    _assert_same(straight, crashed)


def test_resume_after_sigkill_is_bit_exact(tmp_path: Path) -> None:
    kw = dict(steps=14, save_every=1, keep_checkpoints=3, lr_decay_start=5)
    cfg = tiny_config(tmp_path, "cyclegan", out=str(tmp_path / "killed"), **kw)
    cfg_file = tmp_path / "killed.json"
    cfg_file.write_text(json.dumps(cfg.to_dict()))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "training.cli", "--config", str(cfg_file)], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = tmp_path / "killed" / "checkpoints" / "latest.json"
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            if latest.exists() and json.loads(latest.read_text() or "{}").get("step", 0) >= 3:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the training subprocess never wrote a checkpoint")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    step_killed = json.loads(latest.read_text())["step"]
    assert step_killed < 14
    train(tiny_config(tmp_path, "cyclegan", out=str(tmp_path / "killed"), **kw), resume=True)
    straight = train(tiny_config(tmp_path, "cyclegan", out=str(tmp_path / "straight"), **kw))
    _assert_same(straight, tmp_path / "killed")
    # periodic checkpoints are pruned to keep_checkpoints; no temporary files are left behind
    names = sorted(p.name for p in (tmp_path / "killed" / "checkpoints").iterdir())
    assert len([n for n in names if n.startswith("step_") and n.endswith(".json")]) == 3
    assert not [n for n in names if ".tmp" in n]


def test_corrupt_and_mismatched_checkpoints(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run = train(tiny_config(tmp_path, steps=2, save_every=1))
    d = run / "checkpoints"
    # weights file truncated: load_for_export names the file, one line
    data = (d / "latest.safetensors").read_bytes()
    (d / "latest.safetensors").unlink()  # it is a hard link to step_0000002: replace, don't edit
    (d / "latest.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as e:
        load_for_export(run)
    assert "latest.safetensors" in str(e.value) and "\n" not in str(e.value)
    # a truncated file without its JSON: still a clear error
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        ckpt.load_weights(torch.nn.Linear(1, 1), d / "latest.safetensors")
    # resume falls back to the newest complete periodic checkpoint
    model = __import__("training.models", fromlist=["create_model"]).create_model(
        tiny_config(tmp_path, steps=2))
    step, _ = ckpt.resume(run, model)
    assert step == 2 and "latest" in caplog.text
    # an explicit periodic checkpoint still loads
    _, _, s = load_for_export(d / "step_0000001.safetensors")
    assert s == 1
    # config says another generator: the weights do not fit
    cfg = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**cfg, "generator": "resnet9"}))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_for_export(d / "step_0000001.json")
    # garbage JSON, missing run
    (d / "step_0000001.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt checkpoint JSON"):
        load_for_export(d / "step_0000001.json")
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_for_export(tmp_path)


def test_weights_are_safetensors_and_json_has_hashes(tmp_path: Path) -> None:
    run = train(tiny_config(tmp_path, "content-invariant", steps=1))
    w, s, j = _final(run)
    assert "style_mean" in w and "rng.torch" in s
    assert any(k.startswith("optim.G.") for k in s)
    assert len(j["weights_sha256"]) == 64 and j["step"] == 1
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pth"))


def test_a_second_ctrl_c_waits_for_the_checkpoint_being_written() -> None:
    """The first SIGINT asks for a save and stop; a second one stops at once (a hung step), but
    not while the checkpoint is being written: it lost the steps since the last save."""
    from training.trainer import _Stop

    before = signal.getsignal(signal.SIGINT)
    with _Stop() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.signum == signal.SIGINT
        with stop.saving():
            os.kill(os.getpid(), signal.SIGINT)  # ignored while saving: no KeyboardInterrupt
            time.sleep(0.01)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGINT) is before


def test_the_optimiser_state_file_is_named_for_what_it_is(tmp_path: Path) -> None:
    run = train(tiny_config(tmp_path, steps=1))
    state = run / "checkpoints" / "latest.state.safetensors"
    with pytest.raises(CheckpointError, match=r"that is the optimiser-state file of a checkpoint; give its "
                                              r"weights \(latest\.safetensors\)"):
        load_for_export(state)


def test_resume_refuses_a_latest_of_another_model_kind(tmp_path: Path) -> None:
    """An intact `latest` of another model is refused in one line, as export refuses it, instead
    of quietly resuming from an older step."""
    import shutil

    run = train(tiny_config(tmp_path, steps=2, save_every=1, keep_checkpoints=0))
    other = train(tiny_config(tmp_path, "content-invariant", steps=2))
    d = run / "checkpoints"
    for suffix in (".safetensors", ".state.safetensors", ".json"):
        (d / f"latest{suffix}").unlink()
        shutil.copy(other / "checkpoints" / f"latest{suffix}", d / f"latest{suffix}")
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(CheckpointError) as e:
        train(tiny_config(tmp_path, steps=3, save_every=1, keep_checkpoints=0), resume=True)
    line = str(e.value)
    assert "no usable checkpoint" in line and "the file holds a content-invariant/light model" in line
    assert "\n" not in line
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before


def test_loader_workers_leave_ctrl_c_to_the_trainer(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the loader workers too: only the trainer reacts (one warning)."""
    cfg = tiny_config(tmp_path, steps=500, workers=2, out=str(tmp_path / "r"))
    cfg_file = tmp_path / "r.json"
    cfg_file.write_text(json.dumps(cfg.to_dict()))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "training.cli", "--config", str(cfg_file), "--threads", "1"]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    metrics = tmp_path / "r" / "metrics.jsonl"
    deadline = time.time() + 60
    while not (metrics.exists() and metrics.stat().st_size) and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # the whole process group, as a terminal sends it
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, err
    assert err.count("signal 2: saving a checkpoint after this step") == 1, err
    assert "stopped at step" in err and "Traceback" not in err
