"""The look check's expression sweep: it correlates what an edited mesh says with what the
output shows, so a generator that ignores the mesh scores nothing and one that follows it 1."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from avatar_cam.expression import Expression, measures_from_landmarks
from training.expression_aug import close_eyes, open_mouth
from training.look_check import EYE_SWEEP, MOUTH_SWEEP, sweep_corr

DemoCrop = Callable[[float], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def meshes(demo_crop: DemoCrop) -> list[np.ndarray]:
    """The demo face's landmarks at three moments (mouth shut, eyes open)."""
    return [demo_crop(t)[1] for t in (0.5, 2.0, 3.5)]


def _parted(lm: np.ndarray, amount: float) -> np.ndarray:
    return open_mouth(np.zeros((128, 128, 3), np.uint8), lm, amount, np.random.default_rng(0))[1]


def _lowered(lm: np.ndarray, amount: float) -> np.ndarray:
    return close_eyes(np.zeros((128, 128, 3), np.uint8), lm, (amount, amount))[1]


def _mouth(e: Expression) -> float:
    return e.mouth_open


def _eyes(e: Expression) -> float:
    return float(np.mean(e.eye_open))


def test_a_renderer_that_draws_the_mesh_follows_every_sweep(meshes: list[np.ndarray]) -> None:
    # the "output" is the edited mesh itself, read back exactly
    def drawn(lm: np.ndarray) -> np.ndarray:
        return lm

    mouth = sweep_corr(meshes, MOUTH_SWEEP, _parted, drawn, measures_from_landmarks, _mouth)
    eyes = sweep_corr(meshes, EYE_SWEEP, _lowered, drawn, measures_from_landmarks, _eyes)
    assert mouth == pytest.approx(1.0) and eyes == pytest.approx(1.0)


def test_a_renderer_that_ignores_the_mesh_follows_nothing(meshes: list[np.ndarray]) -> None:
    still = meshes[0]
    assert sweep_corr(meshes, MOUTH_SWEEP, _parted, lambda lm: still, measures_from_landmarks, _mouth) is None

    def backwards(lm: np.ndarray) -> np.ndarray:  # opens the less, the more the mesh opens
        return _parted(still, max(0.0, 0.5 - measures_from_landmarks(lm).mouth_open))

    corr = sweep_corr(meshes, MOUTH_SWEEP, _parted, backwards, measures_from_landmarks, _mouth)
    assert corr is not None and corr < -0.5


def test_outputs_without_a_face_are_left_out(meshes: list[np.ndarray]) -> None:
    seen: list[int] = []

    def sometimes(lm: np.ndarray) -> Expression | None:
        seen.append(1)
        return None if len(seen) % 2 else measures_from_landmarks(lm)

    corr = sweep_corr(meshes, MOUTH_SWEEP, _parted, lambda lm: lm, sometimes, _mouth)
    assert corr == pytest.approx(1.0)
    assert sweep_corr(meshes[:1], MOUTH_SWEEP[:2], _parted, lambda lm: lm, lambda _: None, _mouth) is None
