"""A look's colours: the skin and hair colours of a cartoon picture, and a colour match that
moves a generator's output onto them.

A mesh-conditioned generator's 8-number style code carries a picture's kind of drawing, hair
outline, glasses and skin tone, but saturated hair drifts towards its training mean (orange
DiceBear hair comes out tan; docs/styles.md, issue 27). A look therefore also keeps two colours
read off the reference picture (`Palette`) and the two its code draws on the demo face, and
`ColourMatch` shifts every output pixel in CIE Lab by a blend of the two differences, weighted by
how close the pixel is to each drawn colour. Shading, outlines and eyes (far from both colours)
keep their own, so the drawing stays the generator's and only its hair and skin take the
picture's colours. Inside the face (where the caller says it is) only the skin moves: a dark hair
colour must not lighten a mouth or a line.

Regions are in the app's aligned crop (eyes at y ~0.47 and the mouth at ~0.70 of the side for
photos, DiceBear and anime faces alike): skin is the most common colour of the face's middle
below the eyes, hair the most common colour of the band over the forehead less the background
(the top corners' colour; where the two differ, either one's when that finds more hair: a tight
crop's hair can fill a corner) and less anything of skin colour, when that one colour covers a fifth
of the band (outlines, glasses and squiggles over a bald head are not hair). A band of mostly
skin colour is a bald head when it is the skin's own fill: its hair colour is the skin's, so the
hair a generator draws anyway takes the skin's colour; a near colour (pale blond or white hair
over pale skin) is that hair's. Otherwise there is no hair colour (a hat of the background's
colour, hair the colour of the corners) and the drawn hair keeps its own."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# (x0, x1, y0, y1) as fractions of the crop's side
SKIN_BOX = (0.28, 0.72, 0.50, 0.68)
HAIR_BOX = (0.25, 0.75, 0.05, 0.24)
CORNER_BOXES = ((0.0, 0.06, 0.0, 0.06), (0.94, 1.0, 0.0, 0.06))
APART = 18.0  # Lab distance: band pixels this close to the background are not hair
SKIN_APART = 12.0  # ... nor those this close to the skin (a tan bob over tan skin still counts)
MIN_HAIR = 0.2  # the share of the band the hair's own colour must cover to be the look's hair
BALD_SKIN = 0.3  # the share of the band of skin colour that makes a picture without hair bald
BALD_SAME = 4.0  # Lab distance: ... when that colour is the skin's own (pale blond and white hair
#                  over pale skin is 11 apart in anime pictures; a drawn bald head 0)
# where hair that falls past the ears shows in the crop: cheek level and below the chin, each side
HAIR_SIDES = {"medium": ((0.06, 0.22, 0.45, 0.62), (0.78, 0.94, 0.45, 0.62)),
              "long": ((0.04, 0.20, 0.62, 0.90), (0.80, 0.96, 0.62, 0.90))}
HAIR_NEAR = 15.0  # Lab distance: a side pixel this close to the hair colour is hair
HAIR_SHARE = 0.3  # the share of a side box (on both sides) that makes hair reach there
# a big round volume (an afro) is wide at the temples, reaches the mouth's level (a hat's brim or a
# turban stops above it) and does not fall past the chin in strips (long hair does)
AFRO_TEMPLES = ((0.05, 0.12, 0.25, 0.38), (0.88, 0.95, 0.25, 0.38))
AFRO_WIDE = 0.5  # the share of the temple boxes the hair covers in an afro (a bob's 0.0-0.5)
AFRO_LOW = 0.15  # ... and of the "long" boxes (0.3-0.86 in DiceBear afros, 0 under a brim)
PAST_CHIN = ((0.04, 0.25, 0.90, 1.0), (0.75, 0.96, 0.90, 1.0))
# ... and of either past-chin box at most: straight anime hair fills the temples of a tight crop
# too, and falls past the chin on one side or both (19 of 400 anime faces read as afros at 0.3
# on the barer side, 5 at this; 48 of DiceBear's 54 afros kept)
AFRO_PAST = 0.15
REACH = 16.0  # Lab distance at which a pixel takes about 60% of a colour's shift
LUT_STEP = 4  # RGB levels per cell of the match's table
MIN_APART = 10.0  # Lab distance under which the match tells the drawn hair from the skin by place only
HAIR_SHADES = 24.0  # Lab distance from a drawn hair's most common colour its other shades lie within


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2LAB)


def _box(lab: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The pixels of `box` in a row: (n, 3) of an image, (n,) of a mask."""
    h, w = lab.shape[:2]
    x0, x1, y0, y1 = box
    return lab[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].reshape(-1, *lab.shape[2:])


