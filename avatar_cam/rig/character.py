"""The rig style file (`<name>.rig.json` in a styles folder): a character's shapes and colours.

Every key is required and checked (a typo is an error, not a silently default look). Lengths
are fractions of the picture side, positions are relative to the head centre (+y down)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RIG_FORMAT = "avatar-cam-rig/1"
RIG_SUFFIX = ".rig.json"
COLOURS = ("background", "body", "skin", "outline", "hair", "ear_inner", "eye_white", "iris",
           "pupil", "brow", "nose", "mouth", "teeth", "tongue", "cheek")
CHOICES = {("ears", "shape"): ("round", "pointed", "none"),
           ("hair", "shape"): ("fringe", "stripes", "none"),
           ("nose", "shape"): ("dot", "triangle", "none")}
# section -> key -> (low, high) for numbers; keys in CHOICES take a string, "whiskers" a bool
SCHEMA: dict[str, dict[str, tuple[float, float] | None]] = {
    "head": {"width": (0.1, 0.45), "height": (0.1, 0.45), "jaw": (0.3, 1.0)},
    "ears": {"shape": None, "size": (0.0, 0.2)},
    "hair": {"shape": None},
    "eyes": {"y": (-0.2, 0.2), "spacing": (0.03, 0.3), "width": (0.01, 0.15), "height": (0.01, 0.15),
             "iris": (0.2, 1.0)},
    "brows": {"y": (-0.3, 0.1), "width": (0.0, 0.15), "thickness": (0.0, 0.05)},
    "nose": {"shape": None, "y": (-0.1, 0.2), "size": (0.0, 0.08)},
    "mouth": {"y": (0.0, 0.3), "width": (0.01, 0.2)},
    "cheeks": {"size": (0.0, 0.1), "whiskers": None},
}


@dataclass(frozen=True)
class Character:
    """A parsed rig style file; `part(section)` gives that section's values."""

    name: str
    size: int
    license_note: str
    colours: dict[str, tuple[int, int, int]]  # RGB
    parts: dict[str, dict[str, float | str | bool]]

    def part(self, section: str) -> dict[str, float | str | bool]:
        return self.parts[section]


def _colour(value: object, key: str) -> tuple[int, int, int]:
    if not (isinstance(value, str) and len(value) == 7 and value[0] == "#"):
        raise ValueError(f"colours.{key} must be '#rrggbb', is {value!r}")
    try:
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)
    except ValueError:
        raise ValueError(f"colours.{key} must be '#rrggbb', is {value!r}") from None


def _exact_keys(obj: object, wanted: tuple[str, ...] | list[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object")
    missing = [k for k in wanted if k not in obj]
    extra = [k for k in obj if k not in wanted]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else [])
        raise ValueError(f"{where}: {'; '.join(parts)}")
    return obj


def parse_character(data: object) -> Character:
    """Check a decoded style file and build the `Character`; `ValueError` names the bad key."""
    top = _exact_keys(data, ["format", "name", "size", "license_note", "colours", *SCHEMA], "file")
    if top["format"] != RIG_FORMAT:
        raise ValueError(f"format is {top['format']!r}, the app reads {RIG_FORMAT!r}")
    if not isinstance(top["name"], str) or not top["name"]:
        raise ValueError("name must be a non-empty string")
    size = top["size"]
    if not isinstance(size, int) or isinstance(size, bool) or not 64 <= size <= 1024:
        raise ValueError(f"size must be an integer in 64..1024, is {size!r}")
    colours = {k: _colour(v, k) for k, v in _exact_keys(top["colours"], COLOURS, "colours").items()}
    parts: dict[str, dict[str, float | str | bool]] = {}
    for section, keys in SCHEMA.items():
        raw = _exact_keys(top[section], list(keys), section)
        parts[section] = {}
        for key, bounds in keys.items():
            v = raw[key]
            if (section, key) in CHOICES:
                if v not in CHOICES[(section, key)]:
                    raise ValueError(f"{section}.{key} is {v!r}, one of {', '.join(CHOICES[(section, key)])}")
            elif bounds is None:
                if not isinstance(v, bool):
                    raise ValueError(f"{section}.{key} must be true or false")
            elif isinstance(v, bool) or not isinstance(v, int | float) or not bounds[0] <= v <= bounds[1]:
                raise ValueError(f"{section}.{key} must be a number in {bounds[0]}..{bounds[1]}, is {v!r}")
            parts[section][key] = v
    return Character(name=top["name"], size=size, license_note=str(top["license_note"]),
                     colours=colours, parts=parts)


def load_character(path: Path) -> Character:
    """Read and check a rig style file; `ValueError` (one line) for any problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read ({type(e).__name__}: {e})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from None
    return parse_character(data)
