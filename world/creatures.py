"""The world's subjects: creature kinds, breeds in look-alike groups, individuals with marks, and posing.

Three levels, as in fine-grained benchmarks (CUB's similar warblers, pet breeds):
- a *category* (cat, bird, fish, beetle) fixes the anatomy (world/anatomy.py draws it);
- a *breed* (subclass) fixes proportions, colours and coat pattern; breeds of one look-alike *group*
  share a prototype and differ only a little (a hue step, slightly longer ears, one more stripe);
- an *individual* (instance) is its breed plus 2–3 small distinctive `Mark`s (a spot at a place, a
  stripe, an ear notch, a collar colour). Nothing else distinguishes two individuals of one breed.

Everything that varies per picture — pose, scale, position, background, light, fur noise — is in
`RenderParams`, sampled from a per-image generator, so the same params draw two individuals of one
breed identically except for their marks.
"""

from __future__ import annotations

import colorsys
import dataclasses
from dataclasses import dataclass

import numpy as np

from persona_lens.world.backgrounds import BACKGROUND_KINDS, HORIZON
from persona_lens.world.spec import rng_for

CATEGORIES: tuple[str, ...] = ("cat", "bird", "fish", "beetle")

# Proportions per category (frame units; one unit ≈ half a body length), scaled per group and breed.
BASE_SHAPE: dict[str, dict[str, float]] = {
    "cat": {"length": 0.60, "height": 0.27, "head": 0.23, "ear": 0.15, "limb": 0.40, "tail": 0.80,
            "snout": 0.45},
    "bird": {"length": 0.48, "height": 0.32, "head": 0.21, "ear": 0.10, "limb": 0.30, "tail": 0.50,
             "snout": 0.22},
    "fish": {"length": 0.72, "height": 0.36, "head": 0.30, "ear": 0.26, "limb": 0.20, "tail": 0.36,
             "snout": 0.10},
    "beetle": {"length": 0.55, "height": 0.42, "head": 0.14, "ear": 0.36, "limb": 0.34, "tail": 0.0,
               "snout": 0.26},
}

# Coat patterns each category can have; a group draws one, and its breeds keep it (look-alikes).
PATTERNS: dict[str, tuple[str, ...]] = {
    "cat": ("tabby", "spotted", "points", "bicolor", "plain"),
    "bird": ("wingbars", "breast_spots", "cap", "plain"),
    "fish": ("bands", "stripe", "spots", "plain"),
    "beetle": ("spots", "stripes", "border", "plain"),
}

# Natural base colours per category (HSV), one per group; more groups than entries get random hues.
PALETTES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "cat": ((0.07, 0.70, 0.90), (0.60, 0.10, 0.62), (0.08, 0.55, 0.48), (0.11, 0.30, 0.94),
            (0.00, 0.00, 0.25), (0.06, 0.35, 0.70)),
    "bird": ((0.60, 0.65, 0.85), (0.00, 0.75, 0.80), (0.14, 0.80, 0.95), (0.30, 0.60, 0.60),
             (0.07, 0.50, 0.55), (0.80, 0.40, 0.60)),
    "fish": ((0.07, 0.85, 0.98), (0.55, 0.70, 0.85), (0.15, 0.80, 0.95), (0.58, 0.12, 0.80),
             (0.95, 0.55, 0.85), (0.45, 0.60, 0.70)),
    "beetle": ((0.00, 0.85, 0.85), (0.35, 0.75, 0.55), (0.62, 0.70, 0.60), (0.12, 0.85, 0.90),
               (0.00, 0.00, 0.22), (0.78, 0.55, 0.55)),
}

# Colours a mark can have (named, so that the truth and captions can say "a white spot").
MARK_COLOURS: dict[str, tuple[int, int, int]] = {
    "white": (245, 244, 236), "black": (28, 26, 30), "red": (205, 40, 35), "gold": (240, 190, 40),
    "blue": (45, 95, 215), "teal": (25, 175, 160), "pink": (240, 135, 175), "orange": (245, 125, 30),
}

