"""Rank flows (Finer-Personalization Rank): generated images against the identity-labelled gallery.

`rank` fits the identity ranker on the gallery, ranks every personalized image and its base twin, and
writes `rankings` (per query and granularity), `rank_summary` (per model: mAP, cmc@k, recall@k,
beside CLIP-I and DINO) and `rank_scores` (per query and score), and a CMC plot per run
(reports/rank/<run_id>/cmc.png, also in the `rank-cmc` artifact). `eval-rank` reads `rank_scores` and
scores FPR and the semantic scores against the world's known identity drift (`eval_rank`). Run the
embed stage with the parameters' encoders first (the main job does). `drift-sweep` needs nothing in the
root: it renders graded identity drift for a few subjects of a world and writes how each identity score
follows it (`eval_rank`, split `drift_sweep`).
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote

from persona_lens.flows.run_context import stage_run
from persona_lens.tasks.markdown import tables_markdown
from persona_lens.tasks.rank import (EVAL_TABLE, DriftSweepParams, EvalRankParams, RankParams, cmc_report_task,
                                     drift_sweep_task, evaluate_rank_task, fit_ranker_task, load_rank_data_task,
                                     rank_tables_task, summary_markdown, sweep_markdown)


@flow(name="rank")
def rank_flow(params: RankParams = RankParams(), root: str | None = None, run_id: str | None = None) -> dict:
    """Rank each generated image (and its base twin) against the gallery at every granularity."""
    with stage_run("rank", params, root, run_id) as run:
        data = load_rank_data_task(run.root, params)
        ranker = fit_ranker_task(quote(data), params)
        tables = rank_tables_task(quote(data), ranker, params)
        for name, table in tables.items():
            run.write(name, table)
        run.count(queries=len(data.queries), gallery=len(data.gallery))
        create_markdown_artifact(key="rank-summary", description="Finer-Personalization Rank per model",
                                 markdown=summary_markdown(tables["rank_summary"]))
        if EVAL_TABLE in tables:
            create_markdown_artifact(key="rank-ablation", description="FPR against drawn galleries",
                                     markdown=tables_markdown({EVAL_TABLE: tables[EVAL_TABLE]}))
        create_markdown_artifact(key="rank-cmc", description="CMC curves per model (whole gallery, within group)",
                                 markdown=cmc_report_task(run.root, run.run_id, tables["rankings"]))
        return run.result()


@flow(name="eval-rank")
def eval_rank_flow(params: EvalRankParams = EvalRankParams(), root: str | None = None,
                   run_id: str | None = None) -> dict:
    """Score a rank run's FPR and semantic scores against the world's known identity drift (eval_rank)."""
    with stage_run("eval-rank", params, root, run_id) as run:
        table = evaluate_rank_task(run.root, params)
        run.write(EVAL_TABLE, table)
        create_markdown_artifact(key="rank-eval", markdown=tables_markdown({EVAL_TABLE: table}),
                                 description="FPR vs CLIP-I vs DINO against the known identity drift")
        return run.result(rows=table.num_rows)


@flow(name="drift-sweep")
def drift_sweep_flow(params: DriftSweepParams = DriftSweepParams(), root: str | None = None,
                     run_id: str | None = None) -> dict:
    """Graded identity drift per subject: does FPR follow it while the semantic scores do not?"""
    with stage_run("drift-sweep", params, root, run_id) as run:
        table = drift_sweep_task(params)
        run.write(EVAL_TABLE, table)
        create_markdown_artifact(key="rank-drift-sweep", markdown=sweep_markdown(table),
                                 description="Within-subject Spearman of each identity score with true fidelity")
        return run.result(rows=table.num_rows)
