"""Helpers for tests and smoke runs: synthetic image folders and tiny configs (no real data)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from training.options import TrainConfig


def make_image_folder(path: str | Path, n: int = 6, size: int = 48, domain: str = "A", seed: int = 0) -> Path:
    """`n` PNG "faces": a disc with two eyes on a background. Photos ("A"): smooth shading and a
    little noise; cartoons ("B"): flat colours with dark outlines on white."""
    d = Path(path)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n):
        c = size // 2 + int(rng.integers(-size // 8, size // 8 + 1))
        r = size // 4
        if domain == "A":
            base = rng.uniform(40, 200, 3).astype(np.float32)
            img = base + 60 * np.stack([xx, yy, xx * yy], -1)
            img = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
            skin = tuple(int(v) for v in rng.uniform([60, 100, 150], [120, 160, 230]))
            cv2.circle(img, (c, size // 2), r, skin, -1)
        else:
            img = np.full((size, size, 3), 255, np.uint8)
            skin = (40, 200, 40 + 30 * (i % 4))
            cv2.circle(img, (c, size // 2), r, skin, -1)
            cv2.circle(img, (c, size // 2), r, (20, 20, 20), max(1, size // 24))
        for dx in (-r // 2, r // 2):
            cv2.circle(img, (c + dx, size // 2 - r // 4), max(1, size // 16), (10, 10, 10), -1)
        cv2.imwrite(str(d / f"{domain.lower()}_{i:03d}.png"), img)
    return d


def tiny_config(tmp: str | Path, model: str = "cyclegan", generator: str = "light", **overrides: object
                ) -> TrainConfig:
    """A config that trains in well under a second per step on CPU (32px, narrow networks)."""
    tmp = Path(tmp)
    a = tmp / "data" / "A"
    b = tmp / "data" / "B"
    if not a.exists():
        make_image_folder(a, 6, 48, "A", 0)
        make_image_folder(b, 6, 48, "B", 1)
    values: dict = dict(model=model, generator=generator, data_a=[str(a)], data_b=[str(b)],
                        out=str(tmp / f"run_{model}_{generator}"), size=32, batch_size=2, steps=2,
                        ndf=8, gen_width=8, style_dim=4, val_count=1, sample_count=1, sample_every=1000,
                        save_every=1000, log_every=1, progress=False, workers=0, pool_size=4)
    values.update(overrides)
    return TrainConfig.from_dict(values, "tiny_config")


def ctrl_c_at(create_model: Callable[..., Any], step: int, presses: int = 1) -> Callable[..., Any]:
    """`create_model` whose models send this process SIGINT `presses` times as their `step`-th
    training step starts (a user's Ctrl-C mid-run; patch it over `training.trainer.create_model`)."""
    def create(*args: object, **kwargs: object) -> Any:
        model = create_model(*args, **kwargs)
        real, calls = model.step, []

        def step_once(batch: dict) -> dict:
            calls.append(1)
            if len(calls) == step:
                for _ in range(presses):
                    os.kill(os.getpid(), signal.SIGINT)
            return real(batch)

        model.step = step_once
        return model

    return create
