"""Drawing one individual: its anatomy on a background under the scene's light (pure: same arguments,
same pixels). Kept apart from creatures.py, whose types anatomy.py and parts.py build on."""

from __future__ import annotations

import numpy as np
from PIL import Image

from persona_lens.world.anatomy import draw_creature
from persona_lens.world.backgrounds import draw_background
from persona_lens.world.creatures import Breed, Mark, RenderParams
from persona_lens.world.paint import Light


def render(breed: Breed, marks: tuple[Mark, ...], params: RenderParams, size: int, *,
           background: Image.Image | None = None, supersample: int = 2) -> Image.Image:
    """A `size`×`size` RGB picture of an individual (`breed` + `marks`) under `params`.

    `background` overrides the drawing of `params.background` (e.g. a blend of two, for a simulated
    background shift). Pure: the same arguments give the same pixels.
    """
    if background is None:
        background = draw_background(params.background, size, np.random.default_rng([params.noise_seed, 1]))
    light = _light(params)
    ss = supersample
    canvas, shadow = draw_creature(breed, marks, params, size * ss, light, line_px=1.1 * ss)
    pre, cov = canvas.downsample(ss)
    shadow_cov = shadow.coverage(ss)
    bg = np.asarray(background.convert("RGB"), np.float32)
    bg = bg * (1.0 - 0.38 * shadow_cov[..., None])
    out = bg * (1.0 - cov[..., None]) + pre
    return Image.fromarray(np.clip(_scene_light(out, params), 0, 255).astype(np.uint8), "RGB")


def _light(params: RenderParams) -> Light:
    """The light direction in the creature's frame (which is flipped and rotated relative to the screen)."""
    az, el = np.radians(params.light_azimuth), np.radians(params.light_elevation)
    sx, sy, z = np.cos(az) * np.cos(el), -np.sin(az) * np.cos(el), np.sin(el)   # screen: y grows downwards
    rot = np.radians(params.rotation)
    # Undo the on-screen rotation (counter-clockwise on screen, y grows downwards), then the flip.
    fx = sx * np.cos(rot) - sy * np.sin(rot)
    fy = sx * np.sin(rot) + sy * np.cos(rot)
    return Light(float(fx * params.facing), float(fy), float(z))


def _scene_light(img: np.ndarray, params: RenderParams) -> np.ndarray:
    """Brightness, and a gentle fall-off away from the light across the whole picture."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    az = np.radians(params.light_azimuth)
    toward = ((xs / w - 0.5) * np.cos(az) - (ys / h - 0.5) * np.sin(az))
    return img * (params.brightness * (1.0 + 0.18 * toward))[..., None]
