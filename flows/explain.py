"""Explain flows (FineXL): each aspect of every personalized model, named, with its intensity.

`explain` explains every personalized model of a root with a fitted explainer (the packaged one by
default) and writes `explanations`, one Markdown artifact per model, and, for the models with a known
truth (the world's simulated models, the generate stage's known-truth snapshots), `eval_explain` rows
scoring it beside the coarse baseline (split `root`). `train-explainer` fits an explainer on the
world's training profiles; `eval-explain` scores every form and baseline on held-out worlds and real
photos (`eval_explain`, docs/explain.md).
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from persona_lens.flows.run_context import stage_run
from persona_lens.tasks.finexl import (
    EVAL_TABLE, EvalExplainParams, ExplainParams, TrainExplainerParams, evaluate_explainer_task, explain_root_task,
    train_explainer_task,
)
from persona_lens.tasks.finexl.report import artifact_key, explanation_markdown, explainer_path


@flow(name="explain")
def explain_flow(params: ExplainParams = ExplainParams(), root: str | None = None, run_id: str | None = None,
                 evaluate: bool = True) -> dict:
    """Explain every personalized model of the root (explanations; eval_explain for known-truth models)."""
    with stage_run("explain", params, root, run_id) as run:
        result = explain_root_task(run.root, params, evaluate)
        for name, table in result.tables.items():
            if table.num_rows:
                run.write(name, table)
        for e in result.explanations:
            create_markdown_artifact(key=artifact_key(e.model_id), markdown=explanation_markdown(e),
                                     description=f"FineXL explanation of {e.model_id}")
        run.count(models=len(result.explanations), quarantined=result.tables["quarantine"].num_rows)
        return run.result()


@flow(name="train-explainer")
def train_explainer_flow(params: TrainExplainerParams = TrainExplainerParams(), root: str | None = None,
                         run_id: str | None = None) -> dict:
    """Fit an explainer on the world's training profiles; save it (safetensors) for `explain`."""
    with stage_run("train-explainer", params, root, run_id) as run:
        path, explainer = train_explainer_task(params, explainer_path(run.root, params))
        create_markdown_artifact(key="train-explainer", markdown=f"explainer `{path}`: form `{explainer.form}`, "
                                 f"fitted on {explainer.trained_on}")
        return run.result(explainer=str(path), form=explainer.form)


@flow(name="eval-explain")
def eval_explain_flow(params: EvalExplainParams = EvalExplainParams(), root: str | None = None,
                      run_id: str | None = None) -> dict:
    """Every form and baseline fitted on training worlds, scored on held-out worlds and photos (eval_explain)."""
    with stage_run("eval-explain", params, root, run_id) as run:
        table, markdown = evaluate_explainer_task(params)
        run.write(EVAL_TABLE, table)
        create_markdown_artifact(key="explain-eval", markdown=markdown, description="FineXL against its baselines")
        return run.result(rows=table.num_rows)
