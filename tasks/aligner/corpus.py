"""Captioned images for the aligner: real photos and world images with known edits, and their captions.

Everything here is a pure function of a seed: sample `i` of a source draws its crop, its edits and its
caption wording from `rng_for(seed, source, purpose, i)`, so a corpus is identical in any order and on
any machine. Edits are the taxonomy's image-op concepts realised by `world.effects.apply_concept`, and
captions are the taxonomy's own templates (world/aspects.yaml): a concept added there is trained on
with no change here.

Two ideas keep the contrastive signal clean:
- an edit must be *visible* (it changes the pixels by at least MIN_VISIBLE on average), otherwise the
  caption would name something the image does not show ("black and white" on a grey photo);
- every sample carries a `key`, the canonical set of what its caption says (concepts, subject,
  background), so that training treats two wordings of the same content as positives, not negatives.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from persona_lens.tasks.photos import PHOTOS, photo_path
from persona_lens.world.effects import apply_concepts
from persona_lens.world.spec import rng_for
from persona_lens.world.taxonomy import Concept, Taxonomy

#: Side of every corpus image: the image tower centre-crops 224/256 of it, as for any photo.
IMAGE_SIZE = 256
#: Photos are decoded once and kept at this shorter side: crops of them are then cheap.
PHOTO_SIDE = 384
#: An edit whose mean absolute pixel change (in [0, 1]) is below this is not captioned (see module doc).
MIN_VISIBLE = 0.015
#: Caption of an image with nothing to name: an unedited photo (world images always name their subject).
UNEDITED_CAPTION = "an unedited photo"
#: More skimage photos that ship offline, beyond the default data (same label levels).
EXTRA_PHOTOS: tuple[tuple[str, str, str, str, str], ...] = (
    ("skimage", "data/cell.png", "microscopy", "cells", "cell"),
)
#: How many edits a training image gets, with these probabilities (0, 1, 2 edits).
EDIT_COUNT_P = (0.1, 0.45, 0.45)


@dataclass(frozen=True)
class Photo:
    """One packaged real photo; `instance` groups several files of one subject (two motorcycle views)."""

    instance: str
    path: Path
    category: str
    subclass: str


@dataclass(frozen=True)
class Sample:
    """What one corpus image is: where it comes from, what was done to it, and how it is captioned."""

    sample_id: str                    # "<source>/<purpose>/<index>", unique in a corpus
    source: str                       # "photo" or "world"
    purpose: str                      # "train", "zero_shot" (one edit, held out) or "retrieval" (held out)
    subject: str                      # photo instance or world instance: the unit held out
    concepts: tuple[Concept, ...]     # every concept true of the image (edits, and a world background)
    intensities: tuple[float, ...]    # per concept; 1.0 for a rendered background
    caption: str
    key: str                          # canonical content of the caption (see module doc)

    @property
    def heldout(self) -> bool:
        return self.purpose != "train"

    def concept_of(self, aspect: str) -> Concept | None:
        """The sample's concept in `aspect`, if it has one."""
        return next((c for c in self.concepts if c.aspect == aspect), None)


def packaged_photos() -> list[Photo]:
    """Every real photo shipped inside installed packages (skimage, sklearn, matplotlib) that we use."""
    photos = []
    for package, rel, category, subclass, instance in PHOTOS + EXTRA_PHOTOS:
        photos.append(Photo(instance, photo_path(package, rel), category, subclass))
    return photos


def split_photos(photos: Sequence[Photo], heldout: int, seed: int) -> tuple[list[Photo], list[Photo]]:
    """(train, held-out) photos: `heldout` whole subjects (every file of an instance) drawn by `seed`.

    Stratified by colour: about a half of the packaged photos are grey, and a held-out set that is
    grey by chance could not show half of the colour concepts; the held-out set keeps the pool's
    share of colour photos.
    """
    instances = sorted({p.instance for p in photos})
    if not 0 < heldout < len(instances):
        raise ValueError(f"heldout_photos must be in [1, {len(instances) - 1}] ({len(instances)} photo "
                         f"subjects ship), got {heldout}")
    colourful = {p.instance: is_colourful(_load_photo(p.path)) for p in photos}
    strata = [[i for i in instances if colourful[i]], [i for i in instances if not colourful[i]]]
    share = round(heldout * len(strata[0]) / len(instances))
    n_colour = min(len(strata[0]), max(1 if strata[0] else 0, share))
    n_colour = max(n_colour, heldout - len(strata[1]))
    rng = rng_for(seed, "heldout-photos")
    chosen = set(rng.choice(strata[0], size=n_colour, replace=False).tolist()) if n_colour else set()
    if heldout > n_colour:
        chosen |= set(rng.choice(strata[1], size=heldout - n_colour, replace=False).tolist())
    return [p for p in photos if p.instance not in chosen], [p for p in photos if p.instance in chosen]


def is_colourful(img: Image.Image, threshold: float = 0.05) -> bool:
    """Whether a photo has colour: its mean chroma (max − min channel, in [0, 1]) exceeds `threshold`."""
    a = np.asarray(img, np.float32)
    return float((a.max(axis=2) - a.min(axis=2)).mean() / 255.0) > threshold


@functools.cache
def _load_photo(path: Path) -> Image.Image:
    img = Image.open(path)
    # Transparent logos and cut-outs go on white, as a viewer would see them.
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    scale = PHOTO_SIDE / min(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    return img


def random_view(img: Image.Image, rng: np.random.Generator, size: int = IMAGE_SIZE) -> Image.Image:
    """A random square-ish crop (55–100 % of the shorter side, aspect 3:4–4:3), maybe mirrored, at size².

    Variety of framing is what lets a few photos teach "what an edit looks like" rather than "what
    this photo looks like".
    """
    w, h = img.size
    side = min(w, h) * rng.uniform(0.55, 1.0)
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    cw, ch = min(w, side * np.sqrt(aspect)), min(h, side / np.sqrt(aspect))
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    view = img.resize((size, size), Image.Resampling.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch),
                      reducing_gap=2.0)
    return ImageOps.mirror(view) if rng.random() < 0.5 else view


