"""`avatar-eval`: how good is a style (ONNX style file) or a training run, on held-out faces.

    avatar-eval --run RUN_DIR [--photos DIR ...] [--cartoons DIR ...] [--out DIR]
    avatar-eval --style STYLE.onnx (--photos DIR | --holdout RUN_DIR) [--exclude-trained SPLIT.json]
        [--cartoons DIR] [--out DIR]
        [--limit N] [--inception-weights PATH] [--no-fid] [--kid-subset-size N] [--clips VIDEO ...]
        [--judge PATH | --no-judge] [--no-identity]
    avatar-eval --passthrough (--photos DIR | --holdout RUN_DIR)    # the photo as its own cartoon
    avatar-eval --motion --style NAME|PATH [--clips VIDEO ...] [--frames N] [--size WxH[,WxH...]]
    avatar-eval --cover --style NAME|PATH [--clips VIDEO ...] [--frames N] [--size WxH]

For a run, photos and cartoons default to the run's held-out images (split.json). Photos should
be aligned crops (`avatar-train prepare`), as the app feeds the generator.

- FID and KID (torch-fidelity's Inception-v3 features, pool3 2048-d) between the generated
  cartoons and real cartoons. The Inception weights come from `--inception-weights PATH`
  (torch-fidelity's `weights-inception-2015-12-05-6726825d.pth`, or a .safetensors of the same
  state dict), else torch's hub cache, else a download; when none works the metrics are null with
  the reason, and everything else is still computed. A `--inception-weights` file that does not
  load (missing, not Inception-v3 weights) is an error (exit 2) before any cartoon is made. KID's
  subset size is at most the smaller set.
- What the paper cares about, without any download: does the cartoon keep the expression, pose
  and gaze (MediaPipe Face Mesh on input and output, `avatar_cam.expression`): face-found rate
  on outputs, landmark error as a fraction of face size, mouth/eye-open agreement, yaw/pitch/roll
  and gaze differences, also per UTKFace group (age, gender, ethnicity from the file names);
  `false_wink_rate`: the share of cartoons with one eye under half as open as the other where
  the person's eyes are even.

- Does it read as a cartoon: the share of outputs the style judge (`training.judge`, a small
  photo/anime/flat CNN trained on the training split only) calls anime or flat. Does it hide who
  it is: dlib's face recognition distance photo<->cartoon (median, share >= 0.6) and rank-1
  retrieval of the person's own photo from the cartoon among all evaluated photos
  (`training.identity`). Both also per UTKFace group; null with the reason where unavailable.

- With `--clips`: each video goes through the app's own face tracking and head crop, frame by
  frame; per clip the same expression measures over time (does the cartoon's mouth open when the
  person's does: `mouth_open_corr`) and `flicker`, the temporal second difference of the cartoon
  over that of the crop (`|x[t+1] - 2x[t] + x[t-1]|`, so smooth motion does not count; 1.0: the
  generator adds no jitter of its own).

- With `--motion` (any style the app runs, by name or path; `training.motion_check`): each clip
  (default: the demo clip and ../shared/media's clips when present) through the app's whole
  pipeline at the output size; an independent Face Mesh on camera and output frames; per signal
  the correlation over time, false winks and faces found on the output. Several sizes
  (`--size 1232x693,1280x720,1328x747`): a table per size, then their mean, judged (one size's
  cells move by several hundredths with a pixel's change). Writes `OUT/motion.json` and
  `OUT/motion_sheet.png`.

Writes `OUT/eval.json` and `OUT/contact_sheet.png` (photo | cartoon pairs; green frame: a face
was found on the cartoon, red: not), with `--clips` also `OUT/clips_sheet.png` (per clip a row of
crops over a row of cartoons).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import re
import sys
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from training.cli_errors import one_line, overlaps

if TYPE_CHECKING:
    from avatar_cam.styles import StyleInfo

INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"

FeatureFn = Callable[[np.ndarray], np.ndarray]  # uint8 [N, H, W, 3] RGB -> float [N, D]
Generator = Callable[[np.ndarray], np.ndarray]  # uint8 RGB HxWx3 crop -> uint8 RGB cartoon

AGE_GROUPS = ((0, 12, "0-12"), (13, 19, "13-19"), (20, 39, "20-39"), (40, 59, "40-59"), (60, 200, "60+"))
GENDERS = {0: "male", 1: "female"}
ETHNICITIES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
_UTK = re.compile(r"(?:^|__)(\d{1,3})_([01])_([0-4])_\d+")


class EvalError(RuntimeError):
    """A problem that stops the evaluation; one line."""


# -- torch-fidelity without torchvision ------------------------------------------------------------

def import_torch_fidelity() -> types.ModuleType:
    """Import torch_fidelity; if torchvision is absent, with import-time stand-ins for it.

    torch-fidelity imports torchvision at package import for its CLIP/DINOv2/VGG extractors and
    CIFAR/STL datasets, none of which FID/KID with Inception use. The stand-ins are removed
    from sys.modules again right after the import, so nothing else sees a fake torchvision.
    """
    try:
        import torch_fidelity

        return torch_fidelity
    except ModuleNotFoundError as e:
        if e.name is None or not e.name.startswith("torchvision"):
            raise EvalError("torch-fidelity is not installed (pip install --no-deps torch-fidelity)"
                            ) from None
    names = ["torchvision", "torchvision.datasets", "torchvision.transforms",
             "torchvision.transforms.functional", "torchvision.models"]
    stubs = {n: types.ModuleType(n) for n in names}
    for n in ("CIFAR10", "CIFAR100", "STL10"):
        setattr(stubs["torchvision.datasets"], n, type(n, (), {}))
    stubs["torchvision"].datasets = stubs["torchvision.datasets"]  # type: ignore[attr-defined]
    stubs["torchvision"].transforms = stubs["torchvision.transforms"]  # type: ignore[attr-defined]
    stubs["torchvision"].models = stubs["torchvision.models"]  # type: ignore[attr-defined]
    stubs["torchvision.transforms"].functional = stubs["torchvision.transforms.functional"]  # type: ignore[attr-defined]
    saved = {n: sys.modules.get(n) for n in names}
    sys.modules.update(stubs)
    try:
        for mod in [m for m in sys.modules if m == "torch_fidelity" or m.startswith("torch_fidelity.")]:
            del sys.modules[mod]
        import torch_fidelity

        return torch_fidelity
    finally:
        for n, old in saved.items():
            if old is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = old


def _load_state_dict(path: Path) -> dict:
    import torch

    if path.is_dir():
        raise EvalError(f"{path}: a folder, not an Inception weights file (give the .pth or "
                        ".safetensors in it)")
    if not path.is_file():
        raise EvalError(f"Inception weights not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same problem to the user
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if first.startswith("Weights only load failed"):  # torch's advice to load it unsafely is not ours
            first = "a pickle holding more than tensors, not a state dict"
        raise EvalError(f"{path}: not a usable Inception state dict ({first[:200]})") from None


def inception_features(weights: str | None, device: str = "cpu", batch: int = 16) -> FeatureFn:
    """torch-fidelity's Inception-v3 pool3 (2048-d) features, weights loaded without pickle code."""
    import torch

    source = "the downloaded weights"
    if weights:
        source = weights
        state = _load_state_dict(Path(weights))
    else:
        cached = Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_FILE
        if cached.is_file():
            source = str(cached)
            state = _load_state_dict(cached)
        else:
            try:
                state = torch.hub.load_state_dict_from_url(INCEPTION_URL, map_location="cpu",
                                                           progress=False, weights_only=True)
            except Exception as e:  # noqa: BLE001 - no network, proxy, HTTP error...
                raise EvalError(
                    f"FID/KID need the Inception-v3 weights and they could not be downloaded "
                    f"({type(e).__name__}); download {INCEPTION_FILE} elsewhere and pass "
                    f"--inception-weights PATH, or use --no-fid") from None
    tf = import_torch_fidelity()
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with _patched(fe, "load_state_dict_from_url", lambda *a, **k: state):
        try:
            net = tf.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
        except RuntimeError as e:
            lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
            keys = ("Missing key", "Unexpected key", "size mismatch")
            what = next((ln for ln in lines if ln.startswith(keys)), lines[0] if lines else "mismatch")
            raise EvalError(f"{source}: not torch-fidelity's Inception-v3 weights ({what[:160]})") from None
    net = net.to(device).eval()

    def run(images: np.ndarray) -> np.ndarray:
        feats = []
        with torch.no_grad():
            for i in range(0, len(images), batch):
                chunk = np.ascontiguousarray(images[i:i + batch].transpose(0, 3, 1, 2))
                x = torch.from_numpy(chunk).to(device)
                feats.append(net(x)[0].cpu().double().numpy())
        return np.concatenate(feats, 0)

    return run


