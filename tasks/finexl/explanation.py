"""From calibrated evidence to the explanation: per aspect an intensity, a confidence, the concept
moved from and to, the pairs that carry it and one sentence; and a short summary paragraph.

`explain_model` is the method's entry point for one model: arrays in, a typed `Explanation` out
(`to_json()` gives the issue's `{"aspects": [...], "summary": ...}`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np

from persona_lens.tasks.finexl.attribution import PairInputs, concept_scores, model_evidence, pair_shares
from persona_lens.tasks.finexl.calibration import Calibration
from persona_lens.tasks.finexl.directions import ConceptSpace

LEVELS = ("none", "slight", "moderate", "strong")
#: A concept counts as "moved from" when its match drops by at least this share of the target's rise.
FROM_SHARE = 0.25


def level_of(intensity: float, edges: tuple[float, float, float]) -> str:
    """none / slight / moderate / strong for an intensity in [0, 1]."""
    return LEVELS[int(np.searchsorted(np.asarray(edges), intensity, side="right"))]


@dataclass(frozen=True)
class AspectExplanation:
    aspect: str
    intensity: float
    confidence: float
    concept_from: str | None
    concept_to: str | None
    text: str
    level: str
    concept_scores: dict[str, float] = field(default_factory=dict)   # vocabulary phrase -> weight
    pairs: list[tuple[int, float]] = field(default_factory=list)     # (pair index, share), largest first
    measured: bool = False        # image statistics (or identity scores) joined the language evidence

    def to_json(self) -> dict:
        return {"aspect": self.aspect, "intensity": round(self.intensity, 4),
                "confidence": round(self.confidence, 4), "concept_from": self.concept_from,
                "concept_to": self.concept_to, "text": self.text, "level": self.level,
                "concepts": [[p, round(w, 5)] for p, w in self.concept_scores.items()],
                "pairs": [[i, round(s, 4)] for i, s in self.pairs], "measured": self.measured}


@dataclass(frozen=True)
class Explanation:
    model_id: str
    method: str
    aspects: list[AspectExplanation]
    summary: str

    def aspect(self, name: str) -> AspectExplanation:
        return next(a for a in self.aspects if a.aspect == name)

    def to_json(self) -> dict:
        return {"model_id": self.model_id, "method": self.method,
                "aspects": [a.to_json() for a in self.aspects], "summary": self.summary}


def _sentence(aspect: str, level: str, intensity: float, confidence: float, c_from: str | None,
              c_to: str | None, measured: str | None) -> str:
    name = aspect.capitalize()
    if level == "none":
        return f"{name}: unchanged (intensity {intensity:.2f})."
    text = f"{name}: a {level} shift (intensity {intensity:.2f}) toward {c_to}"
    if c_from:
        text += f", away from {c_from}"
    text += f"; confidence {confidence:.2f}."
    if measured:
        text += f" Read from {measured} as well as from language, which reads this aspect poorly."
    return text


#: Said of identity when no identity score could be computed (no reference pictures of the subject).
UNSCORED_IDENTITY = (" Identity was read from language alone: there were no reference pictures of the subject "
                     "to score it against, and language reads identity poorly.")


def _measured_words(aspect: str, inputs: PairInputs) -> str | None:
    if aspect == "identity" and inputs.identity_base is not None:
        return "the identity ranker's score"
    if inputs.base_stats is not None and aspect != "identity":
        from persona_lens.tasks.finexl.image_stats import STATISTICS

        names = [n.replace("_", " ") for n, a in STATISTICS if a == aspect]
        return f"measured image statistics ({', '.join(names)})" if names else None
    return None


def summary_paragraph(aspects: list[AspectExplanation]) -> str:
    shifted = sorted([a for a in aspects if a.level != "none"], key=lambda a: -a.intensity)
    unchanged = [a.aspect for a in aspects if a.level == "none"]
    if not shifted:
        return ("No aspect of this model departs measurably from its base model: a faithful "
                "personalization of its subject.")
    parts = [f"{a.aspect} ({a.level}, {a.intensity:.2f}: {a.concept_to})" for a in shifted]
    text = (f"This model is personalized in {len(shifted)} aspect{'s' if len(shifted) > 1 else ''}: "
            f"{'; '.join(parts)}.")
    if unchanged:
        text += f" Unchanged: {', '.join(unchanged)}."
    measured = [a.aspect for a in shifted if a.measured]
    if measured:
        text += f" {', '.join(measured).capitalize()} also read from measured image evidence."
    return text


def explain_model(model_id: str, inputs: PairInputs, space: ConceptSpace, calibration: Calibration,
                  aspects: list[str], form: str = "whitened", complemented: tuple[str, ...] = (),
                  level_edges: tuple[float, float, float] = (0.1, 0.45, 0.75), bootstrap: int = 200,
                  seed: int = 0, ortho_threshold: float = 0.03, residual_threshold: float = 0.2,
                  method: str = "finexl", min_pairs: int = 2) -> Explanation:
    """Explain one model (see module doc). Every aspect of `aspects` appears, intensity 0 when unchanged."""
    inputs.check(min_pairs)
    kw = dict(form=form, complemented=complemented, stat_scale=calibration.stat_scale,
              ortho_threshold=ortho_threshold, residual_threshold=residual_threshold,
              dictionary=getattr(calibration, "dictionary", None))
    ev = model_evidence(inputs, space, aspects, per_pair=True, **kw)
    point = calibration.intensities(ev.features)
    vocab = space.vocabulary
    scores = concept_scores(ev)
    best = {a: (int(vocab.indices(a)[np.argmax(scores[vocab.indices(a)])]) if len(vocab.indices(a)) else None)
            for a in aspects}

    # Confidence: how often a bootstrap resample of the probe pairs gives the same reading (the same
    # level and, when shifted, the same concept) as all the pairs together.
    rng = np.random.default_rng([seed, zlib.crc32(model_id.encode())])
    agree = {a: 0 for a in aspects}
    n = len(inputs)
    for _ in range(bootstrap):
        rows = rng.integers(0, n, n)
        bev = model_evidence(inputs.take(rows), space, aspects, **kw)
        b_int = calibration.intensities(bev.features)
        for a in aspects:
            same_level = level_of(b_int[a], level_edges) == level_of(point[a], level_edges)
            idx = vocab.indices(a)
            same_concept = best[a] is None or level_of(point[a], level_edges) == "none" or \
                int(idx[np.argmax(concept_scores(bev)[idx])]) == best[a]
            agree[a] += same_level and same_concept

    out = []
    for a in aspects:
        level = level_of(point[a], level_edges)
        j = best[a]
        idx = vocab.indices(a)
        c_to = vocab.phrases[j] if (j is not None and level != "none") else None
        c_from = None
        if c_to is not None:
            drops = -ev.rise[idx]
            k = int(np.argmax(np.where(idx == j, -np.inf, drops))) if len(idx) > 1 else None
            if k is not None and drops[k] > FROM_SHARE * max(ev.rise[j], 1e-9):
                c_from = vocab.phrases[idx[k]]
        measured = _measured_words(a, inputs) if a in complemented else None
        conf = agree[a] / bootstrap
        pairs = []
        if j is not None and level != "none":
            shares = pair_shares(ev.pair_weights, j)
            pairs = [(int(i), float(shares[i])) for i in np.argsort(-shares, kind="stable")]
        text = _sentence(a, level, point[a], conf, c_from, c_to, measured)
        if a == "identity" and a in complemented and inputs.identity_base is None:
            text += UNSCORED_IDENTITY
        out.append(AspectExplanation(
            a, point[a], conf, c_from, c_to, text, level,
            {vocab.phrases[i]: float(scores[i]) for i in idx}, pairs, measured is not None))
    return Explanation(model_id, method, out, summary_paragraph(out))
