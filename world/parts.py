"""Shared pieces of the world's creatures: the drawing context, surface textures, coat colouring, eyes,
tails and contact shadows. world/anatomy.py assembles them into the four body plans.

Textures and coat patterns are functions of *frame* coordinates (world/paint.py), so fur strands, scales
and stripes move with the body under any pose instead of sliding across it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from persona_lens.world.creatures import Breed, Mark, RenderParams
from persona_lens.world.paint import F32, Canvas, Grid, Light, Shape, blend, capsule, ellipse, smoothstep

RGB = tuple[float, float, float]

WHITE = (246.0, 243.0, 236.0)
INK = (22.0, 20.0, 20.0)


@dataclass
class DrawContext:
    """What every drawer needs: where to paint, the light, the texture map, and the subject."""

    canvas: Canvas
    shadow: Canvas
    light: Light
    tex: np.ndarray
    lw: float                    # outline width in frame units (about one output pixel)
    breed: Breed
    marks: tuple[Mark, ...]
    p: RenderParams

    def paint(self, shape: Shape | None, albedo: np.ndarray | RGB, *, textured: bool = True,
              line: float | None = None, gloss: float = 0.0, opacity: float = 1.0) -> None:
        """Paint `shape` under this picture's light, with the creature's texture and a one-pixel outline
        unless told otherwise."""
        self.canvas.paint(shape, albedo, self.light, texture=self.tex if textured else None,
                          line=self.lw if line is None else line, gloss=gloss, opacity=opacity)

    def marks_of(self, kind: str) -> list[Mark]:
        return [m for m in self.marks if m.kind == kind and m.opacity > 0]

    def pattern(self, kind: str) -> float:
        return self.breed.pattern.get(kind, 0.0)

    def col(self, name: str, factor: float = 1.0) -> RGB:
        return scale(self.breed.colours[name], factor)


def mix(a: RGB | tuple[float, float], b: RGB | tuple[float, float], t: float) -> tuple[float, ...]:
    """`a` moved towards `b` by t (colours or points)."""
    return tuple(x + (y - x) * t for x, y in zip(a, b))


def scale(colour: RGB, factor: float) -> RGB:
    return tuple(c * factor for c in colour)


# --- textures: multiplicative maps over the whole grid, in frame coordinates (they move with the body) --

def _value_noise(rng: np.random.Generator, grid: Grid, nx: int, ny: int,
                 span: float = 1.8) -> np.ndarray:
    """Bilinear value noise with nx×ny cells over [-span, span]² of the frame (unequal nx, ny make it
    streaky, like fur). PIL's affine resampling does the per-pixel work in C."""
    cells = Image.fromarray(rng.normal(size=(ny + 1, nx + 1)).astype(F32), "F")
    sx, sy = nx / (2 * span), ny / (2 * span)
    m = grid.pixel_to_frame
    # noise-cell coordinate = s * (frame coordinate + span), +0.5 because PIL samples pixel centres.
    data = (sx * m[0, 0], sx * m[0, 1], sx * (m[0, 2] + span) + 0.5,
            sy * m[1, 0], sy * m[1, 1], sy * (m[1, 2] + span) + 0.5)
    out = cells.transform((grid.width, grid.height), Image.Transform.AFFINE, data, Image.Resampling.BILINEAR)
    return np.asarray(out, F32)


def _scallops(grid: Grid, k: float) -> np.ndarray:
    """Overlapping arcs (scales, feathers) whose free edge faces the tail; k rows per frame unit."""
    row = np.floor(grid.Y * k)
    x = grid.X * k + 0.5 * (row % 2)
    cu = x - np.floor(x)
    cv = grid.Y * k - row
    d = np.sqrt((1.0 - cu) ** 2 + (cv - 0.5) ** 2 * 1.6)
    return 1.0 + 0.10 * (1.0 - d) - 0.28 * smoothstep(0.72, 0.95, d) * (d < 1.1)


