"""Drawing primitives for scene images: shaded, textured, outlined shapes on a textured surface.

A scene is painted on a float RGB canvas at `SUPERSAMPLE` times the output size and downsampled once
at the end: PIL's ImageDraw only draws hard-edged masks, and the downsampling anti-aliases every edge
for free. Each shape is a mask (drawn by PIL) filled with a colour that is shaded from the scene's
light direction, optionally patterned, and outlined, so that objects read as solid things, not flat
stickers. Everything is a pure function of its arguments and the generator passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SUPERSAMPLE = 2
SHADINGS = ("flat", "round", "cylinder")
TEXTURES = ("plain", "striped", "dotted", "checked")
SETTINGS = ("table", "lawn", "patio")

RGB = tuple[float, float, float]           # each channel in [0, 1]
Rect = tuple[float, float, float, float]   # x0, y0, x1, y1 in canvas pixels


@dataclass(frozen=True)
class Look:
    """How a shape is filled: base colour, shading model, surface pattern."""

    rgb: RGB
    shading: str = "flat"
    texture: str = "plain"
    outline: bool = True

    def shaded(self, shading: str) -> Look:
        return replace(self, shading=shading)

    def scaled(self, factor: float) -> Look:
        """The same look, darker (< 1) or lighter (> 1): for rims, spines, insides."""
        return replace(self, rgb=tuple(float(min(1.0, c * factor)) for c in self.rgb))

    def plain(self) -> Look:
        return replace(self, texture="plain")


def accent_of(rgb: RGB) -> RGB:
    """The pattern colour that goes with `rgb`: lighter for dark colours, darker for light ones."""
    luminance = 0.3 * rgb[0] + 0.59 * rgb[1] + 0.11 * rgb[2]
    if luminance < 0.45:
        return tuple(float(c + (1.0 - c) * 0.6) for c in rgb)
    return tuple(float(c * 0.55) for c in rgb)


class Painter:
    """Paints shapes onto `canvas` (H, W, 3 float32 in [0, 1], modified in place).

    `light` is a unit vector in image coordinates (y down) pointing from an object towards the light;
    `pattern_period` is the period of stripes, dots and checks in canvas pixels.
    """

    def __init__(self, canvas: np.ndarray, light: tuple[float, float], pattern_period: float) -> None:
        self.canvas = canvas
        self.light = light
        self.period = pattern_period

    # -- shapes ---------------------------------------------------------------------------------

    def ellipse(self, rect: Rect, look: Look) -> None:
        self._paint(rect, look, lambda d, r: d.ellipse(r, fill=255))

    def rect(self, rect: Rect, look: Look, radius: float = 0.0) -> None:
        self._paint(rect, look, lambda d, r: d.rounded_rectangle(r, radius=max(0.0, radius), fill=255))

    def polygon(self, points: list[tuple[float, float]], look: Look) -> None:
        xs, ys = zip(*points)
        rect = (min(xs), min(ys), max(xs), max(ys))
        self._paint(rect, look, lambda d, r: d.polygon(_shift(points, rect, r), fill=255))

    def stroke(self, points: list[tuple[float, float]], width: float, look: Look) -> None:
        """A thick line through `points` (tails, legs, hands of a clock)."""
        xs, ys = zip(*points)
        pad = width / 2 + 1
        rect = (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad)
        self._paint(rect, look, lambda d, r: d.line(_shift(points, rect, r), fill=255,
                                                    width=max(1, round(width)), joint="curve"))

    def arc(self, rect: Rect, start: float, end: float, width: float, look: Look) -> None:
        """Part of an ellipse outline, angles in degrees clockwise from 3 o'clock (handles, seams)."""
        self._paint(rect, look, lambda d, r: d.arc(r, start, end, fill=255, width=max(1, round(width))))

    def shadow(self, rect: Rect, strength: float) -> None:
        """A soft contact shadow: darkens what is under `rect`, blurred, without outline."""
        x0, y0, x1, y1 = (int(v) for v in _padded(rect, (rect[3] - rect[1]) + 4, self.canvas.shape))
        if x1 <= x0 or y1 <= y0:
            return
        mask = Image.new("L", (x1 - x0, y1 - y0), 0)
        ImageDraw.Draw(mask).ellipse((rect[0] - x0, rect[1] - y0, rect[2] - x0, rect[3] - y0), fill=255)
        blur = max(1.0, (rect[3] - rect[1]) * 0.6)
        m = np.asarray(mask.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) / 255.0
        self.canvas[y0:y1, x0:x1] *= (1.0 - strength * m)[..., None]

    # -- filling --------------------------------------------------------------------------------

    def _paint(self, rect: Rect, look: Look, draw: Callable[[ImageDraw.ImageDraw, Rect], None]) -> None:
        x0, y0, x1, y1 = (int(v) for v in _padded(rect, 3, self.canvas.shape))
        if x1 <= x0 or y1 <= y0:
            return
        mask_img = Image.new("L", (x1 - x0, y1 - y0), 0)
        draw(ImageDraw.Draw(mask_img), (rect[0] - x0, rect[1] - y0, rect[2] - x0, rect[3] - y0))
        mask = np.asarray(mask_img, dtype=np.float32) / 255.0
        if not mask.any():
            return
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
        colour = self._colour(look, rect, xx, yy)
        region = self.canvas[y0:y1, x0:x1]
        m = mask[..., None]
        region[:] = region * (1.0 - m) + colour * m
        if look.outline:
            # The rim of the mask (mask minus its erosion) darkened: a drawn contour, so that
            # same-coloured neighbours and busy backgrounds stay separable.
            inner = np.asarray(mask_img.filter(ImageFilter.MinFilter(3)), dtype=np.float32) / 255.0
            rim = np.clip(mask - inner, 0.0, 1.0)[..., None]
            region[:] = region * (1.0 - 0.55 * rim)

    def _colour(self, look: Look, rect: Rect, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        base = np.asarray(look.rgb, dtype=np.float32)
        if look.texture != "plain":
            m = pattern(look.texture, xx, yy, self.period)[..., None]
            colour = base * (1.0 - m) + np.asarray(accent_of(look.rgb), dtype=np.float32) * m
        else:
            colour = np.broadcast_to(base, (*xx.shape, 3))
        cx, cy = (rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2
        u = (xx - cx) / max((rect[2] - rect[0]) / 2, 1.0)
        v = (yy - cy) / max((rect[3] - rect[1]) / 2, 1.0)
        diffuse, specular = shade(look.shading, u, v, self.light)
        return np.clip(colour * diffuse[..., None] + specular[..., None], 0.0, 1.0)


def shade(shading: str, u: np.ndarray, v: np.ndarray, light: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse factor and specular term over a shape's normalised coordinates u, v in [-1, 1].

    Cheap stand-ins for real lighting: a tilt for flat faces, a parabola across cylinders (lamp
    shades, bottles, cups), a paraboloid with a highlight for round things; the highlight sits on the
    side facing `light`.
    """
    lx, ly = light
    if shading == "flat":
        return 1.0 + 0.15 * (u * lx + v * ly), np.zeros_like(u)
    if shading == "cylinder":
        d = u - 0.45 * lx
        return 1.08 - 0.42 * d ** 2 + 0.04 * v * ly, 0.22 * np.exp(-(d / 0.14) ** 2)
    if shading == "round":
        r2 = (u - 0.4 * lx) ** 2 + (v - 0.4 * ly) ** 2
        return 1.1 - 0.45 * r2, 0.32 * np.exp(-r2 / 0.03)
    raise ValueError(f"shading must be one of {SHADINGS}, got {shading!r}")


def pattern(texture: str, xx: np.ndarray, yy: np.ndarray, period: float) -> np.ndarray:
    """Where the accent colour goes (0 or 1) for `texture`, in canvas coordinates."""
    if texture == "striped":
        return (np.sin(2 * np.pi * (xx * 0.35 + yy * 0.94) / period) > 0.25).astype(np.float32)
    if texture == "dotted":
        row = np.floor(yy / period)
        gx = np.mod(xx + row * period / 2, period) - period / 2     # rows offset by half a period
        gy = np.mod(yy, period) - period / 2
        return (gx ** 2 + gy ** 2 < (0.28 * period) ** 2).astype(np.float32)
    if texture == "checked":
        return np.mod(np.floor(xx / period) + np.floor(yy / period), 2).astype(np.float32)
    if texture == "plain":
        return np.zeros_like(xx)
    raise ValueError(f"texture must be one of {TEXTURES}, got {texture!r}")


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1] of shape (size, size): a `cells`-square random grid, bicubically upsampled."""
    grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
    big = Image.fromarray(grid, mode="F").resize((size, size), Image.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float32), 0.0, 1.0)


def paint_surface(size: int, setting: str, horizon: float, rng: np.random.Generator) -> np.ndarray:
    """The backdrop of a scene: wall and table top, lawn under sky, or patio flagstones under sky.

    `horizon` is where the surface objects stand on begins, as a fraction of the height.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    h = int(horizon * size)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    if setting == "table":
        wall = np.asarray(WALLS[rng.integers(len(WALLS))], dtype=np.float32)
        upper = wall * (0.9 + 0.1 * smooth_noise(rng, size, 6))[..., None]
        if rng.random() < 0.5:                            # striped wallpaper
            upper = upper * (0.95 + 0.05 * (np.sin(2 * np.pi * xx * rng.uniform(14, 26)) > 0.6))[..., None]
        wood = np.asarray(WOODS[rng.integers(len(WOODS))], dtype=np.float32)
        # Grain runs across the table: stretched noise bends sine stripes along the y axis.
        warp = smooth_noise(rng, size, 5)
        grain = 0.9 + 0.1 * np.sin(2 * np.pi * (yy * rng.uniform(18, 30) + 3.0 * warp))
        lower = wood * grain[..., None] * (1.05 - 0.15 * (yy - horizon))[..., None]
        canvas[:] = np.where((yy < horizon)[..., None], upper, lower)
        canvas[max(0, h - 2):h + 2] *= 0.55               # the table's back edge
    else:
        sky = np.stack([0.45 + 0.35 * yy, 0.65 + 0.22 * yy, 0.92 + 0.03 * yy], axis=-1)
        clouds = np.clip(smooth_noise(rng, size, 4) * 1.6 - 0.8, 0.0, 1.0)[..., None]
        upper = sky * (1 - clouds) + 0.97 * clouds
        if setting == "lawn":
            green = np.asarray((0.32, 0.58, 0.26), dtype=np.float32) * rng.uniform(0.85, 1.1)
            speckle = rng.random((size, size), dtype=np.float32)
            lower = green * (0.85 + 0.15 * smooth_noise(rng, size, 8) + 0.12 * (speckle - 0.5))[..., None]
        elif setting == "patio":
            stone = np.asarray((0.66, 0.62, 0.57), dtype=np.float32) * rng.uniform(0.85, 1.1)
            tile = rng.uniform(0.07, 0.11)
            row = np.floor((yy - horizon) / tile)
            u = np.mod(xx + row * tile * 0.5, 2 * tile) / (2 * tile)
            v = np.mod(yy - horizon, tile) / tile
            mortar = ((u < 0.04) | (v < 0.08)).astype(np.float32)
            lower = stone * (0.9 + 0.1 * smooth_noise(rng, size, 10))[..., None] * (1 - 0.35 * mortar)[..., None]
        else:
            raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
        lower = lower * (1.05 - 0.2 * (yy - horizon))[..., None]
        canvas[:] = np.where((yy < horizon)[..., None], upper, lower)
    return np.clip(canvas, 0.0, 1.0)


WALLS: tuple[RGB, ...] = ((0.93, 0.89, 0.80), (0.80, 0.86, 0.90), (0.78, 0.84, 0.76),
                          (0.86, 0.86, 0.86), (0.95, 0.84, 0.76))
WOODS: tuple[RGB, ...] = ((0.62, 0.45, 0.28), (0.42, 0.28, 0.18), (0.78, 0.62, 0.40),
                          (0.55, 0.55, 0.57), (0.84, 0.82, 0.78))


def _padded(rect: Rect, pad: float, shape: tuple[int, ...]) -> Rect:
    """`rect` grown by `pad` pixels and clipped to the canvas, with integer corners."""
    height, width = shape[:2]
    return (max(0, int(np.floor(rect[0] - pad))), max(0, int(np.floor(rect[1] - pad))),
            min(width, int(np.ceil(rect[2] + pad))), min(height, int(np.ceil(rect[3] + pad))))


def _shift(points: list[tuple[float, float]], rect: Rect, local: Rect) -> list[tuple[float, float]]:
    """`points` moved into the coordinates of the mask crop that `rect` was mapped to as `local`."""
    dx, dy = local[0] - rect[0], local[1] - rect[1]
    return [(x + dx, y + dy) for x, y in points]