@dataclass(frozen=True)
class Palette:
    """Skin and hair in CIE Lab (L 0-100); `hair` None when the picture shows none."""

    skin: tuple[float, float, float]
    hair: tuple[float, float, float] | None

    @property
    def bald(self) -> bool:
        """The picture's head is bald: its hair colour is its skin's (`crop_palette`)."""
        return self.hair is not None and self.hair == self.skin

    def to_json(self) -> dict[str, list[float] | None]:
        return {"skin": [round(float(v), 2) for v in self.skin],
                "hair": None if self.hair is None else [round(float(v), 2) for v in self.hair]}

    @staticmethod
    def from_json(data: object) -> Palette:
        """ValueError (one line) unless `data` is {"skin": [L, a, b], "hair": [L, a, b] | null}."""
        def lab(v: object) -> tuple[float, float, float]:
            if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)
                    and np.isfinite(v).all()):
                raise ValueError(f"a colour must be three finite Lab numbers, not {v!r}")
            return float(v[0]), float(v[1]), float(v[2])

        if not isinstance(data, dict) or "skin" not in data:
            raise ValueError("a palette is {'skin': [L, a, b], 'hair': [L, a, b] or null}")
        hair = data.get("hair")
        return Palette(lab(data["skin"]), None if hair is None else lab(hair))


def dominant(pixels: np.ndarray, bin_size: float = 8.0) -> tuple[np.ndarray, int]:
    """The most common colour of (n, 3) Lab pixels and how many pixels are near it: the fullest
    cell of a coarse Lab grid, then the median of the pixels near it (a cartoon's flat skin, not
    the median of skin, eyes and lines)."""
    cells, counts = np.unique(np.floor(pixels / bin_size).astype(np.int32), axis=0, return_counts=True)
    centre = (cells[np.argmax(counts)] + 0.5) * bin_size
    near = pixels[np.linalg.norm(pixels - centre, axis=1) < bin_size * 1.5]
    return np.median(near, axis=0), len(near)


def _backgrounds(lab: np.ndarray) -> list[np.ndarray]:
    """What may be the colour around the head: the two top corners' median, and, when the corners
    differ, each one's own too (a tight crop's hair can fill one corner: black anime hair in the
    right corner made the median black, and the hair over the forehead background)."""
    corners = [_box(lab, b) for b in CORNER_BOXES]
    both = np.median(np.concatenate(corners), axis=0)
    own = [np.median(c, axis=0) for c in corners]
    return [both] if np.linalg.norm(own[0] - own[1]) <= APART else [both, *own]


def crop_palette(rgb: np.ndarray) -> Palette:
    """The `Palette` of an RGB uint8 aligned crop (module docstring); where the top corners
    differ, the reading (against their median or either one) that finds the most hair."""
    return _palette(_lab(rgb))


