"""Retrieval metrics of one query set against a labelled gallery: AP, first-hit rank (CMC), recall@k.

Exact, order-independent and vectorised (no Python loop over queries). Written by hand because no
library does this at gallery scale: torchmetrics and scikit-learn score one query at a time (a Python
loop, float64 copies, a full sort per query), and faiss gives the top k, not every relevant item's rank.

How: each similarity at or above its query's lowest relevant score becomes an integer key that sorts
like the float (ties stay ties), offset by its query's row, so one `np.searchsorted` over all queries'
relevant keys counts, for every relevant item, how many gallery items score at least as high (N) and
how many of those are relevant (TP). Similarities are compared in float32, the precision vectors are
stored in. Then

    AP = (1 / R) * sum over relevant items i of TP(>= s_i) / N(>= s_i)

which is scikit-learn's `average_precision_score` exactly, ties included (a tie group is retrieved
together). The first-hit rank and recall@k use the same counts, so they do not depend on the gallery's
order either: a relevant item tied with irrelevant ones counts as retrieved after them (the first-hit
rank is N - TP + 1 at the best relevant score; an item is within the top k when N(>= its score) <= k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Identity granularities, coarse to fine (columns of `images`).
GRANULARITIES: tuple[str, ...] = ("category", "subclass", "instance")

#: The paper's per-group protocol: the instance level with the gallery cut to the query's look-alike
#: group (its subclass: a breed, a CUB genus, a car make), so only near-identical individuals compete.
IN_GROUP = "instance_in_group"
GROUP_LEVEL = "subclass"
#: Every granularity the rank stage scores, and the label each one's relevance is judged on.
SCORED: dict[str, str] = {"category": "category", "subclass": "subclass", "instance": "instance",
                          IN_GROUP: "instance"}


@dataclass(frozen=True)
class QueryScores:
    """One row per query: AP, 1-based rank of the first relevant gallery item (0 when none is
    relevant), number of relevant items, and recall@k for each k."""

    average_precision: np.ndarray          # (q,) float
    first_hit_rank: np.ndarray             # (q,) int, 0 = no relevant item in the gallery
    num_relevant: np.ndarray               # (q,) int
    recall_at: dict[int, np.ndarray]       # k → (q,) float
    candidates: int = 0                    # items the scoring had to key (what its memory grew with)

    @staticmethod
    def concatenate(parts: list[QueryScores]) -> QueryScores:
        ks = parts[0].recall_at if parts else {}
        return QueryScores(np.concatenate([p.average_precision for p in parts]),
                           np.concatenate([p.first_hit_rank for p in parts]),
                           np.concatenate([p.num_relevant for p in parts]),
                           {k: np.concatenate([p.recall_at[k] for p in parts]) for k in ks},
                           sum(p.candidates for p in parts))


def order_keys(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """int64 keys of float32 `values` that order exactly as the floats (equal floats, -0.0 and +0.0
    included, get equal keys), offset by each value's query `rows` so that row r's keys lie in
    [r * 2^32, (r + 1) * 2^32) and one sorted array serves every query."""
    x = np.asarray(values, dtype=np.float32) + np.float32(0.0)      # a copy; -0.0 -> +0.0
    # IEEE-754: non-negative floats order as their bit patterns; negative ones in reverse. Flipping the
    # sign bit of the former and every bit of the latter makes unsigned integers that order as the floats.
    flip = (x.view(np.int32) >> 31).view(np.uint32)
    flip |= np.uint32(0x80000000)
    keys32 = x.view(np.uint32)
    keys32 ^= flip
    keys = keys32.astype(np.int64)
    keys |= np.asarray(rows, dtype=np.int64) << 32
    return keys


def score_similarity(similarity: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> QueryScores:
    """`score_queries` without the input checks: `similarity` (q, g) float32, `relevant` (q, g) bool."""
    relevant = np.asarray(relevant, dtype=bool)
    num_relevant = relevant.sum(axis=1).astype(np.int64)
    # Only items scoring at least a query's lowest relevant score can be counted above a relevant item:
    # the rest (most of the gallery, at the instance level) never reach a key or a search.
    lowest = np.where(relevant, similarity, np.float32(np.inf)).min(axis=1)
    rows, cols = np.nonzero(similarity >= lowest[:, None])
    return _score_candidates(similarity[rows, cols], rows, relevant[rows, cols], num_relevant, len(similarity), ks)


def score_ranges(similarity: np.ndarray, start: np.ndarray, end: np.ndarray, ks: tuple[int, ...] = (1, 5, 10),
                 keep: tuple[np.ndarray, np.ndarray] | None = None) -> QueryScores:
    """`score_similarity` where each query's relevant items are one run of columns, [start[i], end[i])
    (a gallery ordered by the label), so no (q, g) relevance mask is built: one pass over the
    similarities finds the candidates. `keep` (lo, hi): rank row i only among columns [lo[i], hi[i])
    (a gallery cut to the query's group, which must contain its relevant run)."""
    q = len(similarity)
    num_relevant = (end - start).astype(np.int64)
    lowest = np.full(q, np.inf, dtype=np.float32)
    for i in np.flatnonzero(num_relevant):      # a slice per query: µs each, against a (q, g) pass
        lowest[i] = similarity[i, start[i]:end[i]].min()
    rows, cols = np.nonzero(similarity >= lowest[:, None])
    if keep is not None:
        inside = (cols >= keep[0][rows]) & (cols < keep[1][rows])
        rows, cols = rows[inside], cols[inside]
    is_relevant = (cols >= start[rows]) & (cols < end[rows])
    return _score_candidates(similarity[rows, cols], rows, is_relevant, num_relevant, q, ks)


def _score_candidates(values: np.ndarray, rows: np.ndarray, is_relevant: np.ndarray, num_relevant: np.ndarray,
                      q: int, ks: tuple[int, ...]) -> QueryScores:
    """The scores from each query's candidates (every item at or above its lowest relevant score):
    their similarities `values`, query `rows` and relevance, and the queries' relevant counts."""
    keys = order_keys(values, rows)
    thresholds = np.sort(keys[is_relevant])                # grouped by row (offsets), ascending within
    total = len(thresholds)
    start = np.concatenate([[0], np.cumsum(num_relevant)[:-1]])
    end = start + num_relevant
    t_rows = np.repeat(np.arange(q), num_relevant)         # row of each threshold
    # Each candidate: how many of its row's thresholds it reaches (key >= threshold), binned per row
    # (bin = position + row) so rows never share a bin; reverse cumulative counts then give N.
    reach = np.searchsorted(thresholds, keys, side="right") + rows
    at_least = np.bincount(reach, minlength=total + q + 1)[::-1].cumsum()[::-1]   # at_least[b] = # bins >= b
    j = np.arange(total)
    n_above = at_least[j + t_rows + 1] - at_least[end[t_rows] + t_rows + 1]          # N(>= s_j)
    tp_above = end[t_rows] - np.searchsorted(thresholds, thresholds, side="left")    # TP(>= s_j)
    has = num_relevant > 0
    ap = np.bincount(t_rows, weights=tp_above / n_above, minlength=q).astype(np.float64)
    ap[has] /= num_relevant[has]
    first_hit = np.zeros(q, dtype=np.int32)
    best = end[has] - 1                                     # the row's highest relevant score
    first_hit[has] = n_above[best] - tp_above[best] + 1
    recall = {k: np.where(has, np.bincount(t_rows, weights=n_above <= k, minlength=q) / np.maximum(num_relevant, 1),
                          0.0).astype(np.float32) for k in ks}
    return QueryScores(ap.astype(np.float32), first_hit, num_relevant.astype(np.int32), recall, len(values))


def score_queries(similarity: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = (1, 5, 10)) -> QueryScores:
    """Scores of each query's ranking of the gallery by `similarity` (q, g), with `relevant` (q, g) bool.

    A query with no relevant gallery item gets AP 0 and first_hit_rank 0 (and is left out of the means
    by `summarize`, as retrieval benchmarks do).
    """
    similarity = np.asarray(similarity)
    if similarity.shape != np.shape(relevant) or similarity.ndim != 2:
        raise ValueError(f"similarity {similarity.shape} and relevant {np.shape(relevant)} must be the same (q, g) shape")
    if not np.isfinite(similarity).all():
        raise ValueError("similarity holds non-finite values")
    return score_similarity(np.asarray(similarity, dtype=np.float32), relevant, ks)


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
