"""The character file (`<name>.character.json`, format `avatar-cam-character/2`): a character as
data, part by part (the DiceBear idea: every part is a style from a fixed list plus colours).

Every key is required and checked one by one: a typo or a value out of its list is an error
naming the key, never a silent default. Version-1 rig files (`<name>.rig.json`,
`avatar-cam-rig/1`) are migrated on load to the nearest version-2 character."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, replace
from pathlib import Path

from avatar_cam.character import body_parts, face_parts, hair_parts
from avatar_cam.image_files import load_image

FORMAT = "avatar-cam-character/2"
V1_FORMAT = "avatar-cam-rig/1"
SUFFIX = ".character.json"
V1_SUFFIX = ".rig.json"
COLOUR = "colour"
BOOL = "bool"
BACKGROUND_KINDS = ("colour", "gradient", "image")

# section -> key -> a tuple of choices, COLOUR, BOOL, or (low, high) for a number
SCHEMA: dict[str, dict[str, object]] = {
    "face": {"shape": face_parts.FACE_SHAPES, "skin": COLOUR, "blush": (0.0, 1.0), "freckles": BOOL},
    "ears": {"style": tuple(face_parts.EAR_STYLES), "inner": COLOUR},
    "eyes": {"shape": tuple(face_parts.EYE_SHAPES), "iris": COLOUR, "size": (0.75, 1.35), "lashes": BOOL},
    "brows": {"style": tuple(face_parts.BROW_STYLES), "colour": COLOUR},
    "nose": {"style": tuple(face_parts.NOSE_STYLES)},
    "mouth": {"lips": COLOUR},
    "snout": {"style": tuple(face_parts.SNOUT_STYLES), "colour": COLOUR, "nose": COLOUR},
    "markings": {"style": tuple(face_parts.MARKING_STYLES), "colour": COLOUR},
    "hair": {"style": tuple(hair_parts.HAIR_STYLES), "colour": COLOUR},
    "facial_hair": {"style": tuple(face_parts.FACIAL_HAIR_STYLES), "colour": COLOUR},
    "glasses": {"style": tuple(face_parts.GLASSES_STYLES), "colour": COLOUR},
    "headwear": {"style": tuple(hair_parts.HEADWEAR_STYLES), "colour": COLOUR},
    "clothing": {"style": tuple(body_parts.CLOTHING_STYLES), "colour": COLOUR, "accent": COLOUR},
    "background": {"kind": BACKGROUND_KINDS, "top": COLOUR, "bottom": COLOUR, "image": "path"},
}
RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Character:
    """A checked character. `parts[section][key]`: colours as RGB tuples; `folder`: where the file
    was (a background image path is relative to it)."""

    name: str
    license_note: str
    parts: dict[str, dict]
    folder: Path | None = None
    migrated_from: str | None = None  # the version-1 format it was read from, if any
    missing_background: str | None = None  # the file's background picture, gone when it was read

    def missing_note(self) -> str | None:
        """One line naming the background picture that was gone when the file was read (the
        character has its gradient or colour instead), else None."""
        if self.missing_background is None:
            return None
        kind = self.parts["background"]["kind"]
        return (f"{self.name}: background picture {self.missing_background!r} is missing; "
                f"using its {'plain colour' if kind == 'colour' else 'gradient'} instead")

    def to_json(self) -> dict:
        """The version-2 file content (colours back to '#rrggbb')."""
        out: dict = {"format": FORMAT, "name": self.name, "license_note": self.license_note}
        for section, keys in SCHEMA.items():
            out[section] = {k: (hex_colour(v) if keys[k] == COLOUR else v)
                            for k, v in self.parts[section].items()}
        return out

    def background_image(self) -> Path | None:
        bg = self.parts["background"]
        if bg["kind"] != "image":
            return None
        p = Path(bg["image"]).expanduser()
        return p if p.is_absolute() or self.folder is None else self.folder / p


def hex_colour(c: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def parse_colour(value: object, where: str) -> RGB:
    if isinstance(value, str) and len(value) == 7 and value[0] == "#":
        try:
            return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
        except ValueError:
            pass
    raise ValueError(f"{where} must be a colour '#rrggbb', is {value!r}")


def _exact_keys(obj: object, wanted: list[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object")
    missing = [k for k in wanted if k not in obj]
    extra = [k for k in obj if k not in wanted]
    if missing or extra:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(map(str, extra))}"] if extra else [])
        raise ValueError(f"{where}: {'; '.join(problems)}")
    return obj


def _value(spec: object, v: object, where: str) -> object:
    if spec == COLOUR:
        return parse_colour(v, where)
    if spec == BOOL:
        if not isinstance(v, bool):
            raise ValueError(f"{where} must be true or false, is {v!r}")
        return v
    if spec == "path":
        if not isinstance(v, str):
            raise ValueError(f"{where} must be a file path (or \"\"), is {v!r}")
        return v
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        if v not in spec:
            raise ValueError(f"{where} is {v!r}, one of: {', '.join(spec)}")
        return v
    lo, hi = spec  # type: ignore[misc]
    if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
        raise ValueError(f"{where} must be a number in {lo}..{hi}, is {v!r}")
    return float(v)


def parse_character(data: object, folder: Path | None = None) -> Character:
    """Check decoded file content (version 2, or version 1 migrated) and build the `Character`."""
    if isinstance(data, dict) and data.get("format") == V1_FORMAT:
        return migrate_v1(data, folder)
    top = _exact_keys(data, ["format", "name", "license_note", *SCHEMA], "file")
    if top["format"] != FORMAT:
        raise ValueError(f"format is {top['format']!r}; this app reads {FORMAT!r} (and {V1_FORMAT!r})")
    name = top["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or any(c in name for c in "/\\\n"):
        raise ValueError("name must be a short non-empty string without slashes")
    if not isinstance(top["license_note"], str):
        raise ValueError("license_note must be a string")
    parts = {}
    for section, keys in SCHEMA.items():
        raw = _exact_keys(top[section], list(keys), section)
        parts[section] = {k: _value(spec, raw[k], f"{section}.{k}") for k, spec in keys.items()}
    ch = Character(name.strip(), top["license_note"], parts, folder)
    img = ch.background_image()
    if img is not None:
        if not img.is_file():
            return _without_picture(ch)
        stat = img.stat()
        if not _readable_image(str(img), stat.st_mtime_ns, stat.st_size):
            raise ValueError(f"background.image {parts['background']['image']!r} is not a readable image")
    return ch


def _without_picture(ch: Character) -> Character:
    """`ch` whose background picture is gone (deleted, or on another computer): its gradient,
    or its colour when both ends are the same, as drawing a picture gone since loading does.
    The file keeps naming the picture until it is saved again."""
    bg = ch.parts["background"]
    kind = "colour" if bg["top"] == bg["bottom"] else "gradient"
    parts = {**ch.parts, "background": {**bg, "kind": kind, "image": ""}}
    return replace(ch, parts=parts, missing_background=bg["image"])


@functools.lru_cache(maxsize=8)
def _readable_image(path: str, mtime_ns: int, size: int) -> bool:
    """Whether OpenCV decodes `path` (as drawing it will). Cached by the file's version: the
    creator checks the whole character on every edit, a slider drag included."""
    return load_image(path) is not None


def load_character(path: Path) -> Character:
    """Read and check a character file; `ValueError` (one line) for any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # said "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x89 ..."
        raise ValueError("not a character file: it is not text (a picture or another binary file "
                         "named .character.json?)") from None
    except OSError as e:
        raise ValueError(f"cannot read ({e.strerror or type(e).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None
    return parse_character(data, path.parent)


def save_character(ch: Character, path: Path) -> None:
    """Write `ch` as a version-2 file, atomically (a crash never leaves half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(ch.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# -- version 1 ------------------------------------------------------------------------------------
_V1_KEYS = ["format", "name", "size", "license_note", "colours", "head", "ears", "hair", "eyes", "brows",
            "nose", "mouth", "cheeks"]


def migrate_v1(data: dict, folder: Path | None = None) -> Character:
    """A version-1 rig file as the nearest version-2 character (its colours and part choices)."""
    top = _exact_keys(data, _V1_KEYS, "version-1 file")
    col = top["colours"]
    if not isinstance(col, dict):
        raise ValueError("version-1 colours must be an object")

    def c(key: str) -> str:
        if key not in col:
            raise ValueError(f"version-1 colours: missing {key}")
        parse_colour(col[key], f"colours.{key}")
        return col[key]

    def part(section: str, key: str) -> object:
        sec = top[section]
        if not isinstance(sec, dict) or key not in sec:
            raise ValueError(f"version-1 {section}: missing {key}")
        return sec[key]

    ears = {"round": "human", "pointed": "cat"}.get(str(part("ears", "shape")), "none")
    whiskers = bool(part("cheeks", "whiskers"))
    hair_shape = part("hair", "shape")
    jaw = float(part("head", "jaw"))  # type: ignore[arg-type]
    skin = parse_colour(c("skin"), "colours.skin")
    v2 = {
        "format": FORMAT, "name": top["name"], "license_note": top["license_note"],
        "face": {"shape": "heart" if jaw < 0.6 else "round", "skin": c("skin"),
                 "blush": 0.6 if float(part("cheeks", "size")) > 0 else 0.0, "freckles": False},  # type: ignore[arg-type]
        "ears": {"style": ears, "inner": c("ear_inner")},
        "eyes": {"shape": "round", "iris": c("iris"),
                 "size": min(1.35, max(0.75, float(part("eyes", "width")) / 0.052)), "lashes": False},  # type: ignore[arg-type]
        "brows": {"style": "natural" if float(part("brows", "width")) > 0 else "none", "colour": c("brow")},  # type: ignore[arg-type]
        "nose": {"style": {"dot": "button", "triangle": "animal"}.get(str(part("nose", "shape")), "none")},
        "mouth": {"lips": c("cheek")},
        "snout": {"style": "cat" if whiskers else "none",
                  "colour": hex_colour(tuple(min(255, v + 40) for v in skin)),  # type: ignore[arg-type]
                  "nose": c("nose")},
        "markings": {"style": "stripes" if hair_shape == "stripes" else "none", "colour": c("hair")},
        "hair": {"style": "fringe" if hair_shape == "fringe" else "bald", "colour": c("hair")},
        "facial_hair": {"style": "none", "colour": c("hair")},
        "glasses": {"style": "none", "colour": c("outline")},
        "headwear": {"style": "none", "colour": c("body")},
        "clothing": {"style": "tshirt", "colour": c("body"), "accent": c("outline")},
        "background": {"kind": "colour", "top": c("background"), "bottom": c("background"), "image": ""},
    }
    ch = parse_character(v2, folder)
    return Character(ch.name, ch.license_note, ch.parts, folder, migrated_from=V1_FORMAT)
