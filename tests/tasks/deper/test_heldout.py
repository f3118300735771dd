"""The bar of issue 11: on held-out (fewshot) viewers, DEPER beats the style-only persona on CIDEr by a
clear margin, with the committed weights (models/weights/deper-*).

The protocol (docs/describe.md, fixed before the session-10 weights were chosen): the large world's
30 held-out viewers (new people and new scenes); weights chosen on support draws 3-4, reported on
draws 8-9; this test's draw, seed 7, is used by nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.tasks.deper.params import CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS, EvalDescribeParams
from persona_lens.tasks.deper.runner import run_eval_describe


@pytest.mark.slow
@pytest.mark.timeout(1800)      # renders the large world once (~150 s) when the cache is cold
@pytest.mark.skipif(not all(p.exists() for p in (CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS)),
                    reason="the describe weights are not in this checkout: train them with `persona-lens "
                           "train-captioner` then `persona-lens train-deper` (~25 min on 2 cores)")
@pytest.mark.xfail(strict=True, reason="bar not met on this draw (docs/describe.md): the grounded weights lead "
                   "style-only by +24% [+9, +42] on the validation draws 3-4 but are level on this one (seed 7: "
                   "-1%, interval -21%..+25%): the gain is not yet robust across support draws")
def test_deper_beats_style_only_on_cider_on_heldout_viewers():
    # A seed and K the reported numbers (docs/describe.md) do not use, so this is not the tuned set.
    params = EvalDescribeParams(world_size="large", ks=(5,), seeds=(7,), max_queries=6, resamples=500)
    table, summary = run_eval_describe(params)
    deper, style = summary[("deper", "cider", 5)][0], summary[("style_only", "cider", 5)][0]
    gain, lo, _ = summary[("deper_vs_style_only", "cider", 5)]
    assert deper > 1.1 * style, (deper, style)
    assert lo > 0.0, summary[("deper_vs_style_only", "cider", 5)]
    assert summary[("deper", "subject_discrimination", 5)][0] > 1 / 8
    assert np.isfinite(table.column("value").to_numpy()).all()
