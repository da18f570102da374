"""Training methods behind one interface (`training.models.base.TrainModel`)."""

from __future__ import annotations

import torch

from training.models.base import DeviceSetup, TrainModel, device_setup
from training.models.content_invariant import ContentInvariant, StyleInputGenerator
from training.models.cyclegan import CycleGAN
from training.models.mesh_conditioned import MeshConditioned
from training.options import TrainConfig

__all__ = ["ContentInvariant", "CycleGAN", "DeviceSetup", "MeshConditioned", "StyleInputGenerator",
           "TrainModel", "create_model", "device_setup"]


def create_model(cfg: TrainConfig, device: torch.device | str = "cpu",
                 teacher: torch.nn.Module | None = None) -> TrainModel:
    """Build the model a config describes (weights freshly initialised from torch's RNG).
    `teacher`: the generator a cyclegan distils from (`training.checkpoint.load_teacher`)."""
    if cfg.model == "cyclegan":
        return CycleGAN(cfg, device, teacher=teacher)
    if cfg.model == "content-invariant":
        return ContentInvariant(cfg, device)
    if cfg.model == "mesh-conditioned":
        return MeshConditioned(cfg, device)
    raise ValueError(f"unknown model {cfg.model!r}")