# Mark kinds per category. "spot" and "stripe" have a position on the body (u along, v across, in
# [-1, 1] of the body ellipse); the others sit on a fixed part (the front ear, the neck, the tail tip).
MARK_KINDS: dict[str, tuple[str, ...]] = {
    "cat": ("spot", "stripe", "notch", "collar", "tail_tip", "sock"),
    "bird": ("spot", "stripe", "leg_band", "eye_ring", "tail_tip"),
    "fish": ("spot", "stripe", "notch", "tail_tip"),
    "beetle": ("spot", "stripe", "pronotum_dot", "notch"),
}
POSITIONAL_MARKS = ("spot", "stripe")
# Where on the body a positional mark may sit: clear of the head and the legs, so it is always seen.
MARK_REGION: dict[str, tuple[float, float, float, float]] = {     # u_lo, u_hi, v_lo, v_hi
    "cat": (-0.70, 0.45, -0.65, 0.25), "bird": (-0.35, 0.55, -0.10, 0.60),
    "fish": (-0.55, 0.40, -0.55, 0.45), "beetle": (-0.75, 0.55, -0.70, 0.70),
}

RGB = tuple[float, float, float]


def hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return (r * 255.0, g * 255.0, b * 255.0)


@dataclass(frozen=True)
class Breed:
    """How every individual of one subclass looks: proportions, colours and a coat pattern.

    `pattern` maps pattern kinds to weights (one kind at 1.0 for a real breed; a mixture while a
    simulated identity drift morphs one breed into another).
    """

    category: str
    shape: dict[str, float]
    colours: dict[str, RGB]          # body, belly, pattern, accent (eyes, beak, nose), limb
    pattern: dict[str, float]
    pattern_freq: float              # stripes or spots per body length
    pattern_phase: float

    def blend(self, other: Breed, t: float) -> Breed:
        """This breed moved towards `other` by t in [0, 1] (t=1 draws `other`); same category only."""
        if other.category != self.category:
            raise ValueError(f"cannot blend a {self.category} breed with a {other.category} breed")
        mix = lambda a, b: a + (b - a) * t  # noqa: E731
        kinds = set(self.pattern) | set(other.pattern)
        return Breed(
            self.category,
            {k: mix(self.shape[k], other.shape[k]) for k in self.shape},
            {k: tuple(mix(a, b) for a, b in zip(self.colours[k], other.colours[k])) for k in self.colours},
            {k: mix(self.pattern.get(k, 0.0), other.pattern.get(k, 0.0)) for k in sorted(kinds)},
            mix(self.pattern_freq, other.pattern_freq),
            mix(self.pattern_phase, other.pattern_phase),
        )

    def to_json(self) -> dict:
        return {"category": self.category, "shape": {k: round(v, 4) for k, v in self.shape.items()},
                "colours": {k: [round(c) for c in v] for k, v in self.colours.items()},
                "pattern": {k: round(w, 3) for k, w in self.pattern.items() if w > 0},
                "pattern_freq": round(self.pattern_freq, 3)}


@dataclass(frozen=True)
class Mark:
    """One distinctive mark of an individual. `u`, `v` place positional marks on the body; `size` is
    a radius or width in frame units; `colour` a MARK_COLOURS name; `opacity` < 1 while it fades."""

    kind: str
    u: float
    v: float
    size: float
    colour: str
    opacity: float = 1.0

    @property
    def rgb(self) -> tuple[int, int, int]:
        return MARK_COLOURS[self.colour]

    def to_json(self) -> dict:
        out = {"kind": self.kind, "colour": self.colour, "size": round(self.size, 4)}
        if self.kind in POSITIONAL_MARKS:
            out["position"] = [round(self.u, 4), round(self.v, 4)]
        return out


