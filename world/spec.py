"""What a world holds (sizes from `small` to `large`), and the small pieces every part of it shares.

A world is a pure function of its `WorldSpec`: every image is rendered from a seed derived from the
spec's seed and the image's own key (`rng_for`), so the same spec gives the same bytes in any order,
on any machine, and a part can be re-rendered alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


class WorldError(ValueError):
    """A world specification is invalid (unknown size, impossible counts); the message names the field."""


@dataclass(frozen=True)
class WorldSpec:
    """Counts and sizes of one world. `small` is for tests (under a minute), `large` for studies."""

    size: str = "small"
    seed: int = 0
    image_size: int = 160                 # px, square; 128–224

    # identities (world/identities.py): category → look-alike group → subclass → instance
    categories: int = 2                   # ≤ 4: cat, bird, fish, beetle (world/creatures.py)
    groups_per_category: int = 2
    subclasses_per_group: int = 2
    instances_per_subclass: int = 2
    reference_per_instance: int = 4       # what a user personalizes on
    gallery_per_instance: int = 6         # what retrieval ranks against (disjoint from references)

    # personalization profiles (world/profiles.py)
    profiles: int = 8                     # every 8th is a faithful control; 7 shifted cover all 7 aspects
    prompts_per_profile: int = 4

    # scenes and viewers (world/scenes.py, world/viewers.py)
    scenes: int = 24
    objects_per_scene: tuple[int, int] = (3, 5)
    viewers_train: int = 6
    viewers_fewshot: int = 3
    scenes_per_viewer: int = 12

    def __post_init__(self) -> None:
        if not 128 <= self.image_size <= 224:
            raise WorldError(f"image_size must be in [128, 224], got {self.image_size}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and f.name != "seed" and value < 0:
                raise WorldError(f"{f.name} must be >= 0, got {value}")

    def replace(self, **changes) -> WorldSpec:
        return dataclasses.replace(self, **changes)


SIZES: dict[str, WorldSpec] = {
    "small": WorldSpec(),
    "medium": WorldSpec(size="medium", categories=3, groups_per_category=2, subclasses_per_group=4,
                        instances_per_subclass=3, reference_per_instance=5, gallery_per_instance=12,
                        profiles=24, prompts_per_profile=8, scenes=200, viewers_train=24,
                        viewers_fewshot=8, scenes_per_viewer=40),
    "large": WorldSpec(size="large", categories=4, groups_per_category=4, subclasses_per_group=5,
                       instances_per_subclass=6, reference_per_instance=6, gallery_per_instance=40,
                       profiles=120, prompts_per_profile=16, scenes=2000, viewers_train=120,
                       viewers_fewshot=30, scenes_per_viewer=120),
}


def world_spec(size: str = "small", seed: int = 0) -> WorldSpec:
    """The preset `size` with `seed`. Raises WorldError naming the size if it is unknown."""
    if size not in SIZES:
        raise WorldError(f"unknown world size {size!r}; choose one of {list(SIZES)}")
    return SIZES[size].replace(seed=seed)


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A generator that depends only on `seed` and `keys` (not on call order), e.g. rng_for(7, "gallery", 3)."""
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32))


def png_bytes(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or metadata), so same pixels → same image_id."""
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def save_png(image: Image.Image, path: Path) -> str:
    """Write `image` as PNG at `path` (folders created); return its image_id (sha256 of the bytes)."""
    data = png_bytes(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@dataclass
class WorldPart:
    """What one part of the world rendered: images to ingest (per role) and truth rows (per table).

    `manifest[role]` rows hold `path` (relative to the world folder) and label columns (category,
    subclass, instance, subject); `tables[name]` rows follow the schema of table `name`
    (world_* truth tables, and `generations`, `attention`, `captions`, whose image ids are known at
    render time because image_id is the sha256 of the written bytes).
    """

    manifest: dict[str, list[dict]] = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)

    def add_image(self, role: str, row: dict) -> None:
        self.manifest.setdefault(role, []).append(row)

    def add_row(self, table: str, row: dict) -> None:
        self.tables.setdefault(table, []).append(row)

    def merge(self, other: WorldPart) -> WorldPart:
        for role, rows in other.manifest.items():
            self.manifest.setdefault(role, []).extend(rows)
        for table, rows in other.tables.items():
            self.tables.setdefault(table, []).extend(rows)
        return self
