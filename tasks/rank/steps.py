"""The rank stage's steps over a dataset root: load, rank, evaluate; each a plain function with a
thin Prefect task around it (flows/rank.py wires them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.schemas import get_schema
from persona_lens.storage import Catalog, DatasetRoot
from persona_lens.tasks.rank.evaluate import (STAGE, IdentityTruth, pair_rows, reference_rows,
                                              spearman_rows)
from persona_lens.tasks.rank.inputs import Labelled, Queries, load_gallery, load_queries, load_vectors
from persona_lens.tasks.rank.ranker import IdentityRanker, RankError, fit_identity_ranker
from persona_lens.tasks.rank.stage import (RankParams, RankResult, check_inputs, rank_images,
                                           subject_similarity)

EVAL_TABLE = f"eval_{STAGE}"

_TRUTH_SQL = """
SELECT model_id,
       max(CASE WHEN aspect = 'identity' THEN intensity ELSE 0 END) AS drift,
       count(*) FILTER (WHERE intensity > 0) AS shifted
FROM world_profiles GROUP BY model_id
"""


@dataclass
class RankData:
    """Everything the stage reads, vectors included, loaded once."""

    gallery: Labelled
    gallery_vectors: np.ndarray
    queries: Queries
    query_vectors: np.ndarray
    references: Labelled
    reference_vectors: np.ndarray
    semantic: dict[str, np.ndarray]      # score name → (q,) mean cosine to the subject's references


def load_rank_data(root: DatasetRoot, params: RankParams) -> RankData:
    with Catalog(root) as catalog:
        gallery, queries = load_gallery(catalog), load_queries(catalog)
        check_inputs(queries, gallery)
        references = load_gallery(catalog, "reference")
        # CLIP-I and DINO compare with the pictures the model was personalized on; a dataset without
        # reference images falls back to the subject's gallery pictures.
        compare = references if len(references) else gallery
        semantic = {}
        for name, encoder in params.semantic.items():
            semantic[name] = subject_similarity(load_vectors(catalog, encoder, queries.image_ids), queries.subjects,
                                                compare, load_vectors(catalog, encoder, compare.image_ids))
        return RankData(gallery, load_vectors(catalog, params.encoder, gallery.image_ids), queries,
                        load_vectors(catalog, params.encoder, queries.image_ids), references,
                        load_vectors(catalog, params.encoder, references.image_ids), semantic)


def has_rank_queries(root: DatasetRoot) -> bool:
    """Whether any personalized generation with a subject exists (what the stage ranks)."""
    with Catalog(root) as catalog:
        return bool(catalog.scalar("SELECT count(*) FROM generations WHERE method <> 'base' AND subject IS NOT NULL"))


def fit_ranker(data: RankData, params: RankParams) -> IdentityRanker:
    return fit_identity_ranker(data.gallery_vectors, data.gallery.labels["instance"], params.ranker,
                               params.shrinkage)


def rank(data: RankData, ranker: IdentityRanker, params: RankParams) -> RankResult:
    scores = rank_images(data.queries, data.query_vectors, data.gallery, data.gallery_vectors, ranker, params.ks)
    return RankResult(data.queries, scores, data.semantic, len(data.gallery))


def load_identity_truth(root: DatasetRoot) -> IdentityTruth:
    """Known identity drift per simulated model (world_profiles). RankError when there is none."""
    with Catalog(root) as catalog:
        rows = catalog.query(_TRUTH_SQL).to_pylist()
    if not rows:
        raise RankError("no ground truth: world_profiles is empty (eval-rank scores the synthetic world's "
                        "simulated models; load a world with `persona-lens world load` first)")
    return IdentityTruth({r["model_id"]: float(r["drift"]) for r in rows},
                         {r["model_id"]: int(r["shifted"]) for r in rows})


def evaluate(data: RankData, ranker: IdentityRanker, result: RankResult, truth: IdentityTruth) -> list[dict]:
    """eval_rank rows: pair accuracies and correlations against the truth, and the ranker on references."""
    rows = pair_rows(result, truth) + spearman_rows(result, truth)
    if len(data.references):
        by_ranker = {"fpr": ranker, "raw": IdentityRanker(None)} if ranker.name != "raw" else {"raw": ranker}
        rows += reference_rows({name: rank_images(data.references, data.reference_vectors, data.gallery,
                                                  data.gallery_vectors, r, (1,))
                                for name, r in by_ranker.items()}, len(data.gallery))
    return rows


def eval_table(rows: list[dict]) -> pa.Table:
    return get_schema(EVAL_TABLE).from_rows(rows)


# Thin task wrappers (no caching: inputs are arrays, and each step takes seconds).
load_rank_data_task = task(load_rank_data, name="load-rank-data", cache_policy=NO_CACHE)
fit_ranker_task = task(fit_ranker, name="fit-identity-ranker", cache_policy=NO_CACHE)
rank_task = task(rank, name="rank-queries", cache_policy=NO_CACHE)
evaluate_task = task(evaluate, name="evaluate-rank", cache_policy=NO_CACHE)
