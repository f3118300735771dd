import pytest

from persona_lens.tasks.finexl.metrics import (
    Prediction, concept_correct, detection_counts, explanation_accuracy, level_rank_error, model_selection,
    top_aspect_correct,
)

EDGES = (0.1, 0.45, 0.75)


def _truth(**shifts):
    t = {a: (None, 0.0) for a in ("style", "color", "lighting")}
    t.update(shifts)
    return t


def _pred(intensity, concept, scores=None):
    base = {a: 0.0 for a in ("style", "color", "lighting")}
    return Prediction({**base, **intensity}, {a: concept.get(a) for a in base}, scores or {})


def test_explanation_accuracy_credits_concept_and_level_over_the_union_of_named_aspects():
    truth = _truth(style=("sketch", 0.8), color=("blue", 0.3))
    assert explanation_accuracy(truth, _pred({"style": 0.9, "color": 0.2}, {"style": "sketch", "color": "blue"}),
                                EDGES) == 1.0
    # style level one step off (moderate vs strong): half credit; color missed; lighting a false alarm.
    half = _pred({"style": 0.5, "lighting": 0.5}, {"style": "sketch", "lighting": "dim"})
    assert explanation_accuracy(truth, half, EDGES) == pytest.approx(0.5 / 3)
    assert explanation_accuracy(truth, _pred({"style": 0.9}, {"style": "poster"}), EDGES) == 0.0
    assert explanation_accuracy(_truth(), _pred({}, {}), EDGES) == 1.0
    assert explanation_accuracy(_truth(), _pred({"color": 0.3}, {"color": "blue"}), EDGES) == 0.0


def test_top_aspect_detection_and_concept_alternatives():
    truth = _truth(style=("sketch", 0.8), color=("blue", 0.3))
    pred = _pred({"style": 0.7, "color": 0.05, "lighting": 0.4}, {"style": "sketch"},
                 {"sketch": 1.0, "blue": 0.2, "dim": 0.5, "poster": 0.9})
    assert top_aspect_correct(truth, pred) == 1.0
    assert top_aspect_correct(_truth(), pred) is None
    assert detection_counts(truth, pred, EDGES) == (1, 1, 1)
    pool = ["sketch", "blue", "dim", "poster"]
    assert concept_correct(truth, pred, "m", 4, pool) == [1.0, 0.0]


def test_model_selection_is_perfect_for_exact_explanations_and_chance_is_lower():
    truths = [_truth(style=("sketch", 0.8)), _truth(color=("blue", 0.5)), _truth(lighting=("dim", 0.9))]
    exact = [_pred({"style": 0.8}, {"style": "sketch"}), _pred({"color": 0.5}, {"color": "blue"}),
             _pred({"lighting": 0.9}, {"lighting": "dim"})]
    assert model_selection(truths, exact, ["a", "b", "c"], 3, ["sketch", "blue", "dim"], EDGES) == [1.0, 1.0, 1.0]
    blank = [_pred({}, {})] * 3
    assert sum(model_selection(truths, blank, ["a", "b", "c"], 3, ["sketch", "blue", "dim"], EDGES)) == pytest.approx(1.0)


def test_level_rank_error_is_zero_for_a_monotone_prediction_and_one_for_a_reversed_one():
    truths = [_truth(style=("sketch", t)) for t in (0.2, 0.5, 0.9)]
    up = [_pred({"style": t}, {"style": "sketch"}) for t in (0.1, 0.3, 0.4)]
    assert level_rank_error(truths, up) == 0.0
    assert level_rank_error(truths, up[::-1]) == pytest.approx(4 / 3 / 2)
