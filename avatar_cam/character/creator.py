"""Making characters: colour presets, random characters, the draft being edited (with undo) and
the user's character files (save, rename, delete, import, export). No Qt here: the window's
creator panel is a thin shell over `CharacterDraft` and `CharacterLibrary`.

A draft holds the character file's content (colours as '#rrggbb'); every change is checked by
building the `Character` from it, so a draft is always a valid character file."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from avatar_cam.character.model import (
    BOOL,
    COLOUR,
    FORMAT,
    SCHEMA,
    SUFFIX,
    V1_SUFFIX,
    Character,
    load_character,
    parse_character,
    save_character,
)
from avatar_cam.image_files import load_image

# -- presets -------------------------------------------------------------------------------------
# skin from very light to very dark (the human range), then fur and fantasy colours
SKIN_TONES = {
    "porcelain": "#fbe4d3", "ivory": "#f6d3b8", "peach": "#f2c29b", "sand": "#e6b088", "honey": "#d89d6f",
    "golden": "#c98e69", "caramel": "#b67a50", "bronze": "#9e6540", "chestnut": "#86512f",
    "mocha": "#6e4127", "espresso": "#56321f", "ebony": "#3f2517",
}
FUR_COLOURS = {
    "ginger": "#f4a259", "cream": "#f3e2c4", "grey": "#a9a9b3", "fox": "#e07a3c", "brown": "#8a5a3c",
    "white": "#f4f1ec", "charcoal": "#4a4a50", "honey bear": "#c68a4b",
}
HAIR_COLOURS = {
    "black": "#1d1a1a", "dark brown": "#3b2619", "brown": "#6b3f2a", "auburn": "#8a3b1e", "ginger": "#c0602b",
    "blonde": "#e0b860", "platinum": "#efe3c2", "grey": "#9c9c9c", "white": "#e9e7e2", "blue": "#3d6fd6",
    "pink": "#e06aa8", "purple": "#7a4fc2", "green": "#3f9c6b",
}
EYE_COLOURS = {
    "dark brown": "#3b2314", "brown": "#6a4426", "hazel": "#8a6a2e", "amber": "#b07a2a", "green": "#4f8a4a",
    "blue": "#4a7fb5", "grey": "#7d8a96", "light blue": "#7fb2d9",
}
CLOTHING_COLOURS = {
    "orange": "#f2a541", "red": "#d9534f", "pink": "#e88fb0", "purple": "#8e6cc7", "navy": "#2f4a7a",
    "blue": "#4a90d9", "teal": "#2a9d8f", "green": "#5aa469", "yellow": "#f2d057", "white": "#f2f2ee",
    "grey": "#8a8f98", "black": "#2b2b30",
}
BACKGROUND_COLOURS = {
    "sky": "#bfe3f0", "mint": "#cdebd8", "lemon": "#f7ecb5", "peach": "#f8d5c2", "lilac": "#ddd3f0",
    "rose": "#f4cfd8", "stone": "#d9d2c8", "slate": "#5b6b7f", "night": "#283040",
}
PRESETS: dict[tuple[str, str], dict[str, str]] = {
    ("face", "skin"): {**SKIN_TONES, **FUR_COLOURS}, ("hair", "colour"): HAIR_COLOURS,
    ("brows", "colour"): HAIR_COLOURS, ("facial_hair", "colour"): HAIR_COLOURS, ("eyes", "iris"): EYE_COLOURS,
    ("clothing", "colour"): CLOTHING_COLOURS, ("clothing", "accent"): CLOTHING_COLOURS,
    ("headwear", "colour"): CLOTHING_COLOURS, ("glasses", "colour"): {
        "black": "#1f1f24", "tortoise": "#6b4226", "gold": "#c9a23c", "silver": "#a7adb5", "red": "#c0392b",
        "blue": "#2f6fb5"},
    ("background", "top"): BACKGROUND_COLOURS, ("background", "bottom"): BACKGROUND_COLOURS,
    ("markings", "colour"): HAIR_COLOURS, ("snout", "colour"): {**FUR_COLOURS, "pale": "#fbe9d7"},
    ("snout", "nose"): {"pink": "#e8707a", "dark": "#3a2a2a", "brown": "#6b4226"},
}
ANIMAL_EARS = {"cat": "cat", "fox": "dog", "bear": "bear", "mouse": "cat", "bunny": "bunny", "dog": "dog"}
HUMAN_NOSES = ("button", "round", "small", "line")
LICENSE = "Made with avatar-cam's character creator."
RGB = tuple[int, int, int]


def _hex(c: Iterable[float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(round(min(255.0, max(0.0, v)))) for v in c))


def _rgb(h: str) -> np.ndarray:
    return np.array([int(h[i:i + 2], 16) for i in (1, 3, 5)], np.float64)


def _shade(h: str, f: float) -> str:
    c = _rgb(h)
    return _hex(c * f if f <= 1 else c + (255 - c) * (f - 1))


def _mix(a: str, b: str, t: float) -> str:
    return _hex((1 - t) * _rgb(a) + t * _rgb(b))


def _pick(rng: np.random.Generator, choices: Iterable[str]) -> str:
    items = list(choices)
    return items[int(rng.integers(len(items)))]


def _lab(c: str) -> np.ndarray:
    """A colour in CIE Lab (L* 0-100)."""
    return cv2.cvtColor(_rgb(c)[None, None].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0, 0]


def _apart(a: str, b: str) -> float:
    """CIE Lab distance between two colours."""
    return float(np.linalg.norm(_lab(a) - _lab(b)))


# random hair this close to the skin merged with the face (brown on mocha 3, dark brown on ebony 3,
# platinum on porcelain 9); black on ebony (18) reads, with its outline
HAIR_APART = 15.0
# brows a shade of the hair, darkened until their lightness (CIE L*) is this far from the skin's: a
# thin line shows by its lightness, not its hue (blond or grey brows 20-30 apart in Lab on light
# skin, most of it hue, all but vanished at 1280x720; a teacher reads the brows). Where no shade
# gets there (black hair on dark skin), the one furthest from the skin.
BROW_CONTRAST = 25.0
_BROW_SHADES = (0.85, 0.65, 0.45, 0.3, 0.2)


def _lightness(c: str) -> float:
    return float(_lab(c)[0])


def _brows_for(hair: str, skin: str) -> str:
    skin_l = _lightness(skin)
    contrast = {c: abs(_lightness(c) - skin_l) for c in (_shade(hair, f) for f in _BROW_SHADES)}
    return next((c for c, d in contrast.items() if d >= BROW_CONTRAST),
                max(contrast, key=contrast.__getitem__))


def random_parts(rng: np.random.Generator) -> dict[str, dict]:
    """A random character that makes sense (a person, sometimes an animal), as file sections."""
    animal = rng.random() < 0.15
    skin = _pick(rng, SKIN_TONES.values())
    colours = list(HAIR_COLOURS.values()) if rng.random() < 0.25 else list(HAIR_COLOURS.values())[:9]
    hair_colour = _pick(rng, [c for c in colours if _apart(c, skin) >= HAIR_APART])
    cloth = list(CLOTHING_COLOURS.values())
    top = _pick(rng, BACKGROUND_COLOURS.values())
    parts: dict[str, dict] = {
        "face": {"shape": _pick(rng, SCHEMA["face"]["shape"]), "skin": skin,  # type: ignore[arg-type]
                 "blush": round(float(rng.uniform(0.0, 0.6)), 2) if rng.random() < 0.6 else 0.0,
                 "freckles": bool(rng.random() < 0.15)},
        "ears": {"style": "human", "inner": "#000000"},
        "eyes": {"shape": _pick(rng, SCHEMA["eyes"]["shape"]), "iris": _pick(rng, EYE_COLOURS.values()),
                  # type: ignore[arg-type]
                 "size": round(float(rng.uniform(0.9, 1.15)), 2), "lashes": bool(rng.random() < 0.4)},
        "brows": {"style": _pick(rng, [b for b in SCHEMA["brows"]["style"] if b != "none"]),
                   # type: ignore[attr-defined]
                  "colour": _brows_for(hair_colour, skin)},
        "nose": {"style": _pick(rng, HUMAN_NOSES)},
        "mouth": {"lips": "#000000"},
        "snout": {"style": "none", "colour": "#fbe9d7", "nose": "#3a2a2a"},
        "markings": {"style": "none", "colour": hair_colour},
        "hair": {"style": _pick(rng, SCHEMA["hair"]["style"]),
                 "colour": hair_colour},  # type: ignore[arg-type]
        "facial_hair": {"style": _pick(rng,
                                       [f for f in SCHEMA["facial_hair"]["style"] if f != "none"])  # type: ignore[attr-defined]
                        if rng.random() < 0.2 else "none", "colour": hair_colour},
        "glasses": {"style": _pick(rng,
                                   [g for g in SCHEMA["glasses"]["style"] if g != "none"])  # type: ignore[attr-defined]
                    if rng.random() < 0.3 else "none", "colour": _pick(rng, PRESETS[("glasses",
                                                                                     "colour")].values())},
        "headwear": {"style": _pick(rng,
                                    [h for h in SCHEMA["headwear"]["style"] if h != "none"])  # type: ignore[attr-defined]
                     if rng.random() < 0.2 else "none", "colour": _pick(rng, cloth)},
        "clothing": {"style": _pick(rng, SCHEMA["clothing"]["style"]), "colour": _pick(rng, cloth),
                      # type: ignore[arg-type]
                     "accent": _pick(rng, cloth)},
        "background": {"kind": "gradient" if rng.random() < 0.7 else "colour", "top": top,
                       "bottom": _shade(top, 0.82), "image": ""},
    }
    if parts["hair"]["style"] == "hijab":  # a scarf: no hat over it, no beard under it (a beard in the
        parts["hair"]["colour"] = _pick(rng, cloth)  # hair's colour read as a second scarf)
        parts["headwear"]["style"] = "none"
        parts["facial_hair"]["style"] = "none"
    if parts["hair"]["style"] in ("bald", "buzz") and parts["headwear"]["style"] in ("headband", "bow"):
        parts["headwear"]["style"] = "none"  # nothing to hold it: it floated over the scalp
    if animal:
        kind = _pick(rng, ANIMAL_EARS)
        fur = _pick(rng, FUR_COLOURS.values())
        parts["face"].update(skin=fur, freckles=False)
        parts["ears"]["style"] = kind
        parts["snout"].update(style=ANIMAL_EARS[kind], colour=_mix(fur, "#ffffff", 0.55))
        parts["nose"]["style"] = "animal"
        parts["markings"].update(style=_pick(rng, ["none", "stripes", "spots", "mask"]), colour=_shade(fur,
                                                                                                       0.7))
        parts["hair"].update(style="bald" if rng.random() < 0.7 else "short", colour=_shade(fur, 0.8))
        parts["brows"]["colour"] = _shade(fur, 0.6)
        parts["facial_hair"]["style"] = "none"
    _skin_colours(parts)
    return parts


def is_animal(parts: dict[str, dict]) -> bool:
    return parts["ears"]["style"] not in ("human", "none")


def _skin_colours(parts: dict[str, dict]) -> None:
    """The colours a character draws from its skin: inner ears (pinker on an animal) and lips."""
    skin = parts["face"]["skin"]
    parts["ears"]["inner"] = _mix(skin, "#ff9f9f", 0.35) if is_animal(parts) else _shade(skin, 0.88)
    parts["mouth"]["lips"] = _mix(_shade(skin, 0.85), "#c0505a", 0.45)


# plain cuts a picture's hair length may change; the others (curls, an afro, braids...) are chosen
SHORT_CUTS = ("short", "side_part", "fringe")
LENGTH_CUTS = {"medium": "bob", "long": "long"}
PICTURE_CUTS = {**LENGTH_CUTS, "afro": "afro"}  # the cut a picture's hair gives a plain cut
FUR_FLOOR = 0x50  # the darkest an animal's fur from a picture gets (the "charcoal" preset's)


def _legible_fur(fur: str) -> str:
    """`fur`, lifted to at least `FUR_FLOOR` in its brightest channel (hue kept): the line a
    character draws is a deep shade of its skin, and on black fur it did not show."""
    c = _rgb(fur)
    return _hex(c + max(0.0, FUR_FLOOR - float(c.max())))


def from_picture(parts: dict[str, dict], skin: str, hair: str | None, bald: bool = False,
                 length: str | None = None) -> dict[str, dict]:
    """`parts` in a picture's colours (`#rrggbb`): its skin, with the ears and lips drawn from it
    as `random_parts` draws them; its hair, brows a shade darker, facial hair and markings alike
    (`hair` None: the picture shows none, the drawn hair keeps its colour); `bald`: no hair at
    all; `length` ("short", "medium", "long", "afro": a big round volume): a plain cut becomes
    the picture's (side part, bob, long, afro), any other cut (an afro too) stays. A hijab is
    clothing and stays as it is. An animal's fur takes the picture's hair colour (its skin where
    the picture shows no hair: a red-haired picture makes a red fox, not a skin-pink one), lifted
    to a dark grey when black (`_legible_fur`: its outline must show), with its muzzle, markings,
    tuft and brows from the fur as `random_parts` draws them."""
    out = copy.deepcopy(parts)
    if is_animal(out):
        fur = _legible_fur(skin if hair is None or bald else hair)
        out["face"]["skin"] = fur
        _skin_colours(out)
        if out["snout"]["style"] != "none":
            out["snout"]["colour"] = _mix(fur, "#ffffff", 0.55)
        if out["markings"]["style"] not in ("none", "muzzle"):  # a muzzle is pale fur: kept
            out["markings"]["colour"] = _shade(fur, 0.7)
        out["hair"]["colour"] = _shade(fur, 0.8)
        out["brows"]["colour"] = _shade(fur, 0.6)
        return out
    out["face"]["skin"] = skin
    _skin_colours(out)
    cut = out["hair"]["style"]
    if cut == "hijab":
        return out
    if bald:
        out["hair"]["style"] = "bald"
        return out
    if length is not None and cut in (*SHORT_CUTS, *LENGTH_CUTS.values()):
        out["hair"]["style"] = PICTURE_CUTS.get(length, cut if cut in SHORT_CUTS else "side_part")
    if hair is not None:
        out["hair"]["colour"] = out["facial_hair"]["colour"] = hair
        out["brows"]["colour"] = _shade(hair, 0.85)
        if out["markings"]["style"] not in ("none", "muzzle"):  # a muzzle is pale fur, not hair
            out["markings"]["colour"] = _shade(hair, 0.7)
    return out


def random_any(rng: np.random.Generator) -> dict[str, dict]:
    """Any combination the format allows (every choice, number and colour uniform): for tests."""
    parts: dict[str, dict] = {}
    for section, keys in SCHEMA.items():
        parts[section] = {}
        for key, spec in keys.items():
            if spec == COLOUR:
                value: object = _hex(rng.integers(0, 256, 3))
            elif spec == BOOL:
                value = bool(rng.random() < 0.5)
            elif spec == "path":
                value = ""
            elif isinstance(spec, tuple) and isinstance(spec[0], str):
                value = _pick(rng, spec if section != "background" else ("colour", "gradient"))
            else:
                lo, hi = spec  # type: ignore[misc]
                value = round(float(rng.uniform(lo, hi)), 3)
            parts[section][key] = value
    return parts


def character_data(name: str, parts: dict[str, dict], license_note: str = LICENSE) -> dict:
    """The file content for `parts`."""
    return {"format": FORMAT, "name": name, "license_note": license_note, **copy.deepcopy(parts)}


def file_content(ch: Character) -> dict:
    """`ch`'s file content with a background image's path made absolute (it can be written
    anywhere)."""
    data = ch.to_json()
    img = ch.background_image()
    if img is not None:
        data["background"]["image"] = str(img)
    return data


# -- the draft ------------------------------------------------------------------------------------
class CharacterDraft:
    """The character being edited: its file content, where it came from, and undo/redo."""

    def __init__(self, character: Character, path: Path | None = None, folder: Path | None = None,
                 name: str | None = None):
        self.origin = character
        self.path = path  # the user's file it was opened from; None for a built-in or a new one
        self.folder = folder if folder is not None else character.folder  # relative images resolve here
        self._data = file_content(character)
        if name is not None:
            self._data["name"] = check_name(name)
        self._undo: list[dict] = []
        self._redo: list[dict] = []
        self._last: tuple[str, str] | None = None  # the value the last change set (merging drags)
        self._saved = copy.deepcopy(self._data)

    # -- reading --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self._data["name"])

    def get(self, section: str, key: str) -> object:
        return self._data[section][key]

    def data(self) -> dict:
        return copy.deepcopy(self._data)

    def character(self) -> Character:
        return parse_character(self.data(), self.folder)

    @property
    def dirty(self) -> bool:
        """Changed since it was opened or last saved."""
        return self._strip(self._data) != self._strip(self._saved)

    @staticmethod
    def _strip(data: dict) -> dict:
        return {k: v for k, v in data.items() if k != "name"}

    # -- editing --------------------------------------------------------------------------------
    def _change(self, data: dict, what: tuple[str, str] | None = None, merge: bool = False) -> None:
        """Replace the content with `data` if it is a valid character (`ValueError` if not:
        nothing changes). With `merge`, a change of the same value as the last one replaces it
        instead of adding an undo step (a slider being dragged)."""
        parse_character(data, self.folder)
        if data == self._data:
            return
        if not (merge and what is not None and what == self._last and self._undo):
            self._undo.append(self._data)
        self._redo.clear()
        self._data = data
        self._last = what

    def set(self, section: str, key: str, value: object, merge: bool = False) -> None:
        """Set one value (colours as '#rrggbb'); `ValueError` for a value the format refuses."""
        if section not in SCHEMA or key not in SCHEMA[section]:
            raise ValueError(f"no such setting {section}.{key}")
        data = self.data()
        data[section][key] = value
        if (section, key) == ("snout", "style"):  # the nose goes with the snout (its pad or a person's):
            animal = data["nose"]["style"] == "animal"  # no snout left a black animal nose on a face
            if value == "none" and animal:
                data["nose"]["style"] = HUMAN_NOSES[0]
            elif value != "none" and not animal:
                data["nose"]["style"] = "animal"
        self._change(data, (section, key), merge)

    def set_parts(self, parts: dict[str, dict]) -> None:
        """Replace every part at once (random, a preset), as one undo step."""
        data = self.data()
        data.update(copy.deepcopy(parts))
        self._change(data)

    def randomize(self, rng: np.random.Generator) -> None:
        self.set_parts(random_parts(rng))

    def reset(self) -> None:
        """Back to the character as it was opened (one undo step)."""
        self.set_parts({k: v for k, v in file_content(self.origin).items() if k in SCHEMA})

    def rename(self, name: str) -> None:
        """The character's name: not an edit to undo (saving and renaming set it, and an undo
        that brought the old name back made the next save write a second file), so every undo
        and redo step takes it too."""
        for data in (self._data, *self._undo, *self._redo):
            data["name"] = check_name(name)

    def new_step(self) -> None:
        """The next change is an undo step of its own (a slider pressed again: a new drag)."""
        self._last = None

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> None:
        if self._undo:
            self._redo.append(self._data)
            self._data = self._undo.pop()
            self._last = None

    def redo(self) -> None:
        if self._redo:
            self._undo.append(self._data)
            self._data = self._redo.pop()
            self._last = None

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self._saved = copy.deepcopy(self._data)


# -- the user's files -----------------------------------------------------------------------------
def slug(name: str) -> str:
    """A file name stem for a character name: lower case letters of any script, digits and '-'
    (ASCII only made every Chinese, Arabic or Cyrillic name 'character'). A name with none of
    those (emoji, symbols) or longer than the stem gets a short hash of itself, so two such
    names do not share a file."""
    s = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", name.strip().lower())).strip("-")
    if s and len(s) <= 48:
        return s
    tag = hashlib.sha1(name.strip().encode("utf-8")).hexdigest()[:6]
    return f"{s[:41].rstrip('-')}-{tag}" if s else f"character-{tag}"


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c in name for c in "/\\\n"):
        raise ValueError("a name is 1-64 characters, without slashes")
    return name


class CharacterLibrary:
    """Character files in one folder (the per-user styles folder). Every method checks first and
    writes last: a refused call changes nothing. `reserved` are names of built-in styles."""

    def __init__(self, folder: Path, reserved: Iterable[str] = ()):
        self.folder = folder
        self.reserved = {r.lower() for r in reserved}

    def path_for(self, name: str) -> Path:
        return self.folder / f"{slug(name)}{SUFFIX}"

    def _check_new(self, name: str, replacing: Path | None = None) -> Path:
        name = check_name(name)
        if name.lower() in self.reserved or slug(name) in self.reserved:
            raise ValueError(f"{name!r} is the name of a built-in style; pick another name")
        target = self.path_for(name)
        if target.exists() and (replacing is None or target.resolve() != replacing.resolve()):
            try:
                there = load_character(target).name
            except (OSError, ValueError):
                there = name
            raise FileExistsError(f"there is already a character called {there!r} ({target.name})")
        return target

    def owns(self, path: Path) -> bool:
        """Whether `path` is a character file in this folder (one the user may rename or delete)."""
        return path.parent.resolve() == self.folder.resolve() and path.name.endswith((SUFFIX, V1_SUFFIX))

    def _own_name(self, path: Path, name: str) -> bool:
        """`name` is the name of the user's character file at `path` (saving keeps that file)."""
        if not path.name.endswith(SUFFIX) or not self.owns(path):
            return False
        try:
            return load_character(path).name == name
        except (OSError, ValueError):
            return False

    def save(self, draft: CharacterDraft, name: str, overwrite: bool = False) -> Path:
        """Write the draft as `name` (`<slug>.character.json`). Saving over the draft's own file
        is always allowed; another existing file only with `overwrite`. Under the name its own
        file has (a character from a picture, `sunny-micah_0107`, is not named by `slug`), the
        draft is saved over that file, not into a second one."""
        name = check_name(name)
        if draft.path is not None and self._own_name(draft.path, name):
            target = draft.path
        else:
            try:
                target = self._check_new(name, draft.path)
            except FileExistsError:
                if not overwrite:
                    raise
                target = self.path_for(name)
        data = draft.data()
        data["name"] = name
        self._localise_image(data, draft.folder)
        ch = parse_character(data, self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        save_character(ch, target)
        draft.rename(name)
        draft.folder = self.folder
        draft.mark_saved(target)
        return target

    def rename(self, path: Path, new_name: str) -> Path:
        """Give a saved character a new name (and file name)."""
        if not self.owns(path):
            raise ValueError(f"{path.name} is not one of your characters")
        ch = load_character(path)
        target = self._check_new(new_name, path)
        data = ch.to_json()
        data["name"] = check_name(new_name)
        save_character(parse_character(data, self.folder), target)
        if target.resolve() != path.resolve():
            path.unlink()
        return target

    def delete(self, path: Path) -> None:
        if not self.owns(path):
            raise ValueError(f"{path.name} is not one of your characters")
        path.unlink()

    def import_file(self, source: Path) -> Path:
        """Check `source` as a character file and copy it in under a free name; a background
        image comes along. `ValueError` (one line) for a bad or foreign file."""
        if not source.name.endswith((SUFFIX, V1_SUFFIX)):
            raise ValueError(f"{source.name} is not a character file (*{SUFFIX})")
        try:
            ch = load_character(source)
        except ValueError as e:
            raise ValueError(f"{source.name}: {e}") from None
        data = file_content(ch)
        name, n = ch.name, 2
        while True:
            try:
                target = self._check_new(name)
                break
            except (FileExistsError, ValueError):
                name = f"{ch.name[:60]}-{n}"
                n += 1
        data["name"] = name
        self._localise_image(data, ch.folder)
        ch = parse_character(data, self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        save_character(ch, target)
        return target

    def _localise_image(self, data: dict, folder: Path | None) -> None:
        """A background image outside the folder is copied into `backgrounds/` next to the
        characters and named by its content, so the character file keeps working."""
        bg = data["background"]
        if bg["kind"] != "image" or not bg["image"]:
            return
        src = Path(bg["image"]).expanduser()
        if not src.is_absolute() and folder is not None:
            src = folder / src
        if src.parent.resolve() == (self.folder / "backgrounds").resolve():
            bg["image"] = f"backgrounds/{src.name}"
            return
        bg["image"] = store_background(src, self.folder)


def store_background(image: Path, folder: Path) -> str:
    """Copy a background picture into `folder/backgrounds/` (named by its content); returns the
    path relative to `folder`. `ValueError` when it is not a picture OpenCV can read."""
    if load_image(image) is None:
        raise ValueError(f"{image.name} is not a picture that can be read (PNG, JPEG, BMP, WebP)")
    digest = hashlib.sha1(image.read_bytes()).hexdigest()[:16]
    target = folder / "backgrounds" / f"{digest}{image.suffix.lower()}"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(image, tmp)
        tmp.replace(target)
    return f"backgrounds/{target.name}"


def export_character(ch: Character, dest: Path) -> Path:
    """Write `ch` to `dest` (a `*.character.json` path); a background image is copied next to it
    so the pair can be shared."""
    if not dest.name.endswith(SUFFIX):
        dest = dest.with_name(dest.name.removesuffix(".json") + SUFFIX)
    data = file_content(ch)
    img = ch.background_image()
    if img is not None:
        copy_to = dest.parent / f"{dest.name.removesuffix(SUFFIX)}-background{img.suffix.lower()}"
        if img.resolve() != copy_to.resolve():
            shutil.copyfile(img, copy_to)
        data["background"]["image"] = copy_to.name
    save_character(parse_character(data, dest.parent), dest)
    return dest
