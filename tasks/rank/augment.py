"""Identity pictures shifted by the taxonomy's image operations, to fit a ranker that ignores them.

Shrinkage LDA keeps the directions that separate individuals *relative to* the variation within one
individual. Fitted on clean gallery pictures only, a style, colour or lighting shift is variation it
never saw, and it moves a picture as far from its individual as a changed identity does. Adding each
gallery picture again under a random image-operation concept (world/effects.py, the concepts of every
aspect but identity, intensity 0.2–1) puts that variation inside each individual, so the fit learns to
look past it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from persona_lens.world.effects import apply_concept
from persona_lens.world.taxonomy import load_taxonomy


def augmented_pictures(images: list[Image.Image], labels: np.ndarray, copies: int, seed: int = 0
                       ) -> tuple[list[Image.Image], np.ndarray]:
    """`copies` shifted versions of every picture (seeded per picture), with their labels."""
    if copies < 0:
        raise ValueError(f"copies must be >= 0, got {copies}")
    concepts = [c for c in load_taxonomy().concepts(image_ops_only=True) if c.aspect != "identity"]
    out, out_labels = [], []
    for i, (image, label) in enumerate(zip(images, np.asarray(labels))):
        rng = np.random.default_rng([seed, i])
        for _ in range(copies):
            concept = concepts[int(rng.integers(len(concepts)))]
            out.append(apply_concept(image, concept, float(rng.uniform(0.2, 1.0)), rng))
            out_labels.append(label)
    return out, np.asarray(out_labels, dtype=np.asarray(labels).dtype if len(labels) else object)
