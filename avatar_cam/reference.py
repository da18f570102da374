"""A look from any cartoon picture: the picture's style code, saved as a style of its own.

For styles whose generator takes a style code (metadata `style_code_dim`, a `style_code` input),
the style encoder that ships beside them turns a reference picture into a code:
- the encoder file is named by the style's metadata key `style_encoder` (relative to the style),
  else `encoders/<style stem>.onnx` beside it (a subfolder, so the catalog never lists it);
- it takes float32 [1, 3, S, S] RGB in [-1, 1] (S fixed, or dynamic: the style's size) and
  returns float32 [1, D] (or [1, D, 1, 1]), D the style's code width.
The picture is cropped the way training cropped its cartoons (`crop_picture`, shared with
`training/mesh_pairs.py`): padded face detection, Face Mesh's box where the detector misses,
the app's aligned crop; with no face at all, a centred square (and the note says so).
`look_colours` reads the picture's skin and hair colours and the ones the code draws, which the
app matches (`avatar_cam.palette`). `make_look` writes the code and the colours as a look file
(`avatar_cam.styles.write_look`) into a styles folder, where the catalog lists it like any
style. A drawn character takes no code: `character_look` gives a new character file in the
picture's skin and hair colours. No camera pixel is involved.
"""

from __future__ import annotations

import dataclasses
import filecmp
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import onnxruntime as ort

from avatar_cam.character.creator import (
    character_data,
    file_content,
    from_picture,
    is_animal,
    store_background,
)
from avatar_cam.character.model import SUFFIX as CHARACTER_SUFFIX
from avatar_cam.character.model import load_character, parse_character, save_character
from avatar_cam.image_files import TooLarge, decode_image, image_size
from avatar_cam.palette import Palette, crop_palette, drawn_palette, hair_length
from avatar_cam.sources import flatten_alpha
from avatar_cam.styles import (
    CHARACTER_KIND,
    LOOK_COLOURS_KEY,
    LOOK_SUFFIX,
    StyleError,
    StyleInfo,
    builtin_styles_dir,
    code_text,
    first_line,
    load_style,
    write_look,
)

if TYPE_CHECKING:
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.face import FaceDetector

ENCODER_METADATA_KEY = "style_encoder"
ENCODER_DIR = "encoders"
MIN_SIDE = 32  # px: smaller pictures have no look to take
PALETTE_SIZE = 256  # px: the crop a drawn character's colours are read from
MAX_PIXELS = 50_000_000
PLAIN_STD = 4.0  # grey levels: a crop flatter than this is one plain colour


class ReferenceError(ValueError):
    """The picture or the encoder cannot give a style code; one line saying why."""


@dataclass(frozen=True)
class ReferenceCrop:
    """A reference picture cropped for the encoder, and how (`face`: a face was found)."""

    rgb: np.ndarray
    face: bool
    how: str


def default_encoder_path(model_path: Path) -> Path:
    return model_path.parent / ENCODER_DIR / f"{model_path.stem}.onnx"


def find_style_encoder(style: StyleInfo) -> Path | None:
    """The encoder file for `style` (a look file: its base style's), or None."""
    model = style.model_path
    named = style.metadata.get(ENCODER_METADATA_KEY, "").strip()
    candidates = [model.parent / named] if named else []
    candidates.append(default_encoder_path(model))
    return next((p for p in candidates if p.is_file()), None)


def supports_reference(style: StyleInfo | None) -> bool:
    """The style takes a style code and ships the encoder that makes one from a picture, or is a
    drawn character (it takes the picture's colours)."""
    if style is not None and style.kind == CHARACTER_KIND:
        return True
    return bool(style and style.style_code_dim and find_style_encoder(style) is not None)


