"""DEPER (describe stage): personas learned from viewers' attention sequences and wording, fed through an
adapter into a frozen captioner, so a new viewer is personalized from a few examples without retraining.

The stage's entry point: flows/describe.py calls only what this module exposes.
- `train-captioner`: the frozen captioner's mapping network (+ its small language model), once;
- `train-deper`: DEPER and the style-only persona, captioner frozen;
- `eval-describe`: frozen captioner vs style-only vs DEPER on held-out viewers → `eval_describe`;
- `describe`: personas, captions and caption_scores for held-out viewers.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.tasks.deper.params import (
    DescribeParams, EvalDescribeParams, TrainCaptionerParams, TrainDeperParams,
)
from persona_lens.tasks.deper.runner import (
    info_json, run_describe, run_eval_describe, run_train_captioner, run_train_deper, summary_markdown,
)

__all__ = ["EVAL_TABLE", "DescribeParams", "EvalDescribeParams", "TrainCaptionerParams", "TrainDeperParams",
           "describe_task", "eval_describe_task", "info_json", "summary_markdown", "train_captioner_task",
           "train_deper_task"]

EVAL_TABLE = "eval_describe"

# Thin task wrappers; training writes its own resumable checkpoints, so no Prefect caching.
train_captioner_task = task(run_train_captioner, name="train-captioner", cache_policy=NO_CACHE)
train_deper_task = task(run_train_deper, name="train-deper", cache_policy=NO_CACHE)
eval_describe_task = task(run_eval_describe, name="eval-describe", cache_policy=NO_CACHE)
describe_task = task(run_describe, name="describe", cache_policy=NO_CACHE)
