"""Backgrounds the world's subjects stand in front of: six kinds, each textured so it reads as a place.

The kinds are the `background` concepts of world/aspects.yaml (op `background`, `kind: ...`): the
renderer draws them for reference, gallery and generated images alike, so a background shift in a
simulated personalized model is the same drawing an encoder sees elsewhere in the world. Every
drawing is a pure function of (kind, size, rng): the caller passes an `rng_for(...)` generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

BACKGROUND_KINDS: tuple[str, ...] = ("meadow", "brick", "studio", "night", "beach", "wood")

# Where the ground meets the back of the scene, as a fraction of the height: subjects stand below it.
HORIZON: dict[str, float] = {"meadow": 0.38, "brick": 0.72, "studio": 0.62, "night": 0.70,
                             "beach": 0.52, "wood": 0.0}


def draw_background(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """A `size`×`size` RGB drawing of background `kind` (one of BACKGROUND_KINDS).

    Raises ValueError naming the kind if it is unknown.
    """
    if kind not in _DRAWERS:
        raise ValueError(f"unknown background kind {kind!r}; choose one of {list(BACKGROUND_KINDS)}")
    if size < 8:
        raise ValueError(f"background size must be >= 8 px, got {size}")
    return _DRAWERS[kind](size, rng)


def _vertical_gradient(size: int, top: tuple[float, ...], bottom: tuple[float, ...],
                       start: float = 0.0, stop: float = 1.0) -> np.ndarray:
    """A (size, size, 3) float image going from `top` at row fraction `start` to `bottom` at `stop`."""
    t = np.clip((np.linspace(0.0, 1.0, size, dtype=np.float32) - start) / max(stop - start, 1e-6), 0, 1)
    top_, bottom_ = np.asarray(top, np.float32)[None, :], np.asarray(bottom, np.float32)[None, :]
    col = top_ * (1 - t[:, None]) + bottom_ * t[:, None]
    return np.broadcast_to(col[:, None, :], (size, size, 3)).copy()


def _grain(size: int, rng: np.random.Generator, amount: float, cells: int | None = None) -> np.ndarray:
    """Multiplicative (size, size, 1) noise around 1: per-pixel, or smooth blotches with `cells` per side."""
    if cells is None:
        noise = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
    else:
        small = Image.fromarray(rng.normal(128, 40, (cells, cells)).clip(0, 255).astype(np.uint8))
        noise = (np.asarray(small.resize((size, size), Image.BICUBIC), np.float32) - 128) / 40
    return (1.0 + amount * noise)[..., None]


def _to_image(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _meadow(size: int, rng: np.random.Generator) -> Image.Image:
    """Pale sky over a green field, grass blades drawn one by one (darker and longer towards the front)."""
    horizon = int(size * HORIZON["meadow"])
    sky = _vertical_gradient(size, (120, 170, 230), (205, 225, 240), 0.0, HORIZON["meadow"])
    ground = _vertical_gradient(size, (110, 160, 70), (55, 110, 35), HORIZON["meadow"], 1.0)
    arr = np.where(np.arange(size)[:, None, None] < horizon, sky, ground * _grain(size, rng, 0.12, 12))
    img = _to_image(arr)
    draw = ImageDraw.Draw(img)
    # Distant tree line softens the horizon so the field does not read as a flat green band.
    for x in range(0, size, max(2, size // 40)):
        h = rng.uniform(0.02, 0.06) * size
        g = int(rng.uniform(70, 100))
        draw.ellipse([x - size * 0.04, horizon - h, x + size * 0.04, horizon + h * 0.3], fill=(40, g, 45))
    n_blades = size * 7
    ys = np.sort(rng.uniform(horizon, size * 1.05, n_blades))   # back to front: nearer blades on top
    for y in ys:
        depth = (y - horizon) / (size - horizon)                    # 0 at horizon, 1 at the bottom
        x = rng.uniform(0, size)
        length = (0.015 + 0.05 * depth) * size * rng.uniform(0.6, 1.4)
        lean = rng.normal(0.0, 0.35) * length
        shade = rng.uniform(0.55, 1.15)
        colour = (int(70 * shade), int(150 * shade * (0.8 + 0.3 * depth)), int(45 * shade))
        draw.line([(x, y), (x + lean, y - length)], fill=colour, width=1 if depth < 0.6 else 2)
    for _ in range(size // 10):                                       # a few flowers
        x, y = rng.uniform(0, size), rng.uniform(horizon + 4, size)
        r = 1 + (y - horizon) / size * 2.5
        petal = [(250, 250, 240), (250, 220, 60), (230, 120, 180)][int(rng.integers(3))]
        draw.ellipse([x - r, y - r, x + r, y + r], fill=petal)
    return img


def _brick(size: int, rng: np.random.Generator) -> Image.Image:
    """Courses of bricks in varied reds, offset by half a brick every other course, with mortar joints."""
    course = size / rng.uniform(9, 12)
    brick_w = course * rng.uniform(2.0, 2.6)
    mortar = max(1.0, course * 0.14)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    row = np.floor(ys / course)
    xo = xs + (row % 2) * brick_w * 0.5
    col = np.floor(xo / brick_w)
    # One colour per brick, from a hash of its (row, col) so neighbours differ.
    key = (row * 131 + col * 17 + 7).astype(np.int64) % 997
    table = rng.uniform(0.75, 1.15, (997, 3)).astype(np.float32) * np.array([1.0, 0.9, 0.85], np.float32)
    base = np.array([165, 72, 52], np.float32) * table[key]
    in_mortar = ((ys % course) < mortar) | ((xo % brick_w) < mortar)
    arr = np.where(in_mortar[..., None], np.array([190, 182, 165], np.float32), base)
    arr = arr * _grain(size, rng, 0.07) * _grain(size, rng, 0.08, 10)
    # Floor strip at the bottom so a subject has something to stand on.
    floor = int(size * HORIZON["brick"])
    pavement = _vertical_gradient(size, (120, 115, 110), (90, 85, 80)) * _grain(size, rng, 0.05)
    arr[floor:] = pavement[floor:]
    arr[floor:floor + max(1, size // 80)] *= 0.6
    return _to_image(arr)


def _studio(size: int, rng: np.random.Generator) -> Image.Image:
    """A photographer's paper sweep: one smooth tinted gradient, darker at the top and at the corners."""
    tint = np.array(rng.choice([(0.92, 0.93, 0.96), (0.96, 0.93, 0.88), (0.88, 0.92, 0.95),
                                (0.90, 0.90, 0.90)]), np.float32)
    light = rng.uniform(205, 235)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    # The sweep: a slow fall-off upwards and a brighter pool where the floor curves into the wall.
    sweep = 0.72 + 0.28 * np.exp(-((ys - HORIZON["studio"]) / 0.35) ** 2)
    corners = 1.0 - 0.35 * ((xs - 0.5) ** 2 + (ys - 0.55) ** 2)
    arr = light * (sweep * corners)[..., None] * tint[None, None, :]
    return _to_image(arr * _grain(size, rng, 0.012))


