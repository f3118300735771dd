"""Finer-Personalization Rank (stage 5): identity retrieval of generated images against a labelled gallery.

The stage's entry point: flows/rank.py calls only what this module exposes. `rank` fits the identity
ranker on the gallery and writes `rankings`, `rank_summary` and `rank_scores`; `eval-rank` reads
`rank_scores` back and scores it against the world's known identity drift (`eval_rank`); `drift-sweep`
renders graded identity drift per subject and scores every identity score on it (`eval_rank`, split
`drift_sweep`).
"""

from __future__ import annotations

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.schemas import get_schema
from persona_lens.storage import DatasetRoot, write_report
from persona_lens.tasks.rank.ablation import gallery_ablation_rows
from persona_lens.tasks.rank.evaluate import STAGE, pair_rows, reference_rows, spearman_rows
from persona_lens.tasks.rank.inputs import has_rank_queries, load_identity_truth, load_rank_data, load_rank_scores
from persona_lens.tasks.rank.params import DriftSweepParams, EvalRankParams, RankParams
from persona_lens.tasks.rank.plots import PLOTTED, cmc_curves, cmc_markdown, cmc_png
from persona_lens.tasks.rank.ranker import IdentityRanker, RankError
from persona_lens.tasks.rank.ranking import RankData, fit_ranker, rank, rank_references
from persona_lens.tasks.rank.sweep import sweep_markdown
from persona_lens.tasks.rank.tables import (identity_from_table, rank_scores_table, rankings_table, real_map_by_subject,
                                            reference_from_table, summary_markdown, summary_table)

__all__ = ["EVAL_TABLE", "cmc_report_task", "DriftSweepParams", "EvalRankParams", "drift_sweep_task", "sweep_markdown", "RankError", "RankParams", "evaluate_rank_task", "fit_ranker_task",
           "has_rank_queries", "load_rank_data_task", "rank_tables_task", "summary_markdown"]

EVAL_TABLE = f"eval_{STAGE}"


def fit_stage_ranker(data: RankData, params: RankParams) -> IdentityRanker:
    """The identity ranker the parameters ask for, fitted on the gallery."""
    return fit_ranker(data, params.ranker, params.shrinkage)


def rank_tables(data: RankData, ranker: IdentityRanker, params: RankParams) -> dict[str, pa.Table]:
    """Rank every query and the references; the stage's three tables by name (and eval_rank's gallery
    ablation rows when the parameters ask for it)."""
    result = rank(data, ranker, params.ks)
    references = rank_references(data, ranker)
    real_map = real_map_by_subject(data.references, references.get("fpr", references.get("raw", {})))
    tables = {"rankings": rankings_table(result, params), "rank_summary": summary_table(result, params, real_map),
              "rank_scores": rank_scores_table(result, data.references, references, params)}
    if params.ablation:
        tables[EVAL_TABLE] = get_schema(EVAL_TABLE).from_rows(
            gallery_ablation_rows(data, ranker, params.ablation, params.ablation_repeats))
    return tables


def cmc_report(root: DatasetRoot, run_id: str, rankings: pa.Table) -> str:
    """The run's CMC curves (whole gallery and within the look-alike group) as a PNG under the root's
    reports/rank/<run_id>/; the markdown (tables, the plot inline, its URI) for the run's artifact."""
    curves = {g: cmc_curves(rankings, g) for g in PLOTTED}
    png = cmc_png(curves)
    return cmc_markdown(curves, write_report(root, "rank", run_id, "cmc.png", png), png)


def evaluate_rank(root: DatasetRoot, params: EvalRankParams) -> pa.Table:
    """eval_rank rows for a rank run: pair accuracies and correlations against the known identity drift,
    and the ranker on real references beside the raw space and chance."""
    truth = load_identity_truth(root)
    scores = load_rank_scores(root, params.rank_run)
    identity = identity_from_table(scores)
    rows = pair_rows(identity, truth) + spearman_rows(identity, truth)
    by_ranker, gallery_size = reference_from_table(scores)
    if by_ranker:
        rows += reference_rows(by_ranker, gallery_size)
    return get_schema(EVAL_TABLE).from_rows(rows)


def drift_sweep_table(params: DriftSweepParams) -> pa.Table:
    """Render, encode and score the drift sweep; its `eval_rank` rows (split `drift_sweep`)."""
    from persona_lens.tasks.rank.sweep import run_drift_sweep, sweep_rows

    result = run_drift_sweep(params.size, params.seed, subjects=params.subjects, levels=params.levels,
                             prompts=params.prompts, augment=params.augment, shrinkage=params.shrinkage,
                             vl_encoder=params.vl_encoder, image_encoder=params.image_encoder,
                             workers=params.workers)
    return get_schema(EVAL_TABLE).from_rows(sweep_rows(result, params.resamples, params.seed))


# Thin task wrappers (no caching: inputs are arrays, and each step takes seconds).
load_rank_data_task = task(load_rank_data, name="load-rank-data", cache_policy=NO_CACHE)
fit_ranker_task = task(fit_stage_ranker, name="fit-identity-ranker", cache_policy=NO_CACHE)
rank_tables_task = task(rank_tables, name="rank-queries", cache_policy=NO_CACHE)
evaluate_rank_task = task(evaluate_rank, name="evaluate-rank", cache_policy=NO_CACHE)
cmc_report_task = task(cmc_report, name="cmc-report", cache_policy=NO_CACHE)
drift_sweep_task = task(drift_sweep_table, name="drift-sweep", cache_policy=NO_CACHE)