def _palette(lab: np.ndarray) -> Palette:
    skin = dominant(_box(lab, SKIN_BOX))[0]
    band = _box(lab, HAIR_BOX)
    skinlike = np.linalg.norm(band - skin, axis=1) <= SKIN_APART
    readings = []
    for background in _backgrounds(lab):
        shown = np.linalg.norm(band - background, axis=1) > APART
        hairlike = shown & ~skinlike
        readings.append((*(dominant(band[hairlike]) if hairlike.any() else (None, 0)), shown))
    best = max(readings, key=lambda r: r[1])  # the corners' median unless another finds hair
    hair, covers, shown = best if best[1] >= MIN_HAIR * len(band) else readings[0]
    if covers < MIN_HAIR * len(band):
        near = shown & skinlike
        hair = None
        if near.mean() >= BALD_SKIN:  # the skin's own fill is a bald head; a near colour is hair
            own = dominant(band[near])[0]
            hair = skin if np.linalg.norm(own - skin) <= BALD_SAME else own
    return Palette(tuple(float(v) for v in skin),  # type: ignore[arg-type]
                   None if hair is None else tuple(float(v) for v in hair))  # type: ignore[arg-type]


def drawn_palette(rgb: np.ndarray, outside: np.ndarray) -> Palette:
    """The `Palette` a generator draws in the RGB uint8 aligned crop `rgb`, where `outside`
    ((size, size) in [0, 1]) says where its face is not: `crop_palette`'s skin, and its hair as
    the median of the band's pixels outside the face within `HAIR_SHADES` of the most common hair
    colour (a generator shades its hair: anime 1069's reddish brown spread over two 8-level Lab
    cells, and the match centred on the fuller one moved the rest past the picture's hair). Where
    `crop_palette` finds no hair colour because the hair is shaded (no one colour covers a fifth
    of the band: a pink to orange sweep), the median of the band's pixels outside the face and
    off the background, when they cover a fifth of the band. A picture's hair is read without
    this: a hat or a sky lies outside its face too."""
    lab = _lab(rgb)
    palette = _palette(lab)
    band = _box(lab, HAIR_BOX)
    off_face = _box(outside, HAIR_BOX) > 0.5
    if palette.hair is None:
        hair = off_face & (np.linalg.norm(band - _backgrounds(lab)[0], axis=1) > APART)
    elif palette.bald:
        return palette
    else:
        hair = off_face & (np.linalg.norm(band - palette.hair, axis=1) < HAIR_SHADES)
    if hair.sum() < MIN_HAIR * len(band):
        return palette
    return Palette(palette.skin, tuple(float(v) for v in np.median(band[hair], axis=0)))  # type: ignore[arg-type]


def hair_length(rgb: np.ndarray, palette: Palette) -> str | None:
    """How far down the sides of an RGB uint8 aligned crop the picture's hair reaches: "long"
    (past the chin on both sides), "medium" (to the cheeks), "short", "afro" (a big round volume
    around the head: wide at the temples, down to the mouth, past the chin on neither side), or
    None when the picture shows no hair colour (or a bald head). Measured as the share of the
    hair's colour in side boxes (`HAIR_SIDES`, `AFRO_TEMPLES`, `PAST_CHIN`) on the side that has
    less of it (more of it past the chin)."""
    if palette.hair is None or palette.bald:
        return None
    lab, hair = _lab(rgb), np.array(palette.hair)

    def shares(boxes: tuple[tuple[float, float, float, float], ...]) -> list[float]:
        return [float((np.linalg.norm(_box(lab, b) - hair, axis=1) < HAIR_NEAR).mean()) for b in boxes]

    def least(boxes: tuple[tuple[float, float, float, float], ...]) -> float:
        return min(shares(boxes))

    low = least(HAIR_SIDES["long"])
    if ((low >= HAIR_SHARE or least(HAIR_SIDES["medium"]) >= HAIR_SHARE) and low >= AFRO_LOW
            and least(AFRO_TEMPLES) >= AFRO_WIDE and max(shares(PAST_CHIN)) < AFRO_PAST):
        return "afro"
    if low >= HAIR_SHARE:
        return "long"
    return "medium" if least(HAIR_SIDES["medium"]) >= HAIR_SHARE else "short"


