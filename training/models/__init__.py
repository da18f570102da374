"""Training methods behind one interface (`training.models.base.TrainModel`)."""

from __future__ import annotations

import torch

from training.models.base import TrainModel, resolve_device
from training.models.content_invariant import ContentInvariant, StyleInputGenerator
from training.models.cyclegan import CycleGAN
from training.models.mesh_conditioned import MeshConditioned
from training.options import TrainConfig

__all__ = ["ContentInvariant", "CycleGAN", "MeshConditioned", "StyleInputGenerator", "TrainModel",
           "create_model", "resolve_device"]


def create_model(cfg: TrainConfig, device: torch.device | str = "cpu", load_teacher: bool = True
                 ) -> TrainModel:
    """Build the model a config describes (weights freshly initialised from torch's RNG)."""
    if cfg.model == "cyclegan":
        teacher = None
        if cfg.teacher and load_teacher:
            from training.checkpoint import load_for_export

            tmodel, _, _ = load_for_export(cfg.teacher)
            teacher = tmodel.generator_for_export()
        return CycleGAN(cfg, device, teacher=teacher)
    if cfg.model == "content-invariant":
        return ContentInvariant(cfg, device)
    if cfg.model == "mesh-conditioned":
        return MeshConditioned(cfg, device)
    raise ValueError(f"unknown model {cfg.model!r}")
