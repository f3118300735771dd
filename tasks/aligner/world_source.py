"""World images for the aligner: the synthetic world's creatures in front of its backgrounds, with edits.

Each picture is drawn on the fly by the world's own renderer (world/identities.py, world/creatures.py)
with fresh random pose, framing, light and background, then edited like the photos. Its caption names
what the world knows is there: the creature's category ("a cat"), the background through the
taxonomy's background templates ("a subject in front of a brick wall") and each applied edit. Whole
individuals are held out: no held-out creature is ever seen in training, under any background.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from persona_lens.tasks.aligner.corpus import (
    EDIT_COUNT_P, IMAGE_SIZE, Sample, caption_for, content_key, draw_edits,
)
from persona_lens.tasks.aligner.dataset import CaptionSource, CorpusSpec, Pairs, PhotoSource
from persona_lens.world.spec import rng_for, world_spec
from persona_lens.world.taxonomy import Concept, Taxonomy

#: Share of each category's individuals held out of training.
HELDOUT_FRACTION = 0.25


def background_concepts(taxonomy: Taxonomy) -> dict[str, Concept]:
    """Background kind (what the renderer draws) → its taxonomy concept (what captions say)."""
    return {str(c.params["kind"]): c for c in taxonomy.concepts()
            if c.op == "background" and "kind" in c.params}


def subject_phrase(category: str) -> str:
    """How a caption names a world creature: its category word with an article."""
    return f"an {category}" if category[:1] in "aeiou" else f"a {category}"


@dataclass
class WorldSource:
    """The world's individuals (preset `spec.world_size`), a seeded quarter of each category held out."""

    spec: CorpusSpec
    taxonomy: Taxonomy
    name: str = "world"

    def __post_init__(self) -> None:
        from persona_lens.world.backgrounds import BACKGROUND_KINDS
        from persona_lens.world.identities import build_identities

        if self.spec.world_size is None:
            raise ValueError("WorldSource needs a world_size (small, medium, large)")
        self.world = world_spec(self.spec.world_size, self.spec.seed)
        individuals = build_identities(self.world).individuals
        self.backgrounds = background_concepts(self.taxonomy)
        missing = [k for k in BACKGROUND_KINDS if k not in self.backgrounds]
        if missing:
            raise ValueError(f"the taxonomy has no background concept for the world's kinds {missing}")
        rng = rng_for(self.spec.seed, "heldout-individuals")
        self.train_individuals, self.heldout_individuals = [], []
        for category in sorted({i.category for i in individuals}):
            members = [i for i in individuals if i.category == category]
            order = rng.permutation(len(members))
            n_out = max(1, round(HELDOUT_FRACTION * len(members))) if len(members) > 1 else 0
            self.heldout_individuals += [members[j] for j in order[:n_out]]
            self.train_individuals += [members[j] for j in order[n_out:]]

    def _picture(self, individual, rng: np.random.Generator) -> tuple[Image.Image, Concept]:
        from persona_lens.world.creatures import sample_params
        from persona_lens.world.render import render

        params = sample_params(individual.category, np.random.default_rng(int(rng.integers(2**31 - 1))))
        img = render(individual.breed, individual.marks, params, self.world.image_size)
        # Edits act at the photos' size, so "pixel art" or "grainy film noise" mean the same on both.
        img = img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        return img, self.backgrounds[params.background]

    def _samples(self, individuals, count: int, purpose: str, one_edit: bool) -> Pairs:
        edit_concepts = self.taxonomy.concepts(image_ops_only=True)
        for i in range(count):
            rng = rng_for(self.spec.seed, "world", purpose, i)
            individual = individuals[int(rng.integers(len(individuals)))]
            img, background = self._picture(individual, rng)
            if one_edit:  # zero-shot: every image-op concept in turn, so each is tested equally often
                img, edits, levels = draw_edits(img, 1, self.taxonomy, rng, self.spec.intensity,
                                                only=edit_concepts[i % len(edit_concepts)])
            else:
                n_edits = int(rng.choice(len(EDIT_COUNT_P), p=EDIT_COUNT_P))
                img, edits, levels = draw_edits(img, n_edits, self.taxonomy, rng, self.spec.intensity)
            subject = subject_phrase(individual.category)
            caption = caption_for([background, *edits], self.taxonomy, rng, prefix=subject)
            yield (Sample(f"world/{purpose}/{i:06d}", "world", purpose, individual.instance,
                          (background, *edits), (1.0, *levels), caption,
                          content_key([background, *edits], subject=individual.category)), img)

    def train(self) -> Pairs:
        return self._samples(self.train_individuals, self.spec.world_train, "train", one_edit=False)

    def zero_shot(self) -> Pairs:
        return self._samples(self.heldout_individuals, self.spec.world_zero_shot, "zero_shot", one_edit=True)

    def retrieval(self) -> Pairs:
        return self._samples(self.heldout_individuals, self.spec.world_retrieval, "retrieval", one_edit=False)

    def summary(self) -> dict:
        return {"world_size": self.spec.world_size, "image_size": self.world.image_size,
                "train_subjects": len(self.train_individuals),
                "heldout_subjects": sorted(i.instance for i in self.heldout_individuals)}


def world_available() -> bool:
    """Whether the world's renderer is installed (it lands separately from the aligner)."""
    import importlib.util

    return importlib.util.find_spec("persona_lens.world.identities") is not None


def make_sources(spec: CorpusSpec, taxonomy: Taxonomy) -> list[CaptionSource]:
    """The photo source, plus the world source when a world size is asked for."""
    sources: list[CaptionSource] = [PhotoSource(spec, taxonomy)]
    if spec.world_size is not None:
        sources.append(WorldSource(spec, taxonomy))
    return sources
