"""Retrieval metrics: per-query AP, first-hit rank, cmc@k / recall@k, and chance AP."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from persona_lens.tasks.rank.metrics import (GRANULARITIES, chance_average_precision, score_queries,
                                             summarize)


def random_queries(seed=0, q=25, g=40, p=0.2):
    rng = np.random.default_rng(seed)
    similarity = rng.normal(size=(q, g))
    relevant = rng.random((q, g)) < p
    relevant[~relevant.any(axis=1), 0] = True     # every query has a relevant item
    return similarity, relevant


def random_ranking_ap(rng, num_relevant, gallery_size, draws):
    """AP of `draws` uniformly random rankings, computed from the relevant items' positions."""
    positions = np.sort(np.argsort(rng.random((draws, gallery_size)), axis=1)[:, :num_relevant] + 1, axis=1)
    return (np.arange(1, num_relevant + 1) / positions).mean(axis=1)


def test_granularities_go_coarse_to_fine():
    assert GRANULARITIES == ("category", "subclass", "instance")


def test_average_precision_matches_sklearn():
    similarity, relevant = random_queries()
    scores = score_queries(similarity, relevant)
    expected = [average_precision_score(relevant[i], similarity[i]) for i in range(len(similarity))]
    np.testing.assert_allclose(scores.average_precision, expected, rtol=1e-5, atol=1e-6)


def test_num_relevant_counts_relevant_gallery_items():
    similarity, relevant = random_queries(seed=1)
    np.testing.assert_array_equal(score_queries(similarity, relevant).num_relevant, relevant.sum(axis=1))


def test_first_hit_rank_is_the_one_based_rank_of_the_first_relevant_item():
    similarity = np.array([[0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.4]])
    relevant = np.array([[False, False, True, True], [True, False, False, False]])
    np.testing.assert_array_equal(score_queries(similarity, relevant).first_hit_rank, [3, 4])


def test_first_hit_rank_matches_counting_better_scored_items_on_random_data():
    similarity, relevant = random_queries(seed=2)
    best_relevant = np.where(relevant, similarity, -np.inf).max(axis=1)
    expected = 1 + (similarity > best_relevant[:, None]).sum(axis=1)
    np.testing.assert_array_equal(score_queries(similarity, relevant).first_hit_rank, expected)


def test_a_tie_group_is_retrieved_together_whatever_the_gallery_order():
    similarity = np.zeros((1, 4))
    relevant = np.array([[False, False, True, False]])
    scores = score_queries(similarity, relevant)
    # All four tie: the relevant item is retrieved with its three irrelevant peers (sklearn's AP 1/4).
    assert scores.first_hit_rank[0] == 4
    assert scores.average_precision[0] == pytest.approx(average_precision_score(relevant[0], similarity[0]))


def tied_queries(seed=0, q=40, g=300, levels=4):
    """Similarities on a coarse grid (many ties), relevant items random."""
    rng = np.random.default_rng(seed)
    similarity = rng.integers(0, levels, size=(q, g)).astype(np.float32) / levels
    relevant = rng.random((q, g)) < 0.1
    relevant[~relevant.any(axis=1), 0] = True
    return similarity, relevant


def test_average_precision_matches_sklearn_exactly_with_ties():
    similarity, relevant = tied_queries()
    got = score_queries(similarity, relevant).average_precision
    expected = [average_precision_score(relevant[i], similarity[i]) for i in range(len(similarity))]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


def test_no_score_depends_on_the_gallery_order():
    similarity, relevant = tied_queries(seed=1)
    a = score_queries(similarity, relevant)
    perm = np.random.default_rng(2).permutation(similarity.shape[1])
    b = score_queries(similarity[:, perm], relevant[:, perm])
    np.testing.assert_array_equal(a.average_precision, b.average_precision)
    np.testing.assert_array_equal(a.first_hit_rank, b.first_hit_rank)
    for k in a.recall_at:
        np.testing.assert_array_equal(a.recall_at[k], b.recall_at[k])


def test_signed_zeros_tie_and_negative_scores_order_correctly():
    similarity = np.array([[-0.0, 0.0, -0.5, -1e-30, 1e-30]])
    relevant = np.array([[True, False, False, False, False]])
    assert score_queries(similarity, relevant).first_hit_rank[0] == 3        # after 1e-30 and its +0.0 tie
    assert score_queries(similarity, relevant).average_precision[0] == pytest.approx(
        average_precision_score(relevant[0], similarity[0]))


