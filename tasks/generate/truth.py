"""Known-truth personalizations of the real GAN: the explain stage's ground truth on a real model.

A concept of the aspect taxonomy (a pencil sketch, warm orange tones, dim light, a texture…) is
applied to a subject's references at a known intensity with `world.effects.apply_concept`, the same
operation the synthetic world uses; the GAN is personalized on those references and a snapshot of
the adapter is kept at several training steps. Each snapshot is a model whose truth is written in
the form of `world_profiles` — one row per (model, aspect), intensity 0 and no concept for the
aspects left alone — plus the training step of the snapshot. A mixture applies several concepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from persona_lens.world.effects import apply_concepts
from persona_lens.world.taxonomy import Concept, Taxonomy, load_taxonomy


class TruthError(ValueError):
    """A known-truth shift names an unknown aspect/concept, a renderer-only concept, or a bad intensity."""


@dataclass(frozen=True)
class KnownShift:
    concept: Concept
    intensity: float


def parse_shift(text: str, taxonomy: Taxonomy | None = None) -> KnownShift:
    """`aspect:phrase@intensity`, e.g. `style:a pencil sketch@0.8`."""
    tax = taxonomy or load_taxonomy()
    try:
        head, value = text.rsplit("@", 1)
        aspect, phrase = head.split(":", 1)
        intensity = float(value)
    except ValueError:
        raise TruthError(f"shift must read 'aspect:concept phrase@intensity', got {text!r}") from None
    try:
        concept = tax.concept(aspect.strip(), phrase.strip())
    except KeyError as exc:
        raise TruthError(f"shift {text!r}: {exc.args[0]}") from None
    if concept.render:
        raise TruthError(f"shift {text!r}: concept {concept.phrase!r} is realised only by the world's renderer, "
                         f"not by an image operation")
    if not 0.0 < intensity <= 1.0:
        raise TruthError(f"shift {text!r}: intensity must be in (0, 1], got {intensity}")
    return KnownShift(concept, intensity)


def shifted_references(references: list[Image.Image], shifts: list[KnownShift], seed: int = 0) -> list[Image.Image]:
    """The references with every shift applied (world.effects order), seeded for the noisy ops."""
    return [apply_concepts(im, [(s.concept, s.intensity) for s in shifts], np.random.default_rng([seed, i]))
            for i, im in enumerate(references)]


def truth_rows(model_id: str, subject: str, shifts: list[KnownShift], steps: int,
               taxonomy: Taxonomy | None = None) -> list[dict]:
    """`generate_truth` rows: one per taxonomy aspect, like `world_profiles`, plus the snapshot's steps."""
    tax = taxonomy or load_taxonomy()
    by_aspect = {s.concept.aspect: s for s in shifts}
    if len(by_aspect) != len(shifts):
        raise TruthError(f"model {model_id!r}: at most one shift per aspect, got "
                         f"{[s.concept.aspect for s in shifts]}")
    return [{"model_id": model_id, "subject": subject, "aspect": aspect,
             "concept": by_aspect[aspect].concept.phrase if aspect in by_aspect else None,
             "intensity": float(by_aspect[aspect].intensity) if aspect in by_aspect else 0.0,
             "steps": int(steps)} for aspect in tax.names]


def truth_tag(shifts: list[KnownShift]) -> str:
    """A short model-id-safe tag for a shift set, e.g. `style-a-pencil-sketch-100`."""
    parts = []
    for s in shifts:
        words = "-".join(w for w in s.concept.phrase.lower().replace("'", "").split() if w.isalnum())
        parts.append(f"{s.concept.aspect}-{words}-{round(s.intensity * 100):03d}")
    return "+".join(parts)