class ColourMatch:
    """RGB uint8 -> RGB uint8 with `drawn`'s skin and hair moved to `wanted`'s (module docstring).
    The shift is a Gaussian radial-basis interpolation in Lab: exact at the drawn colours, a
    smooth blend between them, fading to nothing for colours far from both. A colour that
    either palette lacks (no hair) is not moved on its own; inside the face (where the caller
    says) only the skin moves. A drawn hair too close to the drawn skin to tell apart by colour
    (white hair over pale skin) is told apart by place: it moves to the wanted hair only outside
    the face, and not at all where the caller gives no face; with no skin colour beside it to
    hold the rest, its shift reaches only as far as `MIN_APART` (at `REACH` a white background
    took a quarter of a pink hair's shift)."""

    def __init__(self, drawn: Palette, wanted: Palette, reach: float = REACH):
        skin = (drawn.skin, wanted.skin)
        self.reach = reach
        # inside the face only the skin moves (a dark hair colour must not lighten the mouth)
        self._face = self._table([skin])
        self._hair: np.ndarray | None = None
        self._hair_by_place = False  # the hair table holds the hair alone: outside the face only
        if drawn.hair is not None and wanted.hair is not None:
            hair = (drawn.hair, wanted.hair)
            self._hair_by_place = bool(np.linalg.norm(np.subtract(drawn.hair, drawn.skin)) <= MIN_APART)
            self._hair = (self._table([hair], min(reach, MIN_APART)) if self._hair_by_place
                          else self._table([skin, hair]))

    def exact(self, rgb: np.ndarray, pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
              reach: float | None = None) -> np.ndarray:
        """The shift interpolated per pixel (what the tables in `__call__` stand for); `reach`
        the match's own unless given."""
        centres = np.array([p[0] for p in pairs], np.float32)  # (k, 3)
        scale = -1.0 / (2 * (self.reach if reach is None else reach) ** 2)

        def kernel(lab: np.ndarray) -> np.ndarray:
            return np.exp(((lab[..., None, :] - centres) ** 2).sum(-1) * scale)

        shifts = np.array([np.subtract(p[1], p[0]) for p in pairs], np.float64)
        weights = np.linalg.solve(kernel(centres), shifts).astype(np.float32)
        lab = _lab(rgb)
        lab += kernel(lab) @ weights
        return cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0

    def _table(self, pairs: list[tuple[tuple[float, ...], tuple[float, ...]]],
               reach: float | None = None) -> np.ndarray:
        """The shift (RGB levels) at the middle of every LUT_STEP-level RGB cell (~0.2 s)."""
        levels = np.arange(LUT_STEP / 2 - 0.5, 256, LUT_STEP, dtype=np.float32)
        grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 1, 3)
        return np.round(self.exact(grid, pairs, reach) - grid).reshape(-1, 3).astype(np.int16)

    def __call__(self, rgb: np.ndarray, outside: np.ndarray | None = None) -> np.ndarray:
        """`rgb` matched by table: the shift of each pixel's RGB cell added to it (1-2 ms at 144
        px on a slow 2-core machine, a third to a half of computing it per pixel; the shift is smooth, so
        the cells leave no banding: mean 0.5, at most 7 levels from `exact` on random colours).
        `outside` (h, w) in [0, 1] says where the hair may be (outside the face); None: anywhere."""
        q = rgb // LUT_STEP
        cells = 256 // LUT_STEP
        idx = (q[..., 0].astype(np.int32) * cells + q[..., 1]) * cells + q[..., 2]
        shift = self._face[idx]
        if self._hair is not None and not (outside is None and self._hair_by_place):
            hair = self._hair[idx]
            if outside is None:
                shift = hair
            else:  # shift + outside * (hair - shift), in 1/128 steps of int16 (no overflow)
                hair -= shift
                hair *= (outside * 128.0).astype(np.int16)[..., None]
                hair >>= 7
                shift += hair
        shift += rgb
        return shift.clip(0, 255).astype(np.uint8)
