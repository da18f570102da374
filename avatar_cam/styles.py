"""The style file: one ONNX model plus metadata, the only contract between training and the app;
or a character file (`<name>.character.json`, `avatar_cam.character.model`; version-1
`<name>.rig.json` files are migrated): a character the app draws itself;
or a look file (`<name>.look.json`, `LOOK_FORMAT`): a style that takes a style code (its base, by
file name) plus the code taken from a reference picture (`avatar_cam.reference`) and, from
issue 27 on, the picture's skin and hair colours (`colours`, optional: older looks load as they were).

Contract (checked by `load_style`):
- input 0: float32 NCHW RGB in [-1, 1], N=1 allowed, H=W fixed or dynamic;
- optional input `style_code` (float32 [1, D]) for styles that take a reference cartoon's code;
- output 0: float32 NCHW RGB in [-1, 1], same H and W as the input;
- metadata_props: the keys in `REQUIRED_METADATA`.
Nothing here imports torch; `export/` imports this module to check what it writes.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import platformdirs

from avatar_cam.character.model import FORMAT as CHARACTER_FORMAT
from avatar_cam.character.model import SUFFIX as CHARACTER_SUFFIX
from avatar_cam.character.model import V1_FORMAT, V1_SUFFIX, load_character
from avatar_cam.palette import ColourMatch, Palette

REQUIRED_METADATA = ("name", "kind", "input_size", "value_range", "license_note", "trained_on")
KNOWN_KINDS = ("cyclegan", "content-invariant", "mesh-conditioned", "light", "distilled", "placeholder")
VALUE_RANGE = "-1,1"
STYLE_CODE_INPUT = "style_code"
MESH_INPUT = "face_mesh_drawing"  # metadata `input` of a style that sees only the face mesh drawn
PASS_THROUGH = 0.95  # `passes_through` at which a style is refused: it shows the camera (0.9: anime-preview)
LIKENESS_WARN = 0.8  # ... at which the user is told the style may leave them recognisable
CHARACTER_KIND = "character"  # drawn from face landmarks by the app, no ONNX model
CHARACTER_SUFFIXES = (CHARACTER_SUFFIX, V1_SUFFIX)
RENAMED = {"rig-sunny": "sunny", "rig-tabby": "tabby"}  # old built-in names still resolve
APP_NAME = "avatar-cam"
LOOK_SUFFIX = ".look.json"
LOOK_FORMAT = "avatar-cam-look/1"
LOOK_COLOURS_KEY = "look_colours"  # metadata: a look's {"reference": Palette, "drawn": Palette}, JSON


CODE_LIMIT_KEYS = ("style_code_low", "style_code_high")


def code_text(code: np.ndarray) -> str:
    """A style code as its metadata text (`mean_style_code`), read back by `code_from_text`."""
    return ",".join(f"{float(v):.9g}" for v in np.ravel(code))


def code_from_text(text: str) -> np.ndarray:
    """float32 [1, D] from `code_text`'s text (ValueError: not numbers)."""
    return np.asarray([float(v) for v in text.split(",")], np.float32).reshape(1, -1)


class StyleError(ValueError):
    """A style file that cannot be used; the message is one line naming the file and the problem."""