def read_picture(path: Path) -> np.ndarray:
    """A BGR uint8 picture: grey made colour, transparency composited over white (as training
    read its cartoons), 16-bit made 8-bit. ReferenceError (one line) when it cannot be read."""
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as e:
        raise ReferenceError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        # a JPEG has no transparency to keep, and reading it as colour turns it as its EXIF says
        # (a phone's photo lay on its side: IMREAD_UNCHANGED ignores the orientation tag)
        jpeg = bytes(data[:2]) == b"\xff\xd8"
        img = decode_image(data, cv2.IMREAD_COLOR if jpeg else cv2.IMREAD_UNCHANGED, max_pixels=MAX_PIXELS)
    except TooLarge as e:
        raise ReferenceError(f"{path}: {e}; at most {MAX_PIXELS // 1_000_000} megapixels") from None
    if img is None or img.size == 0:
        head = bytes(data[:6])
        if head in (b"GIF87a", b"GIF89a"):
            raise ReferenceError(f"{path}: a GIF, which is not read; save the picture as PNG or JPEG")
        if image_size(data) is not None:  # a PNG or JPEG header, pixels that do not decode
            raise ReferenceError(f"{path}: damaged or incomplete (its header reads, its pixels do not)")
        raise ReferenceError(f"{path}: not a picture (no image format OpenCV reads)")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise ReferenceError(f"{path}: too large ({img.shape[1]}x{img.shape[0]} px); at most "
                             f"{MAX_PIXELS // 1_000_000} megapixels")
    if img.dtype != np.uint8:
        img = (img / (257.0 if img.dtype == np.uint16 else max(float(img.max()), 1e-6) / 255.0)
               ).clip(0, 255).astype(np.uint8)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = flatten_alpha(img)
    return np.ascontiguousarray(img[..., :3])


def crop_picture(img_bgr: np.ndarray, size: int, detector: FaceDetector, analyzer: ExpressionAnalyzer,
                 pad: float = 0.25) -> tuple[np.ndarray, str] | None:
    """The app's aligned crop (`DEFAULT_CROP`, `size` px) of the face in a still picture, and how
    it was found ("face detector" or "Face Mesh"), or None without a face.

    The picture is padded by `pad` of its longer side with its own border colour (tight crops
    are missed otherwise); where the detector (`avatar_cam.face.FaceDetector`) misses, as on many
    anime faces, Face Mesh's landmarks (`ExpressionAnalyzer`) give the box."""
    from avatar_cam.align import DEFAULT_CROP, align_face
    from avatar_cam.frame import Face
    from avatar_cam.mesh_drawing import face_from_landmarks

    m = int(round(pad * max(img_bgr.shape[:2])))
    bg = tuple(int(v) for v in np.median(np.concatenate([img_bgr[0], img_bgr[-1]]), axis=0))
    padded = cv2.copyMakeBorder(img_bgr, m, m, m, m, cv2.BORDER_CONSTANT, value=bg)
    faces = detector.detect(padded)
    if faces:
        f, how = max(faces, key=lambda f: f.box[2] * f.box[3]), "face detector"
    else:
        lm = analyzer.landmarks(padded)
        if lm is None:
            return None
        f, how = face_from_landmarks(lm), "Face Mesh"
    x, y, w, h = f.box
    face = Face(box=(x - m, y - m, w, h), keypoints=f.keypoints - m, score=f.score)
    return align_face(img_bgr, face, size, DEFAULT_CROP), how


def reference_crop(img_bgr: np.ndarray, size: int) -> ReferenceCrop:
    """`crop_picture` with the app's detector and Face Mesh, else a centred square."""
    from avatar_cam.align import centred_square
    from avatar_cam.expression import ExpressionAnalyzer
    from avatar_cam.face import FaceDetector

    detector, analyzer = FaceDetector(), ExpressionAnalyzer()
    try:
        found = crop_picture(img_bgr, size, detector, analyzer)
    finally:
        detector.close()
        analyzer.close()
    if found is None:
        return ReferenceCrop(np.ascontiguousarray(centred_square(img_bgr, size)[..., ::-1]), False,
                             "no face found: took a centred square")
    crop, how = found
    return ReferenceCrop(np.ascontiguousarray(crop[..., ::-1]), True, f"face found by the {how}")


