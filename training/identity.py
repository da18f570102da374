"""Does a cartoon still show who the person is? dlib's face recognition ResNet (128-d descriptors;
two faces closer than 0.6 are "the same person" by dlib's own threshold) on a photo and its cartoon.

Photo crop and cartoon have the same framing (the app's crop; the generator keeps geometry), so
both descriptors are taken at the same face rectangle: dlib's HOG detector on the photo padded
by `pad` x its side (tight crops are otherwise missed), else the face box the app's crop puts
there (`DEFAULT_CROP`). The model files come from the `face-recognition-models` wheel, located
without importing it (its `__init__` needs pkg_resources).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

SAME_PERSON = 0.6


class IdentityError(RuntimeError):
    """dlib or its model files are missing; one line."""


def dlib_models_dir() -> Path:
    """The `models/` folder of the face_recognition_models package (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise IdentityError("face-recognition-models is not installed (pip install face-recognition-models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def crop_face_box(size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the detector's face box inside an app crop of `size`."""
    from avatar_cam.align import DEFAULT_CROP

    side = size / DEFAULT_CROP.scale
    cx, cy = size / 2, size / 2 + DEFAULT_CROP.shift_y * side
    return (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))


class FaceIdentity:
    """128-d dlib face descriptors of photo/cartoon pairs at one shared face rectangle."""

    def __init__(self, pad: float = 0.25) -> None:
        try:
            import dlib
        except ImportError:
            raise IdentityError("dlib is not installed (pip install dlib-bin)") from None
        models = dlib_models_dir()
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self.pad = pad

    def face_rect(self, rgb: np.ndarray) -> tuple[Any, bool]:
        """(dlib rectangle, found by the detector) for the largest face of a padded still."""
        m = int(round(self.pad * max(rgb.shape[:2])))
        padded = cv2.copyMakeBorder(rgb, m, m, m, m, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        found = self.detector(padded, 1)
        if len(found):
            r = max(found, key=lambda r: r.area())
            return self._dlib.rectangle(r.left() - m, r.top() - m, r.right() - m, r.bottom() - m), True
        return self._dlib.rectangle(*crop_face_box(rgb.shape[0])), False

    def descriptor(self, rgb: np.ndarray, rect: Any) -> np.ndarray:
        img = np.ascontiguousarray(rgb, dtype=np.uint8)
        return np.asarray(self.net.compute_face_descriptor(img, self.shape(img, rect)), np.float64)

    def pairs(self, photos: Sequence[np.ndarray], cartoons: Sequence[np.ndarray]
              ) -> tuple[np.ndarray, np.ndarray, list[bool]]:
        """Descriptors of photos, of cartoons (at each photo's rectangle), and which were detected."""
        dp, dc, found = [], [], []
        for p, c in zip(photos, cartoons, strict=True):
            rect, ok = self.face_rect(p)
            dp.append(self.descriptor(p, rect))
            dc.append(self.descriptor(cv2.resize(c, p.shape[1::-1], interpolation=cv2.INTER_AREA)
                                      if c.shape != p.shape else c, rect))
            found.append(ok)
        return np.stack(dp), np.stack(dc), found


def own_ranks(queries: np.ndarray, gallery: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance of query i to gallery i, rank of gallery i among all by distance to query i;
    1 = nearest, ties counted against it)."""
    d = np.linalg.norm(queries[:, None, :] - gallery[None, :, :], axis=2)
    own = np.diag(d)
    return own, (d <= own[:, None]).sum(1)


def summarize_identity(distances: Sequence[float], ranks: Sequence[int], gallery: int,
                       detected: Sequence[bool]) -> dict[str, Any]:
    """Median distance, share at or over dlib's 0.6 line, rank-1 retrieval (and chance 1/gallery)."""
    d, r = np.asarray(distances, float), np.asarray(ranks, int)
    if not len(d):
        return {"n": 0}
    return {"n": len(d), "median_distance": float(np.median(d)),
            "frac_ge_0_6": float((d >= SAME_PERSON).mean()), "rank1": float((r == 1).mean()),
            "mean_rank": float(r.mean()), "gallery": gallery, "chance": 1.0 / gallery,
            "dlib_detected": float(np.mean(detected))}
