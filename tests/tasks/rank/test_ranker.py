"""The identity ranker: LDA on the labelled gallery finds the low-variance marks that tell individuals apart."""

import numpy as np
import pytest

from persona_lens.tasks.rank.metrics import score_queries, summarize
from persona_lens.tasks.rank.ranker import IdentityRanker, RankError, fit_identity_ranker

IDENTITIES = 8
MARK_RADIUS, MARK_NOISE = 0.5, 0.05        # identities sit on a small circle in 2 "mark" dimensions
NUISANCE_DIMS, NUISANCE_NOISE = 50, 1.0    # pose, light, background: large, shared by every identity


def samples(rng, per_identity):
    """Vectors whose identity shows only in the first 2 dimensions, among 50 high-variance ones."""
    angles = np.arange(IDENTITIES) * 2 * np.pi / IDENTITIES
    marks = MARK_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = np.repeat(np.arange(IDENTITIES), per_identity)
    x = np.concatenate([marks[labels] + rng.normal(0, MARK_NOISE, (len(labels), 2)),
                        rng.normal(0, NUISANCE_NOISE, (len(labels), NUISANCE_DIMS))], axis=1)
    return x.astype(np.float32), np.array([f"id{i}" for i in labels], dtype=object)


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(7)
    gallery, gallery_labels = samples(rng, per_identity=20)
    held_out, held_out_labels = samples(rng, per_identity=5)
    return gallery, gallery_labels, held_out, held_out_labels


def instance_map(ranker, world):
    gallery, gallery_labels, queries, query_labels = world
    similarity = ranker.project(queries) @ ranker.project(gallery).T
    return summarize(score_queries(similarity, query_labels[:, None] == gallery_labels[None, :]))["mAP"]


def test_lda_ranker_retrieves_held_out_individuals_far_better_than_raw_cosine(world):
    gallery, labels = world[0], world[1]
    raw = instance_map(fit_identity_ranker(gallery, labels, "raw"), world)
    lda = instance_map(fit_identity_ranker(gallery, labels, "lda", shrinkage=0.01), world)
    assert raw < 0.3
    assert lda > raw + 0.3


def test_ranker_names_follow_the_method(world):
    gallery, labels = world[0], world[1]
    assert fit_identity_ranker(gallery, labels, "raw").name == "raw"
    assert fit_identity_ranker(gallery, labels, "lda").name == "lda"


@pytest.mark.parametrize("method", ["raw", "lda"])
def test_projected_rows_are_unit_length(world, method):
    ranker = fit_identity_ranker(world[0], world[1], method)
    projected = ranker.project(world[2])
    assert projected.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(projected, axis=1), 1.0, rtol=1e-5)


def test_raw_ranker_only_normalises(world):
    vectors = world[2]
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(IdentityRanker(None).project(vectors), expected, rtol=1e-5, atol=1e-6)


def test_lda_ranking_space_has_at_most_identities_minus_one_dimensions(world):
    ranker = fit_identity_ranker(world[0], world[1], "lda")
    assert ranker.project(world[2]).shape == (len(world[2]), IDENTITIES - 1)


def test_a_single_identity_cannot_be_fitted():
    vectors = np.random.default_rng(0).normal(size=(5, 4))
    with pytest.raises(RankError, match="at least 2 gallery identities"):
        fit_identity_ranker(vectors, np.array(["a"] * 5, dtype=object))


def test_identities_with_one_image_each_cannot_be_fitted():
    vectors = np.random.default_rng(0).normal(size=(3, 4))
    with pytest.raises(RankError, match="2\\+ images"):
        fit_identity_ranker(vectors, np.array(["a", "b", "c"], dtype=object))


def test_an_empty_gallery_cannot_be_fitted():
    with pytest.raises(RankError):
        fit_identity_ranker(np.zeros((0, 4)), np.array([], dtype=object))


def test_unknown_method_is_rejected():
    vectors = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(RankError, match="unknown ranker 'pca'"):
        fit_identity_ranker(vectors, np.array(["a", "a", "b", "b"], dtype=object), "pca")


@pytest.mark.parametrize("shrinkage", [0.0, -0.1, 1.5])
def test_shrinkage_outside_zero_to_one_is_rejected(shrinkage):
    vectors = np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(RankError, match="shrinkage"):
        fit_identity_ranker(vectors, np.array(["a", "a", "b", "b"], dtype=object), shrinkage=shrinkage)


def test_full_shrinkage_is_allowed():
    vectors = np.random.default_rng(0).normal(size=(4, 3))
    assert fit_identity_ranker(vectors, np.array(["a", "a", "b", "b"], dtype=object), shrinkage=1.0).name == "lda"


def test_rank_error_is_a_value_error():
    assert issubclass(RankError, ValueError)


@pytest.mark.parametrize("shrinkage", [0.05, 0.3, 1.0])
def test_the_one_pass_fit_gives_scikit_learns_shrinkage_lda_projection(shrinkage):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from persona_lens.tasks.rank.ranker import shrinkage_lda_scalings

    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(9), rng.integers(1, 7, 9))          # uneven classes, one of size 1 possible
    x = (rng.normal(size=(9, 24))[labels] + 0.5 * rng.normal(size=(len(labels), 24))).astype(np.float32)
    ours = x.astype(np.float64) @ shrinkage_lda_scalings(x, labels.astype(str), shrinkage)
    theirs = LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage).fit(x, labels).transform(x)
    assert ours.shape == theirs.shape == (len(labels), 8)
    # Eigenvectors are defined up to sign: compare what ranking uses, the inner products (and each column up to sign).
    np.testing.assert_allclose(ours @ ours.T, theirs @ theirs.T, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-4, atol=1e-6)


def test_the_one_pass_fit_does_not_depend_on_the_chunk_size(monkeypatch):
    from persona_lens.tasks.rank import ranker

    rng = np.random.default_rng(4)
    labels = np.repeat(np.arange(20), 5).astype(str)
    x = rng.normal(size=(100, 16)).astype(np.float32)
    whole = ranker.shrinkage_lda_scalings(x, labels, 0.3)
    monkeypatch.setattr(ranker, "FIT_CHUNK", 7)
    np.testing.assert_allclose(np.abs(ranker.shrinkage_lda_scalings(x, labels, 0.3)), np.abs(whole), rtol=1e-8)


def test_the_top_directions_are_the_same_whether_solved_for_alone_or_among_all(monkeypatch):
    from persona_lens.tasks.rank import ranker

    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(4), 6).astype(str)                  # 3 directions of 40: the subset solve
    x = (rng.normal(size=(4, 40))[np.repeat(np.arange(4), 6)] + rng.normal(size=(24, 40))).astype(np.float32)
    subset = ranker.shrinkage_lda_scalings(x, labels, 0.3)
    monkeypatch.setattr(ranker, "SUBSET_SHARE", 10**9)                # now the full solve
    full = ranker.shrinkage_lda_scalings(x, labels, 0.3)
    assert subset.shape == full.shape == (40, 3)
    np.testing.assert_allclose(np.abs(subset), np.abs(full), rtol=1e-6, atol=1e-9)
