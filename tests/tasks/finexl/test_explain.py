import json

import numpy as np
import pytest

from persona_lens.tasks.finexl.attribution import PairInputs, model_evidence, pair_shares
from persona_lens.tasks.finexl.calibration import CalibrationError, fit_aspect, fit_calibration
from persona_lens.tasks.finexl.core import ExplainInputError
from persona_lens.tasks.finexl.explanation import explain_model, level_of
from persona_lens.tasks.finexl.image_stats import STATISTICS
from persona_lens.tasks.finexl.tables import explanation_rows
from persona_lens.world.taxonomy import load_taxonomy
from tests.tasks.finexl.conftest import toy_pairs

ASPECTS = load_taxonomy().names


def _training(space, form):
    """Toy training models: every concept alone at several intensities, plus unshifted controls."""
    feats, truths = [], []
    for j in range(len(space.vocabulary)):
        for t in (0.3, 0.6, 0.9):
            b, p = toy_pairs(space, {j: t}, seed=j * 10 + int(t * 10))
            feats.append(model_evidence(PairInputs(b, p), space, ASPECTS, form).features)
            truths.append({a: (t if a == space.vocabulary.aspects[j] else 0.0) for a in ASPECTS})
    rng = np.random.default_rng(1)
    for s in range(60):                               # two aspects at once, as most real profiles
        i, j = rng.choice(len(space.vocabulary), 2, replace=False)
        if space.vocabulary.aspects[i] == space.vocabulary.aspects[j]:
            continue
        ti, tj = rng.uniform(0.2, 1.0, 2)
        b, p = toy_pairs(space, {int(i): ti, int(j): tj}, seed=700 + s)
        feats.append(model_evidence(PairInputs(b, p), space, ASPECTS, form).features)
        truths.append({a: ti if a == space.vocabulary.aspects[i] else tj if a == space.vocabulary.aspects[j]
                       else 0.0 for a in ASPECTS})
    for s in range(8):
        b, p = toy_pairs(space, {}, seed=500 + s)
        feats.append(model_evidence(PairInputs(b, p), space, ASPECTS, form).features)
        truths.append({a: 0.0 for a in ASPECTS})
    return fit_calibration(feats, truths)


@pytest.mark.parametrize("form", ["whitened", "core"])
def test_explain_model_names_the_shifted_aspects_concepts_and_orders_intensity(toy_space, form):
    cal = _training(toy_space, form)
    v = toy_space.vocabulary
    style_1, light_0 = v.phrases.index("style concept 1"), v.phrases.index("lighting concept 0")
    b, p = toy_pairs(toy_space, {style_1: 0.85, light_0: 0.3}, seed=999)
    e = explain_model("m", PairInputs(b, p), toy_space, cal, ASPECTS, form, bootstrap=20)
    assert [a.aspect for a in e.aspects] == ASPECTS          # every aspect listed
    style, light = e.aspect("style"), e.aspect("lighting")
    assert style.concept_to == "style concept 1" and light.concept_to == "lighting concept 0"
    assert style.intensity > light.intensity > 0.1
    assert all(a.intensity == 0 for a in e.aspects if a.aspect not in ("style", "lighting"))
    assert all(0.0 <= a.confidence <= 1.0 for a in e.aspects)
    assert "style" in e.summary and "lighting" in e.summary
    doc = json.loads(json.dumps(e.to_json()))
    assert {"aspect", "intensity", "confidence", "concept_from", "concept_to", "text"} <= set(doc["aspects"][0])


def test_an_unshifted_model_is_explained_as_faithful(toy_space):
    cal = _training(toy_space, "whitened")
    b, p = toy_pairs(toy_space, {}, seed=1234)
    e = explain_model("ctrl", PairInputs(b, p), toy_space, cal, ASPECTS, bootstrap=20)
    assert all(a.level == "none" and a.concept_to is None for a in e.aspects)
    assert "faithful" in e.summary


