"""The generator weight EMA (`g_ema`): it is the average, export and samples use it, and it can be
turned on when a run is resumed (the average then starts from the resumed weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from training.checkpoint import load_for_export  # noqa: E402
from training.data import UnpairedSteps, scan_images  # noqa: E402
from training.models import create_model  # noqa: E402
from training.options import ConfigError  # noqa: E402
from training.testing import tiny_config  # noqa: E402
from training.trainer import train  # noqa: E402

torch.set_num_threads(1)


def _batch(cfg) -> dict:  # noqa: ANN001
    ds = UnpairedSteps(scan_images(cfg.data_a).paths, scan_images(cfg.data_b).paths, cfg.size,
                       cfg.batch_size, 1, with_a2=True)
    return ds[0]


def _flat(net: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("model", ["cyclegan", "content-invariant"])
def test_ema_is_the_running_average_and_export_uses_it(tmp_path: Path, model: str) -> None:
    cfg = tiny_config(tmp_path, model, g_ema=0.75, lr=1e-2)
    m = create_model(cfg).train()
    name = m.ema_nets[0]
    before = _flat(getattr(m, name))
    assert torch.equal(_flat(m.averaged(name)), before)  # starts as a copy
    m.step(_batch(cfg))
    m.update_ema()
    after = _flat(getattr(m, name))
    assert not torch.allclose(after, before)
    torch.testing.assert_close(_flat(m.averaged(name)), 0.75 * before + 0.25 * after)
    # the exported generator is built from the average, not the live weights
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        exported = m.generator_for_export().eval()(x)
        ema = m.ema
        del m.ema  # the same model without its average: the live weights
        live = m.generator_for_export().eval()(x)
        m.ema = ema
    assert not torch.allclose(exported, live)
    assert "exponential moving average" in m.export_metadata().get("weights", "exponential moving average")


def test_ema_off_exports_the_live_weights(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, "content-invariant")
    m = create_model(cfg)
    assert not hasattr(m, "ema") and m.averaged("R") is m.R
    assert "weights" not in m.export_metadata()
    assert not any(k.startswith("ema.") for k in m.state_dict())


def test_ema_turned_on_at_resume(tmp_path: Path) -> None:
    run = train(tiny_config(tmp_path, "content-invariant", steps=2))
    # another option that changes the maths is still refused
    with pytest.raises(ConfigError, match="lambda_rec"):
        train(tiny_config(tmp_path, "content-invariant", steps=4, g_ema=0.9, lambda_rec=5.0), resume=True)
    train(tiny_config(tmp_path, "content-invariant", steps=4, g_ema=0.9, lr_decay_start=2), resume=True)
    text = (run / "train.log").read_text()
    assert "the generator EMA starts from its weights" in text
    assert "--resume changes g_ema: 0.0 -> 0.9" in text and "lr_decay_start: 1 -> 2" in text
    m, cfg, step = load_for_export(run)
    assert step == 4 and cfg.g_ema == 0.9 and cfg.lr_decay_start == 2
    assert any(k.startswith("ema.Ec.") for k in m.state_dict())
    assert not torch.allclose(_flat(m.ema["R"]), _flat(m.R))  # averaged over the two new steps


def test_g_ema_must_be_a_decay(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="g_ema"):
        tiny_config(tmp_path, g_ema=1.0).validate()