@contextlib.contextmanager
def _patched(obj: object, name: str, value: object):  # noqa: ANN202
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


def fid_kid(feat_fake: np.ndarray, feat_real: np.ndarray, subset_size: int | None = None,
            subsets: int = 100, seed: int = 0) -> dict[str, float]:
    """FID and KID (torch-fidelity's implementations) from two feature sets."""
    import torch

    tf = import_torch_fidelity()
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

    del tf
    n = min(len(feat_fake), len(feat_real))
    if n < 2:
        raise EvalError(f"FID/KID need at least 2 images per set, have {len(feat_fake)} and {len(feat_real)}")
    k = min(subset_size or 1000, n)
    f1, f2 = torch.from_numpy(feat_fake.astype(np.float64)), torch.from_numpy(feat_real.astype(np.float64))
    fid = fid_statistics_to_metric(fid_features_to_statistics(f1), fid_features_to_statistics(f2), False)
    kid = kid_features_to_metric(f1, f2, kid_subsets=subsets, kid_subset_size=k, kid_degree=3, kid_gamma=None,
                                 kid_coef0=1, kid_kernel="poly", rng_seed=seed, verbose=False)
    return {"fid": float(fid[KEY_METRIC_FID]), "kid_mean": float(kid[KEY_METRIC_KID_MEAN]),
            "kid_std": float(kid[KEY_METRIC_KID_STD]), "kid_subset_size": k,
            "n_generated": len(feat_fake), "n_real": len(feat_real)}


# -- generators ----------------------------------------------------------------------------------

def style_generator(path: str) -> tuple[Generator, int, str]:
    """A style file (ONNX, character or look file, checked by the app's validator) as a crop ->
    cartoon function, run by the app's own `Stylizer` (one CPU thread, its style code frozen in)."""
    from avatar_cam.inference import Stylizer
    from avatar_cam.styles import StyleError, load_style

    try:
        info = load_style(path)
    except StyleError as e:
        raise EvalError(str(e)) from None
    run = Stylizer(info, "cpu", threads=1)
    if info.metadata.get("input") == "face_mesh_drawing":
        return _on_mesh_drawing(run), info.size, f"style {info.path} ({info.kind}, fed the crop's face mesh)"
    return run, info.size, f"style {info.path} ({info.kind})"