def group_prototype(category: str, group: int, seed: int) -> Breed:
    """The breed look-alike group `group` of `category` is built around, for world seed `seed`.

    The groups of one category take distinct palette colours and, while there are enough, distinct
    coat patterns (in an order the seed shuffles), so that groups are easy to tell apart and only
    breeds within a group are look-alikes.
    """
    palette, patterns = PALETTES[category], PATTERNS[category]
    rng = rng_for(seed, "group", category, group)
    if group < len(palette):
        h, s, v = palette[int(rng_for(seed, "palette", category).permutation(len(palette))[group])]
    else:
        h, s, v = rng.uniform(0, 1), rng.uniform(0.4, 0.9), rng.uniform(0.5, 0.95)
    pattern_order = rng_for(seed, "patterns", category).permutation(len(patterns))
    kind = patterns[int(pattern_order[group % len(patterns)])]
    shape = {k: x * float(rng.uniform(0.85, 1.18)) for k, x in BASE_SHAPE[category].items()}
    return Breed(category, shape, _colours(category, h, s, v, rng), {kind: 1.0},
                 float(rng.uniform(4.0, 7.0)), float(rng.uniform(0, 2 * np.pi)))


def breed_in_group(proto: Breed, index: int, count: int, rng: np.random.Generator) -> Breed:
    """Breed `index` of `count` look-alikes around `proto`: a step of hue/shade, small shape changes,
    a slightly different pattern rhythm — close enough to confuse, far enough to tell apart."""
    # Spread the breeds evenly along a hue/value axis so no two look-alikes coincide by chance.
    step = (index - (count - 1) / 2) / max(count - 1, 1)
    body = colorsys.rgb_to_hsv(*(c / 255.0 for c in proto.colours["body"]))
    h = body[0] + 0.07 * step + rng.normal(0, 0.008)
    s = body[1] + 0.12 * step * (1 if body[1] > 0.2 else 0.3)
    v = body[2] - 0.14 * step
    shape = {k: x * float(rng.uniform(0.92, 1.08)) for k, x in proto.shape.items()}
    colours = _colours(proto.category, h, s, v, rng)
    colours["accent"] = proto.colours["accent"]
    return Breed(proto.category, shape, colours, dict(proto.pattern),
                 proto.pattern_freq * float(rng.uniform(0.8, 1.25)),
                 proto.pattern_phase + float(rng.normal(0, 0.6)))


def _colours(category: str, h: float, s: float, v: float, rng: np.random.Generator) -> dict[str, RGB]:
    # The pattern is a darker shade on a light coat, a lighter one on a dark coat.
    light_coat = v > 0.35
    return {
        "body": hsv(h, s, v),
        "belly": hsv(h, s * 0.35, min(1.0, v * 1.25 + 0.15)),
        "pattern": hsv(h + rng.normal(0, 0.02), min(1.0, s * 1.1 + 0.1), v * 0.45 if light_coat else v + 0.45),
        "accent": {"cat": hsv(rng.uniform(0.12, 0.3), 0.8, 0.85),
                   "bird": hsv(rng.uniform(0.05, 0.14), 0.8, 0.95),
                   "fish": hsv(0.15, 0.2, 0.95), "beetle": hsv(0, 0, 0.12)}[category],
        "limb": {"cat": hsv(h, s, v), "bird": hsv(0.06, 0.45, 0.55), "fish": hsv(h + 0.03, s * 0.9, v * 0.9),
                 "beetle": hsv(0, 0, 0.10)}[category],
    }


