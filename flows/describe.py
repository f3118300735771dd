"""Describe flows (DEPER): personalized image descriptions from attention sequences and wording.

`train-captioner` trains the frozen captioner once; `train-deper` trains DEPER and the style-only
persona with it frozen; `eval-describe` scores frozen captioner / style-only / DEPER on held-out
viewers (`eval_describe`); `describe` writes `personas`, `captions` and `caption_scores` for held-out
viewers personalized from K examples each.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from persona_lens.flows.run_context import stage_run
from persona_lens.tasks.deper import (
    EVAL_TABLE, DescribeParams, EvalDescribeParams, TrainCaptionerParams, TrainDeperParams, describe_task,
    eval_describe_task, info_json, summary_markdown, train_captioner_task, train_deper_task,
)


@flow(name="train-captioner")
def train_captioner_flow(params: TrainCaptionerParams = TrainCaptionerParams(), root: str | None = None,
                         run_id: str | None = None) -> dict:
    """Train the captioner's mapping network (+ small language model) on the train viewers' captions."""
    with stage_run("train-captioner", params, root, run_id) as run:
        info = train_captioner_task(params)
        create_markdown_artifact(key="train-captioner", markdown=f"```\n{info_json(info)}\n```")
        return run.result(**info)


@flow(name="train-deper")
def train_deper_flow(params: TrainDeperParams = TrainDeperParams(), root: str | None = None,
                     run_id: str | None = None) -> dict:
    """Train DEPER and/or the style-only persona with the captioner frozen."""
    with stage_run("train-deper", params, root, run_id) as run:
        info = train_deper_task(params)
        create_markdown_artifact(key="train-deper", markdown=f"```\n{info_json(info)}\n```")
        return run.result(models=info)


@flow(name="eval-describe")
def eval_describe_flow(params: EvalDescribeParams = EvalDescribeParams(), root: str | None = None,
                       run_id: str | None = None) -> dict:
    """Frozen captioner vs style-only vs DEPER on held-out viewers, K shots, several seeds → eval_describe."""
    with stage_run("eval-describe", params, root, run_id) as run:
        table, summary = eval_describe_task(params)
        run.write(EVAL_TABLE, table)
        create_markdown_artifact(key="describe-eval", markdown=summary_markdown(summary))
        return run.result()


@flow(name="describe")
def describe_flow(params: DescribeParams = DescribeParams(), root: str | None = None,
                  run_id: str | None = None) -> dict:
    """Personalize held-out viewers from K examples; write personas, captions and caption_scores."""
    with stage_run("describe", params, root, run_id) as run:
        for name, table in describe_task(params).items():
            run.write(name, table)
        return run.result()
