"""The drift sweep's scoring: within-subject Spearman and the cost of another shift against drift."""

import numpy as np
import pytest

from persona_lens.tasks.rank.params import DriftSweepParams
from persona_lens.schemas import get_schema
from persona_lens.tasks.rank.sweep import SweepScores, sweep_markdown, sweep_rows
from persona_lens.tasks.params import ConfigError
from persona_lens.world.sweeps import drift_sweep
from tests.world.conftest import TINY

LEVELS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def models():
    return drift_sweep(TINY, subjects=2, levels=LEVELS)


def _value(rows, method, metric, detail_start):
    (v,) = [r["value"] for r in rows if r["method"] == method and r["metric"] == metric
            and r["detail"].startswith(detail_start)]
    return v


def test_a_score_that_follows_fidelity_has_spearman_one_and_a_constant_one_zero(models):
    fidelity = np.array([m.fidelity for m in models])
    other = np.array([m.other is not None for m in models], float)
    rows = sweep_rows(SweepScores(models, {"fpr": fidelity - 0.1 * other, "clip_i": np.ones(len(models)),
                                           "dino": -fidelity}), resamples=50)
    assert _value(rows, "fpr", "within_subject_spearman", "mode=all, other=none") == pytest.approx(1.0)
    assert _value(rows, "clip_i", "within_subject_spearman", "mode=all, other=shifted") == 0.0
    assert _value(rows, "dino", "within_subject_spearman", "mode=lost, other=none") == pytest.approx(-1.0)
    # fpr loses 0.1 to the other shift and 1.0 to full drift.
    assert _value(rows, "fpr", "other_shift_cost", "subject-modes") == pytest.approx(0.1)
    assert _value(rows, "fpr", "drift_cost", "subject-modes") == pytest.approx(1.0)
    assert _value(rows, "fpr", "other_to_drift_cost_ratio", "subject-modes") == pytest.approx(0.1)
    assert not [r for r in rows if r["method"] == "clip_i" and r["metric"] == "other_to_drift_cost_ratio"]


def test_every_row_is_of_the_sweep_split_with_an_interval_per_spearman(models):
    rows = sweep_rows(SweepScores(models, {"fpr": np.random.default_rng(0).random(len(models))}), resamples=50)
    assert {r["split"] for r in rows} == {"drift_sweep"} and {r["stage"] for r in rows} == {"rank"}
    spear = [r for r in rows if r["metric"] == "within_subject_spearman" and r["method"] == "fpr"]
    assert {r["value"] for r in rows if r["method"] == "chance"} == {0.0}
    lows = [r for r in rows if r["metric"] == "within_subject_spearman_ci_low"]
    assert len(spear) == len(lows) == (3 + 1) * 2          # 3 modes + all, × other none/shifted


@pytest.mark.parametrize("over, match", [({"levels": [0.5, 1.0, 0.75]}, "0 among them"),
                                         ({"size": "huge"}, "unknown world size"), ({"subjects": 1}, "subjects")])
def test_bad_sweep_parameters_are_refused(over, match):
    with pytest.raises(ConfigError, match=match):
        DriftSweepParams.parse(**over)


def test_the_markdown_lists_every_score_with_its_interval_and_the_cost_ratio(models):
    fidelity = np.array([m.fidelity for m in models])
    rows = sweep_rows(SweepScores(models, {"fpr": fidelity, "clip_i": -fidelity}), resamples=50)
    text = sweep_markdown(get_schema("eval_rank").from_rows(rows))
    assert "| fpr | clip_i |" in text and "chance" not in text
    assert "| mode=all, other=none | 1.00 [1.00, 1.00] | -1.00 [-1.00, -1.00] |" in text
    assert "other-shift cost / drift cost" in text