def make_marks(category: str, body: RGB, rng: np.random.Generator) -> tuple[Mark, ...]:
    """An individual's 2–3 marks: always a spot (so every individual has a mark that can move), plus
    one or two other kinds, in colours that stand out from the body."""
    u0, u1, v0, v1 = MARK_REGION[category]
    others = [k for k in MARK_KINDS[category] if k != "spot"]
    kinds = ["spot", *rng.choice(others, size=int(rng.integers(1, 3)), replace=False)]
    visible = [name for name, c in MARK_COLOURS.items() if np.abs(np.subtract(c, body)).sum() > 180]
    marks = []
    for kind in kinds:
        # A radius (spot), a width (stripe), or a relative size for marks on a fixed part.
        lo, hi = {"spot": (0.08, 0.13), "stripe": (0.05, 0.08)}.get(str(kind), (0.6, 1.0))
        size = rng.uniform(lo, hi)
        marks.append(Mark(str(kind), float(rng.uniform(u0, u1)), float(rng.uniform(v0, v1)), float(size),
                          str(rng.choice(visible))))
    return tuple(marks)


@dataclass(frozen=True)
class RenderParams:
    """Everything about one picture of a subject that is not the subject itself."""

    background: str
    facing: int                 # +1 head to the right, -1 to the left
    rotation: float             # degrees, counter-clockwise on screen
    scale: float                # fraction of the image width spanned by two frame units
    x: float                    # centre of the creature, fractions of the image
    y: float
    stride: float               # leg swing / wing and fin angle in [-1, 1]
    head_tilt: float            # radians
    tail_curve: float           # in [-1, 1]
    light_azimuth: float        # degrees; where the light comes from on screen (90 = from the top)
    light_elevation: float      # degrees above the image plane
    brightness: float
    noise_seed: int             # fur/scale noise and the background's own randomness

    def to_json(self) -> dict:
        """The parameters grouped as the world_images truth table documents them."""
        r = lambda x: round(float(x), 4)  # noqa: E731
        return {"background": self.background,
                "pose": {"facing": "right" if self.facing > 0 else "left", "rotation": r(self.rotation),
                         "stride": r(self.stride), "head_tilt": r(self.head_tilt),
                         "tail_curve": r(self.tail_curve)},
                "scale": r(self.scale), "position": [r(self.x), r(self.y)],
                "lighting": {"azimuth": r(self.light_azimuth), "elevation": r(self.light_elevation),
                             "brightness": r(self.brightness)},
                "noise_seed": self.noise_seed}

    def replace(self, **changes) -> RenderParams:
        return dataclasses.replace(self, **changes)


def sample_params(category: str, rng: np.random.Generator, background: str | None = None) -> RenderParams:
    """Random pose, framing, background and light for one picture of a `category` creature.

    Raises ValueError naming the category or background if either is unknown.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown creature category {category!r}; choose one of {list(CATEGORIES)}")
    if background is not None and background not in BACKGROUND_KINDS:
        raise ValueError(f"unknown background kind {background!r}; choose one of {list(BACKGROUND_KINDS)}")
    scale = float(rng.uniform(0.56, 0.80))
    bg = background or str(rng.choice(BACKGROUND_KINDS))
    if category == "fish":
        # A fish floats: anywhere around the middle.
        y = 0.5 + rng.uniform(-1, 1) * (1 - scale) * 0.25
    else:
        # The others stand on the ground, below the background's horizon (a beetle, seen from above,
        # stands on whatever fills the middle of the picture).
        y_lo = 0.5 if category == "beetle" else max(0.5, HORIZON[bg] + scale * 0.25)
        y = min(rng.uniform(y_lo, y_lo + 0.08), 0.62)
    return RenderParams(
        background=bg,
        facing=int(rng.choice([-1, 1])),
        rotation=float(rng.uniform(-14, 14)),
        scale=scale,
        x=float(0.5 + rng.uniform(-1, 1) * (1 - scale) * 0.28),
        y=float(y),
        stride=float(rng.uniform(-1, 1)),
        head_tilt=float(rng.uniform(-0.25, 0.25)),
        tail_curve=float(rng.uniform(-1, 1)),
        light_azimuth=float(rng.uniform(30, 150)),
        light_elevation=float(rng.uniform(35, 70)),
        brightness=float(rng.uniform(0.85, 1.12)),
        noise_seed=int(rng.integers(0, 2**31 - 1)),
    )
