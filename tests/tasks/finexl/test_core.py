import numpy as np
import pytest

from persona_lens.tasks.finexl.core import (
    ExplainInputError, check_pairs, divergence_vector, pair_differences, published_core,
)
from persona_lens.tasks.finexl.whitened import fit_whitening, whitened_nnls


def test_published_core_recovers_two_orthogonal_concepts_and_stops_at_the_residual():
    f = np.eye(6)
    v = 0.7 * f[1] + 0.3 * f[4]
    dec = published_core(v, f, ortho_threshold=0.03, residual_threshold=0.2)
    assert dec.kept == (1, 4)
    assert np.allclose(dec.weights, [0, 0.7, 0, 0, 0.3, 0])
    assert dec.residual < 1e-9


def test_published_core_rejects_a_candidate_aligned_with_a_kept_concept():
    f = np.array([[1.0, 0, 0], [0.9, 0.1, 0], [0, 0, 1.0]])
    dec = published_core(np.array([1.0, 0.05, 0.5]), f, ortho_threshold=0.03, residual_threshold=0.01)
    assert 1 not in dec.kept and dec.kept[0] == 0


def test_published_core_weights_are_unnormalised_and_may_be_negative():
    f = np.eye(3)
    dec = published_core(np.array([0.0, -2.0, 0.0]), f)
    assert dec.weights[1] == pytest.approx(-2.0)


def test_whitened_nnls_gives_non_negative_weights_on_the_true_concepts():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(10, 40))
    v = 0.8 * f[2] + 0.4 * f[7]
    dec = whitened_nnls(v, f, fit_whitening(f, 9))
    assert (dec.weights >= 0).all()
    assert set(np.argsort(-dec.weights)[:2]) == {2, 7}


def test_fit_whitening_never_keeps_more_components_than_the_data_supports():
    w = fit_whitening(np.eye(5), 18)
    assert w.components.shape[0] == 4


def test_divergence_vector_is_the_mean_of_normalised_differences():
    b = np.array([[2.0, 0.0], [0.0, 3.0]])
    p = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert np.allclose(divergence_vector(b, p), [-0.5, 0.5])
    assert pair_differences(b, p).shape == (2, 2)


@pytest.mark.parametrize("base, pers, match", [
    (np.zeros((3, 4)), np.zeros((2, 4)), "pair row by row"),
    (np.zeros(4), np.zeros(4), "2-d"),
    (np.full((2, 2), np.nan), np.zeros((2, 2)), "NaN"),
])
def test_check_pairs_refuses_bad_vectors(base, pers, match):
    with pytest.raises(ExplainInputError, match=match):
        check_pairs(base, pers)


def test_check_pairs_refuses_too_few_pairs_and_an_empty_side():
    with pytest.raises(ExplainInputError, match="at least 2"):
        check_pairs(np.zeros((1, 3)), np.zeros((1, 3)), min_pairs=2)
    with pytest.raises(ExplainInputError, match="pair row by row"):
        check_pairs(np.zeros((0, 3)), np.zeros((2, 3)))


def test_decompositions_refuse_mismatched_dimensions():
    with pytest.raises(ExplainInputError, match="dimension"):
        published_core(np.zeros(3), np.eye(4))
    with pytest.raises(ExplainInputError, match="dimension"):
        whitened_nnls(np.zeros(3), np.eye(4), fit_whitening(np.eye(4), 2))
