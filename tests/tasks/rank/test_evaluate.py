"""Evaluation against the world's truth: pair accuracy, rank correlation with fidelity, the ranker on references."""

import numpy as np
import pytest

from persona_lens.schemas import get_schema
from persona_lens.tasks.rank.evaluate import (IdentityTruth, QueryIdentity, pair_accuracy, pair_rows,
                                              reference_rows, spearman_rows)
from persona_lens.tasks.rank.metrics import GRANULARITIES, chance_average_precision, score_queries

# control: nothing shifted; styled: identity kept, style shifted; drifted: identity shifted.
TRUTH = IdentityTruth(drift={"control": 0.0, "styled": 0.0, "drifted": 0.8},
                      shifted_aspects={"control": 0, "styled": 1, "drifted": 1})


def pair_result(fpr_personalized, fpr_base, models, semantic=None):
    """Personalized queries p<i> of `models` with base twins b<i>, and their instance APs."""
    n = len(models)
    fpr = np.asarray(list(fpr_personalized) + list(fpr_base), dtype=np.float32)
    return QueryIdentity(np.array([f"p{i}" for i in range(n)] + [f"b{i}" for i in range(n)], dtype=object),
                         np.array(["personalized"] * n + ["base"] * n, dtype=object),
                         np.array(list(models) + ["base"] * n, dtype=object),
                         np.array([f"b{i}" for i in range(n)] + [f"p{i}" for i in range(n)], dtype=object),
                         {"fpr": fpr, "fpr_subclass": fpr, **(semantic or {})})


def test_pair_accuracy_counts_wins_and_ties_half():
    assert pair_accuracy(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 4.0])) == pytest.approx(0.5)
    assert pair_accuracy(np.array([2.0, 2.0]), np.array([1.0, 2.0])) == pytest.approx(0.75)
    assert pair_accuracy(np.array([0.0, 0.0]), np.array([1.0, 1.0])) == 0.0


def test_pair_rows_score_methods_per_split_against_chance():
    models = ["control", "control", "styled", "styled", "drifted", "drifted"]
    # FPR prefers the personalized picture on faithful models and the base twin on the drifted one;
    # clip_i cannot tell them apart (ties); dino has no score for the drifted model.
    fpr_p, fpr_b = [0.9, 0.8, 0.7, 0.9, 0.1, 0.2], [0.3, 0.2, 0.1, 0.4, 0.5, 0.6]
    clip_i = np.full(12, 0.7, dtype=np.float32)
    dino = np.array([0.9, 0.9, 0.9, 0.9, np.nan, np.nan] + [0.1] * 6, dtype=np.float32)
    rows = pair_rows(pair_result(fpr_p, fpr_b, models, {"clip_i": clip_i, "dino": dino}), TRUTH)
    get_schema("eval_rank").from_rows(rows)
    value = {(r["method"], r["split"]): r for r in rows}
    assert {r["metric"] for r in rows} == {"pair_accuracy"}
    assert {r["stage"] for r in rows} == {"rank"}
    assert value[("fpr", "control")]["value"] == 1.0
    assert value[("fpr", "faithful")]["value"] == 1.0
    assert value[("fpr", "drifted")]["value"] == 0.0
    assert value[("fpr_subclass", "faithful")]["value"] == 1.0
    assert value[("clip_i", "faithful")]["value"] == 0.5
    assert value[("dino", "faithful")]["value"] == 1.0
    assert ("dino", "drifted") not in value
    for split, pairs in [("control", 2), ("faithful", 4), ("drifted", 2)]:
        assert value[("chance", split)]["value"] == 0.5
        assert value[("chance", split)]["detail"] == f"pairs={pairs}"
        assert value[("fpr", split)]["detail"] == f"pairs={pairs}"


def test_pair_rows_skip_splits_without_models_and_models_without_truth():
    result = pair_result([0.9, 0.9], [0.1, 0.1], ["styled", "unknown"])
    rows = pair_rows(result, TRUTH)
    assert {r["split"] for r in rows} == {"faithful"}
    assert {r["detail"] for r in rows} == {"pairs=1"}


