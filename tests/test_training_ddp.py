"""torchrun: two CPU processes (gloo) train what one process trains with the doubled batch, resume
exactly, and a dying rank ends the run with a clear error; the GPU path is chosen only with CUDA.

Run as `torchrun ... -m tests.test_training_ddp JOBS.json`, this file is also the worker the
tests start: it runs each job's `avatar-train` arguments, and can make one rank die mid-run.
"""

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

from training import cli  # noqa: E402
from training.checkpoint import load_for_export  # noqa: E402
from training.models import create_model, device_setup  # noqa: E402
from training.testing import make_image_folder, tiny_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MODELS = ("cyclegan", "content-invariant", "mesh-conditioned")


def _paired_folder(root: Path) -> Path:
    """Cartoon crops with same-named "mesh drawings" beside them (mesh_pairs' layout)."""
    crops = make_image_folder(root / "crops", 6, 48, "B", 1)
    make_image_folder(root / "meshes", 6, 48, "A", 2)
    for p in (root / "meshes").iterdir():
        p.rename(p.with_name(p.name.replace("a_", "b_")))
    return crops


def _config(tmp: Path, model: str, out: str, **kw: object) -> Path:
    """A tiny run's config as a file `--config` reads; batch 4 = 2 slots on each of 2 ranks.
    The LR decays from step 2 whatever --steps a part of a run has."""
    extra: dict = {"g_ema": 0.9} if model != "cyclegan" else {}
    if model == "mesh-conditioned":
        extra |= {"data_b": [str(_paired_folder(tmp / "pairs"))], "lambda_features": 10.0,
                  "style_lowpass": 4}
    values = {"batch_size": 4, "steps": 4, "lr_decay_start": 2, "save_every": 2, "threads": 1,
              "out": str(tmp / out), **extra, **kw}
    cfg = tiny_config(tmp, model, "light", **values)
    path = tmp / f"{out}.json"
    path.write_text(json.dumps(cfg.to_dict()))
    return path


