"""What every part drawing gets: the painter, where the head and body are, the character's data
and the pose. Parts think in head units (face width 1, origin between the eyes, +y down); the
scene turns them into pixels through the 2.5D head (`Head3D`) and the placement (`Pose2D`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from avatar_cam.character.geometry import Head3D, apply
from avatar_cam.character.painter import RGBA, Paint, Painter, Path, Radial, Solid
from avatar_cam.character.params import Pose

RGB = tuple[int, int, int]
HIDING_LINE = 1.5  # pixels: a line at least this wide hides the steps of an aliased edge under it


@functools.lru_cache(maxsize=512)
def shade(c: RGB, f: float) -> RGB:
    """`c` darker (f < 1) or towards white (f > 1)."""
    if f <= 1:
        return tuple(int(round(v * f)) for v in c)  # type: ignore[return-value]
    return tuple(int(round(v + (255 - v) * (f - 1))) for v in c)  # type: ignore[return-value]


def rgba(c: RGB, a: int = 255) -> RGBA:
    return (c[0], c[1], c[2], a)


@functools.lru_cache(maxsize=512)
def solid(c: RGB, a: int = 255) -> Solid:
    """The paint of colour `c` at alpha `a`, made once (a frame paints ~40 shapes in a few colours)."""
    return Solid(rgba(c, a))


def split_points(points: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """`points` cut into consecutive pieces of `sizes` (np.split costs ~25 us a call here)."""
    out, start = [], 0
    for n in sizes:
        out.append(points[start:start + n])
        start += n
    return out


@dataclass
class Scene:
    painter: Painter
    parts: dict[str, dict]  # the character file's sections, colours as RGB tuples
    pose: Pose
    head: Head3D
    head_m: np.ndarray  # 2x3: turned head units -> pixels (placement and roll)
    body_m: np.ndarray  # 2x3: body units (same scale, upright) -> pixels
    scale: float  # pixels per head unit
    breath: float  # -1..1
    mouth: np.ndarray | None = None  # a measured lip shape (`Calibration.mouth`), else None
    floor: float = 0.0  # body units from the shoulders down to past the picture's bottom edge
    # the demo clip's person, a camera's stand-in: drawn without what is done for the avatars (the
    # near eye's make-up for a tracker, `face_parts.NEAR_EYE_MAKEUP`; flat irises; aliased edges
    # under lines, `aliased_under`), so the motion check's input stays the same when they change
    stand_in: bool = False
    memo: dict = field(default_factory=dict)  # shapes several parts share within this frame

    def __post_init__(self) -> None:
        a, b = self.head.linear()
        m2 = self.head_m[:, :2].T
        # (x, y, depth, 1) -> pixels: `Head3D.linear` and the placement as one matrix
        self._face = np.concatenate([a @ m2, (b @ m2)[None], self.head_m[:, 2][None]])

    # -- coordinates ------------------------------------------------------------------------------
    def face(self, pts: np.ndarray, lift: float | np.ndarray = 0.0, surface: float = 1.0) -> np.ndarray:
        """Points on the face surface (turned with depth) to pixels: `Head3D.linear` and the
        placement as one matrix product, the depth written straight into its column."""
        xyz1 = np.empty((len(pts), 4))
        xyz1[:, :2] = pts
        if surface:
            self.head.depth(pts, surface, out=xyz1[:, 2])
        else:  # off the curve
            xyz1[:, 2] = 0.0
        if not isinstance(lift, float | int) or lift:
            xyz1[:, 2] += lift
        xyz1[:, 3] = 1.0
        return xyz1 @ self._face

    def faces(self, shapes: list[np.ndarray], lift: float | Sequence[float] = 0.0) -> list[np.ndarray]:
        """`face` of several shapes in one transform (each numpy call costs more than its few
        points here; a part with many shapes maps them together); `lift` is one for all or one
        per shape."""
        sizes = [len(p) for p in shapes]
        z = lift if isinstance(lift, float | int) else np.repeat(np.asarray(lift, np.float64), sizes)
        return split_points(self.face(np.concatenate(shapes), z), sizes)

    def flat(self, pts: np.ndarray, depth: float) -> np.ndarray:
        """A part drawn flat that slides with the head as a point `depth` in front of its axis
        (negative: behind, so it moves the other way)."""
        return apply(self.head_m, pts + self.head.shift(depth))

    def draped_all(self, shapes: list[np.ndarray]) -> list[np.ndarray]:
        """`draped` of several shapes in one transform (as `faces`)."""
        return split_points(self.draped(np.concatenate(shapes)), [len(p) for p in shapes])

    def draped(self, pts: np.ndarray, base: float = 0.1, gain: float = 0.6) -> np.ndarray:
        """Points lying over the skull (hair, hats): each slides by its own depth on the head, not
        foreshortened, so a fringe moves with the face and the crown less."""
        d = base + gain * self.head.depth(pts)
        return apply(self.head_m, pts + d[:, None] * self.head.shift(1.0))

    def anchored(self, pts: np.ndarray, anchor: tuple[float, float], z: float) -> np.ndarray:
        """A part fixed to the head at `anchor` and depth `z` (ears: on the sides, z ~ 0): it
        moves as that point does when the head turns, so both ears swing round, the far one
        behind the head."""
        return apply(self.head_m, pts + self.anchor_shift(anchor, z))

    def anchor_shift(self, anchor: tuple[float, float], z: float) -> tuple[float, float]:
        """How far (head units) the turn moves `anchor` at depth `z` (`anchored`)."""
        x, y = self.head.turn_point(anchor[0], anchor[1], lift=z, surface=0.0)
        return x - anchor[0], y - anchor[1]

    def body(self, pts: np.ndarray) -> np.ndarray:
        return apply(self.body_m, pts)

    def px(self, head_units: float) -> float:
        return head_units * self.scale

    # -- paint ------------------------------------------------------------------------------------
    def colour(self, section: str, key: str = "colour") -> RGB:
        return self.parts[section][key]

    def fill(self, path: Path, paint: Paint | RGB, aa: bool = True) -> None:
        """`aa=False`: a fill whose edge another part's line or fill covers (`Painter.fill`)."""
        self.painter.fill(path, paint if not isinstance(paint, tuple) else solid(paint), aa)

    def _hides_steps(self, width_units: float) -> bool:
        """Whether a line `width_units` wide hides the steps of an aliased edge under it."""
        return width_units * self.scale >= HIDING_LINE

    def aliased_under(self, width_units: float) -> bool:
        """Whether a fill or a clip whose edge a line `width_units` wide then covers can be drawn
        without anti-aliasing, the line hiding its steps (a quarter of the cost of a fill; drawing
        through an aliased clip costs less too). Not on the stand-in: its picture stays as it was
        first drawn (`outlined` shapes were aliased before it existed, on the stand-in too)."""
        return not self.stand_in and self._hides_steps(width_units)

    def outlined(self, path: Path, colour: RGB, line: RGB, width_units: float) -> None:
        """A closed shape with an outline: the fill's edge lies under the line, so it is drawn
        without anti-aliasing (a quarter of the cost; the line carries the smooth edge)."""
        self.fill(path, colour, aa=not self._hides_steps(width_units))
        self.stroke(path, line, width_units, closed=True)

    def stroke(self, path: Path, colour: RGB, width_units: float, closed: bool = False,
               alpha: int = 255) -> None:
        self.painter.stroke(path, solid(colour, alpha), self.px(width_units), closed)

    def glow(self, centre: np.ndarray, radius_units: float, c0: RGB, c1: RGB, a0: int = 255,
             a1: int = 255) -> Radial:
        """A radial gradient from `c0` (alpha `a0`) at `centre` (pixels) to `c1` at the radius."""
        return Radial((float(centre[0]), float(centre[1])), self.px(radius_units),
                      (rgba(c0, a0), rgba(c1, a1)))

    def tint(self, path: Path, colour: RGB, alpha: int) -> None:
        """Fill with a see-through colour."""
        self.painter.fill(path, solid(colour, alpha))

    @property
    def outline(self) -> RGB:
        """The line colour: a deep shade of the skin, as flat avatar art does."""
        return shade(self.parts["face"]["skin"], 0.42)
