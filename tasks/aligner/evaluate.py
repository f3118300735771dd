"""Scoring a vision-language encoder on held-out images: zero-shot concept classification per aspect,
text→image recall@k, and the frozen image tower with a linear probe as the reference point.

Both methods reduce to a score matrix (images × concepts), so accuracy is computed by one function for
both and the comparison is like for like:
- the aligner scores an image against each concept's text vector (its aspect's templates averaged,
  "prompt ensembling" as in CLIP) — it has never seen a labelled example of the task;
- the linear probe is one logistic regression per aspect (its concepts + "no edit in this aspect") on
  the frozen image vectors of the *training* corpus, scored as log-odds against "no edit".
The probe uses the labels the captions were made from, so it is the bar that says what the language
side adds (or costs) for concepts seen in training.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from persona_lens.models.base import VisionLanguageEncoder
from persona_lens.tasks.aligner.corpus import Sample
from persona_lens.world.taxonomy import Concept, Taxonomy

NONE = "<none>"
KS = (1, 5, 10)


def concept_text_vectors(encoder: VisionLanguageEncoder, taxonomy: Taxonomy,
                         concepts: Sequence[Concept]) -> np.ndarray:
    """(n_concepts, dim): each concept's captions (one per template of its aspect) encoded and averaged."""
    captions = [taxonomy.captions(c) for c in concepts]
    flat = encoder.encode_texts([t for group in captions for t in group])
    out, start = [], 0
    for group in captions:
        mean = flat[start:start + len(group)].mean(0)
        out.append(mean / max(float(np.linalg.norm(mean)), 1e-12))
        start += len(group)
    return np.asarray(out, np.float32)


def accuracy_by_aspect(scores: np.ndarray, samples: Sequence[Sample], concepts: Sequence[Concept],
                       aspects: Sequence[str]) -> dict[str, tuple[float, int, float]]:
    """Per aspect: (accuracy, number of images, chance) of picking each image's concept in that aspect
    among the aspect's concepts, by the highest score. Aspects no sample has a concept in are skipped."""
    out = {}
    for aspect in aspects:
        cols = [j for j, c in enumerate(concepts) if c.aspect == aspect]
        rows = [(i, s.concept_of(aspect)) for i, s in enumerate(samples) if s.concept_of(aspect) is not None]
        if not rows or not cols:
            continue
        pred = np.asarray(cols)[scores[[i for i, _ in rows]][:, cols].argmax(1)]
        truth = np.asarray([concepts.index(c) for _, c in rows])
        out[aspect] = (float((pred == truth).mean()), len(rows), 1.0 / len(cols))
    return out


def accuracy_over_all(scores: np.ndarray, samples: Sequence[Sample], concepts: Sequence[Concept]
                      ) -> tuple[float, int, float]:
    """(accuracy, n, chance) of picking each single-edit image's one image-op concept among all of them."""
    cols = [j for j, c in enumerate(concepts) if not c.render]
    rows = [(i, [c for c in s.concepts if not c.render]) for i, s in enumerate(samples)]
    rows = [(i, cs[0]) for i, cs in rows if len(cs) == 1]
    if not rows:
        return float("nan"), 0, 1.0 / max(len(cols), 1)
    pred = np.asarray(cols)[scores[[i for i, _ in rows]][:, cols].argmax(1)]
    truth = np.asarray([concepts.index(c) for _, c in rows])
    return float((pred == truth).mean()), len(rows), 1.0 / len(cols)


def recall_at_k(scores: np.ndarray, query_keys: Sequence[str], gallery_keys: Sequence[str],
                ks: Sequence[int] = KS) -> dict[int, tuple[float, float]]:
    """Per k: (recall@k, chance@k) of text→image retrieval, `scores` (queries × gallery images).

    A query is answered at k if any of its top-k images has the query's content key (images sharing a
    key are equally right answers). Chance is the same probability for a random ranking, averaged over
    queries: 1 − C(N − r, k) / C(N, k) with r right answers among N images.
    """
    gallery = np.asarray(gallery_keys)
    relevant = gallery[None, :] == np.asarray(query_keys)[:, None]
    if not relevant.any(1).all():
        raise ValueError("every query needs at least one gallery image with its key")
    order = np.argsort(-scores, axis=1, kind="stable")
    ranked = np.take_along_axis(relevant, order, axis=1)
    n, r = len(gallery), relevant.sum(1)
    out = {}
    for k in ks:
        chance = np.mean([1.0 - math.comb(n - ri, k) / math.comb(n, k) if k <= n else 1.0 for ri in r])
        out[k] = (float(ranked[:, :k].any(1).mean()), float(chance))
    return out


@dataclass
class LinearProbe:
    """One multinomial logistic regression per aspect on standardised frozen image vectors."""

    scaler: StandardScaler
    models: dict[str, LogisticRegression]

    def log_probs(self, features: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
        """aspect → label (concept phrase or NONE) → log-probability per image."""
        x = self.scaler.transform(features)
        out = {}
        for aspect, model in self.models.items():
            lp = model.predict_log_proba(x)
            out[aspect] = {label: lp[:, j] for j, label in enumerate(model.classes_)}
        return out

    def concept_scores(self, features: np.ndarray, concepts: Sequence[Concept]) -> np.ndarray:
        """(n, n_concepts): log-odds of each concept against "no edit" in its aspect (log-prob if the
        aspect has no "no edit" class, e.g. a world background); −inf for concepts never trained on."""
        lp = self.log_probs(features)
        scores = np.full((len(features), len(concepts)), -np.inf)
        for j, c in enumerate(concepts):
            by_label = lp.get(c.aspect, {})
            if c.phrase in by_label:
                scores[:, j] = by_label[c.phrase] - by_label.get(NONE, 0.0)
        return scores

    def key_scores(self, features: np.ndarray, samples: Sequence[Sample]) -> np.ndarray:
        """(len(samples), n_images): log-likelihood of each sample's labels (every probed aspect's
        concept or "no edit") for each image — how the probe ranks images for a caption."""
        lp = self.log_probs(features)
        out = np.zeros((len(samples), len(features)))
        for q, s in enumerate(samples):
            for aspect, by_label in lp.items():
                concept = s.concept_of(aspect)
                label = concept.phrase if concept is not None else NONE
                # A label the probe never saw (an aspect that sample lacks, e.g. a photo's background)
                # says nothing about the images: skip it rather than rank by -inf.
                if label in by_label:
                    out[q] += by_label[label]
        return out


def fit_linear_probe(features: np.ndarray, samples: Sequence[Sample], taxonomy: Taxonomy,
                     aspects: Sequence[str], c: float = 0.5, seed: int = 0) -> LinearProbe:
    """Fit one logistic regression per aspect on the training vectors.

    In an aspect with image-op concepts, a sample's label is its concept there or NONE (unedited in
    that aspect). In a render-only aspect (a world background), only samples that carry one of its
    concepts are used and there is no NONE class: a photo has no rendered background to name.
    """
    scaler = StandardScaler().fit(features)
    x = scaler.transform(features)
    models = {}
    for aspect in aspects:
        render_only = all(c.render for c in taxonomy.aspects[aspect].concepts)
        labels = [(s.concept_of(aspect).phrase if s.concept_of(aspect) is not None
                   else None if render_only else NONE) for s in samples]
        keep = [i for i, lab in enumerate(labels) if lab is not None]
        y = np.asarray([labels[i] for i in keep])
        if len(set(y.tolist())) < 2:
            continue
        models[aspect] = LogisticRegression(C=c, max_iter=500, random_state=seed).fit(x[keep], y)
    return LinearProbe(scaler, models)