def first_line(e: BaseException, limit: int = 300) -> str:
    """An exception as one line of at most `limit` characters (its name when it says nothing):
    what ONNX Runtime, OpenCV and MediaPipe raise can run to pages."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]


@dataclass(frozen=True)
class StyleInfo:
    """A validated style file."""

    path: Path
    name: str
    kind: str
    input_size: int | None  # None: dynamic (the app then uses `DEFAULT_DYNAMIC_SIZE`)
    input_name: str
    output_name: str
    metadata: dict[str, str] = field(default_factory=dict)
    style_code_dim: int | None = None  # set when the style accepts a reference style code
    model_file: Path | None = None  # the ONNX file to run when it is not `path` (a look file)
    # how much of the picture it is given the style keeps (`passes_through` on the probe's test
    # pattern; set when a camera-pixel style is loaded with `probe`); None: not measured or none
    likeness: float | None = None
    load_note: str | None = None  # one line about a part it loaded without (a picture gone)

    def privacy_note(self) -> str | None:
        """One line for the user when the style keeps enough of the camera picture that people
        who know them may recognise them (`LIKENESS_WARN`), else None."""
        if self.likeness is None or self.likeness < LIKENESS_WARN:
            return None
        return (f"{self.name} keeps much of your camera picture ({self.likeness:.0%} of a test pattern): "
                "people who know you may recognise you; a drawn character keeps nothing")

    @property
    def size(self) -> int:
        return self.input_size or DEFAULT_DYNAMIC_SIZE

    @property
    def model_path(self) -> Path:
        """The ONNX model this style runs (a look file runs its base style's)."""
        return self.model_file or self.path

    def default_code(self) -> np.ndarray | None:
        """float32 [1, D]: the code the style runs with (`mean_style_code` in the metadata, else
        zeros), or None for a style that takes no code."""
        if not self.style_code_dim:
            return None
        text = self.metadata.get("mean_style_code", "")
        if not text:
            return np.zeros((1, self.style_code_dim), np.float32)
        return code_from_text(text)

    def code_limits(self) -> tuple[np.ndarray, np.ndarray] | None:
        """float32 [1, D] low and high: the range each number of the style code takes over
        pictures of the style's own kind (`style_code_low` / `style_code_high` in the metadata,
        written by `export.code_limits`), or None. ValueError (one line) for malformed ones."""
        texts = [self.metadata.get(k, "") for k in CODE_LIMIT_KEYS]
        if not self.style_code_dim or not all(texts):
            return None
        try:
            low, high = (code_from_text(t) for t in texts)
        except ValueError:
            raise ValueError(f"{self.path}: {'/'.join(CODE_LIMIT_KEYS)} are not numbers") from None
        if low.shape[1] != self.style_code_dim or high.shape[1] != self.style_code_dim \
                or not (np.isfinite(low).all() and np.isfinite(high).all() and (low <= high).all()):
            raise ValueError(f"{self.path}: {'/'.join(CODE_LIMIT_KEYS)} are not {self.style_code_dim} "
                             "finite ranges")
        return low, high

    def summary(self) -> str:
        if self.kind == CHARACTER_KIND:
            return f"{self.name} (character, drawn at the output size) - {self.path}"
        size = self.input_size or "dynamic"
        kind = (f"look: {self.metadata.get('base_style', '?')} with a reference picture's code"
                if self.model_file is not None else self.kind)
        return f"{self.name} ({kind}, {size}px) - {self.path}"


DEFAULT_DYNAMIC_SIZE = 256


def assets_dir() -> Path:
    """The app's bundled assets (package data `avatar_cam/assets`: styles, judge), found the same
    way from a checkout, an editable install, a wheel or a frozen bundle; `AVATAR_CAM_ASSETS`
    overrides it."""
    root = os.environ.get("AVATAR_CAM_ASSETS")
    if root:
        return Path(root)
    return Path(str(importlib.resources.files("avatar_cam") / "assets"))


def builtin_styles_dir() -> Path:
    """The built-in styles (`avatar_cam/assets/styles`)."""
    return assets_dir() / "styles"


def user_styles_dir() -> Path:
    """Per-user styles folder, e.g. ~/.local/share/avatar-cam/styles on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "styles"


def _fail(path: Path, problem: str) -> StyleError:
    return StyleError(f"{path}: {problem}")


def _dim(d: object) -> int | None:
    return d if isinstance(d, int) and d > 0 else None


def load_style(path: str | Path, probe: bool = True) -> StyleInfo:
    """Open and check a style file; raise `StyleError` with one line saying what is wrong.

    With `probe`, the model is also run once on a grey image to check output shape and range.
    """
    if not str(path).strip():
        raise StyleError(EMPTY_NAME)
    path = Path(path).expanduser()
    if path.is_dir():
        raise _fail(path, f"a folder, not a style file (a style file is {STYLE_FILE_KINDS})")
    if not path.is_file():
        raise _fail(path, "no such style file")
    name = path.name.lower()
    if not name.endswith((".onnx", LOOK_SUFFIX, *CHARACTER_SUFFIXES)):
        raise _fail(path, f"not a style file: a style file is {STYLE_FILE_KINDS}{_rename_hint(path)}")
    if path.stat().st_size == 0:
        raise _fail(path, "file is empty")
    if name.endswith(CHARACTER_SUFFIXES):
        return _load_character(path)
    if name.endswith(LOOK_SUFFIX):
        return _load_look(path, probe)
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.intra_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises several types (Fail, InvalidGraph, NotImplemented, ...)
        raise _fail(path, f"not a loadable ONNX model ({first_line(e)})") from None
    meta = dict(sess.get_modelmeta().custom_metadata_map)
    missing = [k for k in REQUIRED_METADATA if not meta.get(k)]
    if missing:
        raise _fail(path, f"metadata is missing {', '.join(missing)} (see the style-file contract)")
    if meta["value_range"].replace(" ", "") != VALUE_RANGE:
        raise _fail(path, f"value_range is {meta['value_range']!r}, the app needs {VALUE_RANGE!r}")
    if meta["kind"] not in KNOWN_KINDS:
        raise _fail(path, f"kind {meta['kind']!r} is not one of {', '.join(KNOWN_KINDS)}")

    inputs = sess.get_inputs()
    image_inputs = [i for i in inputs if i.name != STYLE_CODE_INPUT]
    if len(image_inputs) != 1 or len(inputs) > 2:
        names = ", ".join(i.name for i in inputs)
        raise _fail(path, f"needs one image input (plus optional '{STYLE_CODE_INPUT}'), has: {names}")
    inp = image_inputs[0]
    if inp.type != "tensor(float)" or len(inp.shape) != 4 or inp.shape[1] != 3:
        raise _fail(path, f"input must be float32 [N,3,H,W], is {inp.type} {inp.shape}")
    h, w = _dim(inp.shape[2]), _dim(inp.shape[3])
    if h != w:
        raise _fail(path, f"input must be square or dynamic, is {inp.shape}")
    declared = meta["input_size"].strip()
    if declared != "dynamic" and (not declared.isdigit() or (h is not None and int(declared) != h)):
        raise _fail(path, f"metadata input_size={declared!r} does not match the input shape {inp.shape}")
    size = h or (int(declared) if declared.isdigit() else None)

    outputs = sess.get_outputs()
    out = outputs[0]
    if out.type != "tensor(float)" or len(out.shape) != 4 or out.shape[1] != 3:
        raise _fail(path, f"output must be float32 [N,3,H,W], is {out.type} {out.shape}")

    code_dim = None
    code_inputs = [i for i in inputs if i.name == STYLE_CODE_INPUT]
    if code_inputs:
        code_dim = _dim(code_inputs[0].shape[-1])
        if code_inputs[0].type != "tensor(float)" or code_dim is None:
            raise _fail(path, f"'{STYLE_CODE_INPUT}' must be float32 [1,D], is {code_inputs[0].shape}")

    info = StyleInfo(
        path=path,
        name=meta["name"],
        kind=meta["kind"],
        input_size=size,
        input_name=inp.name,
        output_name=out.name,
        metadata=meta,
        style_code_dim=code_dim,
    )
    if probe:
        info = dataclasses.replace(info, likeness=_probe(sess, info))
    return info


STYLE_FILE_KINDS = "a .onnx model, a .character.json or a .look.json"
EMPTY_NAME = "the style name is empty; give a style by name (see --list-styles) or a style file"


def _rename_hint(path: Path) -> str:
    """For a JSON file that is a character or a look under another name: what to call it."""
    if path.suffix.lower() != ".json":
        return ""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(5_000_000))  # a character file is a few kB
    except (OSError, ValueError):
        return ""
    kind = data.get("format") if isinstance(data, dict) else None
    suffixes = {CHARACTER_FORMAT: CHARACTER_SUFFIX, V1_FORMAT: V1_SUFFIX, LOOK_FORMAT: LOOK_SUFFIX}
    suffix = suffixes.get(kind) if isinstance(kind, str) else None
    if suffix is None:
        return ""
    what = "a look" if suffix == LOOK_SUFFIX else "a character"
    return f"; this one is {what}: rename it {path.stem}{suffix}"


def _load_character(path: Path) -> StyleInfo:
    try:
        ch = load_character(path)
    except ValueError as e:
        raise _fail(path, str(e)) from None
    meta = {"name": ch.name, "kind": CHARACTER_KIND, "input_size": "dynamic", "value_range": VALUE_RANGE,
            "license_note": ch.license_note, "trained_on": "nothing: drawn from face landmarks"}
    if ch.migrated_from:
        meta["migrated_from"] = ch.migrated_from
    return StyleInfo(path=path, name=ch.name, kind=CHARACTER_KIND, input_size=None, input_name="",
                     output_name="", metadata=meta, load_note=ch.missing_note())


def _load_look(path: Path, probe: bool) -> StyleInfo:
    """A look file: its base style (beside it, else built in) with the file's code and name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _fail(path, f"not a readable look file ({e})") from None
    if not isinstance(data, dict) or data.get("format") != LOOK_FORMAT:
        raise _fail(path, f"not a look file (format must be {LOOK_FORMAT!r})")
    name, base, code = data.get("name"), data.get("base"), data.get("style_code")
    if not isinstance(name, str) or not name.strip():
        raise _fail(path, "the look has no name")
    if not isinstance(base, str) or Path(base).name != base or not base.endswith(".onnx"):
        raise _fail(path, f"'base' must be the file name of an ONNX style, not {base!r}")
    if not (isinstance(code, list) and code and all(isinstance(v, (int, float)) for v in code)
            and all(math.isfinite(v) for v in code)):
        raise _fail(path, "'style_code' must be a list of finite numbers")
    base_path = next((d / base for d in (path.parent, builtin_styles_dir()) if (d / base).is_file()), None)
    if base_path is None:
        raise _fail(path, f"its base style {base} is neither beside it nor built in")
    try:
        info = load_style(base_path, probe)
    except StyleError as e:
        raise _fail(path, f"its base style cannot be used: {e}") from None
    if info.style_code_dim != len(code):
        raise _fail(path, f"its code has {len(code)} numbers, base style {info.name} takes "
                          f"{info.style_code_dim or 'none'}")
    colours = data.get("colours")
    if colours is not None:
        try:
            if not isinstance(colours, dict):
                raise ValueError("'colours' must be {'reference': ..., 'drawn': ...}")
            colours = {k: Palette.from_json(colours.get(k)).to_json() for k in ("reference", "drawn")}
        except ValueError as e:
            raise _fail(path, f"'colours': {e}") from None
    reference = data.get("reference", {})
    meta = {**info.metadata, "name": name, "base_style": info.name,
            "mean_style_code": code_text(code),
            "style_source": f"reference picture {reference.get('file', '?')}"
                            if isinstance(reference, dict) else "reference picture"}
    if colours is not None:
        meta[LOOK_COLOURS_KEY] = json.dumps(colours)
    return dataclasses.replace(info, path=path, name=name, metadata=meta, model_file=base_path)


def look_colour_match(style: StyleInfo) -> ColourMatch | None:
    """The colour match of a look that keeps its picture's colours, else None."""
    text = style.metadata.get(LOOK_COLOURS_KEY)
    if not text:
        return None
    colours = json.loads(text)
    return ColourMatch(Palette.from_json(colours["drawn"]), Palette.from_json(colours["reference"]))


def write_look(path: Path, name: str, base: StyleInfo, code: np.ndarray, reference: dict[str, str],
               colours: dict[str, Palette] | None = None) -> Path:
    """Write a look file (atomically) for `base` with `code`; `reference` says where the code
    came from (file name, sha256, how it was cropped); `colours` the picture's palette
    ("reference") and the one the code draws ("drawn"), which the app matches."""
    if base.model_file is not None or base.path.suffix != ".onnx":
        raise StyleError(f"{base.path}: a look's base must be an ONNX style file")
    data = {"format": LOOK_FORMAT, "name": name, "base": base.path.name,
            "style_code": [round(float(v), 7) for v in np.ravel(code)], "reference": reference}
    if colours is not None:
        data["colours"] = {k: colours[k].to_json() for k in ("reference", "drawn")}
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def takes_mesh(style: StyleInfo) -> bool:
    """The style sees a drawing of the face mesh (`MeshStylizer`), never camera pixels."""
    return style.metadata.get("input") == MESH_INPUT


def _probe(sess: ort.InferenceSession, info: StyleInfo) -> float | None:
    """Run the style on a plain image and on a test pattern; its `passes_through` score (None
    for a style that never sees camera pixels). `StyleError` for a style that cannot be used."""
    n = info.size
    code = {STYLE_CODE_INPUT: np.zeros((1, info.style_code_dim), np.float32)} if info.style_code_dim else {}

    def run(image: np.ndarray, what: str) -> np.ndarray:
        try:
            return sess.run([info.output_name], {info.input_name: image, **code})[0]
        except Exception as e:
            raise _fail(info.path, f"fails on {what} ({first_line(e)})") from None

    y = run(np.zeros((1, 3, n, n), np.float32), f"a {n}x{n} image")
    if y.shape != (1, 3, n, n):
        raise _fail(info.path, f"output shape {list(y.shape)} != input shape [1, 3, {n}, {n}]")
    if not np.isfinite(y).all():
        raise _fail(info.path, "output has NaN or Inf on a plain grey image")
    if y.min() < -1.5 or y.max() > 1.5:
        raise _fail(info.path, f"output range [{y.min():.2f}, {y.max():.2f}] is not [-1, 1]")
    if takes_mesh(info):
        return None  # it sees a drawing of the face mesh, never camera pixels
    field = probe_field(n)
    kept = passes_through(field, run(field, "a test pattern"))
    if kept >= PASS_THROUGH:
        raise _fail(info.path, f"gives back the picture it is given (correlation {kept:.2f}): it would "
                               "show the camera, not a cartoon")
    return kept


def probe_field(n: int) -> np.ndarray:
    """[1, 3, n, n] in [-1, 1]: smooth random colour blobs about a 50th of the side across, the
    scale of eyes, nose and mouth in a face crop (fixed seed)."""
    x = np.random.default_rng(0).normal(0, 1, (3, n, n)).astype(np.float32)
    x = np.stack([cv2.GaussianBlur(c, (0, 0), n / 48) for c in x])
    return (x / max(float(np.abs(x).max()), 1e-6) * 0.9)[None]


def passes_through(image: np.ndarray, output: np.ndarray) -> float:
    """How much of `image`'s pattern `output` keeps: |correlation| of their grey levels (1 for
    the picture itself, a blurred, recoloured or inverted copy; a cartoon generator or a coarse
    mosaic keeps about half or less), the most over the output mirrored, flipped and turned by
    right angles (the camera mirrored or upside down still shows the face)."""
    a, out = image[0].mean(0).ravel(), output[0].mean(0)
    if a.std() < 1e-6 or out.std() < 1e-6:
        return 0.0
    turned = [np.rot90(o, k) for o in (out, out[:, ::-1]) for k in range(4)]
    return max(abs(float(np.corrcoef(a, b.ravel())[0, 1])) for b in turned)


def style_stem(path: Path) -> str:
    """The file name without its style suffix (`sunny.character.json` -> `sunny`)."""
    for suffix in (*CHARACTER_SUFFIXES, LOOK_SUFFIX, ".onnx"):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


class StyleCatalog:
    """Every usable style: built-in first, then the user's folder. Broken files are reported, not
    fatal (`problems` lists them)."""

    def __init__(self, dirs: list[Path] | None = None):
        self.dirs = dirs if dirs is not None else [builtin_styles_dir(), user_styles_dir()]
        self.styles: list[StyleInfo] = []
        self.problems: list[str] = []
        self._broken: dict[str, str] = {}  # file stem -> why it did not load
        self.refresh()

    def refresh(self) -> None:
        self.styles, self.problems, self._broken = [], [], {}
        for d in self.dirs:
            suffixes = (*CHARACTER_SUFFIXES, LOOK_SUFFIX)
            files = [*d.glob("*.onnx"), *(f for x in suffixes for f in d.glob("*" + x))] if d.is_dir() else []
            for p in sorted(files, key=lambda f: (style_stem(f), f.name)):  # "x" before "x-2"
                try:
                    info = load_style(p, probe=False)
                except StyleError as e:
                    self.problems.append(str(e))
                    self._broken.setdefault(style_stem(p), str(e))
                    continue
                self.styles.append(dataclasses.replace(info, name=self._unused_name(info)))

    def _unused_name(self, info: StyleInfo) -> str:
        """`info.name`, or where an earlier style has it (a style exported under a built-in's name
        into the user's folder), the name with its file's stem or a number after it: the picker
        and `--style` then tell them apart."""
        taken = {s.name for s in self.styles}
        if info.name not in taken:
            return info.name
        stem = style_stem(info.path)
        if stem != info.name and f"{info.name} ({stem})" not in taken:
            return f"{info.name} ({stem})"
        n = 2
        while f"{info.name} ({n})" in taken:
            n += 1
        return f"{info.name} ({n})"

    def default(self) -> StyleInfo:
        """The built-in default: the one named in `avatar_cam/assets/styles/default.json`, else the first."""
        if not self.styles:
            raise StyleError("no style found in " + ", ".join(str(d) for d in self.dirs))
        marker = builtin_styles_dir() / "default.json"
        if marker.is_file():
            wanted = json.loads(marker.read_text()).get("default")
            for s in self.styles:
                if s.path.name == wanted or s.name == wanted:
                    return s
        return self.styles[0]

    def resolve(self, name_or_path: str | None) -> StyleInfo:
        """A style by name, file stem or path; `None` gives the default."""
        if name_or_path is None:
            return self.default()
        if not name_or_path.strip():
            raise StyleError(EMPTY_NAME)
        p = Path(name_or_path).expanduser()
        if p.suffix in (".onnx", ".json") or p.exists():
            return load_style(p)
        name = RENAMED.get(name_or_path, name_or_path)
        for s in self.styles:
            if name in (s.name, s.path.stem, style_stem(s.path)):
                return s
        if name in self._broken:  # its file is there but did not load: say why
            raise StyleError(self._broken[name])
        known = ", ".join(s.name for s in self.styles) or "none"
        raise StyleError(f"no style named {name_or_path!r} (known: {known})")
