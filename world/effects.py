"""Image operations that realise the taxonomy's concepts at a known intensity.

`apply_concept(image, concept, intensity)` is how the simulated personalized generator shifts an
aspect and how the aligner's training photos get their edits, so both see the same "warm orange
tones". Every op is continuous in `intensity` (0 → the image unchanged, 1 → the concept's full
parameters from aspects.yaml) and visibly monotone in between, because FineXL is scored on how well
it recovers that number. Ops are written with PIL/numpy: they are a few lines each, and no library
ships "a pencil sketch at strength 0.4".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from persona_lens.world.taxonomy import Concept

# Order in which several shifts are applied to one image: geometry first, noise last, so that e.g. a
# grainy sketch keeps its grain.
ASPECT_ORDER = ("composition", "style", "color", "lighting", "texture")

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
Op = Callable[[Image.Image, float, dict, np.random.Generator], Image.Image]


def apply_concept(image: Image.Image, concept: Concept, intensity: float,
                  rng: np.random.Generator | None = None) -> Image.Image:
    """`image` shifted towards `concept` at `intensity` in [0, 1]; an RGB image of the same size.

    Raises ValueError for an intensity outside [0, 1], for a concept only the world's renderer can
    realise (`render: true`, e.g. a background or an identity change), or for an unknown op.
    """
    if not isinstance(intensity, (int, float)) or not math.isfinite(intensity) or not 0.0 <= intensity <= 1.0:
        raise ValueError(f"intensity must be a number in [0, 1], got {intensity!r}")
    if concept.render:
        raise ValueError(f"concept {concept.phrase!r} ({concept.aspect}, op {concept.op!r}) is realised by the "
                         f"world's renderer, not by an image operation")
    if concept.op not in OPS:
        raise ValueError(f"concept {concept.phrase!r} names unknown op {concept.op!r}; known: {sorted(OPS)}")
    rgb = image.convert("RGB")
    if intensity == 0.0:
        return rgb.copy()
    return OPS[concept.op](rgb, float(intensity), concept.params, rng or np.random.default_rng(0))


def apply_concepts(image: Image.Image, shifts: Sequence[tuple[Concept, float]],
                   rng: np.random.Generator | None = None) -> Image.Image:
    """Apply several (concept, intensity) shifts in ASPECT_ORDER (file order within an aspect)."""
    rank = {a: i for i, a in enumerate(ASPECT_ORDER)}
    for concept, intensity in sorted(shifts, key=lambda s: rank.get(s[0].aspect, len(rank))):
        image = apply_concept(image, concept, intensity, rng)
    return image


# --- helpers ------------------------------------------------------------------------------------------

def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


def _img(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")


def _blend(orig: Image.Image, full: Image.Image, t: float) -> Image.Image:
    return Image.blend(orig, full, t)


def _lerp(t: float, full: float, neutral: float = 1.0) -> float:
    return neutral + t * (full - neutral)


def _backdrop(img: Image.Image) -> Image.Image:
    # What shows where geometry moved the picture away: the picture itself, heavily blurred, so the
    # frame stays filled with its own colours instead of black borders a model would learn instead.
    return img.filter(ImageFilter.GaussianBlur(max(img.size) / 10))


# --- style ---------------------------------------------------------------------------------------------

def _edge_sketch(img, t, p, rng):
    # Colour-dodge of the grey image by its blurred negative: the classic pencil-sketch recipe.
    grey = _arr(img.convert("L"))
    blur = _arr(ImageOps.invert(img.convert("L")).filter(ImageFilter.GaussianBlur(p.get("radius", 3))))
    sketch = np.clip(grey * 255.0 / np.maximum(255.0 - blur, 1.0), 0, 255)
    full = _img(np.repeat(sketch[..., None], 3, axis=2))
    return _blend(img, full, t)


def _quantize(a: np.ndarray, levels: int) -> np.ndarray:
    step = 255.0 / max(levels - 1, 1)
    return np.rint(a / step) * step


def _posterize(img, t, p, rng):
    smooth = int(p.get("smooth", 0))
    base = img.filter(ImageFilter.ModeFilter(2 * smooth + 1)) if smooth else img
    return _blend(img, _img(_quantize(_arr(base), int(p.get("levels", 3)))), t)


def _watercolor(img, t, p, rng):
    soft = img.filter(ImageFilter.GaussianBlur(p.get("blur", 3)))
    washed = _quantize(_arr(soft), int(p.get("levels", 5))) * 0.8 + 255 * 0.2
    paper = _img(washed).filter(ImageFilter.GaussianBlur(1))
    return _blend(img, paper, t)


def _pixelate(img, t, p, rng):
    block = 1 + t * (float(p.get("block", 12)) - 1)
    w, h = img.size
    small = img.resize((max(1, round(w / block)), max(1, round(h / block))), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.NEAREST)


# --- color ---------------------------------------------------------------------------------------------

def _color_cast(img, t, p, rng):
    # Keep each pixel's luminance, move its chroma towards the cast colour.
    a = _arr(img)
    rgb = np.asarray(p["rgb"], dtype=np.float32)
    luma = (a @ _LUMA)[..., None]
    tinted = luma * rgb / max(float(rgb @ _LUMA), 1.0)
    alpha = t * float(p.get("strength", 0.5))
    return _img((1 - alpha) * a + alpha * tinted)


def _saturation(img, t, p, rng):
    return ImageEnhance.Color(img).enhance(_lerp(t, float(p["factor"])))


# --- texture -------------------------------------------------------------------------------------------

def _noise(img, t, p, rng):
    a = _arr(img)
    return _img(a + rng.normal(0.0, t * float(p.get("sigma", 40)), a.shape[:2])[..., None])


def _blur(img, t, p, rng):
    return img.filter(ImageFilter.GaussianBlur(t * float(p.get("radius", 4))))


def _sharpen(img, t, p, rng):
    return ImageEnhance.Sharpness(img).enhance(_lerp(t, 1.0 + float(p.get("amount", 4))))


def _canvas(img, t, p, rng):
    h, w = img.size[1], img.size[0]
    period = float(p.get("period", 6))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    # A plain weave: warp and weft threads alternate over and under.
    weave = 0.5 + 0.5 * np.sin(2 * np.pi * x / period) * np.sin(2 * np.pi * y / period)
    shade = 1.0 - t * float(p.get("depth", 0.35)) * weave
    return _img(_arr(img) * shade[..., None])


# --- composition ---------------------------------------------------------------------------------------

def _place(img: Image.Image, scale: float, cx: float, cy: float, angle: float = 0.0) -> Image.Image:
    """The picture scaled by `scale`, rotated by `angle`, centred at (cx, cy) of the frame, on its backdrop."""
    w, h = img.size
    frame = _backdrop(img)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    piece = img.resize((sw, sh), Image.Resampling.BICUBIC).convert("RGBA")
    if angle:
        piece = piece.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    frame.paste(piece, (round(cx * w - piece.width / 2), round(cy * h - piece.height / 2)), piece)
    return frame


def _shift(img, t, p, rng):
    # Off-centre: the subject moves towards a corner (which one is the rng's) and shrinks a little
    # so that it stays in the frame.
    off = t * float(p.get("offset", 0.3))
    dx, dy = rng.choice([-1, 1], size=2)
    return _place(img, 1.0 - off, 0.5 + dx * off / 2 * 1.4, 0.5 + dy * off / 2 * 1.4)


def _zoom(img, t, p, rng):
    factor = _lerp(t, float(p.get("factor", 2.0)))
    w, h = img.size
    cw, ch = w / factor, h / factor
    box = ((w - cw) / 2, (h - ch) / 2, (w + cw) / 2, (h + ch) / 2)
    return img.resize((w, h), Image.Resampling.BICUBIC, box=box)


def _shrink(img, t, p, rng):
    return _place(img, _lerp(t, float(p.get("factor", 0.5))), 0.5, 0.5)


def _rotate(img, t, p, rng):
    sign = float(rng.choice([-1, 1]))
    angle = sign * t * float(p.get("degrees", 25))
    # Scale down just enough that the rotated corners stay inside the frame.
    rad = math.radians(abs(angle))
    return _place(img, 1.0 / (math.cos(rad) + math.sin(rad)), 0.5, 0.5, angle)


# --- lighting ------------------------------------------------------------------------------------------

def _brightness(img, t, p, rng):
    return ImageEnhance.Brightness(img).enhance(_lerp(t, float(p["factor"])))


def _contrast(img, t, p, rng):
    return ImageEnhance.Contrast(img).enhance(_lerp(t, float(p["factor"])))


def _vignette(img, t, p, rng):
    w, h = img.size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r2 = ((x - w / 2) / (w / 2)) ** 2 + ((y - h / 2) / (h / 2)) ** 2
    shade = np.clip(1.0 - t * float(p.get("strength", 0.9)) * r2 / 2.0, 0.0, 1.0)
    return _img(_arr(img) * shade[..., None])


def _haze(img, t, p, rng):
    alpha = t * float(p.get("strength", 0.6))
    return _img((1 - alpha) * _arr(img) + alpha * np.array([205, 205, 210], dtype=np.float32))


OPS: dict[str, Op] = {
    "edge_sketch": _edge_sketch, "posterize": _posterize, "watercolor": _watercolor, "pixelate": _pixelate,
    "color_cast": _color_cast, "saturation": _saturation,
    "noise": _noise, "blur": _blur, "sharpen": _sharpen, "canvas": _canvas,
    "shift": _shift, "zoom": _zoom, "shrink": _shrink, "rotate": _rotate,
    "brightness": _brightness, "contrast": _contrast, "vignette": _vignette, "haze": _haze,
}