def _night(size: int, rng: np.random.Generator) -> Image.Image:
    """A dark blue sky with stars of varied brightness (a few with a glow), over a dark hill line."""
    arr = _vertical_gradient(size, (8, 10, 35), (30, 40, 85), 0.0, HORIZON["night"])
    img = _to_image(arr * _grain(size, rng, 0.03, 6))
    draw = ImageDraw.Draw(img)
    for _ in range(int(size * size / 90)):
        x, y = rng.uniform(0, size), rng.uniform(0, size * HORIZON["night"])
        b = int(rng.uniform(120, 255))
        draw.point((x, y), fill=(b, b, min(255, b + 20)))
    glow = Image.new("RGB", (size, size))
    gdraw = ImageDraw.Draw(glow)
    for _ in range(max(3, size // 25)):
        x, y = rng.uniform(0, size), rng.uniform(0, size * HORIZON["night"] * 0.9)
        r = rng.uniform(1.0, 2.2)
        gdraw.ellipse([x - r * 2.5, y - r * 2.5, x + r * 2.5, y + r * 2.5], fill=(70, 70, 110))
        gdraw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 240))
    img = Image.fromarray(np.maximum(np.asarray(img), np.asarray(glow.filter(ImageFilter.GaussianBlur(1)))))
    draw = ImageDraw.Draw(img)
    # Hills: a smooth random silhouette, so the subject stands on something.
    xs = np.linspace(0, size, 9)
    hs = size * (HORIZON["night"] + rng.uniform(-0.06, 0.04, 9))
    ridge = list(zip(np.arange(size), np.interp(np.arange(size), xs, hs)))
    draw.polygon([(0, size), *ridge, (size, size)], fill=(14, 18, 24))
    return img