def encoder_size(session: ort.InferenceSession, style: StyleInfo) -> int:
    shape = session.get_inputs()[0].shape
    return shape[2] if len(shape) == 4 and isinstance(shape[2], int) else style.size


def encode(session: ort.InferenceSession, crop_rgb: np.ndarray) -> np.ndarray:
    """float32 [1, D] code of an RGB uint8 crop of the encoder's size."""
    x = crop_rgb.astype(np.float32).transpose(2, 0, 1)[None] / 127.5 - 1.0
    code = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})[0]
    return np.asarray(code, np.float32).reshape(1, -1)


def _picture(image_path: str | Path) -> np.ndarray:
    """The picture at `image_path`, checked: there, readable, big enough (ReferenceError)."""
    path = Path(image_path).expanduser()
    if path.is_dir():
        raise ReferenceError(f"{path}: a folder, not a picture (give one picture in it)")
    if not path.is_file():
        raise ReferenceError(f"{path}: {'not a file' if path.exists() else 'no such picture'}")
    image = read_picture(path)
    if min(image.shape[:2]) < MIN_SIDE:
        raise ReferenceError(f"{path}: too small ({image.shape[1]}x{image.shape[0]} px) to take a look "
                             f"from; it needs at least {MIN_SIDE} px a side")
    return image


def _face_crop(image: np.ndarray, size: int, image_path: str | Path) -> ReferenceCrop:
    """`reference_crop`, refusing a crop of one plain colour (no face to take a look from)."""
    crop = reference_crop(image, size)
    if float(crop.rgb.reshape(-1, 3).std(0).max()) < PLAIN_STD:
        raise ReferenceError(f"{Path(image_path).expanduser()}: one plain colour where the face should "
                             "be; no face to take a look from")
    return crop


def picture_crop(image_path: str | Path, size: int) -> ReferenceCrop:
    """The picture at `image_path` cropped as a reference is for an encoder of side `size`
    (ReferenceError: not there, unreadable, too small, one plain colour)."""
    return _face_crop(_picture(image_path), size, image_path)


def style_code_from_image(style: StyleInfo, image_path: str | Path) -> tuple[np.ndarray, ReferenceCrop]:
    """float32 [1, D] style code of the picture at `image_path` for `style`, and its crop."""
    if not style.style_code_dim:
        raise ReferenceError(f"style {style.name!r} has a fixed look: it takes no reference picture")
    encoder = find_style_encoder(style)
    if encoder is None:
        raise ReferenceError(f"style {style.name!r} ships no style encoder (metadata "
                             f"'{ENCODER_METADATA_KEY}' or {ENCODER_DIR}/{style.model_path.stem}.onnx)")
    image = _picture(image_path)
    try:
        session = ort.InferenceSession(str(encoder), providers=["CPUExecutionProvider"])
        size = encoder_size(session, style)
    except Exception as e:
        raise ReferenceError(f"{encoder}: the style encoder cannot be opened ({first_line(e, 200)})"
                             ) from None
    crop = _face_crop(image, size, image_path)
    try:
        code = encode(session, crop.rgb)
    except Exception as e:
        raise ReferenceError(f"{encoder}: cannot compute a style code ({first_line(e, 200)})") from None
    if code.shape[1] != style.style_code_dim:
        raise ReferenceError(f"{encoder}: gives a code of width {code.shape[1]}, the style "
                             f"needs {style.style_code_dim}")
    if not np.isfinite(code).all():
        raise ReferenceError(f"{encoder}: the style code has NaN/Inf for this picture")
    return within_limits(style, code, crop)


def within_limits(style: StyleInfo, code: np.ndarray, crop: ReferenceCrop
                  ) -> tuple[np.ndarray, ReferenceCrop]:
    """`code` kept inside the range the style's own kind of picture gives (`code_limits`): a
    picture far from them (a bald, dark-skinned DiceBear face for anime-mesh) gave a code the
    generator had never seen, and it drew magenta noise. `crop.how` then says so."""
    try:
        limits = style.code_limits()
    except ValueError as e:
        raise ReferenceError(str(e)) from None
    if limits is None:
        return code, crop
    kept = np.clip(code, *limits)
    if np.array_equal(kept, code):
        return code, crop
    return kept, dataclasses.replace(crop, how=f"{crop.how}; unlike the pictures {style.name} learned "
                                              "from, so its look is kept within theirs")