def test_recall_matches_torchmetrics_on_distinct_scores():
    import torch
    from torchmetrics.functional.retrieval import retrieval_recall

    similarity, relevant = random_queries(seed=3)
    got = score_queries(similarity, relevant, ks=(1, 5, 10)).recall_at
    shifted = torch.from_numpy(similarity - similarity.min() + 1.0)          # torchmetrics: scores > 0
    for k in (1, 5, 10):
        expected = [float(retrieval_recall(shifted[i], torch.from_numpy(relevant[i]), top_k=k))
                    for i in range(len(similarity))]
        np.testing.assert_allclose(got[k], expected, atol=1e-6)


def test_query_without_relevant_items_scores_zero_and_is_left_out_of_summary():
    similarity = np.array([[0.9, 0.1, 0.5], [0.3, 0.2, 0.1]])
    relevant = np.array([[True, False, False], [False, False, False]])
    scores = score_queries(similarity, relevant, ks=(1,))
    assert scores.average_precision[1] == 0
    assert scores.first_hit_rank[1] == 0
    assert scores.num_relevant[1] == 0
    assert scores.recall_at[1][1] == 0
    assert summarize(scores) == {"mAP": 1.0, "cmc@1": 1.0, "recall@1": 1.0}


def test_summary_is_empty_when_no_query_has_a_relevant_item():
    scores = score_queries(np.ones((2, 3)), np.zeros((2, 3), dtype=bool))
    assert summarize(scores) == {}


def test_cmc_and_recall_at_k_on_a_hand_made_example():
    similarity = np.tile([0.9, 0.8, 0.7, 0.6, 0.5], (3, 1))
    relevant = np.array([[False, True, False, True, False],     # first hit 2, AP (1/2 + 2/4) / 2
                         [True, False, False, False, True],     # first hit 1, AP (1 + 2/5) / 2
                         [False, False, False, False, True]])   # first hit 5, AP 1/5
    scores = score_queries(similarity, relevant, ks=(1, 3))
    np.testing.assert_array_equal(scores.first_hit_rank, [2, 1, 5])
    np.testing.assert_allclose(scores.average_precision, [0.5, 0.7, 0.2], rtol=1e-6)
    np.testing.assert_allclose(scores.recall_at[1], [0, 0.5, 0])
    np.testing.assert_allclose(scores.recall_at[3], [0.5, 0.5, 0])
    summary = summarize(scores)
    assert summary["mAP"] == pytest.approx(1.4 / 3)
    assert summary["cmc@1"] == pytest.approx(1 / 3)
    assert summary["cmc@3"] == pytest.approx(2 / 3)
    assert summary["recall@1"] == pytest.approx(1 / 6)
    assert summary["recall@3"] == pytest.approx(1 / 3)


def test_k_beyond_the_gallery_size_counts_the_whole_gallery():
    similarity = np.array([[0.1, 0.9, 0.5]])
    relevant = np.array([[True, False, True]])
    summary = summarize(score_queries(similarity, relevant, ks=(10,)))
    assert summary["cmc@10"] == 1.0
    assert summary["recall@10"] == pytest.approx(1.0)


def test_summary_mask_restricts_the_queries_averaged():
    similarity = np.array([[0.9, 0.1], [0.9, 0.1]])
    relevant = np.array([[True, False], [False, True]])
    scores = score_queries(similarity, relevant, ks=(1,))
    assert summarize(scores, np.array([True, False]))["mAP"] == pytest.approx(1.0)
    assert summarize(scores, np.array([False, True]))["mAP"] == pytest.approx(0.5)
    assert summarize(scores, np.array([False, False])) == {}


@pytest.mark.parametrize(("num_relevant", "gallery_size"), [(1, 5), (3, 8), (2, 12), (6, 7)])
def test_chance_average_precision_matches_random_rankings(num_relevant, gallery_size):
    rng = np.random.default_rng(num_relevant * 100 + gallery_size)
    simulated = random_ranking_ap(rng, num_relevant, gallery_size, draws=4000).mean()
    assert chance_average_precision(num_relevant, gallery_size) == pytest.approx(simulated, abs=0.01)


def test_chance_average_precision_of_a_single_relevant_item_is_the_mean_reciprocal_rank():
    n = 9
    assert chance_average_precision(1, n) == pytest.approx(np.mean(1 / np.arange(1, n + 1)))


@pytest.mark.parametrize("n", [1, 2, 7])
def test_chance_average_precision_is_one_when_every_item_is_relevant(n):
    assert chance_average_precision(n, n) == pytest.approx(1.0)


def test_chance_average_precision_is_zero_without_relevant_items():
    assert chance_average_precision(0, 5) == 0.0


