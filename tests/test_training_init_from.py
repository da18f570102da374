"""`init_from`: a new run starts from another run's weights (fine-tuning, e.g. at a larger size)
with its own step count, optimisers and LR schedule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.checkpoint import CheckpointError, init_weights, load_for_export  # noqa: E402
from training.models import create_model  # noqa: E402
from training.testing import tiny_config  # noqa: E402
from training.trainer import train  # noqa: E402

torch.set_num_threads(1)


def test_init_from_loads_every_weight_at_another_size(tmp_path: Path) -> None:
    src = train(tiny_config(tmp_path, "content-invariant", steps=2, g_ema=0.9))
    source, _, _ = load_for_export(src)
    bigger = create_model(tiny_config(tmp_path, "content-invariant", size=48, g_ema=0.9))
    assert init_weights(bigger, src) == 2
    mine = bigger.state_dict()
    for k, v in source.state_dict().items():
        assert torch.equal(mine[k], v), k  # EMA, style mean and discriminators included


def test_a_run_with_init_from_counts_its_own_steps(tmp_path: Path) -> None:
    src = train(tiny_config(tmp_path, "content-invariant", steps=2))
    out = tmp_path / "finetune"
    run = train(tiny_config(tmp_path, "content-invariant", steps=1, size=40, out=str(out),
                            init_from=str(src)))
    text = (run / "train.log").read_text()
    assert f"weights from {src} (its step 2); step, optimisers and LR schedule start fresh" in text
    assert json.loads((run / "config.json").read_text())["init_from"] == str(src)
    model, cfg, step = load_for_export(run)
    assert step == 1 and cfg.size == 40
    # a resume of the fine-tuning run continues from its own checkpoint, not from the source
    train(tiny_config(tmp_path, "content-invariant", steps=2, size=40, out=str(out),
                      init_from=str(src)), resume=True)
    assert "resumed at step 1" in (run / "train.log").read_text()


def test_init_from_another_model_is_one_clear_error(tmp_path: Path) -> None:
    src = train(tiny_config(tmp_path, "cyclegan", steps=1))
    cfg = tiny_config(tmp_path, "content-invariant", steps=1, init_from=str(src))
    with pytest.raises(CheckpointError, match="weights do not fit"):
        train(cfg)
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        init_weights(create_model(cfg), tmp_path / "data")
