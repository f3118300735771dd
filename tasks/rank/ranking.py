"""Finer-Personalization Rank: each generated image is a query against the identity-labelled gallery.

A personalized model that kept its subject's identity produces pictures that retrieve *that
individual's* gallery images first; one that drifted retrieves look-alikes. Scored at every
granularity (category → subclass → instance) with mAP, CMC@k and recall@k, beside the semantic scores
(CLIP-I, DINO-style: mean cosine to the subject's reference images) that reward a look-alike as much as
the subject itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from persona_lens.tasks.rank.labelled import Labelled, Queries
from persona_lens.tasks.rank.metrics import (GRANULARITIES, GROUP_LEVEL, IN_GROUP, QueryScores, score_ranges,
                                            score_similarity)

from persona_lens.tasks.rank.ranker import IdentityRanker, RankError, fit_identity_ranker

#: Working memory of one block of queries: the float32 similarities and, on a gallery whose labels are
#: not each one run of rows, relevance masks and a float32 copy cut to the look-alike group (~16 bytes
#: per query × gallery item at most), plus candidate keys, few at the instance level where few items
#: reach a relevant score. Larger blocks read the gallery fewer times (the matmul is memory-bound when
#: blocks are thin).
BLOCK_BYTES = 1 << 30
BYTES_PER_PAIR = 16
#: What a query × gallery pair costs on the mask-free path (similarity and one comparison), and what
#: each keyed candidate costs (its row, column, value, key, relevance and search position); blocks after
#: the first are sized from the candidates the previous block actually had, so a gallery whose labels
#: are runs gets thicker blocks (fewer passes over the gallery) within the same working memory.
BYTES_PER_RUN_PAIR = 5
BYTES_PER_CANDIDATE = 48


@dataclass
class RankResult:
    queries: Queries
    scores: dict[str, QueryScores]          # granularity → per-query scores
    semantic: dict[str, np.ndarray]         # score name → (q,) mean cosine to the subject's references
    gallery_size: int
    # score name → per-query instance scores of retrieval in that score's own encoder space (the
    # paper's "mAP under CLIP and DINO"), where the gallery has that encoder's vectors.
    semantic_ranked: dict[str, QueryScores] = field(default_factory=dict)


def rank_vectors(query_vectors: np.ndarray, query_labels: dict[str, np.ndarray], gallery_vectors: np.ndarray,
                 gallery_labels: dict[str, np.ndarray], ks: tuple[int, ...], block_bytes: int = BLOCK_BYTES,
                 within: dict[str, tuple[str, str]] | None = None) -> dict[str, QueryScores]:
    """Per granularity (a key of the label dicts), each query's exact scores (metrics.py) against the
    gallery by inner product, in blocks of queries so memory stays near `block_bytes` at any gallery
    size; the gallery is scored whole per block (exact AP needs every item's rank).

    `within` adds scores with the gallery cut per query: name → (group label, relevance label), e.g.
    {"instance_in_group": ("subclass", "instance")} ranks each query only among the gallery items of
    its own group (the others score -inf, so no relevant item is ever counted below them)."""
    within = within or {}
    g = len(gallery_vectors)
    step = max(1, min(len(query_vectors), block_bytes // max(BYTES_PER_PAIR * g, 1)))
    gallery_t = np.asarray(gallery_vectors, np.float32).T      # a view: BLAS reads it transposed, no copy
    codes, runs = {}, {}
    for name, labels in query_labels.items():
        # Labels as integer codes shared by both sides: the relevance mask is one vectorised compare.
        _, inverse = np.unique(np.concatenate([labels, gallery_labels[name]]).astype(str), return_inverse=True)
        codes[name] = (inverse[: len(labels)], inverse[len(labels):])
        runs[name] = label_runs(codes[name][1], codes[name][0])
    parts: dict[str, list[QueryScores]] = {name: [] for name in [*query_labels, *within]}
    masks_needed = any(r is None for r in runs.values()) or not all(_nested(runs[l], runs[grp])
                                                                     for grp, l in within.values())
    lo = 0
    while lo < len(query_vectors):
        hi = lo + step
        similarity = np.asarray(query_vectors[lo:hi], np.float32) @ gallery_t
        same = {}

        def mask(name: str) -> np.ndarray:
            if name not in same:
                q_codes, g_codes = codes[name]
                same[name] = q_codes[lo:hi, None] == g_codes[None, :]
            return same[name]

        for name in query_labels:
            if runs[name] is not None:        # the gallery holds each label in one run: no mask needed
                parts[name].append(score_ranges(similarity, runs[name][0][lo:hi], runs[name][1][lo:hi], ks))
            else:
                parts[name].append(score_similarity(similarity, mask(name), ks))
        for name, (group, label) in within.items():
            if _nested(runs[label], runs[group]):
                keep = (runs[group][0][lo:hi], runs[group][1][lo:hi])
                parts[name].append(score_ranges(similarity, runs[label][0][lo:hi], runs[label][1][lo:hi], ks, keep))
            else:
                cut = np.where(mask(group), similarity, np.float32(-np.inf))
                parts[name].append(score_similarity(cut, mask(label), ks))
        if not masks_needed:
            # The next block from this one's measured candidates (the largest of any granularity).
            pairs = len(similarity) * g
            per_pair = BYTES_PER_RUN_PAIR + BYTES_PER_CANDIDATE * max(p[-1].candidates for p in parts.values()) / pairs
            step = int(min(4 * step, max(1, block_bytes // max(per_pair * g, 1))))
        lo = hi
    return {name: QueryScores.concatenate(p) for name, p in parts.items()}


def _nested(label: tuple[np.ndarray, np.ndarray] | None, group: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Whether every query's relevant run lies inside its group's run (labels nested in groups, as in a
    hierarchy); else the in-group cut needs the mask path, which counts a relevant item outside the group
    as cut away."""
    if label is None or group is None:
        return False
    empty = label[0] == label[1]
    return bool(np.all(empty | ((label[0] >= group[0]) & (label[1] <= group[1]))))


def label_runs(gallery_codes: np.ndarray, query_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Each query's relevant columns as one run [start, end) of the gallery, if every label of the
    gallery occupies one contiguous run in its order (a gallery sorted by it: the stage loads it sorted
    by category, subclass, instance); None otherwise. A query whose label the gallery lacks gets an
    empty run."""
    if not len(gallery_codes):
        return None
    change = np.flatnonzero(gallery_codes[1:] != gallery_codes[:-1]) + 1
    starts = np.concatenate([[0], change])
    run_codes = gallery_codes[starts]
    if len(np.unique(run_codes)) != len(run_codes):
        return None                           # some label appears in two places
    ends = np.concatenate([change, [len(gallery_codes)]])
    size = int(max(gallery_codes.max(), query_codes.max(initial=0))) + 1
    start_of, end_of = np.zeros(size, np.int64), np.zeros(size, np.int64)
    start_of[run_codes], end_of[run_codes] = starts, ends
    return start_of[query_codes], end_of[query_codes]


def rank_images(queries: Labelled, query_vectors: np.ndarray, gallery: Labelled, gallery_vectors: np.ndarray,
                ranker: IdentityRanker, ks: tuple[int, ...]) -> dict[str, QueryScores]:
    """Per granularity, each query's ranking of the gallery by cosine in the ranker's space; and the
    instance level within the query's look-alike group (IN_GROUP)."""
    return rank_vectors(ranker.project(query_vectors), {g: queries.labels[g] for g in GRANULARITIES},
                        ranker.project(gallery_vectors), {g: gallery.labels[g] for g in GRANULARITIES}, ks,
                        within={IN_GROUP: (GROUP_LEVEL, "instance")})


def subject_similarity(query_vectors: np.ndarray, subjects: np.ndarray, references: Labelled,
                       reference_vectors: np.ndarray) -> np.ndarray:
    """Mean cosine of each query to the reference images of its subject (CLIP-I / DINO score).

    Vectors are L2-normalised already (the embeddings table's contract). NaN where the subject has
    no reference image.
    """
    out = np.full(len(query_vectors), np.nan, dtype=np.float32)
    by_subject = {s: np.flatnonzero(references.labels["instance"] == s) for s in set(subjects)}
    for i, subject in enumerate(subjects):
        rows = by_subject[subject]
        if len(rows):
            out[i] = float((reference_vectors[rows] @ query_vectors[i]).mean())
    return out


def check_inputs(queries: Queries, gallery: Labelled) -> None:
    if not len(gallery):
        raise RankError("no gallery: ingest identity-labelled images with --role gallery "
                        "(labels category, subclass, instance) first")
    if not len(queries):
        raise RankError("no queries: the generations table has no personalized images of a gallery individual "
                        "(run the world or the generate stage first)")
    unknown = sorted(set(queries.subjects) - set(gallery.labels["instance"]))
    if len(unknown) == len(set(queries.subjects)):
        raise RankError(f"none of the queries' subjects is in the gallery (e.g. {unknown[0]!r})")


@dataclass
class RankData:
    """Everything the stage reads, vectors included, loaded once (inputs.load_rank_data)."""

    gallery: Labelled
    gallery_vectors: np.ndarray
    queries: Queries
    query_vectors: np.ndarray
    references: Labelled
    reference_vectors: np.ndarray
    semantic: dict[str, np.ndarray]      # score name → (q,) mean cosine to the subject's references
    # score name → (query vectors, gallery vectors) of that score's encoder, to rank in its own space.
    semantic_spaces: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    # Extra pictures of the gallery's individuals for the ranker's fit only (image-operation copies:
    # tasks/rank/augment.py); never ranked against.
    fit_vectors: np.ndarray | None = None
    fit_labels: np.ndarray | None = None


def fit_ranker(data: RankData, method: str, shrinkage: float) -> IdentityRanker:
    """The identity ranker fitted on the gallery's individuals, plus any extra fit pictures (or the raw space)."""
    vectors, labels = data.gallery_vectors, data.gallery.labels["instance"]
    if data.fit_vectors is not None and len(data.fit_vectors):
        vectors, labels = np.vstack([vectors, data.fit_vectors]), np.concatenate([labels, data.fit_labels])
    return fit_identity_ranker(vectors, labels, method, shrinkage)


def rank(data: RankData, ranker: IdentityRanker, ks: tuple[int, ...]) -> RankResult:
    """Every query (personalized images and their base twins) ranked against the gallery."""
    scores = rank_images(data.queries, data.query_vectors, data.gallery, data.gallery_vectors, ranker, ks)
    instance = {"instance": data.queries.labels["instance"]}
    semantic_ranked = {name: rank_vectors(q, instance, g, {"instance": data.gallery.labels["instance"]}, ks)["instance"]
                       for name, (q, g) in data.semantic_spaces.items()}
    return RankResult(data.queries, scores, data.semantic, len(data.gallery), semantic_ranked)


def rank_references(data: RankData, ranker: IdentityRanker) -> dict[str, dict[str, QueryScores]]:
    """The ranker on real pictures: each reference image retrieving its individual's gallery images,
    beside the encoder's raw space (what eval-rank reports as `reference`). {} without references."""
    if not len(data.references):
        return {}
    by_ranker = {"fpr": ranker, "raw": IdentityRanker(None)} if ranker.name != "raw" else {"raw": ranker}
    return {name: rank_images(data.references, data.reference_vectors, data.gallery, data.gallery_vectors, r, (1,))
            for name, r in by_ranker.items()}