def test_pair_shares_point_at_the_pairs_that_carry_the_shift(toy_space):
    b, p = toy_pairs(toy_space, {}, seed=3)
    p[2] = p[2] + 0.9 * toy_space.directions[4]
    ev = model_evidence(PairInputs(b, p), toy_space, ASPECTS, per_pair=True)
    shares = pair_shares(ev.pair_weights, 4)
    assert np.argmax(shares) == 2 and shares.sum() == pytest.approx(1.0)


def test_explanation_rows_list_every_aspect_and_a_summary(toy_space):
    cal = _training(toy_space, "whitened")
    b, p = toy_pairs(toy_space, {0: 0.8}, seed=7)
    rows = explanation_rows([explain_model("m", PairInputs(b, p), toy_space, cal, ASPECTS, bootstrap=10)])
    assert [r["aspect"] for r in rows] == [*ASPECTS, "summary"]
    from persona_lens.schemas import EXPLANATIONS
    assert EXPLANATIONS.from_rows(rows).num_rows == len(ASPECTS) + 1


def test_explain_model_refuses_bad_inputs(toy_space):
    cal = _training(toy_space, "whitened")
    b, p = toy_pairs(toy_space, {0: 0.5})
    with pytest.raises(ExplainInputError, match="at least 2"):
        explain_model("m", PairInputs(b[:1], p[:1]), toy_space, cal, ASPECTS)
    with pytest.raises(ExplainInputError, match="dimension"):
        explain_model("m", PairInputs(b[:, :10], p[:, :10]), toy_space, cal, ASPECTS)
    with pytest.raises(ExplainInputError, match="both sides"):
        PairInputs(b, p, base_stats=np.zeros((8, len(STATISTICS)))).check()
    with pytest.raises(ExplainInputError, match="identity_base"):
        PairInputs(b, p, identity_base=np.zeros(3), identity_personalized=np.zeros(3)).check()


def test_calibration_is_monotone_and_zero_for_an_aspect_never_shifted():
    x = np.linspace(0, 1, 40)[:, None]
    y = np.where(x[:, 0] > 0.3, x[:, 0], 0.0)
    cal = fit_aspect(np.hstack([x, x ** 2]), y)
    pred = cal.predict(np.hstack([x, x ** 2]))
    assert (np.diff(pred[x[:, 0] > 0.4]) >= -1e-9).all() and pred[x[:, 0] < 0.2].max() == 0.0
    never = fit_aspect(x, np.zeros(40))
    assert never.predict(x).max() == 0.0
    with pytest.raises(CalibrationError, match="expects 2 features"):
        cal.predict(np.zeros((1, 3)))
    with pytest.raises(CalibrationError, match="training models"):
        fit_calibration([], [])


def test_levels_follow_the_edges():
    assert [level_of(t, (0.1, 0.45, 0.75)) for t in (0.0, 0.2, 0.5, 0.9)] == ["none", "slight", "moderate", "strong"]


def test_detection_is_not_shrunk_towards_the_prior_when_one_feature_separates_the_shifts(monkeypatch):
    # One in five models shifted, its feature clearly higher: a fixed C = 1 pulled the weakest shifts
    # under p = 1/2; the cross-validated C detects every shift and nothing else.
    import persona_lens.tasks.finexl.calibration as calibration

    rng = np.random.default_rng(0)
    y = np.where(np.arange(60) % 5 == 0, rng.uniform(0.2, 1.0, 60), 0.0)
    x = np.where(y > 0, 0.06 + 0.5 * y, 0.0)[:, None] + 0.02 * rng.normal(size=(60, 1))
    assert ((fit_aspect(x, y).probability(x) > 0.5) == (y > 0)).all()
    monkeypatch.setattr(calibration, "DETECT_CS", (1.0,))      # the fixed default misses a weak shift
    assert not ((fit_aspect(x, y).probability(x) > 0.5) == (y > 0)).all()


def test_detection_falls_back_to_the_default_strength_with_too_few_shifts_to_cross_validate():
    from persona_lens.tasks.finexl.calibration import _detection_c

    z, shifted = np.arange(6.0)[:, None], np.array([False] * 5 + [True])
    assert _detection_c(z, shifted) == 1.0