def _torchrun(tmp: Path, jobs: list[dict], timeout: float) -> subprocess.CompletedProcess:
    """Two gloo processes running `jobs` through this file's worker."""
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "tests.test_training_ddp", str(tmp / "jobs.json")]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def _losses(run: Path) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("it_per_s", "lr")} for r in rows]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Per model: one process with batch 4 (here) and two with 2 each (torchrun), 2 steps; and the
    mesh model under torchrun for 4 steps, and for 2 steps then --resume to 4."""
    tmp = tmp_path_factory.mktemp("ddp")
    torch.set_num_threads(1)
    jobs = []
    for model in MODELS:
        assert cli.main(["--config", str(_config(tmp, model, f"one_{model}", steps=2))]) == 0
        jobs.append({"argv": ["--config", str(_config(tmp, model, f"two_{model}", steps=2))]})
    part = _config(tmp, "mesh-conditioned", "resumed")
    jobs += [{"argv": ["--config", str(_config(tmp, "mesh-conditioned", "straight"))]},
             {"argv": ["--config", str(part), "--steps", "2"]},
             {"argv": ["--config", str(part), "--resume", "--steps", "4"]}]
    t0 = time.monotonic()
    proc = _torchrun(tmp, jobs, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    print(f"torchrun, 6 runs: {time.monotonic() - t0:.1f} s")
    return tmp


@pytest.mark.parametrize("model", MODELS)
def test_two_processes_train_what_one_trains_with_the_doubled_batch(ddp_runs: Path, model: str) -> None:
    """Global-batch batch norm, gradient averaging, the pool, the random style codes, the style
    pairing and the running style mean all as one process computes them. Two steps: later, float
    noise (1e-7) that flips a ReLU near zero grows through Adam's normalised steps (1e-4 at step
    4 for CycleGAN, 2e-2 for the content-invariant model) in both directions alike."""
    one, two = ddp_runs / f"one_{model}", ddp_runs / f"two_{model}"
    l1, l2 = _losses(one), _losses(two)
    assert [r["step"] for r in l2] == [1, 2] and l1[0].keys() == l2[0].keys()
    for a, b in zip(l1, l2, strict=True):
        for k in a:
            assert b[k] == pytest.approx(a[k], rel=2e-5, abs=1e-7), (a["step"], k, a[k], b[k])
    # the same function: zero-gradient parameters (a conv bias before a norm) take Adam steps of
    # +-lr from float noise, so compare what the exported generators compute
    (m1, _, s1), (m2, _, s2) = load_for_export(one), load_for_export(two)
    assert s1 == s2 == 2
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        y1, y2 = m1.generator_for_export()(x), m2.generator_for_export()(x)
    assert (y1 - y2).abs().max() < 1e-4, (y1 - y2).abs().max()
    w1 = load_file(str(one / "checkpoints/latest.safetensors"))
    w2 = load_file(str(two / "checkpoints/latest.safetensors"))
    assert w1.keys() == w2.keys()  # DDP leaves the checkpoint format as it was
    for k in w1:  # Adam moves a weight by at most ~lr a step: two runs differ by at most 2 lr a step
        assert torch.allclose(w1[k].float(), w2[k].float(), atol=1.1 * 2 * 2e-4 * 2, rtol=1e-5), k
    st1 = load_file(str(one / "checkpoints/latest.state.safetensors"))
    st2 = load_file(str(two / "checkpoints/latest.state.safetensors"))
    assert torch.equal(st1["rng.torch"], st2["rng.torch"])  # one RNG stream, as one process draws it
    for pool in (k for k in st1 if k.startswith("pool_")):  # one pool, the one-process pool
        assert torch.allclose(st1[pool], st2[pool], atol=1e-3), pool
    if model != "cyclegan":  # the running mean style code, over the global batch
        assert torch.allclose(w1["style_mean"], w2["style_mean"], atol=1e-4)


def test_checkpoint_and_resume_under_torchrun_are_exact(ddp_runs: Path) -> None:
    straight, resumed = ddp_runs / "straight", ddp_runs / "resumed"
    log = (resumed / "train.log").read_text()
    assert "resumed at step 2" in log
    for name in ("latest.safetensors", "latest.state.safetensors"):
        a, b = load_file(str(straight / "checkpoints" / name)), load_file(str(resumed / "checkpoints" / name))
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (name, k)
    doc = json.loads((resumed / "checkpoints/latest.json").read_text())
    assert doc["step"] == 4 and doc["info"]["world_size"] == 2
    # rank 0 alone wrote: one checkpoint set, no temporaries
    assert not [p for p in (resumed / "checkpoints").iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("how", ["die", "hang"])
def test_a_failing_rank_ends_the_run_with_a_clear_error(tmp_path: Path, how: str) -> None:
    """Rank 1 exits (status 3) or stops answering after step 4: the run ends with a non-zero status
    and one clear line, inside dist_timeout (here 5 s), never a hang."""
    cfg = _config(tmp_path, "cyclegan", "fails", steps=50, save_every=3, dist_timeout=5.0)
    t0 = time.monotonic()
    proc = _torchrun(tmp_path, [{"argv": ["--config", str(cfg)],
                                 "fail": {"rank": 1, "after_step": 4, "how": how}}], timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode != 0
    err = proc.stderr
    assert f"rank 1 {how}s after step 4 (test)" in err
    # the survivor says what happened in one line: a dead peer's connection closes at once
    # (gloo), a silent one times out after dist_timeout
    lost = [ln for ln in err.splitlines() if ln.startswith("avatar-train: error: rank 0 lost")]
    assert len(lost) == 1 and "--resume continues from it" in lost[0], err[-3000:]
    assert ("by peer" if how == "die" else "imed out") in lost[0], lost[0]  # gloo: closed / reset
    # torchrun names the rank that failed first and its exit code
    first = "rank      : 1" if how == "die" else "rank      : 0"
    assert "Root Cause" in err and first in err, err[-3000:]
    assert took < 90, took
    doc = json.loads((tmp_path / "fails" / "checkpoints" / "latest.json").read_text())
    assert doc["step"] == 3  # the checkpoint before the failure is intact


def test_replicas_that_diverge_stop_the_run(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "cyclegan", "diverges", steps=4, save_every=2)
    proc = _torchrun(tmp_path, [{"argv": ["--config", str(cfg)],
                                 "fail": {"rank": 1, "after_step": 1, "how": "diverge"}}], timeout=120)
    assert proc.returncode != 0
    assert ("RuntimeError: the training processes diverged: rank 1's D_A.model.0.bias differs from "
            "rank 0's") in proc.stderr, proc.stderr[-3000:]
    assert not (tmp_path / "diverges" / "checkpoints" / "latest.json").exists()  # nothing saved


def test_gpu_path_only_with_cuda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    gpu = device_setup("auto", "auto", local_rank=1)
    assert (gpu.device, gpu.amp_dtype, gpu.channels_last, gpu.backend) == (
        torch.device("cuda", 1), torch.bfloat16, True, "nccl")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert device_setup("auto", "auto").amp_dtype == torch.float16  # older GPUs: fp16 + grad scaler
    assert device_setup("auto", "off").amp_dtype is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    cpu = device_setup("auto", "auto", local_rank=1)
    assert (cpu.device, cpu.amp_dtype, cpu.channels_last, cpu.backend) == (
        torch.device("cpu"), None, False, "gloo")
    # a model on the CPU trains in float32, contiguous, without autocast
    model = create_model(tiny_config(tmp_path, "cyclegan", "light"), cpu.device)
    assert model.amp_dtype is None and not model.channels_last and model.scaler is None
    assert all(p.dtype == torch.float32 and p.is_contiguous() for p in model.parameters())


def _fail_after(rank: int, steps: int, how: str) -> None:
    """Make this process fail right after training step `steps`: `die` exits with status 3 (a
    crashed GPU, an OOM kill), `hang` stops answering (a stuck driver), `diverge` nudges one
    weight (a replica that went its own way)."""
    from training.models.base import TrainModel

    real, done = TrainModel.update_ema, []

    def update_ema_then_fail(self: TrainModel) -> None:
        real(self)
        done.append(1)
        if len(done) == steps:
            print(f"rank {rank} {how}s after step {steps} (test)", file=sys.stderr, flush=True)
            if how == "diverge":
                with torch.no_grad():
                    self.D_A.model[0].bias.add_(1e-3)
                return
            if how == "die":
                os._exit(3)
            # silent, but ended by torchrun's SIGTERM (a process stuck in a driver call ignores it
            # and takes torchrun's SIGKILL 30 s later instead)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            time.sleep(3600)

    TrainModel.update_ema = update_ema_then_fail  # type: ignore[method-assign]


def main(jobs_file: str) -> int:
    """torchrun worker: run each job's avatar-train arguments in turn; a job's `fail` makes that
    rank die or hang after that many steps."""
    rank = int(os.environ["RANK"])
    for job in json.loads(Path(jobs_file).read_text()):
        fail = job.get("fail")
        if fail and fail["rank"] == rank:
            _fail_after(rank, fail["after_step"], fail["how"])
        code = cli.main(job["argv"])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
