"""The things a scene holds: object kinds, their colours, sizes and textures, and how each is drawn.

`SceneObject` is one placed object (what world_objects rows hold); scenes.py places them, viewers.py
looks at them.

Every kind is drawn from a few shaded parts inside its box (u, v in [0, 1] of the box), so a cup has
a rim, coffee and a handle and a cat has ears and a tail: pictures of things that a captioner can
name, not blobs. The object's colour and texture go on its main parts; fixed parts (a lamp's metal
pole, a plant's leaves, a clock's face) keep their own colours, as real ones do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from persona_lens.world.scene_painter import Look, Painter, Rect

# Named colours (the truth the captions' colour words refer to), as 0–255 RGB.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 40, 40), "orange": (236, 132, 30), "yellow": (236, 204, 46), "green": (60, 150, 70),
    "blue": (45, 90, 200), "purple": (128, 60, 160), "pink": (236, 130, 170), "brown": (120, 74, 40),
    "white": (236, 234, 228), "black": (40, 40, 44),
}
SIZES: dict[str, float] = {"small": 0.22, "medium": 0.30, "large": 0.38}   # box height / image height
OBJECT_TEXTURES = ("plain", "plain", "striped", "dotted", "checked")       # plain twice: most things are


@dataclass(frozen=True)
class Box:
    """An object's box on the canvas, in canvas pixels."""

    left: float
    top: float
    w: float
    h: float

    def at(self, u: float, v: float) -> tuple[float, float]:
        return self.left + u * self.w, self.top + v * self.h

    def sub(self, u0: float, v0: float, u1: float, v1: float) -> Rect:
        return (self.left + u0 * self.w, self.top + v0 * self.h, self.left + u1 * self.w, self.top + v1 * self.h)

    def poly(self, *uv: tuple[float, float]) -> list[tuple[float, float]]:
        return [self.at(u, v) for u, v in uv]


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene; box centre x, y and size w, h are fractions of the image side."""

    object_id: str
    kind: str
    color: str
    size: str
    texture: str
    x: float
    y: float
    w: float
    h: float
    depth: int              # painting order: 0 is furthest back

    def attributes(self) -> dict:
        return {"color": self.color, "rgb": list(COLORS[self.color]), "size": self.size,
                "texture": self.texture, "depth": self.depth}


Draw = Callable[[Painter, Box, Look, np.random.Generator], None]

METAL = Look((0.36, 0.36, 0.40), shading="cylinder")
DARK = Look((0.12, 0.12, 0.14), outline=False)
CREAM = Look((0.95, 0.92, 0.82))
LEAF = Look((0.22, 0.52, 0.22), shading="cylinder")


def _ball(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.ellipse(b.sub(0, 0, 1, 1), look.shaded("round"))
    seam = look.plain().scaled(0.6)
    p.arc(b.sub(0.24, 0.02, 0.76, 0.98), -90, 90, 0.03 * b.w, seam)     # a meridian and an equator:
    p.arc(b.sub(0.02, 0.36, 0.98, 0.64), 0, 180, 0.03 * b.w, seam)      # it reads as a ball, not a disc


def _cup(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.arc(b.sub(0.56, 0.3, 0.98, 0.76), -90, 90, 0.1 * b.w, look.plain().shaded("flat"))   # handle
    p.polygon(b.poly((0.06, 0.2), (0.74, 0.2), (0.66, 0.95), (0.14, 0.95)), look.shaded("cylinder"))
    p.ellipse(b.sub(0.14, 0.9, 0.66, 1.0), look.shaded("cylinder"))
    p.ellipse(b.sub(0.06, 0.1, 0.74, 0.3), look.plain().scaled(1.15))
    p.ellipse(b.sub(0.11, 0.13, 0.69, 0.27), Look((0.33, 0.2, 0.12), outline=False))      # coffee


def _lamp(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.ellipse(b.sub(0.2, 0.9, 0.8, 1.0), METAL.shaded("round"))
    p.rect(b.sub(0.46, 0.38, 0.54, 0.95), METAL)
    p.ellipse(b.sub(0.36, 0.34, 0.64, 0.5), Look((1.0, 0.95, 0.62), outline=False))      # glowing bulb
    p.polygon(b.poly((0.28, 0.02), (0.72, 0.02), (0.98, 0.42), (0.02, 0.42)), look.shaded("cylinder"))


def _book(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.polygon(b.poly((0.0, 0.1), (0.14, 0.0), (1.0, 0.0), (0.86, 0.1)), CREAM)            # page edges
    p.polygon(b.poly((0.86, 0.1), (1.0, 0.0), (1.0, 0.9), (0.86, 1.0)), look.plain().scaled(0.7))
    p.rect(b.sub(0.0, 0.1, 0.86, 1.0), look.shaded("flat"))                                # front cover
    p.rect(b.sub(0.03, 0.1, 0.1, 1.0), look.plain().scaled(0.65))                         # hinge
    p.rect(b.sub(0.2, 0.26, 0.72, 0.42), CREAM)                                            # title label
    for v in (0.3, 0.36):
        p.rect(b.sub(0.27, v, 0.65, v + 0.025), DARK)


def _plant(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    base = b.at(0.5, 0.58)
    tips = []
    for _ in range(int(rng.integers(5, 8))):
        angle = rng.uniform(-2.5, -0.64)                    # radians, upwards (y points down)
        length = rng.uniform(0.35, 0.55)
        tip = (base[0] + math.cos(angle) * length * b.w * 0.9, base[1] + math.sin(angle) * length * b.h)
        tips.append(tip)
        p.polygon(_leaf(base, tip, 0.09 * b.w), LEAF.scaled(rng.uniform(0.85, 1.15)))
    for tip in tips[: int(rng.integers(2, 4))]:             # flowers in the object's colour
        r = 0.07 * b.w
        p.ellipse((tip[0] - r, tip[1] - r, tip[0] + r, tip[1] + r), look.plain().shaded("round"))
    p.rect(b.sub(0.16, 0.56, 0.84, 0.66), look.shaded("cylinder"), radius=0.02 * b.w)     # pot rim
    p.polygon(b.poly((0.2, 0.66), (0.8, 0.66), (0.7, 1.0), (0.3, 1.0)), look.shaded("cylinder"))


def _leaf(base: tuple[float, float], tip: tuple[float, float], width: float) -> list[tuple[float, float]]:
    """A lens-shaped leaf from `base` to `tip`, `width` pixels at its widest."""
    dx, dy = tip[0] - base[0], tip[1] - base[1]
    n = math.hypot(dx, dy) or 1.0
    nx, ny = -dy / n, dx / n
    side = [(t, math.sin(math.pi * t) * width / 2) for t in np.linspace(0, 1, 9)]
    left = [(base[0] + dx * t + nx * w, base[1] + dy * t + ny * w) for t, w in side]
    right = [(base[0] + dx * t - nx * w, base[1] + dy * t - ny * w) for t, w in reversed(side)]
    return left + right


def _hat(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.ellipse(b.sub(0.0, 0.72, 1.0, 1.0), look.shaded("flat"))                             # brim
    p.rect(b.sub(0.2, 0.04, 0.8, 0.9), look.shaded("cylinder"), radius=0.14 * b.w)        # crown
    band = DARK if sum(look.rgb) > 1.2 else Look((0.92, 0.9, 0.85))
    p.rect(b.sub(0.2, 0.6, 0.8, 0.74), band.shaded("cylinder"))


def _clock(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    for u in (0.12, 0.7):                                                                    # feet
        p.ellipse(b.sub(u, 0.88, u + 0.18, 1.0), METAL.shaded("round"))
    for u in (0.06, 0.64):                                                                   # bells
        p.ellipse(b.sub(u, 0.0, u + 0.3, 0.24), look.plain().shaded("round"))
    p.ellipse(b.sub(0.02, 0.08, 0.98, 0.96), look.shaded("round"))
    p.ellipse(b.sub(0.14, 0.2, 0.86, 0.84), Look((0.97, 0.96, 0.92)))                       # face
    cx, cy = b.at(0.5, 0.52)
    rx, ry = 0.36 * b.w, 0.32 * b.h
    for k in range(12):
        a = 2 * math.pi * k / 12
        p.stroke([(cx + 0.78 * rx * math.cos(a), cy + 0.78 * ry * math.sin(a)),
                  (cx + 0.92 * rx * math.cos(a), cy + 0.92 * ry * math.sin(a))], 0.02 * b.w, DARK)
    for length, width in ((0.5, 0.045), (0.8, 0.03)):                                       # hands
        a = rng.uniform(0, 2 * math.pi)
        p.stroke([(cx, cy), (cx + length * rx * math.cos(a), cy + length * ry * math.sin(a))], width * b.w, DARK)


def _bottle(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.rect(b.sub(0.34, 0.06, 0.66, 0.34), look.plain().shaded("cylinder"))                  # neck
    p.ellipse(b.sub(0.06, 0.24, 0.94, 0.52), look.plain().shaded("cylinder"))              # shoulder
    p.rect(b.sub(0.06, 0.38, 0.94, 1.0), look.shaded("cylinder"), radius=0.16 * b.w)
    p.rect(b.sub(0.06, 0.6, 0.94, 0.8), CREAM.shaded("cylinder"))                           # label
    p.rect(b.sub(0.3, 0.0, 0.7, 0.1), METAL, radius=0.05 * b.w)                             # cap


def _chair(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    frame = look.plain().scaled(0.85)
    for u in (0.22, 0.72):                                                                   # back legs
        p.rect(b.sub(u, 0.6, u + 0.06, 0.9), frame.scaled(0.75))
    for u in (0.12, 0.8):                                                                    # back posts
        p.rect(b.sub(u, 0.0, u + 0.08, 0.56), frame.shaded("cylinder"))
    p.rect(b.sub(0.2, 0.04, 0.8, 0.36), look.shaded("flat"), radius=0.04 * b.w)             # back rest
    p.polygon(b.poly((0.06, 0.52), (0.94, 0.52), (1.0, 0.64), (0.0, 0.64)), look.shaded("flat"))
    for u in (0.03, 0.89):                                                                   # front legs
        p.rect(b.sub(u, 0.64, u + 0.08, 1.0), frame.shaded("cylinder"))


def _vase(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    belly = rng.uniform(0.55, 0.75)                          # where the vase is widest
    vs = np.linspace(0.06, 1.0, 24)
    half = 0.16 + 0.32 * np.exp(-((vs - belly) / 0.3) ** 2) + 0.1 * np.exp(-((vs - 0.06) / 0.05) ** 2)
    right = [(0.5 + float(w), float(v)) for v, w in zip(vs, half)]
    left = [(0.5 - float(w), float(v)) for v, w in zip(vs[::-1], half[::-1])]
    p.polygon(b.poly(*right, *left), look.shaded("cylinder"))
    top = float(half[0])
    p.ellipse(b.sub(0.5 - top, 0.02, 0.5 + top, 0.1), look.plain().scaled(0.45))          # the opening


def _cat(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    p.stroke(b.poly((0.2, 0.92), (0.04, 0.8), (0.02, 0.55), (0.1, 0.4)), 0.09 * b.w, look.shaded("flat"))
    p.ellipse(b.sub(0.08, 0.38, 0.74, 1.0), look.shaded("round"))                           # body
    for u in (0.36, 0.52):                                                                   # front paws
        p.rect(b.sub(u, 0.72, u + 0.12, 1.0), look.shaded("cylinder"), radius=0.05 * b.w)
    p.polygon(b.poly((0.48, 0.24), (0.52, 0.0), (0.66, 0.14)), look.plain().scaled(0.9))  # ears
    p.polygon(b.poly((0.74, 0.14), (0.88, 0.0), (0.92, 0.24)), look.plain().scaled(0.9))
    p.ellipse(b.sub(0.44, 0.08, 0.96, 0.52), look.shaded("round"))                          # head
    eye = Look((0.25, 0.6, 0.2) if sum(look.rgb) < 1.0 else (0.1, 0.1, 0.1), outline=False)
    for u in (0.58, 0.76):
        p.ellipse(b.sub(u, 0.22, u + 0.07, 0.3), eye)
    p.polygon(b.poly((0.66, 0.34), (0.74, 0.34), (0.7, 0.38)), Look((0.9, 0.5, 0.55), outline=False))
    for dv in (-0.03, 0.02):                                                                 # whiskers
        p.stroke(b.poly((0.72, 0.37), (1.0, 0.37 + dv * 2)), 0.008 * b.w, DARK)


def _bird(p: Painter, b: Box, look: Look, rng: np.random.Generator) -> None:
    leg = Look((0.55, 0.35, 0.15), outline=False)
    p.stroke(b.poly((0.44, 0.78), (0.42, 1.0)), 0.03 * b.w, leg)
    p.stroke(b.poly((0.56, 0.78), (0.57, 1.0)), 0.03 * b.w, leg)
    p.polygon(b.poly((0.0, 0.48), (0.28, 0.56), (0.28, 0.74), (0.02, 0.7)), look.plain().scaled(0.7))
    p.ellipse(b.sub(0.12, 0.34, 0.8, 0.86), look.shaded("round"))                           # body
    p.ellipse(b.sub(0.52, 0.08, 0.9, 0.5), look.shaded("round"))                            # head
    p.polygon(b.poly((0.24, 0.52), (0.6, 0.5), (0.56, 0.74), (0.3, 0.72)), look.plain().scaled(0.72))
    beak = (0.3, 0.3, 0.32) if look.rgb[0] > 0.7 and look.rgb[1] > 0.4 else (0.95, 0.7, 0.15)
    p.polygon(b.poly((0.87, 0.24), (1.0, 0.3), (0.87, 0.36)), Look(beak))
    p.ellipse(b.sub(0.72, 0.2, 0.79, 0.28), DARK)


@dataclass(frozen=True)
class Kind:
    """An object kind: box width/height ratio, typical height (1 = average), and how to draw it."""

    name: str
    aspect: float
    scale: float
    draw: Draw


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("ball", 1.0, 0.7, _ball), Kind("cup", 1.1, 0.62, _cup), Kind("lamp", 0.62, 1.15, _lamp),
    Kind("book", 0.72, 0.9, _book), Kind("plant", 0.8, 1.05, _plant), Kind("hat", 1.35, 0.62, _hat),
    Kind("clock", 0.95, 0.78, _clock), Kind("bottle", 0.4, 0.98, _bottle), Kind("chair", 0.75, 1.2, _chair),
    Kind("vase", 0.58, 0.92, _vase), Kind("cat", 0.95, 0.9, _cat), Kind("bird", 1.05, 0.62, _bird),
)}
