"""How well each identity score tells the subject from a look-alike, against the world's ground truth.

The world knows, per simulated model, whether its pictures keep the subject's identity
(`world_profiles`, aspect `identity`) and what else they shift. Each personalized picture has a base
twin: the same prompt and seed drawn by the base model, which never saw the subject — the same breed,
pose and background, but not *that* individual. So for every score (FPR's instance AP, CLIP-I, DINO):
- `pair_accuracy`: the share of (personalized, base) pairs in which the personalized picture scores
  higher for its subject (ties count half; chance 0.5), on `control` models (nothing shifted), on
  `faithful` models (identity kept, other aspects shifted) and on `drifted` models (identity shifted,
  where a good identity score should *not* prefer the personalized picture as clearly).
- `spearman`: rank correlation across models between the model's mean score and its identity fidelity
  (1 − identity intensity).
- `reference`: the ranker itself on real pictures: each reference image of an individual retrieving
  that individual's gallery images (mAP, cmc@1), beside the encoder's raw space and chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from persona_lens.tasks.rank.metrics import GRANULARITIES, QueryScores, chance_average_precision, summarize

STAGE = "rank"


@dataclass(frozen=True)
class IdentityTruth:
    """Per model: the known identity-drift intensity and how many aspects it shifts in all."""

    drift: dict[str, float]
    shifted_aspects: dict[str, int]


@dataclass(frozen=True)
class QueryIdentity:
    """Generated queries (`kind` personalized or base, `paired` the other image of the pair) and each
    method's per-query score of "this picture shows the subject" (higher = more faithful): fpr,
    fpr_subclass, clip_i, dino. Read back from `rank_scores` (tables.identity_from_table)."""

    image_ids: np.ndarray
    kinds: np.ndarray
    model_ids: np.ndarray
    paired: np.ndarray
    scores: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.image_ids)


def pair_accuracy(personalized: np.ndarray, base: np.ndarray) -> float:
    """Share of pairs where the personalized picture scores higher than its base twin (ties: half)."""
    return float(np.mean((personalized > base) + 0.5 * (personalized == base)))


def _row(method: str, metric: str, value: float, split: str, detail: str | None = None) -> dict:
    return {"stage": STAGE, "method": method, "metric": metric, "value": float(value), "split": split,
            "detail": detail}


def pair_rows(q: QueryIdentity, truth: IdentityTruth) -> list[dict]:
    index = {(image_id, kind): i for i, (image_id, kind) in enumerate(zip(q.image_ids, q.kinds))}
    pairs = [(i, index[(q.paired[i], "base")]) for i in range(len(q))
             if q.kinds[i] == "personalized" and (q.paired[i], "base") in index and q.model_ids[i] in truth.drift]
    groups = {
        "control": lambda m: truth.shifted_aspects[m] == 0,
        "faithful": lambda m: truth.drift[m] == 0,
        "drifted": lambda m: truth.drift[m] > 0,
    }
    rows = []
    for split, keep in groups.items():
        chosen = [(p, b) for p, b in pairs if keep(q.model_ids[p])]
        if not chosen:
            continue
        p_idx, b_idx = map(np.array, zip(*chosen))
        detail = f"pairs={len(chosen)}"
        for method, score in q.scores.items():
            ok = np.isfinite(score[p_idx]) & np.isfinite(score[b_idx])
            if ok.any():
                rows.append(_row(method, "pair_accuracy", pair_accuracy(score[p_idx][ok], score[b_idx][ok]),
                                 split, detail))
        rows.append(_row("chance", "pair_accuracy", 0.5, split, detail))
    return rows


def spearman_rows(q: QueryIdentity, truth: IdentityTruth) -> list[dict]:
    models = sorted({m for m, k in zip(q.model_ids, q.kinds) if k == "personalized" and m in truth.drift})
    fidelity = np.array([1.0 - truth.drift[m] for m in models])
    if len(models) < 3 or np.ptp(fidelity) == 0:
        return []  # no variation in the truth: a correlation would be undefined
    detail = f"models={len(models)}, drifted={int((fidelity < 1).sum())}"
    rows = []
    for method, score in q.scores.items():
        per_model = np.array([np.nanmean(score[(q.model_ids == m) & (q.kinds == "personalized")]) for m in models])
        if np.isfinite(per_model).all() and np.ptp(per_model) > 0:
            rows.append(_row(method, "spearman", spearmanr(per_model, fidelity).statistic, "profiles", detail))
    rows.append(_row("chance", "spearman", 0.0, "profiles", detail))
    return rows


def reference_rows(by_ranker: dict[str, dict[str, QueryScores]], gallery_size: int) -> list[dict]:
    """`by_ranker`: ranker name (e.g. fpr, raw) → granularity → scores of reference queries."""
    rows = []
    for method, per_granularity in by_ranker.items():
        for g in GRANULARITIES:
            summary = summarize(per_granularity[g], ks=(1,))
            for metric in ("mAP", "cmc@1"):
                if metric in summary:
                    rows.append(_row(method, metric, summary[metric], "reference", g))
    any_scores = next(iter(by_ranker.values()))
    for g in GRANULARITIES:
        relevant = any_scores[g].num_relevant[any_scores[g].num_relevant > 0]
        if len(relevant):
            rows.append(_row("chance", "mAP", np.mean([chance_average_precision(int(r), gallery_size)
                                                       for r in relevant]), "reference", g))
            rows.append(_row("chance", "cmc@1", float(np.mean(relevant / gallery_size)), "reference", g))
    return rows
