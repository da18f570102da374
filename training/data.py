"""Unpaired image folders, deterministic augmented batches, and `prepare` (face crop + align).

- `scan_images` lists the images of one or more folders (recursively, sorted); non-image,
  truncated/corrupt and oversized files get one warning each and are counted (by reason) in
  `ScanResult.skipped`. `read_image` turns grayscale, CMYK and transparent (composited over
  white) images into BGR and decodes huge JPEGs at a reduced scale.
- `UnpairedSteps` is a map-style dataset whose item `s` is the whole batch of training step `s`:
  which images and which augmentation are a pure function of (seed, step), so a resumed run sees
  exactly the batches the uninterrupted run would have seen, with any number of loader workers.
- `prepare` crops raw photos with the app's own detector (`avatar_cam.face.FaceDetector`, picked
  like `FaceTracker` picks) and `avatar_cam.align.align_face` with `DEFAULT_CROP`, so training
  sees the webcam framing; photos without a face are listed in `prepare_report.json`.
"""

from __future__ import annotations

import glob
import io
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from avatar_cam.align import centred_square
from avatar_cam.image_files import image_size
from avatar_cam.mesh_drawing import draw_face_mesh
from avatar_cam.sources import flatten_alpha
from training import pack
from training.expression_aug import ExpressionAugConfig, augment_expression

log = logging.getLogger("training.data")

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
REPORT_NAME = "prepare_report.json"
IGNORED_NAMES = {REPORT_NAME, "README.md", "LICENSE", "LICENSE.txt"}


class DataError(ValueError):
    """A data folder that cannot be used (e.g. no images at all); the message is one line."""


@dataclass
class ScanResult:
    """Usable image paths and (path, reason) for every skipped file."""

    paths: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0  # files listed again (a folder given twice, or one inside another): taken once

    def skipped_counts(self) -> str:
        """"2 not an image file, 1 unreadable image": skipped files by reason, most common first."""
        counts: dict[str, int] = {}
        for _, reason in self.skipped:
            key = reason.split(" (")[0]
            counts[key] = counts.get(key, 0) + 1
        return ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))

    def summary(self, name: str) -> str:
        text = f"{name}: {len(self.paths)} images"
        if self.skipped:
            n = len(self.skipped)
            text += f", {n} file{'s' if n != 1 else ''} skipped ({self.skipped_counts()})"
        return text


_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
_REDUCED_FACTOR = {f: r for r, f in _REDUCED} | {
    cv2.IMREAD_REDUCED_GRAYSCALE_2: 2, cv2.IMREAD_REDUCED_GRAYSCALE_4: 4, cv2.IMREAD_REDUCED_GRAYSCALE_8: 8}
MAX_PIXELS = 100_000_000  # larger images (after JPEG reduction) are skipped, never decoded (300 MB+)


def _png_has_alpha(data: np.ndarray) -> bool:
    """A PNG with an alpha channel (grey+alpha, RGBA) or a tRNS transparency chunk."""
    if data.size > 25 and int(data[25]) in (4, 6):
        return True
    head = bytes(data[: 1 << 16])
    idat = head.find(b"IDAT")
    return b"tRNS" in head[: idat if idat >= 0 else None]