def look_colours(style: StyleInfo, code: np.ndarray, crop_rgb: np.ndarray) -> dict[str, Palette]:
    """The reference crop's palette ("reference") and the one `style` draws with `code` on the
    demo face ("drawn"): the colour match's two ends."""
    from avatar_cam.demo import sample_face_crop
    from avatar_cam.mesh_style import MeshStylizer, outside_face
    from avatar_cam.renderers import make_renderer

    coded = dataclasses.replace(style, metadata={
        **{k: v for k, v in style.metadata.items() if k != LOOK_COLOURS_KEY},
        "mean_style_code": code_text(code)})
    renderer = make_renderer(coded, "cpu", threads=1)
    face = sample_face_crop(style.size)
    if isinstance(renderer, MeshStylizer):  # it knows where the face it draws is
        drawing = renderer.drawing(face)
        drawn = drawn_palette(renderer.cartoon(drawing), outside_face(drawing))
    else:
        drawn = crop_palette(renderer.preview(face))
    return {"reference": crop_palette(crop_rgb), "drawn": drawn}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def look_name(base: StyleInfo, picture: Path) -> str:
    stem = re.sub(r"[^\w-]+", "-", picture.stem).strip("-_")[:32] or "picture"  # letters of any script
    return f"{base.name}-{stem}"


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def install_style(info: StyleInfo, folder: Path) -> Path:
    """Copy a checked style file (and its style encoder, if any) into `folder` (the window's 'Add
    style...', and a look's base style from elsewhere); a file already there with the same
    bytes is reused, a different one keeps its name and the copy gets -2."""
    folder.mkdir(parents=True, exist_ok=True)
    if info.path.resolve().parent == folder.resolve():
        return info.path
    same = folder / info.path.name
    if same.is_file() and filecmp.cmp(same, info.path, shallow=False):
        return same
    target = _free_name(folder, info.path.name)
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(info.path, tmp)
    os.replace(tmp, target)
    encoder = find_style_encoder(info)
    if encoder is not None:
        enc_target = default_encoder_path(target)
        enc_target.parent.mkdir(exist_ok=True)
        shutil.copyfile(encoder, enc_target)
    return target