@pytest.mark.parametrize(("num_relevant", "gallery_size"), [(1, 0), (-1, 5), (6, 5)])
def test_chance_average_precision_rejects_impossible_counts(num_relevant, gallery_size):
    with pytest.raises(ValueError):
        chance_average_precision(num_relevant, gallery_size)


def test_shape_mismatch_raises_value_error():
    with pytest.raises(ValueError, match="shape"):
        score_queries(np.zeros((2, 3)), np.zeros((2, 4), dtype=bool))


def test_one_dimensional_input_raises_value_error():
    with pytest.raises(ValueError):
        score_queries(np.zeros(3), np.zeros(3, dtype=bool))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_similarity_raises_value_error(bad):
    similarity = np.zeros((2, 3))
    similarity[1, 2] = bad
    with pytest.raises(ValueError, match="non-finite"):
        score_queries(similarity, np.ones((2, 3), dtype=bool))


def test_negative_similarities_rank_like_any_other():
    similarity, relevant = random_queries(seed=3)
    shifted = score_queries(similarity - 10.0, relevant, ks=(1, 5))
    original = score_queries(similarity, relevant, ks=(1, 5))
    np.testing.assert_allclose(shifted.average_precision, original.average_precision, rtol=1e-6)
    for k in (1, 5):
        np.testing.assert_allclose(shifted.recall_at[k], original.recall_at[k])
    np.testing.assert_array_equal(shifted.first_hit_rank, original.first_hit_rank)


def test_all_negative_scores_still_find_the_top_ranked_relevant_item():
    similarity = np.array([[-0.1, -0.9, -0.5]])
    relevant = np.array([[True, False, True]])
    scores = score_queries(similarity, relevant, ks=(1,))
    assert scores.average_precision[0] == pytest.approx(1.0)
    assert scores.recall_at[1][0] == pytest.approx(0.5)


def test_ranking_in_query_blocks_gives_the_same_scores_as_one_block():
    from persona_lens.tasks.rank.ranking import rank_vectors

    rng = np.random.default_rng(4)
    gallery = rng.normal(size=(200, 16)).astype(np.float32)
    queries = rng.normal(size=(37, 16)).astype(np.float32)
    g_labels = {"instance": rng.integers(0, 20, 200).astype(str), "category": rng.integers(0, 3, 200).astype(str)}
    q_labels = {"instance": rng.integers(0, 20, 37).astype(str), "category": rng.integers(0, 3, 37).astype(str)}
    whole = rank_vectors(queries, q_labels, gallery, g_labels, (1, 5))
    blocks = rank_vectors(queries, q_labels, gallery, g_labels, (1, 5), block_bytes=1)   # one query a block
    for name in q_labels:
        np.testing.assert_array_equal(whole[name].average_precision, blocks[name].average_precision)
        np.testing.assert_array_equal(whole[name].first_hit_rank, blocks[name].first_hit_rank)
        sim = queries @ gallery.T
        rel = q_labels[name][:, None] == g_labels[name][None, :]
        expected = [average_precision_score(rel[i], sim[i]) if rel[i].any() else 0.0 for i in range(37)]
        np.testing.assert_allclose(whole[name].average_precision, expected, rtol=1e-5, atol=1e-6)


