"""Measured image statistics: what the language side reads badly, read off the pixels.

Each statistic is a number per image, grouped by the aspect it speaks for (`STATISTICS`). FineXL
compares a personalized picture with its base twin statistic by statistic; the per-model summaries of
those differences (`pair_statistic_features`) join the language evidence of the complemented aspects.
All are computed on a 128-px greyscale/RGB copy, with numpy only (a few ms per image).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 128
#: (name, aspect) of every statistic, in column order.
STATISTICS: tuple[tuple[str, str], ...] = (
    ("luminance_mean", "lighting"), ("luminance_std", "lighting"), ("luminance_p05", "lighting"),
    ("luminance_p95", "lighting"), ("border_to_centre", "lighting"),
    ("saturation_mean", "color"), ("warmth", "color"), ("greenness", "color"),
    ("laplacian_energy", "texture"), ("residual_noise", "texture"), ("high_frequency_share", "texture"),
    ("flat_fraction", "style"), ("distinct_colours", "style"), ("edge_density", "style"),
    ("edge_centroid_offset", "composition"), ("edge_spread", "composition"),
    ("centre_edge_share", "composition"), ("diagonal_share", "composition"),
)
NAMES = tuple(n for n, _ in STATISTICS)


def statistic_columns(aspect: str) -> np.ndarray:
    """Column indexes of the statistics that speak for `aspect` (empty if none)."""
    return np.array([i for i, (_, a) in enumerate(STATISTICS) if a == aspect], dtype=int)


def image_statistics(images: list[Image.Image]) -> np.ndarray:
    """(n, len(STATISTICS)) float64, one row per image (any size and mode)."""
    return np.array([_one(img) for img in images], dtype=np.float64).reshape(len(images), len(STATISTICS))


def _one(img: Image.Image) -> list[float]:
    rgb = np.asarray(img.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR), np.float64) / 255.0
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    lum = 0.299 * r + 0.587 * g + 0.114 * b
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    sat = (mx - mn) / np.maximum(mx, 1e-6)

    h = SIDE // 4
    centre = lum[h:-h, h:-h]
    border = np.concatenate([lum[:h].ravel(), lum[-h:].ravel(), lum[h:-h, :h].ravel(), lum[h:-h, -h:].ravel()])

    lap = np.abs(4 * lum[1:-1, 1:-1] - lum[:-2, 1:-1] - lum[2:, 1:-1] - lum[1:-1, :-2] - lum[1:-1, 2:])
    med = np.median(np.stack([lum[1:-1, 1:-1], lum[:-2, 1:-1], lum[2:, 1:-1], lum[1:-1, :-2], lum[1:-1, 2:]]), axis=0)
    spectrum = np.abs(np.fft.fftshift(np.fft.fft2(lum - lum.mean())))
    fy, fx = np.mgrid[-SIDE // 2:SIDE // 2, -SIDE // 2:SIDE // 2]
    radius = np.hypot(fx, fy)
    total = spectrum.sum() + 1e-9

    gx = np.zeros_like(lum)
    gy = np.zeros_like(lum)
    gx[:, 1:-1] = (lum[:, 2:] - lum[:, :-2]) / 2
    gy[1:-1, :] = (lum[2:, :] - lum[:-2, :]) / 2
    mag = np.hypot(gx, gy)
    energy = mag.sum() + 1e-9
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / (SIDE - 1) - 0.5
    cx, cy = (mag * xx).sum() / energy, (mag * yy).sum() / energy
    spread = np.sqrt((mag * ((xx - cx) ** 2 + (yy - cy) ** 2)).sum() / energy)
    angle = np.mod(np.arctan2(gy, gx), np.pi / 2)            # 0 and pi/2: axis-aligned edges
    diagonal = (mag * (np.abs(angle - np.pi / 4) < np.pi / 8)).sum() / energy

    quant = np.floor(rgb * 15.999).astype(int)
    colours = len(np.unique(quant[..., 0] * 256 + quant[..., 1] * 16 + quant[..., 2]))
    return [
        lum.mean(), lum.std(), np.percentile(lum, 5), np.percentile(lum, 95),
        border.mean() / max(centre.mean(), 1e-3),
        sat.mean(), (r - b).mean(), (g - (r + b) / 2).mean(),
        lap.mean(), np.median(np.abs(lum[1:-1, 1:-1] - med)), spectrum[radius > SIDE / 8].sum() / total,
        (np.abs(np.diff(lum, axis=1)) < 1e-3).mean(), colours / 4096.0, (mag > 0.08).mean(),
        np.hypot(cx, cy), spread, mag[h:-h, h:-h].sum() / energy, diagonal,
    ]


def pair_statistic_features(base_stats: np.ndarray, personalized_stats: np.ndarray,
                            scale: np.ndarray | None = None) -> np.ndarray:
    """Per statistic: |mean difference| and mean |difference| over the pairs, each divided by `scale`
    (a typical spread of the statistic, e.g. its standard deviation over base images; None: 1).
    Returns (2 * len(STATISTICS),): the |mean| block then the mean-|.| block."""
    b, p = np.asarray(base_stats, np.float64), np.asarray(personalized_stats, np.float64)
    if b.shape != p.shape or b.ndim != 2 or b.shape[1] != len(STATISTICS):
        raise ValueError(f"base {b.shape} and personalized {p.shape} statistics must be (pairs, {len(STATISTICS)})")
    d = (p - b) / (np.ones(len(STATISTICS)) if scale is None else np.maximum(scale, 1e-9))
    return np.concatenate([np.abs(d.mean(axis=0)), np.abs(d).mean(axis=0)])
