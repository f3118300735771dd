"""Scenes of several everyday objects on a table, a lawn or a patio: the images DEPER's viewers look at.

`scene_layout(spec, index)` decides, without drawing, what scene `index` holds: its setting, light and
objects (kind, colour, size, texture, box). `render_scene` paints that layout and writes the PNG;
`render_scene_pool` does it for the whole pool, and `render_scenes` (what world/make.py calls) adds
the viewers who look at the pool (world/viewers.py). Layout and paint draw from separate generators
(`rng_for(seed, "scene", i)` and `rng_for(seed, "scene-paint", i)`), so the layout never depends on
how many random numbers painting used, and any scene can be rendered alone, in any order.

Output, under `out`:
    images/scenes/scene-00000.png …       manifest role "scene", column `path` (relative to `out`)
    world_images rows                     kind "scene", params JSON (scene index, setting, light, …)
    world_objects rows                    one per object: object_id "o0"…, kind, attributes JSON, box
    world_viewers, attention, captions    from simulate_viewers (render_scenes only)

Objects of one scene have distinct kinds (a caption's "cup" names exactly one object), and boxes
overlap only a little (at most `MAX_OVERLAP` of the narrower width), so each object's centre stays
visible and a fixation near it belongs to it alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from persona_lens.world.scene_objects import COLORS, KINDS, OBJECT_TEXTURES, SIZES, Box, SceneObject
from persona_lens.world.scene_painter import SETTINGS, SUPERSAMPLE, Look, Painter, paint_surface
from persona_lens.world.spec import WorldError, WorldPart, WorldSpec, rng_for, save_png
from persona_lens.world.viewers import simulate_viewers

SCENE_DIR = Path("images") / "scenes"
MAX_OVERLAP = 0.2           # of the narrower of two neighbours' widths
MARGIN = 0.03               # free border around the objects, fraction of the image


@dataclass(frozen=True)
class SceneLayout:
    index: int
    setting: str
    horizon: float                     # where the surface begins, fraction of the height
    light: tuple[float, float]         # unit vector towards the light (image coordinates, y down)
    brightness: float
    objects: tuple[SceneObject, ...]

    def params(self, image_size: int) -> dict:
        return {"scene": self.index, "setting": self.setting, "horizon": round(self.horizon, 4),
                "light": [round(v, 4) for v in self.light], "brightness": round(self.brightness, 4),
                "objects": len(self.objects), "image_size": image_size}


def check_scene_spec(spec: WorldSpec) -> None:
    """Raise WorldError naming the field if `spec`'s scene fields cannot be rendered."""
    lo, hi = spec.objects_per_scene
    if not 1 <= lo <= hi <= len(KINDS):
        raise WorldError(f"objects_per_scene must be (lo, hi) with 1 <= lo <= hi <= {len(KINDS)} "
                         f"(kinds are distinct within a scene), got {spec.objects_per_scene}")


def scene_layout(spec: WorldSpec, index: int) -> SceneLayout:
    """What scene `index` holds and where: a pure function of (spec.seed, index, objects_per_scene)."""
    check_scene_spec(spec)
    rng = rng_for(spec.seed, "scene", index)
    setting = SETTINGS[int(rng.integers(len(SETTINGS)))]
    horizon = float(rng.uniform(0.4, 0.55))
    lx = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 0.8))
    light = (lx, -float(np.sqrt(1.0 - lx * lx)))
    n = int(rng.integers(spec.objects_per_scene[0], spec.objects_per_scene[1] + 1))
    kinds = [str(k) for k in rng.choice(list(KINDS), size=n, replace=False)]
    colors = [str(c) for c in rng.choice(list(COLORS), size=n)]
    sizes = [str(s) for s in rng.choice(list(SIZES), size=n)]
    textures = [str(t) for t in rng.choice(OBJECT_TEXTURES, size=n)]

    heights = np.array([SIZES[s] * KINDS[k].scale for s, k in zip(sizes, kinds)]) * rng.uniform(0.92, 1.08, n)
    widths = heights * np.array([KINDS[k].aspect for k in kinds])
    # Shrink everything together if the row would not fit (keeps relative sizes, which is what
    # "big" and "small" mean to a viewer); neighbours may then overlap by up to MAX_OVERLAP.
    fit = (1 - 2 * MARGIN) / max(widths.sum() - MAX_OVERLAP * np.min(widths) * (n - 1), 1e-9)
    heights, widths = heights * min(1.0, fit), widths * min(1.0, fit)
    lefts = _place_in_row(widths, rng)
    # Bottoms (where an object stands) lie on the surface; lower means nearer, painted later.
    bottoms = rng.uniform(horizon + 0.12, 1 - MARGIN, n)
    bottoms = np.maximum(bottoms, heights + MARGIN)            # never cut off at the top
    order = np.argsort(bottoms, kind="stable")
    depth = np.empty(n, dtype=int)
    depth[order] = np.arange(n)
    objects = tuple(
        SceneObject(f"o{i}", kinds[i], colors[i], sizes[i], textures[i],
                    x=float(lefts[i] + widths[i] / 2), y=float(bottoms[i] - heights[i] / 2),
                    w=float(widths[i]), h=float(heights[i]), depth=int(depth[i]))
        for i in range(n)
    )
    return SceneLayout(index, setting, horizon, light, float(rng.uniform(0.88, 1.08)), objects)