def test_pair_rows_ignore_personalized_queries_without_a_base_twin():
    result = pair_result([0.9, 0.1], [0.1, 0.9], ["control", "control"])
    result.paired[1] = None
    value = {(r["method"], r["split"]): r["value"] for r in pair_rows(result, TRUTH)}
    assert value[("fpr", "control")] == 1.0


def spearman_result(per_model_fpr, drift, semantic=None):
    models = [m for m in drift for _ in range(2)]
    fpr = [per_model_fpr[m] for m in models]
    truth = IdentityTruth(drift, {m: int(d > 0) for m, d in drift.items()})
    return pair_result(fpr, [0.0] * len(fpr), models, semantic), truth


def test_spearman_is_empty_when_every_model_has_the_same_drift():
    drift = {"a": 0.0, "b": 0.0, "c": 0.0, "d": 0.0}
    result, truth = spearman_result({"a": 0.9, "b": 0.5, "c": 0.3, "d": 0.1}, drift)
    assert spearman_rows(result, truth) == []


def test_spearman_is_empty_with_fewer_than_three_models():
    result, truth = spearman_result({"a": 0.9, "b": 0.1}, {"a": 0.0, "b": 1.0})
    assert spearman_rows(result, truth) == []


def test_spearman_is_positive_when_the_score_tracks_fidelity():
    drift = {"a": 0.0, "b": 0.3, "c": 0.6, "d": 0.9}
    n = 2 * len(drift)
    semantic = {"clip_i": np.full(2 * n, 0.5, dtype=np.float32),                   # no signal: skipped
                "dino": np.array([0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4] + [0] * n, dtype=np.float32)}
    result, truth = spearman_result({"a": 0.9, "b": 0.6, "c": 0.5, "d": 0.1}, drift, semantic)
    rows = spearman_rows(result, truth)
    get_schema("eval_rank").from_rows(rows)
    value = {r["method"]: r for r in rows}
    assert value["fpr"]["value"] == pytest.approx(1.0)
    assert value["fpr"]["split"] == "profiles"
    assert value["fpr"]["detail"] == "models=4, drifted=3"
    assert value["dino"]["value"] == pytest.approx(-1.0)                         # tracks drift instead
    assert "clip_i" not in value
    assert value["chance"]["value"] == 0.0


def test_spearman_ignores_base_queries():
    drift = {"a": 0.0, "b": 0.5, "c": 1.0}
    result, truth = spearman_result({"a": 0.9, "b": 0.5, "c": 0.1}, drift)
    truth.drift["base"] = 0.0
    assert {r["detail"] for r in spearman_rows(result, truth)} == {"models=3, drifted=2"}


def test_reference_rows_score_each_ranker_beside_chance():
    rng = np.random.default_rng(0)
    labels = np.array(["a", "a", "b", "b", "b", "c"], dtype=object)      # the gallery's labels
    queries = np.array(["a", "b", "c", "d"], dtype=object)               # "d" has no gallery image
    relevant = queries[:, None] == labels[None, :]
    by_ranker = {name: {g: score_queries(rng.normal(size=relevant.shape), relevant, (1,)) for g in GRANULARITIES}
                 for name in ("fpr", "raw")}
    rows = reference_rows(by_ranker, gallery_size=len(labels))
    get_schema("eval_rank").from_rows(rows)
    assert {r["split"] for r in rows} == {"reference"}
    keys = {(r["method"], r["metric"], r["detail"]) for r in rows}
    assert len(rows) == len(keys) == 3 * len(GRANULARITIES) * 2
    assert keys == {(m, metric, g) for m in ("fpr", "raw", "chance") for metric in ("mAP", "cmc@1")
                    for g in GRANULARITIES}
    value = {(r["method"], r["metric"], r["detail"]): r["value"] for r in rows}
    expected_map = np.mean([chance_average_precision(r, 6) for r in (2, 3, 1)])
    assert value[("chance", "mAP", "instance")] == pytest.approx(expected_map)
    assert value[("chance", "cmc@1", "instance")] == pytest.approx(np.mean([2 / 6, 3 / 6, 1 / 6]))
    fpr = by_ranker["fpr"]["instance"]
    assert value[("fpr", "mAP", "instance")] == pytest.approx(fpr.average_precision[:3].mean())