def decode_image(path: str | Path, flags: int = cv2.IMREAD_COLOR, min_side: int = 0
                 ) -> tuple[np.ndarray | None, str]:
    """(image, "") or (None, why it was not decoded); see `read_image`."""
    try:
        if pack.split_path(path) is None:
            data = np.fromfile(str(path), dtype=np.uint8)
        else:
            data = np.frombuffer(pack.read_bytes(path), dtype=np.uint8)
    except OSError as e:
        return None, f"cannot read ({e.strerror or e})"
    if data.size == 0:
        return None, "empty file"
    wh = image_size(data)
    is_jpeg = data.size > 2 and data[0] == 0xFF and data[1] == 0xD8
    reduce = 1
    if wh is not None and min_side > 0 and is_jpeg and flags == cv2.IMREAD_COLOR:
        reduce, flags = next(((r, f) for r, f in _REDUCED if min(wh) // r >= min_side), (1, flags))
    elif is_jpeg and flags in _REDUCED_FACTOR:
        reduce = _REDUCED_FACTOR[flags]
    if wh is not None and wh[0] * wh[1] // reduce ** 2 > MAX_PIXELS:
        return None, f"too large to decode ({wh[0]}x{wh[1]} pixels)"
    if flags == cv2.IMREAD_COLOR and wh is not None and not is_jpeg and _png_has_alpha(data):
        img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if img is not None and img.ndim == 3 and img.shape[2] == 4:
            return flatten_alpha(img), ""
    try:
        img = cv2.imdecode(data, flags)
    except cv2.error:  # a reduced decode of a picture under 8 px a side fails inside OpenCV
        size = f"{wh[0]}x{wh[1]} px, " if wh is not None else ""
        return None, f"unreadable image ({size}too small or corrupt)"
    if img is None or img.size == 0:
        return None, "unreadable image (truncated, corrupt or an unsupported format)"
    return img, ""


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR, min_side: int = 0) -> np.ndarray | None:
    """Decode an image file (unicode paths fine); None when it cannot be read or decoded.

    With the default flags: grayscale and CMYK become BGR, a PNG with transparency is composited
    over white, and a JPEG whose shorter side is at least 2, 4 or 8 times `min_side` is decoded
    at that reduced scale (libjpeg's DCT scaling: an 8000x6000 photo never costs its full
    144 MB). Images over MAX_PIXELS that cannot be decoded reduced are refused (None).
    """
    return decode_image(path, flags, min_side)[0]


def entry_folder(entry: str | Path) -> Path:
    """The folder of a data entry: the entry, or its parent when it ends in a file-name pattern
    ("folder/avataaars_*.png": a subset)."""
    root = Path(entry)
    return root.parent if not root.is_dir() and glob.has_magic(root.name) else root


def scan_images(dirs: Sequence[str | Path], verify: bool = True, seen: set[Path] | None = None) -> ScanResult:
    """All image files under `dirs`; hidden files and known sidecars are ignored silently.

    An entry may end in a file-name pattern (`dicebear/avataaars_*.png`) to take a subset, and
    may be a folder inside a pack (`runs/pack.zip/dicebear/crops`, `training.pack`).

    With `verify` each image is decoded at 1/8 scale to catch corrupt and truncated files up
    front (and files over MAX_PIXELS). A file already listed (by resolved path: in `seen`, shared
    between calls, or found again here) is counted in `duplicates`, not listed twice.
    """
    result = ScanResult()
    seen = set() if seen is None else seen
    for d in dirs:
        root = entry_folder(d)
        pattern = Path(d).name if root != Path(d) else "*"
        packed = pack.list_files(root, pattern)
        if packed is None and not root.is_dir():
            raise FileNotFoundError(f"data folder not found: {root}")
        for p in packed if packed is not None else sorted(root.rglob(pattern)):
            if (p.name.startswith(".") or p.name in IGNORED_NAMES or p.name.endswith(".tmp")
                    or (packed is None and not p.is_file())):
                continue
            resolved = p.resolve()
            if resolved in seen:
                result.duplicates += 1
                continue
            seen.add(resolved)
            reason = ""
            if p.suffix.lower() not in IMAGE_EXTS:
                reason = "not an image file"
            elif verify:
                reason = decode_image(p, cv2.IMREAD_REDUCED_GRAYSCALE_8)[1]
            if not reason:
                result.paths.append(p)
                continue
            log.warning("skipping %s: %s", p, reason)
            result.skipped.append((str(p), reason))
    return result


def domain_dirs(dataroot: str | None, extra: Sequence[str], domain: str, phase: str = "train") -> list[str]:
    """Folders of one domain: `DATAROOT/trainA` (CycleGAN convention) plus any `--data-a` dirs."""
    dirs = list(extra)
    if dataroot:
        d = Path(dataroot) / f"{phase}{domain}"
        if not d.is_dir():
            raise FileNotFoundError(f"{dataroot} has no {phase}{domain}/ folder (CycleGAN layout)")
        dirs.insert(0, str(d))
    return dirs


def source_key(path: str | Path) -> str:
    """An image's source name (`prepare`/`mesh_pairs` output of one source photo or cartoon shares it
    across sizes, crops and meshes; `training.pack` matches held-out images by it)."""
    return pack.source_name(Path(path).name.split(".")[0])


def holdout_split(paths: Sequence[Path], n_val: int, seed: int,
                  parent: tuple[set[str], set[str]] | None = None) -> tuple[list[Path], list[Path]]:
    """(train, val): `n_val` images held out by a fixed seed, independent of listing order.

    `parent` = (source names a parent run trained on, and held out), for a run that starts from
    its weights (`init_from`): the parent's held-out images are held out first, then ones it
    never saw, each in the seeded order; an image the parent trained on is never held out (so
    fewer than `n_val` may be)."""
    ordered = sorted(paths, key=str)
    n_val = min(n_val, max(len(ordered) - 1, 0))
    perm = np.random.default_rng(seed).permutation(len(ordered)).tolist()
    if parent is not None:
        trained, held = parent
        keys = {i: source_key(ordered[i]) for i in perm}
        perm = ([i for i in perm if keys[i] in held]
                + [i for i in perm if keys[i] not in held and keys[i] not in trained])
    val_idx = set(perm[:n_val])
    train = [p for i, p in enumerate(ordered) if i not in val_idx]
    val = [ordered[i] for i in sorted(val_idx)]
    return train, val


@dataclass(frozen=True)
class AugmentConfig:
    """Flip, random resized crop (area `min_scale`..1, aspect within `max_aspect`), colour jitter."""

    flip: bool = True
    min_scale: float = 0.8
    max_aspect: float = 1.1
    jitter: float = 0.1  # brightness/contrast/saturation +-jitter, hue +-jitter*18 degrees


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 3xHxW float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(127.5).sub_(1.0)


def to_image(t: torch.Tensor) -> np.ndarray:
    """3xHxW (or 1x3xHxW) tensor in [-1, 1] -> HxWx3 uint8 RGB."""
    t = t.detach().float().cpu().reshape(-1, *t.shape[-3:])[0]
    return ((t.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def augment(rgb: np.ndarray, size: int, rng: np.random.Generator, cfg: AugmentConfig,
            color: bool) -> np.ndarray:
    """Random resized crop, flip and (for photos, `color`) mild colour jitter; uint8 RGB out."""
    h, w = rgb.shape[:2]
    area = h * w * rng.uniform(cfg.min_scale, 1.0)
    aspect = float(np.exp(rng.uniform(-np.log(cfg.max_aspect), np.log(cfg.max_aspect))))
    cw = int(round(min(w, np.sqrt(area * aspect))))
    ch = int(round(min(h, np.sqrt(area / aspect))))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    crop = rgb[y0:y0 + ch, x0:x0 + cw]
    interp = cv2.INTER_AREA if min(ch, cw) > size else cv2.INTER_LINEAR
    out = cv2.resize(crop, (size, size), interpolation=interp)
    if cfg.flip and rng.random() < 0.5:
        out = out[:, ::-1]
    if color and cfg.jitter > 0:
        j = cfg.jitter
        b, c, s, hue = (rng.uniform(1 - j, 1 + j), rng.uniform(1 - j, 1 + j), rng.uniform(1 - j, 1 + j),
                        rng.uniform(-j, j))
        f = out.astype(np.float32) * b
        f = (f - f.mean()) * c + f.mean()
        gray = f @ np.array([0.299, 0.587, 0.114], np.float32)
        f = gray[..., None] + (f - gray[..., None]) * s
        out = np.clip(f, 0, 255).astype(np.uint8)
        if abs(hue) > 1e-3:
            hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + int(round(hue * 18))) % 180).astype(np.uint8)
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.ascontiguousarray(out)


@lru_cache(maxsize=8)
def _permutation(n: int, seed: int, key: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, key, epoch]).permutation(n)