def _place_in_row(widths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Left edges for objects of `widths` in a random left-to-right order, with random gaps.

    Gaps share the free width at random; when there is none, neighbours overlap by at most
    MAX_OVERLAP of the narrower one, so no object's centre is ever hidden behind another.
    """
    n = len(widths)
    order = rng.permutation(n)
    free = 1 - 2 * MARGIN - widths.sum()
    if free >= 0:
        gaps = rng.dirichlet(np.ones(n + 1)) * free
    else:
        pair = np.minimum(widths[order[:-1]], widths[order[1:]])
        overlap = pair * MAX_OVERLAP * (-free / max(float((pair * MAX_OVERLAP).sum()), 1e-9))
        gaps = np.concatenate([[0.0], -overlap, [0.0]])
    lefts = np.empty(n)
    cursor = MARGIN + gaps[0]
    for rank, i in enumerate(order):
        lefts[i] = cursor
        cursor += widths[i] + gaps[rank + 1]
    return lefts


def paint_scene(layout: SceneLayout, image_size: int, rng: np.random.Generator) -> Image.Image:
    """The picture of `layout`: surface, contact shadows, then objects from back to front."""
    size = image_size * SUPERSAMPLE
    canvas = paint_surface(size, layout.setting, layout.horizon, rng)
    painter = Painter(canvas, layout.light, pattern_period=size / 28)
    for obj in sorted(layout.objects, key=lambda o: o.depth):
        box = Box((obj.x - obj.w / 2) * size, (obj.y - obj.h / 2) * size, obj.w * size, obj.h * size)
        # The shadow falls away from the light, under the object's foot.
        shift = -layout.light[0] * 0.15 * box.w
        painter.shadow((box.left + shift, box.top + 0.9 * box.h, box.left + box.w + shift, box.top + 1.06 * box.h), 0.45)
        look = Look(tuple(c / 255 for c in COLORS[obj.color]), texture=obj.texture)
        KINDS[obj.kind].draw(painter, box, look, rng)
    canvas *= layout.brightness
    canvas += rng.normal(0.0, 0.012, canvas.shape).astype(np.float32)      # a little sensor noise
    pixels = (np.clip(canvas, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    return Image.fromarray(pixels, "RGB").resize((image_size, image_size), Image.LANCZOS)


def scene_path(index: int) -> Path:
    """Where scene `index` is written, relative to the world folder."""
    return SCENE_DIR / f"scene-{index:05d}.png"


def render_scene(spec: WorldSpec, index: int, out: Path) -> WorldPart:
    """Render scene `index` of `spec` under `out`; its manifest, world_images and world_objects rows."""
    layout = scene_layout(spec, index)
    image = paint_scene(layout, spec.image_size, rng_for(spec.seed, "scene-paint", index))
    rel = scene_path(index)
    image_id = save_png(image, Path(out) / rel)
    part = WorldPart()
    part.add_image("scene", {"path": rel.as_posix()})
    part.add_row("world_images", {"image_id": image_id, "kind": "scene", "instance": None, "seed": spec.seed,
                                  "params": json.dumps(layout.params(spec.image_size), sort_keys=True)})
    for obj in layout.objects:
        part.add_row("world_objects", {
            "image_id": image_id, "object_id": obj.object_id, "kind": obj.kind,
            "attributes": json.dumps(obj.attributes(), sort_keys=True),
            "x": round(obj.x, 4), "y": round(obj.y, 4), "w": round(obj.w, 4), "h": round(obj.h, 4),
        })
    return part


def render_scene_pool(spec: WorldSpec, out: Path) -> WorldPart:
    """Render the scene pool (spec.scenes images) under `out`, in index order, without viewers.

    Scenes are independent: a caller that wants parallelism can call `render_scene` per index in any
    order and merge the parts; the bytes and rows are the same.
    """
    check_scene_spec(spec)
    part = WorldPart()
    for index in range(spec.scenes):
        part.merge(render_scene(spec, index, out))
    return part


def render_scenes(spec: WorldSpec, out: Path) -> WorldPart:
    """The whole scenes-and-viewers part of the world: the scene pool rendered under `out`, and the
    viewers who look at and caption it (tables world_viewers, attention, captions; world/viewers.py).
    """
    pool = render_scene_pool(spec, out)
    return WorldPart().merge(pool).merge(simulate_viewers(spec, pool))