def visible_change(before: Image.Image, after: Image.Image) -> float:
    """Mean absolute pixel change in [0, 1]."""
    return float(np.abs(np.asarray(after, np.float32) - np.asarray(before, np.float32)).mean() / 255.0)


def edit_aspects(taxonomy: Taxonomy) -> list[str]:
    """Aspects with at least one concept an image operation can realise (the ones photos can show)."""
    return [a for a, spec in taxonomy.aspects.items() if any(not c.render for c in spec.concepts)]


def draw_edits(img: Image.Image, count: int, taxonomy: Taxonomy, rng: np.random.Generator,
               intensity: tuple[float, float], only: Concept | None = None) -> tuple[Image.Image, list, list]:
    """Apply `count` visible edits from distinct aspects (or exactly `only`) to `img`.

    Returns (edited image, concepts, intensities). An edit that would not be visible is redrawn (another
    concept or intensity); if none of several draws is visible, the image gets fewer edits — and a
    forced `only` edit that stays invisible returns no concepts, so the caller can skip the sample.
    """
    aspects = edit_aspects(taxonomy)
    chosen = list(rng.choice(aspects, size=count, replace=False)) if only is None else [only.aspect]
    concepts, levels, current = [], [], img
    for aspect in chosen:
        candidates = [c for c in taxonomy.aspects[aspect].concepts if not c.render]
        for _ in range(8):
            concept = only or candidates[int(rng.integers(len(candidates)))]
            level = float(rng.uniform(*intensity))
            edited = apply_concepts(current, [(concept, level)], rng)
            if visible_change(current, edited) >= MIN_VISIBLE:
                concepts.append(concept)
                levels.append(level)
                current = edited
                break
    # Re-apply in the taxonomy's canonical order (geometry first, noise last) so that the picture
    # does not depend on the order the aspects were drawn in.
    if len(concepts) > 1:
        current = apply_concepts(img, list(zip(concepts, levels)), rng)
    return current, concepts, levels


def caption_for(concepts: Sequence[Concept], taxonomy: Taxonomy, rng: np.random.Generator,
                prefix: str = "") -> str:
    """One caption naming `concepts`, each through a template of its aspect, in a random order.

    `prefix` names the subject (world images); an image with neither prefix nor concepts is
    UNEDITED_CAPTION.
    """
    order = rng.permutation(len(concepts)) if concepts else []
    parts = [prefix] if prefix else []
    for i in order:
        options = taxonomy.captions(concepts[i])
        parts.append(options[int(rng.integers(len(options)))])
    return ", ".join(parts) if parts else UNEDITED_CAPTION


def content_key(concepts: Sequence[Concept], subject: str = "") -> str:
    """What a caption says, independent of wording and order: two samples with one key are positives."""
    names = sorted(f"{c.aspect}:{c.phrase}" for c in concepts)
    return "|".join(([f"subject:{subject}"] if subject else []) + names) or "unedited"


def photo_samples(photos: Sequence[Photo], count: int, purpose: str, seed: int, taxonomy: Taxonomy,
                  intensity: tuple[float, float] = (0.5, 1.0)) -> Iterator[tuple[Sample, Image.Image]]:
    """`count` (sample, image) pairs from random views of `photos` with 0–2 random edits.

    `purpose` "train" or "retrieval" (held-out photos, same edit distribution).
    """
    for i in range(count):
        rng = rng_for(seed, "photo", purpose, i)
        photo = photos[int(rng.integers(len(photos)))]
        view = random_view(_load_photo(photo.path), rng)
        n_edits = int(rng.choice(len(EDIT_COUNT_P), p=EDIT_COUNT_P))
        img, concepts, levels = draw_edits(view, n_edits, taxonomy, rng, intensity)
        yield (Sample(f"photo/{purpose}/{i:06d}", "photo", purpose, photo.instance, tuple(concepts),
                      tuple(levels), caption_for(concepts, taxonomy, rng), content_key(concepts)), img)


def photo_zero_shot_samples(photos: Sequence[Photo], views: int, seed: int, taxonomy: Taxonomy,
                            intensity: tuple[float, float] = (0.5, 1.0)
                            ) -> Iterator[tuple[Sample, Image.Image]]:
    """Every image-op concept alone on `views` random views of every photo (the zero-shot test set).

    A (view, concept) pair whose edit would be invisible is skipped, so every test image shows its label.
    """
    concepts = taxonomy.concepts(image_ops_only=True)
    i = 0
    for photo in photos:
        # Keyed by names, never by the install path, so every machine draws the same views.
        where = (photo.instance, photo.path.name)
        for v in range(views):
            view = random_view(_load_photo(photo.path), rng_for(seed, "photo-view", *where, v))
            for concept in concepts:
                rng = rng_for(seed, "photo-zero-shot", *where, v, concept.aspect, concept.phrase)
                img, applied, levels = draw_edits(view, 1, taxonomy, rng, intensity, only=concept)
                if applied:
                    yield (Sample(f"photo/zero_shot/{i:06d}", "photo", "zero_shot", photo.instance,
                                  tuple(applied), tuple(levels), caption_for(applied, taxonomy, rng),
                                  content_key(applied)), img)
                    i += 1