# "M" (the mesh drawing of each cartoon) is read with "B" (`UnpairedSteps.load_pair`): the same
# image index and the same augmentation draw, so a pair stays aligned through crop and flip.
_DOMAIN_KEYS = {"A": 1, "A2": 2, "B": 3}


def mesh_path_for(crop: str | Path) -> Path:
    """The face-mesh drawing paired with a prepared crop (`X/crops/a.jpg` -> `X/meshes/a.png`,
    as `python -m training.mesh_pairs` writes them)."""
    crop = Path(crop)
    return crop.parent.with_name("meshes") / f"{crop.stem}.png"


def landmarks_path_for(crop: str | Path) -> Path:
    """The (478, 3) landmarks of a prepared crop (`X/crops/a.jpg` -> `X/landmarks/a.npy`)."""
    crop = Path(crop)
    return crop.parent.with_name("landmarks") / f"{crop.stem}.npy"


class UnpairedSteps(Dataset):
    """Item `s` = the batch of step `s`: {"A": photos, "A2": other photos, "B": cartoons, "M": the
    cartoons' mesh drawings}, each [batch, 3, size, size] in [-1, 1]. Every domain walks through
    its own per-epoch shuffle; "M" walks with "B" and is augmented the same way (paired).
    With `expression`, each pair may first get an opened mouth or closed eyes
    (`training.expression_aug`), and "M" is drawn from the moved landmarks instead of read.

    `batch_size` is the global batch; process `rank` of `world` (torchrun) gets slots rank,
    rank + world, ... of it. A slot's image and augmentation depend only on (seed, step, slot),
    so any number of processes together see exactly the batches of one.
    """

    def __init__(self, paths_a: Sequence[Path], paths_b: Sequence[Path], size: int, batch_size: int,
                 steps: int, seed: int = 0, aug: AugmentConfig | None = None, with_a2: bool = False,
                 with_mesh: bool = False, expression: ExpressionAugConfig | None = None,
                 rank: int = 0, world: int = 1):
        if not paths_a or not paths_b:
            raise ValueError("both domains need at least one image")
        self.paths = {"A": list(paths_a), "A2": list(paths_a), "B": list(paths_b),
                      "M": [mesh_path_for(p) for p in paths_b]}
        self.size, self.batch_size, self.steps, self.seed = size, batch_size, steps, seed
        self.slots = range(rank, batch_size, world)
        self.aug = aug or AugmentConfig()
        self.domains = ("A", "A2", "B") if with_a2 else ("A", "B")
        if with_mesh:
            self.domains += ("M",)
        self.bad: set[str] = set()
        self.expression = expression if with_mesh else None
        if with_mesh:
            drawings = [p for p in self.paths["B"] if mesh_path_for(p) == Path(p)]
            if drawings:
                raise DataError(f"{len(drawings)} of the cartoons are mesh drawings (in a meshes/ folder, "
                                f"e.g. {drawings[0]}): give the crops/ folder python -m training.mesh_pairs "
                                "wrote as the cartoons")
        if self.expression is not None:
            missing = [p for p in self.paths["B"] if not pack.exists(landmarks_path_for(p))]
            if missing:
                raise DataError(f"expression augmentation needs the crops' landmarks; {len(missing)} "
                                f"missing, "
                                f"e.g. {landmarks_path_for(missing[0])} (prepare again with "
                                "python -m training.mesh_pairs)")
        elif with_mesh:
            missing = [p for p in self.paths["M"] if not pack.exists(p)]
            if missing:
                raise DataError(f"mesh-conditioned training pairs each cartoon with its mesh drawing; "
                                f"{len(missing)} of {len(self.paths['M'])} missing, e.g. {missing[0]} "
                                "(give the crops/ folder python -m training.mesh_pairs wrote, its meshes/ "
                                "beside it)")

    def __len__(self) -> int:
        return self.steps

    def index(self, domain: str, step: int, j: int) -> int:
        """Which image of `domain` fills slot `j` of step `step`."""
        n = len(self.paths[domain])
        pos = step * self.batch_size + j
        return int(_permutation(n, self.seed, _DOMAIN_KEYS[domain], pos // n)[pos % n])

    def read_rgb(self, domain: str, idx: int) -> tuple[Path, np.ndarray]:
        """Image `idx` of `domain` as RGB, or the next readable one (unreadable ones logged once)."""
        paths = self.paths[domain]
        for k in range(len(paths)):
            p = paths[(idx + k) % len(paths)]
            bgr = read_image(p, min_side=4 * self.size)
            if bgr is not None:
                return Path(p), cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if str(p) not in self.bad:
                self.bad.add(str(p))
                log.warning("skipping %s: unreadable image (it was readable when scanned)", p)
        raise DataError(f"no readable image left in domain {domain} (all {len(paths)} skipped, each warned "
                        "above)")

    def read_pair(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        """Cartoon `idx` and its own mesh drawing as RGB, or the next pair that both read (a pair
        with an unreadable half is logged once and skipped whole: never another's mesh)."""
        n = len(self.paths["B"])
        for k in range(n):
            crop, mesh = self.paths["B"][(idx + k) % n], self.paths["M"][(idx + k) % n]
            (b, why_b), (m, why_m) = (decode_image(p, min_side=4 * self.size) for p in (crop, mesh))
            if b is not None and m is not None:
                return cv2.cvtColor(b, cv2.COLOR_BGR2RGB), cv2.cvtColor(m, cv2.COLOR_BGR2RGB)
            if str(crop) not in self.bad:
                self.bad.add(str(crop))
                why = f"{why_b} (it was readable when scanned)" if b is None else f"its mesh {mesh}: {why_m}"
                log.warning("skipping the pair %s: %s", crop, why)
        raise DataError(f"no readable cartoon and mesh pair left (all {n} skipped, each warned above)")

    def load(self, domain: str, idx: int, rng: np.random.Generator) -> torch.Tensor:
        _, rgb = self.read_rgb(domain, idx)
        return to_tensor(augment(rgb, self.size, rng, self.aug, color=domain != "B"))

    def load_pair(self, idx: int, step: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Cartoon "B" `idx` and its mesh drawing "M", read, or drawn after a random expression edit;
        both get the same crop/flip."""
        if self.expression is None:
            rgb, mesh = self.read_pair(idx)
        else:
            p, rgb = self.read_rgb("B", idx)
            landmarks = np.load(io.BytesIO(pack.read_bytes(landmarks_path_for(p))))
            rgb, lm = augment_expression(rgb, landmarks,
                                         np.random.default_rng([self.seed, 5, step, j]), self.expression)
            mesh = cv2.cvtColor(draw_face_mesh(lm, rgb.shape[0]), cv2.COLOR_BGR2RGB)
        seed = [self.seed, _DOMAIN_KEYS["B"], step, j]  # the draw "B" alone would use
        b, m = (augment(im, self.size, np.random.default_rng(seed), self.aug, color=False)
                for im in (rgb, mesh))
        return to_tensor(b), to_tensor(m)

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        batch = {}
        for d in self.domains:
            if d == "M":
                continue  # read or drawn with B below
            if d == "B" and "M" in self.domains:
                pairs = [self.load_pair(self.index("B", step, j), step, j) for j in self.slots]
                batch["B"] = torch.stack([b for b, _ in pairs])
                batch["M"] = torch.stack([m for _, m in pairs])
                continue
            batch[d] = torch.stack([self.load(d, self.index(d, step, j),
                                              np.random.default_rng([self.seed, _DOMAIN_KEYS[d], step, j]))
                                    for j in self.slots])
        return batch


def load_plain(paths: Sequence[Path], size: int) -> torch.Tensor:
    """Un-augmented [N, 3, size, size] batch (for fixed sample grids and evaluation)."""
    out = []
    for p in paths:
        bgr = read_image(p, min_side=4 * size)
        if bgr is None:
            raise DataError(f"unreadable image: {p} (moved or deleted since the run's split was made?)")
        out.append(to_tensor(centred_square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size)))
    return torch.stack(out)


# ---------------------------------------------------------------------------------------------
# prepare: crop and align raw photos the way the app crops webcam frames


def _outside_fraction(matrix: np.ndarray, shape: tuple[int, ...], size: int) -> float:
    """Share of the crop that lies outside the source image (filled by replicated borders)."""
    mask = np.full(shape[:2], 255, np.uint8)
    warped = cv2.warpAffine(mask, matrix, (size, size), flags=cv2.INTER_NEAREST,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return float(1.0 - (warped > 127).mean())


def _centre_square(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    n = min(h, w)
    y, x = (h - n) // 2, (w - n) // 2
    return cv2.resize(img[y : y + n, x : x + n], (size, size), interpolation=cv2.INTER_AREA)


def _safe_name(rel: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "__".join(rel.with_suffix("").parts))


def prepare(inputs: Sequence[str | Path], out_dir: str | Path, size: int = 256,
            max_outside: float | None = None, overwrite: bool = False,
            tracker_factory: Callable[[], object] | None = None,
            progress: bool = True, domain: str = "photo") -> dict:
    """Crop and align every image under `inputs` into `out_dir` (JPEG q95, `size` square).

    Detection is the app's still detection (`FaceTracker.still`: the image padded by half its
    side, so tight crops such as UTKFace are found, and the tracker's rule for picking one
    face); the crop is `align_face(image, face, size, DEFAULT_CROP)`. Images with no face are
    listed under `not_found`; a photo (`domain="photo"`) is then skipped, a cartoon
    (`domain="cartoon"`: anime faces, already face crops, which MediaPipe finds less often) is
    written whole (centre square) and also listed under `whole_image`. `found` counts the faces
    found. With `max_outside`, crops that are more than that share outside the image are
    listed under `too_tight` and not written. Returns the report, also written to
    `out_dir/prepare_report.json`.
    """
    if domain not in ("photo", "cartoon"):
        raise DataError(f"unknown domain {domain!r} (photo, cartoon)")
    from avatar_cam.align import DEFAULT_CROP, align_face, face_crop_matrix
    from avatar_cam.frame import Face

    if tracker_factory is None:
        from avatar_cam.face import FaceDetector, FaceTracker

        class CountingDetector(FaceDetector):
            last_count = 0

            def detect(self, image_bgr: np.ndarray) -> list[Face]:
                faces = super().detect(image_bgr)
                self.last_count = len(faces)
                return faces

        def tracker_factory() -> object:
            return FaceTracker(CountingDetector())

    scan = scan_images(inputs, verify=False)
    if not scan.paths:
        why = f" (only {scan.skipped_counts()})" if scan.skipped else ""
        raise DataError(f"no images in {', '.join(str(i) for i in inputs)}{why}")
    tracker = tracker_factory()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"inputs": [str(i) for i in inputs], "out": str(out), "size": size,
                    "domain": domain,
                    "crop": {"scale": DEFAULT_CROP.scale, "shift_y": DEFAULT_CROP.shift_y},
                    "written": 0, "already_there": 0, "found": 0, "not_found": [],
                    "whole_image": [], "unreadable": [],
                    "not_an_image": [], "too_tight": [], "multiple_faces": 0, "outside_mean": 0.0}
    report["not_an_image"] = [p for p, _ in scan.skipped]
    outside_sum = 0.0
    iterator = scan.paths
    if progress:
        from tqdm import tqdm

        iterator = tqdm(scan.paths, desc="prepare", unit="img")
    for p in iterator:
        root = next(Path(i) for i in inputs if Path(p).is_relative_to(Path(i)))
        rel = Path(p).relative_to(root)
        if len(inputs) > 1:
            rel = Path(root.name) / rel
        dest = out / f"{_safe_name(rel)}.jpg"
        if dest.exists() and not overwrite:
            report["already_there"] += 1
            continue
        img, problem = decode_image(p, min_side=max(2048, 8 * size))  # huge photos: decoded reduced
        if img is None:
            log.warning("skipping %s: %s", p, problem)
            report["unreadable"].append(str(p))
            continue
        face = tracker.still(img)  # type: ignore[attr-defined]
        if face is None:
            report["not_found"].append(str(p))
            if domain == "photo":
                continue
            report["whole_image"].append(str(p))
            crop = _centre_square(img, size)
        else:
            report["found"] += 1
            if getattr(getattr(tracker, "detector", None), "last_count", 1) > 1:
                report["multiple_faces"] += 1
            outside = _outside_fraction(face_crop_matrix(face, size, DEFAULT_CROP), img.shape, size)
            if max_outside is not None and outside > max_outside:
                report["too_tight"].append(str(p))
                continue
            outside_sum += outside
            crop = align_face(img, face, size, DEFAULT_CROP)
        ok, buf = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise OSError(f"could not encode a crop of {p}")
        tmp = dest.with_suffix(".jpg.tmp")
        buf.tofile(str(tmp))
        os.replace(tmp, dest)
        report["written"] += 1
    aligned = report["written"] - len(report["whole_image"])
    report["outside_mean"] = round(outside_sum / max(aligned, 1), 4)
    tmp = out / (REPORT_NAME + ".tmp")
    tmp.write_text(json.dumps(report, indent=2))
    os.replace(tmp, out / REPORT_NAME)
    return report
