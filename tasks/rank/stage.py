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
import pyarrow as pa

from persona_lens.schemas import RANK_SUMMARY, RANKINGS
from persona_lens.tasks.rank.inputs import Labelled, Queries
from persona_lens.tasks.rank.metrics import GRANULARITIES, QueryScores, score_queries, summarize
from persona_lens.tasks.rank.ranker import IdentityRanker, RankError


@dataclass(frozen=True)
class RankParams:
    """`encoder`: features the ranker projects; `ranker`: lda or raw; `semantic`: score name → encoder."""

    encoder: str = "efficientnet-lite0-multilevel"
    ranker: str = "lda"
    shrinkage: float = 0.3
    ks: tuple[int, ...] = (1, 5, 10)
    semantic: dict[str, str] = field(default_factory=lambda: {"clip_i": "persona-lens-lit",
                                                              "dino": "efficientnet-lite0"})

    def __post_init__(self) -> None:
        if not self.ks or min(self.ks) < 1:
            raise RankError(f"ks must be positive integers, got {list(self.ks)}")

    @property
    def ranked_encoder(self) -> str:
        """What `rankings.encoder` records: the features and the ranker fitted on them."""
        return f"{self.encoder}+{self.ranker}"


@dataclass
class RankResult:
    queries: Queries
    scores: dict[str, QueryScores]          # granularity → per-query scores
    semantic: dict[str, np.ndarray]         # score name → (q,) mean cosine to the subject's references
    gallery_size: int


def rank_images(queries: Labelled, query_vectors: np.ndarray, gallery: Labelled, gallery_vectors: np.ndarray,
                ranker: IdentityRanker, ks: tuple[int, ...]) -> dict[str, QueryScores]:
    """Per granularity, each query's ranking of the gallery by cosine in the ranker's space."""
    similarity = ranker.project(query_vectors) @ ranker.project(gallery_vectors).T
    return {g: score_queries(similarity, queries.labels[g][:, None] == gallery.labels[g][None, :], ks)
            for g in GRANULARITIES}


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
        raise RankError("no queries: the generations table has no personalized images with a subject "
                        "(run the world or the generate stage first)")
    unknown = sorted(set(queries.subjects) - set(gallery.labels["instance"]))
    if len(unknown) == len(set(queries.subjects)):
        raise RankError(f"none of the queries' subjects is in the gallery (e.g. {unknown[0]!r})")


def rankings_table(result: RankResult, params: RankParams) -> pa.Table:
    q = result.queries
    rows = []
    for g in GRANULARITIES:
        s = result.scores[g]
        for i in range(len(q)):
            rows.append({"query_image_id": q.image_ids[i], "model_id": q.model_ids[i],
                         "encoder": params.ranked_encoder, "granularity": g, "target": q.labels[g][i],
                         "average_precision": float(s.average_precision[i]),
                         "first_hit_rank": int(s.first_hit_rank[i]) or None,
                         "num_relevant": int(s.num_relevant[i])})
    return RANKINGS.from_rows(rows)


def summary_table(result: RankResult, params: RankParams) -> pa.Table:
    """Per model: mAP, cmc@k, recall@k per granularity, and the mean semantic scores."""
    q, rows = result.queries, []
    for model in sorted(set(q.model_ids)):
        mask = q.model_ids == model
        for g in GRANULARITIES:
            for metric, value in summarize(result.scores[g], mask).items():
                name, _, k = metric.partition("@")
                rows.append({"model_id": model, "encoder": params.ranked_encoder, "granularity": g,
                             "metric": name, "k": int(k) if k else None, "value": value})
        for name, values in result.semantic.items():
            if np.isfinite(values[mask]).any():
                rows.append({"model_id": model, "encoder": params.semantic[name], "granularity": "semantic",
                             "metric": name, "k": None, "value": float(np.nanmean(values[mask]))})
    return RANK_SUMMARY.from_rows(rows)


def summary_markdown(summary: pa.Table) -> str:
    """One line per model: mAP per granularity, instance cmc@1, and the semantic scores."""
    columns = [("instance", "mAP", None), ("subclass", "mAP", None), ("category", "mAP", None),
               ("instance", "cmc", 1), ("semantic", "clip_i", None), ("semantic", "dino", None)]
    value = {(r["model_id"], r["granularity"], r["metric"], r["k"]): r["value"] for r in summary.to_pylist()}
    header = ["model"] + [f"{g} {m}@{k}" if k else (m if g == "semantic" else f"{g} {m}") for g, m, k in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model in sorted({r[0] for r in value}):
        cells = [value.get((model, g, m, k)) for g, m, k in columns]
        lines.append("| " + " | ".join([model] + ["" if v is None else f"{v:.3f}" for v in cells]) + " |")
    return "\n".join(lines)