def _on_mesh_drawing(run: Generator) -> Generator:
    """Feed a mesh-conditioned generator what the app feeds it for a still: the crop's face-mesh
    drawing with its gaze drawn larger (`avatar_cam.mesh_style.MeshStylizer.drawing`); a crop
    with no mesh gets a black frame, which counts as "no face found" like the app's card."""
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.mesh_drawing import crop_landmarks, draw_face_mesh
    from avatar_cam.mesh_style import MotionGain

    analyzers: list[ExpressionAnalyzer] = []  # started at the first crop, after the command's checks
    gain = MotionGain()

    def run_mesh(rgb: np.ndarray) -> np.ndarray:
        if not analyzers:
            analyzers.append(ExpressionAnalyzer())
        lm = crop_landmarks(analyzers[0], np.ascontiguousarray(rgb[..., ::-1]))
        if lm is None:
            return np.zeros_like(rgb)
        return run(np.ascontiguousarray(draw_face_mesh(gain(lm), rgb.shape[0])[..., ::-1]))

    return run_mesh


def run_generator(path: str) -> tuple[Generator, int, str, dict[str, Any]]:
    """A training run's generator (checkpoint) as a crop -> cartoon function."""
    import torch

    from training.checkpoint import CheckpointError, load_for_export

    try:
        model, cfg, step = load_for_export(path)
    except CheckpointError as e:
        raise EvalError(str(e)) from None
    gen = model.generator_for_export()

    def run(rgb: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(rgb.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0)
        with torch.no_grad():
            y = gen(x)[0].numpy()
        return ((np.clip(y, -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(1, 2, 0)

    desc = f"run {path} ({cfg.model}/{cfg.generator}, step {step})"
    if cfg.model == "mesh-conditioned":
        return _on_mesh_drawing(run), cfg.size, desc, cfg.to_dict()
    return run, cfg.size, desc, cfg.to_dict()


# -- expression metrics ------------------------------------------------------------------------

def utk_group(name: str) -> dict[str, str] | None:
    """Age group, gender and ethnicity from a UTKFace file name, else None."""
    m = _UTK.search(Path(name).name)
    if not m:
        return None
    age, gender, eth = int(m.group(1)), int(m.group(2)), int(m.group(3))
    age_group = next(label for lo, hi, label in AGE_GROUPS if lo <= age <= hi)
    return {"age": age_group, "gender": GENDERS[gender], "ethnicity": ETHNICITIES[eth]}


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _corr(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3 or np.std(a) < 1e-9 or np.std(b) < 1e-9:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def false_wink(record: dict[str, Any]) -> bool | None:
    """Does the cartoon shut one eye to under half the other's while the person's eyes are even?
    None when the person winks or squints one eye themselves."""
    a, b = record["input"]["eye_open"]
    if min(a, b) < 0.5 * max(a, b):
        return None
    c, d = record["output"]["eye_open"]
    return bool(min(c, d) < 0.5 * max(c, d))


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Face-found rates and mean differences over per-image records."""
    n = len(records)
    with_in = [r for r in records if r["input_face"]]
    both = [r for r in with_in if r["output_face"]]
    out: dict[str, Any] = {
        "n": n,
        "input_face_rate": len(with_in) / n if n else None,
        "output_face_rate": sum(r["output_face"] for r in records) / n if n else None,
        "output_face_rate_given_input_face": len(both) / len(with_in) if with_in else None,
        "n_compared": len(both),
    }
    keys = ["keypoint_error", "mouth_open_diff", "eye_open_diff", "yaw_diff", "pitch_diff", "roll_diff",
            "gaze_diff"]
    for k in keys:
        out[k] = _mean([r["diff"][k] for r in both])
    out["mouth_open_corr"] = _corr([r["input"]["mouth_open"] for r in both],
                                   [r["output"]["mouth_open"] for r in both])
    out["eye_open_corr"] = _corr([float(np.mean(r["input"]["eye_open"])) for r in both],
                                 [float(np.mean(r["output"]["eye_open"])) for r in both])
    winks = [w for w in map(false_wink, both) if w is not None]
    out["false_wink_rate"] = sum(winks) / len(winks) if winks else None
    return out


def expression_records(photos: Sequence[np.ndarray], cartoons: Sequence[np.ndarray], names: Sequence[str],
                       analyze: Callable[[np.ndarray], Any] | None = None) -> list[dict[str, Any]]:
    """Per image: faces found, measures of input and output, and their differences."""
    from avatar_cam.expression import ExpressionAnalyzer, compare

    analyzer = None
    if analyze is None:
        analyzer = ExpressionAnalyzer()

        def analyze(rgb: np.ndarray) -> Any:
            return analyzer.analyze(rgb, bgr=False)

    def brief(e: Any) -> dict[str, Any]:
        return {"mouth_open": e.mouth_open, "eye_open": list(e.eye_open), "yaw": e.yaw, "pitch": e.pitch,
                "roll": e.roll, "gaze": list(e.gaze)}

    records = []
    try:
        for name, p, c in zip(names, photos, cartoons, strict=True):
            ei, eo = analyze(p), analyze(c)
            rec: dict[str, Any] = {"name": name, "input_face": ei is not None, "output_face": eo is not None,
                                   "group": utk_group(name)}
            if ei is not None:
                rec["input"] = brief(ei)
            if eo is not None:
                rec["output"] = brief(eo)
            if ei is not None and eo is not None:
                rec["diff"] = compare(ei, eo)
            records.append(rec)
    finally:
        if analyzer is not None:
            analyzer.close()
    return records


def judge_identity_summary(records: list[dict[str, Any]], gallery: int) -> dict[str, Any]:
    """The style judge's verdicts (`judge`) and the dlib identity measures (`identity`) over records
    that have them; retrieval ranks are among all `gallery` held-out photos."""
    from training.identity import summarize_identity
    from training.judge import CARTOON, CLASSES

    out: dict[str, Any] = {}
    judged = [r for r in records if "judge" in r]
    if judged:
        labels = [r["judge"] for r in judged]
        cartoon = float(np.mean([x in CARTOON for x in labels]))
        out["judge"] = {"n": len(judged), "cartoon_rate": cartoon,
                        **{f"{c}_rate": labels.count(c) / len(labels) for c in CLASSES},
                        "input_photo_rate": float(np.mean([r["judge_input"] == "photo" for r in judged]))}
    ids = [r["identity"] for r in records if "identity" in r]
    if ids:
        out["identity"] = summarize_identity([i["distance"] for i in ids], [i["rank"] for i in ids], gallery,
                                             [i["detected"] for i in ids])
    return out


def group_summaries(records: list[dict[str, Any]], gallery: int = 0) -> dict[str, dict[str, Any]]:
    """`summarize` (and the judge / identity measures) per UTKFace age group, gender and ethnicity
    (empty without labels)."""
    groups: dict[str, dict[str, Any]] = {}
    for field in ("age", "gender", "ethnicity"):
        values = sorted({r["group"][field] for r in records if r["group"]})
        for v in values:
            sub = [r for r in records if r["group"] and r["group"][field] == v]
            groups[f"{field}={v}"] = {**summarize(sub), **judge_identity_summary(sub, gallery)}
    return groups


def add_judge_identity(records: list[dict[str, Any]], photos: Sequence[np.ndarray],
                       cartoons: Sequence[np.ndarray], judge: Any = None, identity: Any = None) -> None:
    """Per record: the judge's label of cartoon and photo; photo<->cartoon dlib distance and the rank
    of the person's own photo among all photos by distance to the cartoon."""
    if judge is not None:
        for r, out, inp in zip(records, judge.labels(cartoons), judge.labels(photos), strict=True):
            r["judge"], r["judge_input"] = out, inp
    if identity is not None:
        from training.identity import own_ranks

        d_photo, d_cartoon, detected = identity.pairs(photos, cartoons)
        dist, ranks = own_ranks(d_cartoon, d_photo)
        for r, d, k, f in zip(records, dist, ranks, detected, strict=True):
            r["identity"] = {"distance": float(d), "rank": int(k), "detected": bool(f)}


def contact_sheet(photos: Sequence[np.ndarray], cartoons: Sequence[np.ndarray], found: Sequence[bool],
                  path: Path, max_pairs: int = 32, tile: int = 128, per_row: int = 4) -> None:
    """photo | cartoon pairs, `per_row` pairs a row; cartoon framed green (face found) or red."""
    pairs = []
    for p, c, f in list(zip(photos, cartoons, found, strict=True))[:max_pairs]:
        a = cv2.resize(p, (tile, tile), interpolation=cv2.INTER_AREA)
        b = cv2.resize(c, (tile, tile), interpolation=cv2.INTER_AREA)
        b = cv2.rectangle(b.copy(), (1, 1), (tile - 2, tile - 2), (0, 200, 0) if f else (220, 0, 0), 3)
        pairs.append(np.concatenate([a, b], 1))
    while len(pairs) % per_row:
        pairs.append(np.zeros_like(pairs[0]))
    rows = [np.concatenate(pairs[i:i + per_row], 1) for i in range(0, len(pairs), per_row)]
    write_png(np.concatenate(rows, 0), path)


def write_png(rgb: np.ndarray, path: Path) -> None:
    """An RGB image as PNG (`tofile`: works for non-ASCII paths on Windows, unlike imwrite)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {path}")
    buf.tofile(str(path))


# -- failure modes a GAN falls into -------------------------------------------------------------

def _luma(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def _checker_energy(img: np.ndarray) -> float:
    """Mean |2x2 checkerboard filter| response: what transposed-convolution artefacts add."""
    y = _luma(img)
    return float(np.abs(y[:-1, :-1] - y[1:, :-1] - y[:-1, 1:] + y[1:, 1:]).mean())


def failure_checks(photos: Sequence[np.ndarray], cartoons: Sequence[np.ndarray]) -> dict[str, float | None]:
    """Numbers for "no colour inversion, no checkerboard, no collapse to one face":
    `luma_corr` (mean per-image correlation of photo and cartoon brightness; negative = inverted),
    `diversity_ratio` (per-pixel spread across cartoons over that across photos; near 0 = every
    face gets the same cartoon) and `checkerboard_ratio` (2x2 checkerboard energy of cartoons over
    photos; well above 1 = grid artefacts)."""
    corrs = []
    for p, c in zip(photos, cartoons, strict=True):
        lp, lc = _luma(p).ravel(), _luma(c).ravel()
        if lp.std() > 1e-6 and lc.std() > 1e-6:
            corrs.append(float(np.corrcoef(lp, lc)[0, 1]))
    spread_p = float(np.stack(photos).astype(np.float32).std(0).mean()) if len(photos) > 1 else 0.0
    spread_c = float(np.stack(cartoons).astype(np.float32).std(0).mean()) if len(cartoons) > 1 else 0.0
    checker_p = float(np.mean([_checker_energy(p) for p in photos]))
    checker_c = float(np.mean([_checker_energy(c) for c in cartoons]))
    return {"luma_corr": _mean(corrs), "diversity_ratio": spread_c / spread_p if spread_p > 0 else None,
            "checkerboard_ratio": checker_c / max(checker_p, 1e-6)}


# -- video clips ---------------------------------------------------------------------------------

def clip_crops(path: Path, size: int) -> list[np.ndarray]:
    """RGB head crops of a video as the app makes them (its video source, MediaPipe tracking,
    smoothing, alignment); frames without a face are skipped."""
    from avatar_cam.align import align_face
    from avatar_cam.face import FaceDetector, FaceTracker
    from avatar_cam.sources import SourceError, VideoSource

    try:
        source = VideoSource(path)
    except SourceError as e:
        raise EvalError(str(e)) from None
    tracker = FaceTracker(FaceDetector())
    crops = []
    try:
        while (frame := source.read()) is not None:
            face = tracker.update(frame.image, frame.timestamp)
            if face is not None:
                crops.append(cv2.cvtColor(align_face(frame.image, face, size), cv2.COLOR_BGR2RGB))
    finally:
        source.close()
        tracker.detector.close()
    return crops


def flicker(inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray]) -> float | None:
    """Mean temporal second difference of `outputs` over that of `inputs` (None under 3 frames)."""
    if len(inputs) < 3:
        return None

    def jitter(seq: Sequence[np.ndarray]) -> float:
        x = np.stack(seq).astype(np.float32)
        return float(np.abs(x[2:] - 2 * x[1:-1] + x[:-2]).mean())

    return jitter(outputs) / max(jitter(inputs), 1e-6)


def clip_sheet(rows: Sequence[tuple[Sequence[np.ndarray], Sequence[np.ndarray]]], path: Path,
               per_clip: int = 6, tile: int = 128) -> None:
    """Per clip: `per_clip` evenly spaced crops over their cartoons."""
    strips = []
    for crops, cartoons in rows:
        idx = np.linspace(0, len(crops) - 1, min(per_clip, len(crops))).round().astype(int)
        for seq in (crops, cartoons):
            tiles = [cv2.resize(seq[i], (tile, tile), interpolation=cv2.INTER_AREA) for i in idx]
            tiles += [np.zeros((tile, tile, 3), np.uint8)] * (per_clip - len(tiles))
            strips.append(np.concatenate(tiles, 1))
    write_png(np.concatenate(strips, 0), path)


def evaluate_clips(generate: Generator, size: int, clips: Sequence[Path], out_dir: Path,
                   analyze: Callable[[np.ndarray], Any] | None = None) -> dict[str, Any]:
    """Per clip: frames with a face, expression agreement over time and flicker; writes the sheet."""
    results: dict[str, Any] = {}
    rows = []
    for clip in clips:
        crops = clip_crops(clip, size)
        if not crops:
            results[clip.name] = {"frames_with_face": 0}
            continue
        cartoons = [generate(c) for c in crops]
        names = [f"{clip.stem}_{i}" for i in range(len(crops))]
        records = expression_records(crops, cartoons, names, analyze)
        results[clip.name] = {"frames_with_face": len(crops), "flicker": flicker(crops, cartoons),
                              **summarize(records)}
        rows.append((crops, cartoons))
    if rows:
        out_dir.mkdir(parents=True, exist_ok=True)
        clip_sheet(rows, out_dir / "clips_sheet.png")
    return results


# -- the command ---------------------------------------------------------------------------------

def _images(paths: Sequence[Path], size: int) -> list[np.ndarray]:
    from avatar_cam.align import centred_square
    from training.data import read_image

    out = []
    for p in paths:
        bgr = read_image(p)
        if bgr is None:
            print(f"avatar-eval: warning: skipping unreadable {p}", file=sys.stderr)
            continue
        out.append(centred_square(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size))
    return out


def evaluate(generate: Generator, size: int, photo_paths: Sequence[Path], cartoon_paths: Sequence[Path],
             out_dir: Path, source: str, features: FeatureFn | None = None, fid_error: str | None = None,
             analyze: Callable[[np.ndarray], Any] | None = None, kid_subset_size: int | None = None,
             extra: dict[str, Any] | None = None, judge: Any = None, identity: Any = None) -> dict[str, Any]:
    """Generate cartoons for `photo_paths`, compute every metric, write eval.json + contact sheet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    from training.data import read_image

    photo_paths = [p for p in photo_paths if read_image(p, cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None]
    photos = _images(photo_paths, size)
    if not photos:
        raise EvalError("no readable photos to evaluate")
    cartoons = [generate(p) for p in photos]
    names = [p.name for p in photo_paths]
    result: dict[str, Any] = {"source": source, "size": size, "n_photos": len(photos),
                              "n_real_cartoons": len(cartoon_paths)}
    if extra:
        result.update(extra)
    # FID / KID
    result.update({"fid": None, "kid_mean": None, "kid_std": None})
    if features is not None and cartoon_paths:
        real = _images(cartoon_paths, size)
        try:
            result.update(fid_kid(features(np.stack(cartoons)), features(np.stack(real)), kid_subset_size))
        except EvalError as e:
            result["fid_error"] = str(e)
    else:
        result["fid_error"] = fid_error or "no real cartoons given (--cartoons)"
    # expression, pose, gaze
    result["failure_checks"] = failure_checks(photos, cartoons)
    records = expression_records(photos, cartoons, names, analyze)
    result["expression"] = summarize(records)
    add_judge_identity(records, photos, cartoons, judge, identity)
    result.update(judge_identity_summary(records, len(photos)))
    result["groups"] = group_summaries(records, len(photos))
    result["per_image"] = records
    contact_sheet(photos, cartoons, [r["output_face"] for r in records], out_dir / "contact_sheet.png")
    from training.checkpoint import atomic_write_text

    atomic_write_text(out_dir / "eval.json", json.dumps(result, indent=2))
    return result


def judge_and_identity(weights: Path | None, no_judge: bool, no_identity: bool
                       ) -> tuple[Any, Any, dict[str, str]]:
    """The style judge and the dlib identity model, each None with the reason where unavailable."""
    from training.identity import FaceIdentity, IdentityError

    judge = identity = None
    why: dict[str, str] = {}
    if no_judge:
        why["judge_error"] = "skipped (--no-judge)"
    else:
        from training.judge import DEFAULT_WEIGHTS, Judge

        try:
            judge = Judge(weights or DEFAULT_WEIGHTS)
        except OSError as e:
            if weights is not None:  # asked for: a missing file is an error, not a note
                raise EvalError(f"--judge {weights}: {e.strerror or e}") from None
            why["judge_error"] = str(e)
        except Exception as e:  # not judge weights: safetensors and torch each say so their own way
            from avatar_cam.styles import first_line

            raise EvalError(f"{weights or DEFAULT_WEIGHTS}: not style judge weights "
                            f"({first_line(e, 160)})") from None
    if no_identity:
        why["identity_error"] = "skipped (--no-identity)"
    else:
        try:
            identity = FaceIdentity()
        except IdentityError as e:
            why["identity_error"] = str(e)
    for k, v in why.items():
        if not v.startswith("skipped"):
            print(f"avatar-eval: {k.split('_')[0]} not measured: {v}", file=sys.stderr)
    return judge, identity, why


def held_out(run_dir: Path | None) -> tuple[list[Path], list[Path]]:
    """A run's held-out photos and cartoons (split.json), else two empty lists; `photo_crops`
    turns a mesh-conditioned run's photos (face-mesh drawings) into photos."""
    split_file = run_dir / "split.json" if run_dir else None
    try:
        split = json.loads(split_file.read_text()) if split_file and split_file.is_file() else {}
    except ValueError as e:  # invalid JSON or not UTF-8
        raise EvalError(f"{split_file}: not a split.json ({e})") from None
    if not isinstance(split, dict):
        raise EvalError(f"{split_file}: not a split.json (no held-out lists)")
    return [Path(x) for x in split.get("val_A", [])], [Path(x) for x in split.get("val_B", [])]


def photo_crops(run_dir: Path | None, held: Sequence[Path]) -> list[Path]:
    """`held` (a run's held-out photos, `held_out`) as photos. A mesh-conditioned run holds out
    face-mesh drawings (`X/meshes/N.png`, `training.mesh_pairs`): each becomes the photo crop
    written beside it (`X/crops/N.*`), EvalError (one line) where one is missing. Any other
    run's list as it is."""
    from training import pack
    from training.data import IMAGE_EXTS

    config = run_dir / "config.json" if run_dir else None
    try:
        doc = json.loads(config.read_text()) if config and config.is_file() else {}
    except ValueError:
        doc = {}
    if not isinstance(doc, dict) or doc.get("model") != "mesh-conditioned":
        return list(held)
    crops = []
    for drawing in held:
        folder = drawing.parent.with_name("crops")
        found = [folder / f"{drawing.stem}{ext}" for ext in sorted(IMAGE_EXTS)]
        crop = next((c for c in found if pack.exists(c)), None)
        if crop is None:
            raise EvalError(f"{run_dir} is a mesh-conditioned run: its held-out photos are face-mesh "
                            f"drawings ({drawing.parent}) and {drawing.name} has no photo crop beside it "
                            f"({folder}/{drawing.stem}.jpg); give the photos: --photos DIR (aligned crops) "
                            "or --holdout RUN_DIR (e.g. runs/judge)")
        crops.append(crop)
    return crops


def trained_names(split_file: Path) -> set[str]:
    """The picture names a run trained on (its split's `train_*` lists; none: an empty set), by
    source name (`training.data.source_key`: `trainA__female_10016.png` is `female_10016`, the
    rule packs and fine-tunes match by), so a photo and its mesh drawing match. An unreadable
    split: EvalError (one line)."""
    from training.pack import split_names

    try:
        lists = split_names(split_file)
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or e
        raise EvalError(f"{split_file}: not a run's split.json ({why})") from None
    return set().union(*(v for k, v in lists.items() if k.startswith("train_")))


def untrained(photos: Sequence[Path], split_files: Sequence[Path]) -> tuple[list[Path], int]:
    """`photos` less those the runs of `split_files` trained on (a held-out split made apart from
    a run, e.g. the judge's, can hold pictures that run trained on), and how many were left out."""
    trained = set().union(*(trained_names(f) for f in split_files)) if split_files else set()
    from training.data import source_key

    kept = [p for p in photos if source_key(p) not in trained]
    return kept, len(photos) - len(kept)


def list_images(dirs: Sequence[str]) -> list[Path]:
    from training.data import scan_images

    return scan_images(dirs, verify=False).paths


@one_line("avatar-eval")
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="avatar-eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", help="run directory or checkpoint file")
    src.add_argument("--style", help="ONNX style file")
    src.add_argument("--passthrough", action="store_true",
                     help="sanity check: the photo as its own cartoon (with --photos or --holdout)")
    p.add_argument("--photos", nargs="+", action="extend",
                   help="aligned photo folders (default: the run's held-out photos)")
    p.add_argument("--cartoons", nargs="+", action="extend", help="real cartoon folders for FID/KID")
    p.add_argument("--out", help="output folder (default: RUN_DIR/eval or eval_<style name>)")
    p.add_argument("--limit", type=int, default=None,
                   help="at most this many photos / cartoons (default: all)")
    p.add_argument("--inception-weights", help="torch-fidelity Inception-v3 weights (.pth or .safetensors)")
    p.add_argument("--no-fid", action="store_true", help="skip FID/KID")
    p.add_argument("--kid-subset-size", type=int, default=None, help="default: min(1000, set sizes)")
    p.add_argument("--holdout", type=Path, metavar="RUN_DIR",
                   help="the held-out photos and cartoons of this training run (--run: its own by default)")
    p.add_argument("--exclude-trained", nargs="+", action="extend", type=Path, default=[],
                   metavar="SPLIT.json", help="leave out the photos these runs trained on (their split.json "
                   "train_* lists; with --run and --holdout elsewhere, the run's own always)")
    p.add_argument("--clips", nargs="+", action="extend", type=Path, default=[],
                   help="talking-head videos: expression over time and flicker through the app's crop")
    p.add_argument("--judge", type=Path, default=None,
                   help="style judge weights (default: avatar_cam/assets/judge/style_judge.safetensors)")
    p.add_argument("--no-judge", action="store_true", help="skip the photo/anime/flat judge")
    p.add_argument("--no-identity", action="store_true", help="skip the dlib identity measures")
    p.add_argument("--motion", action="store_true",
                   help="with --style: the motion check on the rendered output of --clips")
    p.add_argument("--cover", action="store_true",
                   help="with --style: the cover check, overlay mode's output against the person's face, "
                   "on --clips")
    p.add_argument("--frames", type=int, default=300,
                   help="--motion, --cover: at most this many frames a clip")
    p.add_argument("--size", default="1280x720",
                   help="--motion: output size WxH, or several (comma-separated): judged on their mean; "
                   "--cover: the first")
    args = p.parse_args(argv)
    if args.frames < 1:
        print(f"avatar-eval: error: --frames must be at least 1 (got {args.frames})", file=sys.stderr)
        return 2
    if args.motion:
        return motion_main(args)
    if args.cover:
        return cover_main(args)
    if args.limit is not None and args.limit < 1:
        print(f"avatar-eval: error: --limit must be at least 1 (got {args.limit})", file=sys.stderr)
        return 2
    try:
        # a weights file asked for that does not load stops here, not after the cartoons are made
        features = inception_features(args.inception_weights) \
            if args.inception_weights and not args.no_fid else None
        extra = None
        run_dir = None
        if args.run:
            generate, size, source, cfg = run_generator(args.run)
            extra = {"config": cfg}
            given = Path(args.run)  # a run folder, or a checkpoint file in its checkpoints/
            run_dir = next((d for d in ((given,) if given.is_dir() else (given.parent.parent, given.parent))
                            if (d / "config.json").exists()), None)
            default_out = (run_dir or Path(".")) / "eval"
        else:
            if args.passthrough:
                generate, size, source = (lambda rgb: rgb), 256, "passthrough (the photo as its own cartoon)"
            else:
                generate, size, source = style_generator(args.style)
            default_out = Path(f"eval_{Path(args.style).stem if args.style else 'passthrough'}")
        held_dir = args.holdout or run_dir
        held_a, held_b = held_out(held_dir)
        if args.holdout and not held_a:
            raise EvalError(f"{args.holdout} is not a training run (no held-out list in split.json)")
        if not (args.photos or held_a):
            what = f"the run {args.run} has no held-out photos (split.json); give" if args.run else \
                f"--{'style' if args.style else 'passthrough'} needs"
            raise EvalError(f"{what} --photos DIR (aligned crops) or --holdout RUN_DIR")
        photos = list_images(args.photos) if args.photos else photo_crops(held_dir, held_a)
        if photos and not args.photos and photos != held_a:
            print(f"avatar-eval: {held_dir} holds out face-mesh drawings; evaluating the photo crops beside "
                  f"them ({photos[0].parent})", file=sys.stderr)
        cartoons = list_images(args.cartoons) if args.cartoons else held_b
        # a run's own training pictures never count as held out, nor those of --exclude-trained
        own_split = run_dir / "split.json" if run_dir and held_dir != run_dir else None
        own = [own_split] if own_split and own_split.is_file() else []
        photos, left_out = untrained(photos, [*own, *args.exclude_trained])
        if left_out:
            print(f"avatar-eval: {left_out} photos left out: trained on by "
                  f"{', '.join(str(f) for f in [*own, *args.exclude_trained])}", file=sys.stderr)
        if not photos:
            raise EvalError("no photo left to evaluate that the run did not train on")
        out = Path(args.out) if args.out else default_out
        for folder in [*(args.photos or []), *(args.cartoons or [])]:
            if overlaps(out, folder):
                raise EvalError(f"--out {out} is the image folder {folder}, inside it or around it: the "
                                "contact sheet would be read as a photo next time; give a folder of its own")
        if args.limit is not None:
            photos, cartoons = photos[: args.limit], cartoons[: args.limit]
        fid_error = "skipped (--no-fid)" if args.no_fid else None
        if features is None and not args.no_fid and cartoons:
            try:
                features = inception_features(None)
            except EvalError as e:
                fid_error = str(e)
                print(f"avatar-eval: FID/KID not computed: {e}", file=sys.stderr)
        if args.clips:
            extra = {**(extra or {}), "clips": evaluate_clips(generate, size, args.clips, out)}
        judge, identity, skipped = judge_and_identity(args.judge, args.no_judge, args.no_identity)
        extra = {**(extra or {}), **skipped}
        result = evaluate(generate, size, photos, cartoons, out, source, features, fid_error,
                          kid_subset_size=args.kid_subset_size, extra=extra, judge=judge, identity=identity)
    except EvalError as e:
        print(f"avatar-eval: error: {e}", file=sys.stderr)
        return 2
    ex = result["expression"]

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    print(f"{source}: {result['n_photos']} photos; FID {fmt(result['fid'])}, "
          f"KID {fmt(result['kid_mean'])}; faces found on cartoons {fmt(ex['output_face_rate'])}; "
          f"keypoint error {fmt(ex['keypoint_error'])} of face size; "
          f"mouth-open diff {fmt(ex['mouth_open_diff'])}; eye-open diff {fmt(ex['eye_open_diff'])}; "
          f"false winks {fmt(ex.get('false_wink_rate'))}")
    fc = result["failure_checks"]
    print(f"failure checks: brightness corr {fmt(fc['luma_corr'])} (negative: inverted); diversity "
          f"{fmt(fc['diversity_ratio'])} (near 0: collapse); checkerboard {fmt(fc['checkerboard_ratio'])}")
    if "judge" in result:
        print(f"style judge: cartoon (anime or flat) on {fmt(result['judge']['cartoon_rate'])} of outputs "
              f"(photo {fmt(result['judge']['photo_rate'])})")
    if "identity" in result:
        i = result["identity"]
        print(f"identity (dlib): median photo<->cartoon distance {fmt(i['median_distance'])}, "
              f">= 0.6 for {fmt(i['frac_ge_0_6'])}; own photo nearest of {i['gallery']} for "
              f"{fmt(i['rank1'])} (chance {fmt(i['chance'])})")
    for name, c in result.get("clips", {}).items():
        print(f"clip {name}: {c['frames_with_face']} frames with a face; faces found on cartoons "
              f"{fmt(c.get('output_face_rate'))}; mouth-open corr {fmt(c.get('mouth_open_corr'))}; "
              f"flicker {fmt(c.get('flicker'))}")
    print(f"wrote {out / 'eval.json'} and {out / 'contact_sheet.png'}")
    return 0


def default_clips() -> list[Path]:
    """The demo clip, and the shared talking-head clips when this checkout sits beside them."""
    from avatar_cam.demo import ensure_demo_clip

    shared = Path(__file__).resolve().parents[2] / "shared" / "media"
    return [ensure_demo_clip(), *sorted(shared.glob("*.mp4"))]


def _clip_check_inputs(args: argparse.Namespace, flag: str
                      ) -> tuple[StyleInfo, list[tuple[int, int]], list[Path]] | None:
    """The style, output sizes and clips of `--motion` or `--cover` (None: said why, on stderr)."""
    from avatar_cam.options import parse_size
    from avatar_cam.styles import StyleCatalog, StyleError, builtin_styles_dir, user_styles_dir

    if not args.style:
        print(f"avatar-eval: error: {flag} needs --style NAME|PATH", file=sys.stderr)
        return None
    try:
        style = StyleCatalog([builtin_styles_dir(), user_styles_dir()]).resolve(args.style)
        sizes = [parse_size(v) for v in args.size.split(",")]
    except (StyleError, argparse.ArgumentTypeError) as e:
        print(f"avatar-eval: error: {e}", file=sys.stderr)
        return None
    clips = [Path(c) for c in args.clips] or default_clips()
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        print(f"avatar-eval: error: no such clip: {', '.join(missing)}", file=sys.stderr)
        return None
    return style, sizes, clips


def cover_main(args: argparse.Namespace) -> int:
    """`avatar-eval --cover`: the cover check (overlay mode), printed as a table and written to OUT."""
    from avatar_cam.expression import ExpressionAnalyzer
    from training import cover_check as cc

    inputs = _clip_check_inputs(args, "--cover")
    if inputs is None:
        return 2
    style, sizes, clips = inputs
    with ExpressionAnalyzer() as analyzer:
        results = {clip.name: cc.run_clip(style, clip, sizes[0], args.frames, analyzer) for clip in clips}
    out = Path(args.out) if args.out else Path(f"eval_{style.name}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "cover.json").write_text(json.dumps({"style": style.name, "size": list(sizes[0]),
                                                "changed_levels": cc.CHANGED, "clips": results}, indent=2))
    print(f"cover check, {style.name} in overlay mode at {sizes[0][0]}x{sizes[0][1]} (the person's face "
          "pixels that reach the output):")
    print(cc.table(results))
    print(f"wrote {out / 'cover.json'}")
    return 0


def motion_main(args: argparse.Namespace) -> int:
    """`avatar-eval --motion`: the motion check, printed as a table and written to OUT."""
    from training import motion_check as mc

    inputs = _clip_check_inputs(args, "--motion")
    if inputs is None:
        return 2
    style, sizes, clips = inputs
    out = Path(args.out) if args.out else Path(f"eval_{style.name}")
    runs, per_size = [], {}
    from avatar_cam.expression import ExpressionAnalyzer

    with ExpressionAnalyzer() as analyzer:
        for w, h in sizes:
            at_size = per_size.setdefault(f"{w}x{h}", {})
            for clip in clips:
                r = mc.run_clip(style, Path(clip), (w, h), args.frames, analyzer)
                if len(runs) < len(clips):
                    runs.append(r)  # the sheet shows the first size
                at_size[r.name] = r.summary()
    tables = list(per_size.values())
    results = tables[0] if len(tables) == 1 else {
        name: mc.mean_summary([t[name] for t in tables]) for name in tables[0]}
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"style": style.name, "size": list(sizes[0]), "clips": results}
    if len(tables) > 1:
        record.update(sizes=list(per_size), per_size=per_size)
    (out / "motion.json").write_text(json.dumps(record, indent=2))
    mc.sheet(runs, out / "motion_sheet.png")
    print(f"motion check, {style.name} (correlation with the person over time; ~ = the person "
          "barely moves it in that clip, not judged):")
    for size, table in per_size.items():
        print(f"at {size}:\n{mc.table(table)}")
    if len(tables) > 1:
        print(f"mean over {', '.join(per_size)} (judged):\n{mc.table(results)}")
    for name, s in results.items():
        misses = mc.verdict(s)
        print(f"{name}: {'meets every goal' if not misses else 'misses: ' + '; '.join(misses)}")
    print(f"wrote {out / 'motion.json'} and {out / 'motion_sheet.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
