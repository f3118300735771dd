"""Baselines, on the same inputs as the method: random concepts, the coarse single-sentence
explanation, a VisDiff-style concept ranking, and the raw decompositions (the published core's
unnormalised weights, as published).

Each returns a `RawPrediction`: a score per vocabulary concept, and per aspect a raw strength that
evaluation may calibrate on training models (which only helps a baseline).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.stats import ttest_ind

from persona_lens.tasks.finexl.attribution import PairInputs
from persona_lens.tasks.finexl.core import pair_differences
from persona_lens.tasks.finexl.directions import ConceptSpace, decompose

#: VisDiff keeps a concept when its separation of the two image sets is significant at this level.
VISDIFF_ALPHA = 0.05


@dataclass(frozen=True)
class RawPrediction:
    concept_scores: np.ndarray          # (n_concepts,) higher = more likely the shift
    strength: dict[str, float]          # aspect -> raw strength (0 = not named)


def _per_aspect(space: ConceptSpace, aspects: list[str], values: np.ndarray) -> dict[str, float]:
    out = {}
    for a in aspects:
        idx = space.vocabulary.indices(a)
        out[a] = float(values[idx].max()) if len(idx) else 0.0
    return out


def random_baseline(model_id: str, space: ConceptSpace, aspects: list[str], seed: int = 0) -> RawPrediction:
    """1-3 random aspects, each a random concept at a random intensity (seeded by the model id)."""
    rng = np.random.default_rng([seed, zlib.crc32(model_id.encode())])
    scores = rng.random(len(space.vocabulary))
    named = set(rng.choice(aspects, size=int(rng.integers(1, 4)), replace=False).tolist())
    return RawPrediction(scores, {a: (float(rng.uniform(0.2, 1.0)) if a in named else 0.0) for a in aspects})


def coarse_baseline(inputs: PairInputs, space: ConceptSpace, aspects: list[str]) -> RawPrediction:
    """The single concept nearest to the whole shift (cosine of V_div and f(C)): one sentence, one
    aspect; its strength is the projection of V_div on that concept."""
    v = pair_differences(inputs.base, inputs.personalized).mean(axis=0)
    f = space.directions
    cos = (f @ v) / np.maximum(np.linalg.norm(f, axis=1) * np.linalg.norm(v), 1e-12)
    j = int(np.argmax(cos))
    strength = {a: 0.0 for a in aspects}
    strength[space.vocabulary.aspects[j]] = float(max(cos[j], 0.0) * np.linalg.norm(v))
    return RawPrediction(cos, strength)


def visdiff_baseline(inputs: PairInputs, space: ConceptSpace, aspects: list[str],
                     alpha: float = VISDIFF_ALPHA) -> RawPrediction:
    """Rank every concept by how well its text vector separates the personalized set from the base
    set (AUROC, pairing ignored); keep those significant by Welch's t-test; strength 2 (AUROC - 0.5)."""
    b = np.asarray(inputs.base, np.float64) @ space.phrases.T        # (n, k)
    p = np.asarray(inputs.personalized, np.float64) @ space.phrases.T
    greater = (p[:, None, :] > b[None, :, :]).mean(axis=(0, 1))
    ties = (p[:, None, :] == b[None, :, :]).mean(axis=(0, 1))
    auroc = greater + 0.5 * ties
    with np.errstate(all="ignore"):
        t = ttest_ind(p, b, axis=0, equal_var=False)
    pvalue = np.nan_to_num(t.pvalue, nan=1.0)
    keep = (auroc > 0.5) & (pvalue < alpha)
    strength = np.where(keep, 2 * (auroc - 0.5), 0.0)
    return RawPrediction(auroc + 1e-3 * (p - b).mean(axis=0), _per_aspect(space, aspects, strength))


def raw_decomposition(inputs: PairInputs, space: ConceptSpace, aspects: list[str], form: str,
                      ortho_threshold: float = 0.03, residual_threshold: float = 0.2) -> RawPrediction:
    """A decomposition's own weights as intensities (the published core: unnormalised, uncalibrated);
    per aspect the sum of its positive weights."""
    v = pair_differences(inputs.base, inputs.personalized).mean(axis=0)
    w = decompose(v, space, form, ortho_threshold, residual_threshold).weights
    pos = np.clip(w, 0.0, None)
    return RawPrediction(w, {a: float(pos[space.vocabulary.indices(a)].sum()) for a in aspects})
