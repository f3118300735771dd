import numpy as np
import pytest

from persona_lens.tasks.finexl.attribution import PairInputs, model_evidence
from persona_lens.tasks.finexl.calibration import Calibration, fit_calibration
from persona_lens.tasks.finexl.core import ExplainInputError
from persona_lens.tasks.finexl.dictionary import fit_concept_dictionary
from persona_lens.tasks.finexl.explanation import explain_model
from persona_lens.world.taxonomy import load_taxonomy
from tests.tasks.finexl.conftest import toy_pairs

ASPECTS = load_taxonomy().names


def _models(space, rng, count):
    """Toy models shifting 1-3 concepts of distinct aspects, text directions *rotated* away from the
    true shift directions (language reads them only partly): what the dictionary must learn."""
    out = []
    for s in range(count):
        k = int(rng.integers(1, 4))
        aspects = rng.choice(len(ASPECTS), k, replace=False)
        shifts = {int(2 * a + rng.integers(2)): float(rng.uniform(0.2, 1.0)) for a in aspects}
        b, p = toy_pairs(space, {}, seed=1000 + s)
        for j, t in shifts.items():                     # true direction: half text, half a hidden axis
            hidden = np.zeros(space.dim)
            hidden[len(space.vocabulary) + (j % (space.dim - len(space.vocabulary)))] = 1.0
            p = p + t * (0.5 * space.directions[j] + 0.8 * hidden)
        target = np.zeros(len(space.vocabulary))
        target[list(shifts)] = list(shifts.values())
        out.append((PairInputs(b, p), target))
    return out


def test_learned_dictionary_recovers_every_shifted_concept_and_its_intensity(toy_space):
    rng = np.random.default_rng(0)
    train, test = _models(toy_space, rng, 120), _models(toy_space, rng, 20)
    d = fit_concept_dictionary([m for m, _ in train], np.stack([t for _, t in train]), toy_space.directions, None)
    got, want = [], []
    for inputs, target in test:
        w = d.weights(inputs)
        shifted = np.flatnonzero(target)
        assert set(np.argsort(-w)[: len(shifted)]) == set(shifted)
        got += list(w[shifted])
        want += list(target[shifted])
    # Weights are on the intensity scale up to the ridge's shrinkage (calibration maps them after).
    assert np.corrcoef(got, want)[0, 1] > 0.85          # measured 0.93


def test_learned_dictionary_drives_explain_model(toy_space):
    rng = np.random.default_rng(1)
    train = _models(toy_space, rng, 120)
    d = fit_concept_dictionary([m for m, _ in train], np.stack([t for _, t in train]), toy_space.directions, None)
    feats = [model_evidence(m, toy_space, ASPECTS, dictionary=d).features for m, _ in train]
    truths = [{a: float(t[toy_space.vocabulary.indices(a)].max()) for a in ASPECTS} for _, t in train]
    cal = fit_calibration(feats, truths)
    cal = Calibration(cal.aspects, None, cal.models, d)
    inputs, target = _models(toy_space, np.random.default_rng(7), 1)[0]
    e = explain_model("m", inputs, toy_space, cal, ASPECTS, "learned", bootstrap=10)
    named = {a.concept_to for a in e.aspects if a.level != "none"}
    assert named == {toy_space.vocabulary.phrases[j] for j in np.flatnonzero(target)}


def test_dictionary_rejects_mismatched_targets_and_inputs(toy_space):
    b, p = toy_pairs(toy_space, {0: 0.5})
    with pytest.raises(ExplainInputError, match="targets"):
        fit_concept_dictionary([PairInputs(b, p)], np.zeros((2, 3)), toy_space.directions, None)
    d = fit_concept_dictionary([PairInputs(b, p)], np.eye(len(toy_space.vocabulary))[:1], toy_space.directions, None)
    # A block the dictionary was not fitted on is ignored; vectors of another encoder's size are refused.
    extra = PairInputs(b, p, identity_base=np.ones(len(b)), identity_personalized=np.zeros(len(b)))
    assert d.weights(extra) == pytest.approx(d.weights(PairInputs(b, p)))
    with pytest.raises(ExplainInputError, match="features"):
        d.weights(PairInputs(b[:, :-1], p[:, :-1]))