def make_look(style: StyleInfo, picture: str | Path, folder: Path) -> tuple[StyleInfo, str]:
    """Save `picture`'s look with `style` (or a look's base style) as a look file in
    `folder`; returns the new style and one line on what was done. The same picture with the same
    base style gives the same file again. A drawn character gives a new character in the
    picture's colours (`character_look`)."""
    if not str(picture).strip():  # Path("") is the working folder
        raise ReferenceError("no picture given: name a picture file (PNG or JPEG)")
    if style.kind == CHARACTER_KIND:
        return character_look(style, picture, folder)
    base = load_style(style.model_path, probe=False) if style.model_file is not None else style
    path = Path(picture).expanduser()
    code, crop = style_code_from_image(base, path)
    colours = look_colours(base, code, crop.rgb)
    sha = _sha256(path)
    name = look_name(base, path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if base.path.resolve().parent not in (folder.resolve(), builtin_styles_dir().resolve()):
            base = load_style(install_style(base, folder), probe=False)  # so the look lasts
        target = _free_file(folder, name, LOOK_SUFFIX, _same_look(base, sha))
        write_look(target, target.name[: -len(LOOK_SUFFIX)], base, code,
                   {"file": path.name, "sha256": sha, "crop": crop.how}, colours)
        info = load_style(target, probe=False)
    except OSError as e:
        raise ReferenceError(f"{folder}: cannot save the look ({e.strerror or e})") from None
    except StyleError as e:
        raise ReferenceError(str(e)) from None
    note = f"look {info.name!r} from {path.name} ({crop.how}), saved as {target}"
    return info, note


def _free_file(folder: Path, name: str, suffix: str, same: Callable[[Path], bool]) -> Path:
    """`folder/<name><suffix>`, or the file there already that is `same` (made from the same
    picture), or `name-2...` when another took the name; a file `same` cannot read is taken."""
    n = 1
    while True:
        candidate = folder / f"{name if n == 1 else f'{name}-{n}'}{suffix}"
        if not candidate.exists():
            return candidate
        try:
            if same(candidate):
                return candidate
        except (OSError, ValueError, AttributeError):
            pass
        n += 1


def _same_look(base: StyleInfo, sha: str) -> Callable[[Path], bool]:
    def same(path: Path) -> bool:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data.get("base") == base.path.name and data.get("reference", {}).get("sha256") == sha
    return same


def _lab_hex(lab: tuple[float, float, float]) -> str:
    rgb = cv2.cvtColor(np.array([[lab]], np.float32), cv2.COLOR_LAB2RGB)[0, 0]
    return "#{:02x}{:02x}{:02x}".format(*(int(round(float(np.clip(v, 0.0, 1.0)) * 255)) for v in rgb))


def character_look(style: StyleInfo, picture: str | Path, folder: Path) -> tuple[StyleInfo, str]:
    """`style`'s drawn character in `picture`'s skin and hair colours and hair length
    (`avatar_cam.palette`: a bald picture gives a bald character), saved as a new character file
    in `folder` that the catalog lists and the creator edits; the same picture again gives the
    same file."""
    path = Path(picture).expanduser()
    crop = _face_crop(_picture(path), PALETTE_SIZE, path)
    palette = crop_palette(crop.rgb)
    try:
        ch = load_character(style.path)
    except (OSError, ValueError) as e:
        raise ReferenceError(f"{style.path}: {e}") from None
    data = file_content(ch)
    parts = {k: v for k, v in data.items() if k not in ("format", "name", "license_note")}
    hair = None if palette.hair is None or palette.bald else _lab_hex(palette.hair)
    coloured = from_picture(parts, _lab_hex(palette.skin), hair, palette.bald, hair_length(crop.rgb, palette))
    name = look_name(style, path)
    licence = re.sub(r"\s*Colours from [^\n]*\.$", "", ch.license_note).strip()  # one picture's, not a chain
    licence = f"{licence}{'' if licence.endswith(('.', '!', '?')) else '.'} " if licence else ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        bg = coloured["background"]
        if bg["kind"] == "image" and bg["image"]:  # kept in the folder by a relative path (it may move)
            bg["image"] = store_background(Path(bg["image"]), folder)
        made = parse_character(character_data(name, coloured, f"{licence}Colours from {path.name}."), folder)
        target = _free_file(folder, name, CHARACTER_SUFFIX,
                            lambda p: load_character(p).parts == made.parts)  # the name aside
        made = dataclasses.replace(made, name=target.name[: -len(CHARACTER_SUFFIX)])
        save_character(made, target)
        info = load_style(target, probe=False)
    except OSError as e:
        raise ReferenceError(f"{folder}: cannot save the character ({e.strerror or e})") from None
    except (StyleError, ValueError) as e:
        raise ReferenceError(str(e)) from None
    cut = made.parts["hair"]["style"]
    said = (("skin colour as fur (it shows no hair)" if hair is None else "hair colour as fur")
            if is_animal(made.parts) else
            "skin colour, bald like the picture" if palette.bald else
            "skin colour (its hair keeps its colour: the picture shows none)" if palette.hair is None else
            "skin colour (the hijab stays)" if cut == "hijab" else
            "skin and hair colours (on its brows: it has no hair)" if cut == "bald" else
            f"skin and hair colours, {cut.replace('_', ' ')} hair")
    note = f"character {info.name!r}: {style.name} in {path.name}'s {said} ({crop.how}), saved as {target}"
    return info, note
