"""A fitted explainer: chosen and fitted on training models only, saved to safetensors and read back
to the same predictions; a wrong file or another encoder is refused with a message that says what to do."""

import numpy as np
import pytest

from persona_lens.tasks.finexl.attribution import PairInputs
from persona_lens.tasks.finexl.dictionary import fit_concept_dictionary
from persona_lens.tasks.finexl.explainer import (
    DEFAULT_EXPLAINER, ExplainerError, load_explainer, save_explainer,
)
from persona_lens.tasks.finexl.image_stats import STATISTICS
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.finexl.training import fit_explainer, method_prediction
from persona_lens.tasks.finexl.truth_data import ModelPairs
from persona_lens.world.taxonomy import load_taxonomy
from tests.tasks.finexl.conftest import toy_pairs

ASPECTS = load_taxonomy().names


def _models(space, count, seed):
    """Toy models in two "worlds" (groups), each shifting one or two concepts of distinct aspects."""
    rng = np.random.default_rng(seed)
    out = []
    for m in range(count):
        aspects = rng.choice(len(ASPECTS), int(rng.integers(1, 3)), replace=False)
        shifts = {int(2 * a + rng.integers(2)): round(float(rng.uniform(0.2, 1.0)), 2) for a in aspects}
        if m % 8 == 0:
            shifts = {}
        b, p = toy_pairs(space, shifts, seed=seed * 1000 + m)
        stats = rng.normal(size=(len(b), len(STATISTICS)))
        identity = rng.normal(size=len(b))
        truth = {a: (None, 0.0) for a in ASPECTS}
        for j, t in shifts.items():
            truth[space.vocabulary.aspects[j]] = (space.vocabulary.concepts[j], t)
        out.append(ModelPairs(f"m{seed}-{m}", f"group{m % 2}", b, p, stats, stats + 0.01, identity, identity - 0.01,
                              truth))
    return out


@pytest.fixture(scope="module")
def fitted(toy_space):
    params = ExplainParams(bootstrap=10)
    return fit_explainer(_models(toy_space, 40, 1), toy_space, params, "toy-encoder", forms=("whitened", "learned"),
                         log=lambda *_: None), params


def test_the_form_is_chosen_by_cross_validated_accuracy_on_the_training_models(fitted):
    explainer, _ = fitted
    acc = explainer.trained_on["cross_validated_accuracy"]
    assert set(acc) == {"whitened", "learned"} and explainer.form == max(acc, key=acc.get)
    assert explainer.trained_on["models"] == 40 and explainer.trained_on["groups"] == ["group0", "group1"]
    assert set(explainer.baselines) == {"coarse", "visdiff"}


def test_a_saved_explainer_reads_back_to_the_same_predictions(fitted, toy_space, tmp_path):
    explainer, params = fitted
    path = save_explainer(explainer, tmp_path / "x.safetensors")
    back = load_explainer(path)
    assert (back.form, back.vocabulary, back.encoder, back.encoder_dim) == (
        explainer.form, explainer.vocabulary, "toy-encoder", toy_space.dim)
    for m in _models(toy_space, 6, 2):
        a, b = method_prediction(m, toy_space, explainer, params), method_prediction(m, toy_space, back, params)
        assert a.intensity == pytest.approx(b.intensity) and a.concept == b.concept


def test_a_file_that_is_not_an_explainer_is_refused(tmp_path):
    from safetensors.numpy import save_file

    with pytest.raises(ExplainerError, match="does not exist"):
        load_explainer(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ExplainerError, match="not a safetensors file"):
        load_explainer(tmp_path / "junk.safetensors")
    save_file({"w": np.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ExplainerError, match="not an explainer"):
        load_explainer(tmp_path / "other.safetensors")


def test_another_encoder_is_refused_with_the_command_that_fits_one(fitted):
    explainer, _ = fitted

    class Other:
        name = "clip-folder"

    with pytest.raises(ExplainerError, match="train-explainer --encoder clip-folder"):
        explainer.concept_space(Other())


def test_the_packaged_explainer_is_the_learned_form_fitted_on_training_seeds_only():
    explainer = load_explainer(DEFAULT_EXPLAINER)
    assert explainer.encoder == "persona-lens-lit" and explainer.form == "learned"
    # Fitted on seeds 1-6; the evaluation reports on seeds 13-15 (EvalExplainParams refuses an overlap).
    assert explainer.trained_on["seeds"] == [1, 2, 3, 4, 5, 6]
    from persona_lens.tasks.finexl.params import EvalExplainParams

    assert not set(explainer.trained_on["seeds"]) & set(EvalExplainParams().test_seeds)
    # Its dictionary reads statistics and both identity columns (score and margin drops, identity.py).
    assert explainer.calibration.dictionary.identity == 2 and explainer.calibration.dictionary.statistics


def test_a_model_without_identity_scores_is_fitted_on_the_features_it_has(toy_space):
    models = _models(toy_space, 30, 3)
    inputs = [PairInputs(m.base, m.personalized, m.base_stats, m.personalized_stats, m.identity_base,
                         m.identity_personalized) for m in models]
    targets = np.zeros((len(models), len(toy_space.vocabulary)))
    d = fit_concept_dictionary(inputs, targets, toy_space.directions, np.ones(len(STATISTICS)))
    full = d.weights(inputs[0])
    no_identity = d.weights(PairInputs(models[0].base, models[0].personalized, models[0].base_stats,
                                       models[0].personalized_stats))
    assert full.shape == no_identity.shape and np.isfinite(no_identity).all()


def _cached_identity_world(rng):
    """The identity arrays a cached world holds (truth_data, CACHE_VERSION id3), for two individuals whose
    features differ along one axis."""
    from persona_lens.tasks.finexl.truth_data import IDENTITY_COPIES

    labels = np.array(["a"] * 4 + ["b"] * 4)
    roles = np.array(["reference", "reference", "gallery", "gallery"] * 2)
    centre = {"a": np.r_[1.0, 0, 0, 0], "b": np.r_[-1.0, 0, 0, 0]}
    features = np.stack([centre[x] for x in labels]) + 0.05 * rng.normal(size=(8, 4))
    copy_of = np.repeat(np.arange(8), IDENTITY_COPIES)
    return {"id_features": features, "id_labels": labels, "id_roles": roles,
            "id_copy_features": features[copy_of] + 0.05 * rng.normal(size=(len(copy_of), 4)),
            "id_copy_of": copy_of, "subject": np.array(["a", "a"]),
            "id_features_base": np.stack([centre["a"], centre["a"]]),
            "id_features_personalized": np.stack([centre["a"], centre["b"]])}


def test_identity_evidence_is_refitted_from_a_cached_worlds_raw_features():
    from persona_lens.tasks.finexl.truth_data import IDENTITY_COPIES, identity_evidence

    z = _cached_identity_world(np.random.default_rng(0))
    for gallery, copies in [(False, 0), (True, 0), (True, IDENTITY_COPIES)]:
        base, personalized = identity_evidence(z, gallery, copies)
        assert base.shape == personalized.shape == (2, 2)
        # The second personalized picture shows the other individual: its score and margin fall.
        assert personalized[1, 0] < base[1, 0] and personalized[1, 1] < 0 < base[1, 1]
    with pytest.raises(ValueError, match="image-op copies"):
        identity_evidence(z, copies=IDENTITY_COPIES + 1)
    assert identity_evidence({"base": np.zeros((2, 4))}) is None      # a world cached without identity