def _beach(size: int, rng: np.random.Generator) -> Image.Image:
    """Sky, a band of sea with wave lines, then grainy sand with a wet darker strip at the waterline."""
    sea_top, sea_bottom = int(size * 0.34), int(size * HORIZON["beach"])
    arr = _vertical_gradient(size, (125, 185, 235), (215, 235, 245), 0.0, 0.34)
    sea = _vertical_gradient(size, (30, 90, 150), (60, 150, 175), 0.34, HORIZON["beach"])
    sand = _vertical_gradient(size, (215, 190, 140), (235, 215, 170), HORIZON["beach"], 1.0)
    rows = np.arange(size)[:, None, None]
    arr = np.where(rows >= sea_top, sea, arr)
    arr = np.where(rows >= sea_bottom, sand * _grain(size, rng, 0.06) * _grain(size, rng, 0.05, 14), arr)
    wet = (rows >= sea_bottom) & (rows < sea_bottom + size * 0.05)
    arr = np.where(wet, arr * 0.85, arr)
    img = _to_image(arr)
    draw = ImageDraw.Draw(img)
    for _ in range(size // 3):                                         # wave crests
        y = rng.uniform(sea_top + 2, sea_bottom - 1)
        x = rng.uniform(0, size)
        w = rng.uniform(0.03, 0.1) * size * (0.5 + (y - sea_top) / max(sea_bottom - sea_top, 1))
        draw.line([(x, y), (x + w, y)], fill=(200, 225, 240), width=1)
    draw.line([(0, sea_bottom), (size, sea_bottom)], fill=(240, 245, 245), width=max(1, size // 60))
    return img


def _wood(size: int, rng: np.random.Generator) -> Image.Image:
    """Horizontal floor planks seen from above: per-plank tone, wavy grain lines, dark gaps, a knot or two."""
    plank = size / rng.uniform(5, 7)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    idx = np.floor(ys / plank)
    tone = rng.uniform(0.8, 1.15, 64).astype(np.float32)[idx.astype(int) % 64]
    phase = rng.uniform(0, 2 * np.pi, 64).astype(np.float32)[idx.astype(int) % 64]
    # Grain: tight stripes along the plank, bent by a slow wave that differs per plank.
    bend = 3.0 * np.sin(xs / size * 2 * np.pi * 1.3 + phase)
    grain = 0.5 + 0.5 * np.sin((ys + bend) * (2 * np.pi / (plank / 5.5)) + phase * 3)
    base = np.array([160, 110, 65], np.float32) * tone[..., None]
    arr = base * (0.78 + 0.22 * grain[..., None]) * _grain(size, rng, 0.04)
    gap = (ys % plank) < max(1.0, plank * 0.06)
    # Plank ends: each plank row has a butt joint at its own offset.
    joint_x = rng.uniform(0, size, 64).astype(np.float32)[idx.astype(int) % 64]
    gap |= np.abs(xs - joint_x) < max(0.6, size / 220)
    arr = np.where(gap[..., None], np.array([55, 35, 20], np.float32), arr)
    img = _to_image(arr)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(1, 3))):
        x, y = rng.uniform(0, size), rng.uniform(0, size)
        r = rng.uniform(1.5, 3.5) * size / 160
        draw.ellipse([x - 1.8 * r, y - r, x + 1.8 * r, y + r], fill=(95, 60, 30), outline=(70, 45, 25))
    return img


_DRAWERS: dict[str, Callable[[int, np.random.Generator], Image.Image]] = {
    "meadow": _meadow, "brick": _brick, "studio": _studio, "night": _night, "beach": _beach, "wood": _wood,
}
