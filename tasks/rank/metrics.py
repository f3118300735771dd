"""Retrieval metrics of one query set against a labelled gallery: AP, first-hit rank (CMC), recall@k.

Per-query AP and recall@k come from torchmetrics' retrieval functionals (the reference implementations);
the first-hit rank and the CMC curve are one line of numpy each, which torchmetrics does not offer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.functional.retrieval import retrieval_average_precision, retrieval_recall

#: Identity granularities, coarse to fine (columns of `images`).
GRANULARITIES: tuple[str, ...] = ("category", "subclass", "instance")


@dataclass(frozen=True)
class QueryScores:
    """One row per query: AP, 1-based rank of the first relevant gallery item (0 when none is
    relevant), number of relevant items, and recall@k for each k."""

    average_precision: np.ndarray          # (q,) float
    first_hit_rank: np.ndarray             # (q,) int, 0 = no relevant item in the gallery
    num_relevant: np.ndarray               # (q,) int
    recall_at: dict[int, np.ndarray]       # k → (q,) float


def score_queries(similarity: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> QueryScores:
    """Scores of each query's ranking of the gallery by `similarity` (q, g), with `relevant` (q, g) bool.

    A query with no relevant gallery item gets AP 0 and first_hit_rank 0 (and is left out of the means
    by `summarize`, as retrieval benchmarks do).
    """
    if similarity.shape != relevant.shape or similarity.ndim != 2:
        raise ValueError(f"similarity {similarity.shape} and relevant {relevant.shape} must be the same (q, g) shape")
    if not np.isfinite(similarity).all():
        raise ValueError("similarity holds non-finite values")
    q, g = similarity.shape
    num_relevant = relevant.sum(axis=1).astype(np.int32)
    # Ties are broken by gallery order (stable sort).
    order = np.argsort(-similarity, axis=1, kind="stable")
    hits = np.take_along_axis(relevant, order, axis=1)
    first_hit = np.where(num_relevant > 0, hits.argmax(axis=1) + 1, 0).astype(np.int32)
    # torchmetrics treats an item scored <= 0 as never retrieved (cosines often are negative) and sorts
    # without a stable order, so it is handed that ranking as distinct positive scores: g, g-1, …, 1.
    rank_scores = np.empty((q, g), dtype=np.float64)
    np.put_along_axis(rank_scores, order, np.broadcast_to(np.arange(g, 0, -1, dtype=np.float64), (q, g)), axis=1)
    preds, target = torch.from_numpy(rank_scores), torch.from_numpy(relevant.astype(bool))
    ap = np.zeros(q, dtype=np.float32)
    recall = {k: np.zeros(q, dtype=np.float32) for k in ks}
    for i in np.flatnonzero(num_relevant):
        ap[i] = float(retrieval_average_precision(preds[i], target[i]))
        for k in ks:
            recall[k][i] = float(retrieval_recall(preds[i], target[i], top_k=min(k, g)))
    return QueryScores(ap, first_hit, num_relevant, recall)


def summarize(scores: QueryScores, mask: np.ndarray | None = None, ks: tuple[int, ...] | None = None
              ) -> dict[str, float]:
    """mAP, cmc@k and recall@k over the queries in `mask` that have a relevant gallery item.

    `ks`: the cut-offs of cmc@k (default: those of recall@k); recall@k is reported where it was scored.

    cmc@k: the share of queries whose first relevant item is in the top k (the re-identification
    curve); recall@k: the mean share of a query's relevant items found in the top k.
    """
    keep = scores.num_relevant > 0
    if mask is not None:
        keep &= mask
    if not keep.any():
        return {}
    out = {"mAP": float(scores.average_precision[keep].mean())}
    for k in (ks if ks is not None else tuple(scores.recall_at)):
        out[f"cmc@{k}"] = float((scores.first_hit_rank[keep] <= k).mean())
        if k in scores.recall_at:
            out[f"recall@{k}"] = float(scores.recall_at[k][keep].mean())
    return out


def chance_average_precision(num_relevant: int, gallery_size: int) -> float:
    """Expected AP of a uniformly random ranking of `gallery_size` items of which `num_relevant` are relevant.

    Position k holds a relevant item with probability R/N, and then the other k-1 positions above it
    hold (R-1)(k-1)/(N-1) relevant items on average, so E[AP] = (1/N) Σ_k [1 + (R-1)(k-1)/(N-1)] / k.
    """
    n, r = gallery_size, num_relevant
    if n <= 0 or not 0 <= r <= n:
        raise ValueError(f"need 0 <= num_relevant <= gallery_size and gallery_size > 0, got {r} and {n}")
    if r == 0:
        return 0.0
    k = np.arange(1, n + 1, dtype=np.float64)
    above = (r - 1) * (k - 1) / (n - 1) if n > 1 else np.zeros_like(k)
    return float(((1 + above) / k).sum() / n)
