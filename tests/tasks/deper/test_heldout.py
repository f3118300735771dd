"""The bar of issue 11: on held-out (fewshot) viewers of the medium world, DEPER beats the style-only
persona on CIDEr by a clear margin, with the committed weights (models/weights/deper-*)."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.tasks.deper.params import CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS, EvalDescribeParams
from persona_lens.tasks.deper.runner import run_eval_describe


@pytest.mark.slow
@pytest.mark.skipif(not all(p.exists() for p in (CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS)),
                    reason="the describe weights are not in this checkout: train them with `persona-lens "
                           "train-captioner` then `persona-lens train-deper` (~25 min on 2 cores)")
@pytest.mark.xfail(strict=True, reason="bar not met on this seed (docs/describe.md): with the 900-step captioner "
                   "DEPER leads style-only at K=5 on seeds 0-1 (+31%) but trails it on seed 7 (-16%, interval "
                   "-50%..+35%) and on validation seeds 3-4 (-9%): the gain is not yet robust")
def test_deper_beats_style_only_on_cider_on_heldout_viewers():
    # A seed and K the reported numbers (docs/describe.md) do not use, so this is not the tuned set.
    params = EvalDescribeParams(ks=(5,), seeds=(7,), max_queries=6, resamples=500)
    table, summary = run_eval_describe(params)
    deper, style = summary[("deper", "cider", 5)][0], summary[("style_only", "cider", 5)][0]
    gain, lo, _ = summary[("deper_vs_style_only", "cider", 5)]
    assert deper > 1.1 * style, (deper, style)
    assert lo > 0.0, summary[("deper_vs_style_only", "cider", 5)]
    assert summary[("deper", "subject_discrimination", 5)][0] > 1 / 8
    assert np.isfinite(table.column("value").to_numpy()).all()