def test_ranking_within_the_query_group_equals_ranking_a_gallery_cut_to_that_group():
    # The paper's per-group protocol: each query competes only with its look-alike group's images.
    from persona_lens.tasks.rank.ranking import rank_vectors

    rng = np.random.default_rng(5)
    g_instance = rng.integers(0, 12, 150)
    q_instance = rng.integers(0, 12, 23)
    labels = lambda inst: {"instance": inst.astype(str), "subclass": (inst // 4).astype(str)}  # noqa: E731
    gallery = rng.normal(size=(150, 8)).astype(np.float32)
    gallery[::7] = gallery[1::7][: len(gallery[::7])]          # tied scores across groups
    queries = rng.normal(size=(23, 8)).astype(np.float32)
    within = {"instance_in_group": ("subclass", "instance")}
    scores = rank_vectors(queries, labels(q_instance), gallery, labels(g_instance), (1, 3), within=within)
    blocks = rank_vectors(queries, labels(q_instance), gallery, labels(g_instance), (1, 3), block_bytes=1,
                          within=within)
    sim = queries @ gallery.T
    for i in range(23):
        group = np.flatnonzero(g_instance // 4 == q_instance[i] // 4)
        rel = g_instance[group] == q_instance[i]
        expected = average_precision_score(rel, sim[i, group]) if rel.any() else 0.0
        assert scores["instance_in_group"].average_precision[i] == pytest.approx(expected, rel=1e-5, abs=1e-6)
        # A relevant item tied with irrelevant ones counts after them (as score_queries does).
        first = 1 + int((sim[i, group][~rel] >= sim[i, group][rel].max()).sum()) if rel.any() else 0
        assert scores["instance_in_group"].first_hit_rank[i] == first
    np.testing.assert_array_equal(scores["instance_in_group"].average_precision,
                                  blocks["instance_in_group"].average_precision)
    # The cut only removes competitors: AP within the group is never below AP over the whole gallery.
    assert (scores["instance_in_group"].average_precision >= scores["instance"].average_precision - 1e-6).all()


def test_a_gallery_sorted_by_its_labels_scores_by_runs_exactly_as_by_masks(monkeypatch):
    # Sorted by (group, instance), every label is one run of columns: the mask-free path (score_ranges)
    # must give what the mask path gives on the same similarities, ties and the in-group cut included.
    from persona_lens.tasks.rank import ranking

    rng = np.random.default_rng(6)
    inst = np.sort(rng.integers(0, 15, 180))                                  # sorted: every label is one run
    gallery = np.round(rng.normal(size=(180, 6)), 1).astype(np.float32)       # coarse values: many ties
    queries = np.round(rng.normal(size=(29, 6)), 1).astype(np.float32)
    q_inst = np.concatenate([rng.integers(0, 15, 28), [99]])                  # one subject not in the gallery
    labels = lambda i: {"category": (i // 8).astype(str), "subclass": (i // 4).astype(str),  # noqa: E731
                        "instance": i.astype(str)}
    within = {"instance_in_group": ("subclass", "instance")}
    codes = np.unique(inst.astype(str), return_inverse=True)[1]
    assert ranking.label_runs(codes, codes[:3]) is not None
    assert ranking.label_runs(codes[rng.permutation(180)], codes[:3]) is None      # a shuffled gallery: masks
    for block_bytes in (1 << 30, 1 << 12):
        by_runs = ranking.rank_vectors(queries, labels(q_inst), gallery, labels(inst), (1, 5), within=within,
                                       block_bytes=block_bytes)
        with monkeypatch.context() as m:
            m.setattr(ranking, "label_runs", lambda *a: None)
            by_masks = ranking.rank_vectors(queries, labels(q_inst), gallery, labels(inst), (1, 5), within=within,
                                            block_bytes=block_bytes)
        for name in ("category", "subclass", "instance", "instance_in_group"):
            np.testing.assert_array_equal(by_runs[name].average_precision, by_masks[name].average_precision)
            np.testing.assert_array_equal(by_runs[name].first_hit_rank, by_masks[name].first_hit_rank)
            np.testing.assert_array_equal(by_runs[name].num_relevant, by_masks[name].num_relevant)
            for k in (1, 5):
                np.testing.assert_array_equal(by_runs[name].recall_at[k], by_masks[name].recall_at[k])
    whole = ranking.rank_vectors(queries, labels(q_inst), gallery, labels(inst), (1,))
    sim = queries @ gallery.T
    rel = q_inst[:, None] == inst[None, :]
    expected = [average_precision_score(rel[i], sim[i]) if rel[i].any() else 0.0 for i in range(29)]
    np.testing.assert_allclose(whole["instance"].average_precision, expected, rtol=1e-5, atol=1e-6)
    assert whole["instance"].num_relevant[-1] == 0 and whole["instance"].first_hit_rank[-1] == 0


def test_labels_not_nested_in_their_groups_fall_back_to_the_mask_path_for_the_cut():
    # Instance "y" appears in groups A and B: each label is still one run, but y's run leaves group A's.
    from persona_lens.tasks.rank import ranking

    gallery = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]], dtype=np.float32)
    g = {"subclass": np.array(["A", "A", "B", "B"]), "instance": np.array(["x", "y", "y", "z"])}
    q = {"subclass": np.array(["A"]), "instance": np.array(["y"])}
    within = {"instance_in_group": ("subclass", "instance")}
    queries = np.array([[0.8, 0.2]], dtype=np.float32)
    scores = ranking.rank_vectors(queries, q, gallery, g, (1,), within=within)["instance_in_group"]
    cut = np.where(np.array([[True, True, False, False]]), queries @ gallery.T, -np.inf).astype(np.float32)
    expected = score_queries(np.where(np.isfinite(cut), cut, -10.0), np.array([[False, True, True, False]]), (1,))
    np.testing.assert_allclose(scores.average_precision, expected.average_precision, rtol=1e-6)
    assert scores.num_relevant[0] == 2