def _fur(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    return 1.0 + 0.17 * _value_noise(rng, grid, 10, 90) + 0.06 * _value_noise(rng, grid, 30, 30)


def _feathers(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    return _scallops(grid, 9.0) * (1.0 + 0.05 * _value_noise(rng, grid, 40, 40))


def _scales(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    return _scallops(grid, 15.0) * (1.0 + 0.04 * _value_noise(rng, grid, 30, 30))


def _shell(grid: Grid, rng: np.random.Generator) -> np.ndarray:
    dots = _value_noise(rng, grid, 110, 110)
    return 1.0 - 0.22 * smoothstep(1.1, 1.6, dots) + 0.04 * _value_noise(rng, grid, 12, 12)


# One surface texture per creature kind.
TEXTURES: dict[str, Callable[[Grid, np.random.Generator], np.ndarray]] = {
    "cat": _fur, "bird": _feathers, "fish": _scales, "beetle": _shell}


# --- shared pieces -----------------------------------------------------------------------------------

def shadow(ctx: DrawContext, cx: float, cy: float, rx: float, ry: float) -> None:
    """A soft contact shadow, pushed away from the light."""
    sh = ellipse(ctx.canvas.grid, cx - ctx.light.x * 0.25, cy, rx, ry)
    if sh is not None:
        rr = sh.u ** 2 + sh.v ** 2
        a = ctx.shadow.alpha[sh.win]
        np.maximum(a, smoothstep(1.0, 0.2, np.sqrt(rr)), out=a)


def coat(ctx: DrawContext, shape: Shape, base: RGB, rx: float, ry: float,
          pattern: Callable[[np.ndarray, np.ndarray], np.ndarray] | None) -> np.ndarray:
    """Albedo of the main body: colour, lighter belly, the breed's pattern, then positional marks."""
    u, v = shape.u, shape.v
    alb = np.empty(u.shape + (3,), F32)
    alb[:] = base
    alb = blend(alb, ctx.col("belly"), 0.8 * smoothstep(0.3, 0.85, v))
    if pattern is not None:
        alb = blend(alb, ctx.col("pattern"), pattern(u, v))
    for m in ctx.marks_of("spot"):
        d = np.hypot((u - m.u) * rx, (v - m.v) * ry)
        alb = blend(alb, m.rgb, m.opacity * smoothstep(m.size, m.size * 0.8, d))
    for m in ctx.marks_of("stripe"):
        d = np.abs((u - m.u) * rx + 0.04 * np.sin(v * 3.0))
        alb = blend(alb, m.rgb, m.opacity * smoothstep(m.size / 2, m.size * 0.35, d) * (v < 0.55))
    return alb


def eye(ctx: DrawContext, x: float, y: float, r: float, iris: RGB, slit: bool = False) -> None:
    g = ctx.canvas.grid
    ctx.paint(ellipse(g, x, y, r, r * (0.78 if slit else 1.0)), iris, textured=False, gloss=0.6)
    ctx.paint(ellipse(g, x + r * 0.1, y, r * (0.22 if slit else 0.55), r * (0.72 if slit else 0.55)), INK,
              textured=False, line=0)
    ctx.paint(ellipse(g, x + r * 0.3, y - r * 0.3, r * 0.2, r * 0.2), WHITE, textured=False, line=0)


def tail_chain(ctx: DrawContext, x: float, y: float, angle: float, length: float, r0: float, r1: float,
               bend: float, albedo_at: Callable[[int, int], RGB], n: int = 6) -> None:
    """A tail as a chain of tapering tubes, bending by `bend` radians per segment.

    Drawn in two passes (a slightly fatter dark chain, then the coloured one without outlines) so the
    joints between segments do not show as beads.
    """
    g = ctx.canvas.grid
    step = length / n
    segments = []
    for i in range(n):
        nx, ny = x + step * math.cos(angle), y + step * math.sin(angle)
        segments.append((x, y, nx, ny, r0 + (r1 - r0) * i / n, r0 + (r1 - r0) * (i + 1) / n))
        x, y, angle = nx, ny, angle + bend
    for x0, y0, x1, y1, ra, rb in segments:
        ctx.paint(capsule(g, x0, y0, x1, y1, ra + ctx.lw, rb + ctx.lw), INK, textured=False, line=0)
    for i, (x0, y0, x1, y1, ra, rb) in enumerate(segments):
        ctx.paint(capsule(g, x0, y0, x1, y1, ra, rb), albedo_at(i, n), line=0)
