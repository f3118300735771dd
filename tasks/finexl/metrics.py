"""Metrics of an explanation against the known truth, as pure functions of per-model records.

A `Truth` is aspect -> (taxonomy concept phrase or None, intensity); a `Prediction` is per aspect an
intensity and a named taxonomy concept, plus a score for every taxonomy concept. Definitions are in
docs/explain.md; the headline is `explanation_accuracy`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from persona_lens.tasks.finexl.explanation import LEVELS, level_of

Truth = dict[str, tuple[str | None, float]]


@dataclass(frozen=True)
class Prediction:
    intensity: dict[str, float]              # aspect -> [0, 1]
    concept: dict[str, str | None]           # aspect -> taxonomy concept named (None: not named)
    scores: dict[str, float]                 # taxonomy concept -> score (higher: more likely the shift)


def _level(t: float, edges) -> int:
    return LEVELS.index(level_of(t, edges))


def _true_level(t: float, edges) -> int:
    # A true shift is never "none", however small: the world draws intensities from [0.2, 1].
    return max(_level(t, edges), 1) if t > 0 else 0


def explanation_accuracy(truth: Truth, pred: Prediction, edges) -> float:
    """Per model: credit over the aspects either side names, / |named by truth ∪ named by prediction|.
    Credit 1 when the aspect is shifted, named, with the right concept and the right level; 0.5 with
    the right concept and a level one step off; else 0. A model with no shift scores 1 iff nothing is named."""
    named_true = {a for a, (_, t) in truth.items() if t > 0}
    named_pred = {a for a, t in pred.intensity.items() if _level(t, edges) > 0}
    union = named_true | named_pred
    if not union:
        return 1.0
    credit = 0.0
    for a in named_true & named_pred:
        if pred.concept.get(a) == truth[a][0]:
            gap = abs(_level(pred.intensity[a], edges) - _true_level(truth[a][1], edges))
            credit += 1.0 if gap == 0 else 0.5 if gap == 1 else 0.0
    return credit / len(union)


def top_aspect_correct(truth: Truth, pred: Prediction) -> float | None:
    """1 if the most intense predicted aspect is the most intense true one (None for unshifted models)."""
    if max(t for _, t in truth.values()) <= 0:
        return None
    aspects = list(truth)
    return float(aspects[int(np.argmax([pred.intensity[a] for a in aspects]))] ==
                 aspects[int(np.argmax([truth[a][1] for a in aspects]))])


def detection_counts(truth: Truth, pred: Prediction, edges) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) over the model's aspects."""
    tp = fp = fn = 0
    for a, (_, t) in truth.items():
        p = _level(pred.intensity[a], edges) > 0
        tp += p and t > 0
        fp += p and t <= 0
        fn += (not p) and t > 0
    return tp, fp, fn


def concept_correct(truth: Truth, pred: Prediction, model_id: str, k: int, pool: list[str],
                    seed: int = 0) -> list[float]:
    """Per shifted aspect: 1 if its true concept outscores k - 1 distractors drawn from `pool` (every
    other taxonomy concept), the draw seeded by model and aspect."""
    out = []
    for a, (c, t) in truth.items():
        if t <= 0 or c is None:
            continue
        others = [x for x in pool if x != c]
        rng = np.random.default_rng([seed, zlib.crc32(f"{model_id}/{a}/{k}".encode())])
        chosen = rng.choice(others, size=min(k - 1, len(others)), replace=False)
        s = pred.scores.get(c, -np.inf)
        out.append(float(all(s > pred.scores.get(x, -np.inf) for x in chosen)))
    return out


def level_correct(truth: Truth, pred: Prediction, edges) -> list[float]:
    return [float(_level(pred.intensity[a], edges) == _true_level(t, edges)) for a, (_, t) in truth.items()]


def spearman_by_aspect(truths: list[Truth], preds: list[Prediction]) -> dict[str, float]:
    """Per aspect, across models: Spearman of predicted and true intensity (NaN when either is constant)."""
    out = {}
    for a in truths[0]:
        t = np.array([tr[a][1] for tr in truths])
        p = np.array([pr.intensity[a] for pr in preds])
        # Spearman = Pearson of average ranks (ties averaged), as scipy.stats.spearmanr computes it.
        out[a] = float(np.corrcoef(rankdata(p), rankdata(t))[0, 1]) if np.ptp(t) > 0 and np.ptp(p) > 0 else (
            0.0 if np.ptp(t) > 0 else float("nan"))
    return out


def level_rank_error(truths: list[Truth], preds: list[Prediction]) -> float:
    """The paper's metric on single-aspect models: per aspect, the mean |rank of the predicted intensity
    - rank of the true intensity| across that aspect's models, / (n - 1); averaged over aspects with 2+."""
    errors = []
    for a in truths[0]:
        idx = [i for i, tr in enumerate(truths) if tr[a][1] > 0 and sum(t > 0 for _, t in tr.values()) == 1]
        if len(idx) < 2:
            continue
        t = np.argsort(np.argsort([truths[i][a][1] for i in idx], kind="stable"), kind="stable")
        p = np.argsort(np.argsort([preds[i].intensity[a] for i in idx], kind="stable"), kind="stable")
        errors.append(np.abs(t - p).mean() / (len(idx) - 1))
    return float(np.mean(errors)) if errors else float("nan")


def _concept_vector(intensity: dict[str, float], concept: dict[str, str | None], pool: list[str]) -> np.ndarray:
    v = np.zeros(len(pool))
    for a, t in intensity.items():
        c = concept.get(a)
        if c in pool and t > 0:
            v[pool.index(c)] = max(v[pool.index(c)], t)
    return v


def model_selection(truths: list[Truth], preds: list[Prediction], ids: list[str], n: int, pool: list[str],
                    edges, seed: int = 0) -> list[float]:
    """Per shifted model: does its explanation pick it out of n candidates (itself and n - 1 other
    shifted models, seeded)? The candidate whose true concept-intensity vector is nearest (L1) to the
    explanation's wins; ties share the credit."""
    shifted = [i for i, tr in enumerate(truths) if max(t for _, t in tr.values()) > 0]
    true_vecs = {i: _concept_vector({a: t for a, (_, t) in truths[i].items()},
                                    {a: c for a, (c, _) in truths[i].items()}, pool) for i in shifted}
    out = []
    for i in shifted:
        rng = np.random.default_rng([seed, zlib.crc32(f"{ids[i]}/{n}".encode())])
        others = [j for j in shifted if j != i]
        cand = [i, *rng.choice(others, size=min(n - 1, len(others)), replace=False).tolist()]
        named = {a: (t if _level(t, edges) > 0 else 0.0) for a, t in preds[i].intensity.items()}
        v = _concept_vector(named, preds[i].concept, pool)
        d = np.array([np.abs(v - true_vecs[j]).sum() for j in cand])
        best = np.flatnonzero(d == d.min())
        out.append(1.0 / len(best) if 0 in best else 0.0)
    return out
