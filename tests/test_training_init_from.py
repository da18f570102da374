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


def test_a_fine_tune_never_holds_out_what_its_parent_trained_on(tmp_path: Path) -> None:
    from training.testing import make_image_folder

    data = {d: str(make_image_folder(tmp_path / d, 12, 48, d, i)) for i, d in enumerate("AB")}
    kw = dict(data_a=[data["A"]], data_b=[data["B"]], steps=1)
    parent = train(tiny_config(tmp_path, out=str(tmp_path / "parent"), val_count=3, **kw))
    child = train(tiny_config(tmp_path, out=str(tmp_path / "child"), val_count=5, seed=3,
                              init_from=str(parent), **kw))
    was, now = (json.loads((run / "split.json").read_text()) for run in (parent, child))
    for d in "AB":  # the parent's held-out images first; none it trained on, even if fewer are left
        held = set(now[f"val_{d}"])
        assert held == set(was[f"val_{d}"]) and not held & set(was[f"train_{d}"])
    assert "domain B: 3 held out, not val_count 5: the init_from run trained on the others" in \
        (child / "train.log").read_text()
    blind = train(tiny_config(tmp_path, out=str(tmp_path / "blind"), val_count=0, **kw))
    child = train(tiny_config(tmp_path, out=str(tmp_path / "child2"), init_from=str(blind), **kw))
    assert not any(json.loads((child / "split.json").read_text())[f"val_{d}"] for d in "AB")
    assert "domain A: 0 held out, not val_count 1: the init_from run trained on the others (no sample " \
        "grids" in (child / "train.log").read_text()


def test_a_fine_tune_without_the_parents_weight_average_says_what_to_pass(tmp_path: Path) -> None:
    src = train(tiny_config(tmp_path, "content-invariant", steps=1, g_ema=0.99))
    with pytest.raises(CheckpointError, match=r"unexpected \(e\.g\. ema\..*the parent run used g_ema=0\.99; "
                                              r"pass --set g_ema=0\.99$"):
        train(tiny_config(tmp_path, "content-invariant", steps=1, out=str(tmp_path / "child"),
                          init_from=str(src)))
