"""The rank stage's pure parts: ranking queries against the gallery, semantic scores, input checks, and
the tables it writes (rankings, rank_summary, and rank_scores, which eval-rank reads back)."""

import numpy as np
import pytest

from persona_lens.schemas import RANK_SCORES, RANK_SUMMARY, RANKINGS, validate
from persona_lens.tasks.rank.evaluate import pair_rows
from persona_lens.tasks.rank.labelled import Labelled, Queries
from persona_lens.tasks.rank.metrics import GRANULARITIES, IN_GROUP, SCORED, QueryScores, summarize
from persona_lens.tasks.rank.params import RankParams
from persona_lens.tasks.rank.ranker import IdentityRanker, RankError
from persona_lens.tasks.rank.ranking import RankResult, check_inputs, rank_images, subject_similarity
from persona_lens.tasks.rank.tables import (identity_from_table, rank_scores_table, rankings_table, real_map_by_subject,
                                            reference_from_table, summary_markdown, summary_table)

TAXONOMY = {"tom": ("cat", "tabby"), "felix": ("cat", "tabby"), "rex": ("dog", "labrador"),
            "ghost": ("cat", "siamese")}


def labelled(instances, prefix="g"):
    return Labelled(np.array([f"{prefix}{i}" for i in range(len(instances))], dtype=object),
                    {"category": np.array([TAXONOMY[s][0] for s in instances], dtype=object),
                     "subclass": np.array([TAXONOMY[s][1] for s in instances], dtype=object),
                     "instance": np.array(instances, dtype=object)})


def queries(rows):
    """rows: (image_id, model_id, subject, kind, paired)."""
    image_ids, models, subjects, kinds, paired = (np.array(c, dtype=object) for c in zip(*rows))
    return Queries(image_ids,
                   {"category": np.array([TAXONOMY[s][0] for s in subjects], dtype=object),
                    "subclass": np.array([TAXONOMY[s][1] for s in subjects], dtype=object),
                    "instance": subjects},
                   models, subjects, kinds, paired)


def empty_labelled():
    return Labelled(np.array([], dtype=object), {g: np.array([], dtype=object) for g in GRANULARITIES})


GALLERY = labelled(["tom"] * 3 + ["felix"] * 3 + ["rex"] * 3)
QUERIES = queries([
    ("p1", "m1", "tom", "personalized", "b1"),
    ("p2", "m1", "tom", "personalized", "b2"),
    ("p3", "m2", "rex", "personalized", "b3"),
    ("p4", "m2", "ghost", "personalized", None),      # a subject the gallery lacks
    ("b1", "base", "tom", "base", "p1"),
    ("b2", "base", "tom", "base", "p2"),
    ("b3", "base", "rex", "base", "p3"),
])
PARAMS = RankParams(encoder="efficientnet-lite0", ranker="raw", ks=(1, 5))
RANKED = "efficientnet-lite0+raw"


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    centres = {s: rng.normal(size=16) for s in TAXONOMY}
    gallery_vectors = np.stack([centres[s] + 0.3 * rng.normal(size=16) for s in GALLERY.labels["instance"]])
    query_vectors = np.stack([centres[s] + 0.3 * rng.normal(size=16) for s in QUERIES.subjects])
    scores = rank_images(QUERIES, query_vectors, GALLERY, gallery_vectors, IdentityRanker(None), PARAMS.ks)
    clip_i = np.linspace(0.2, 0.8, len(QUERIES)).astype(np.float32)
    dino = np.where(QUERIES.model_ids == "m2", np.nan, 0.5).astype(np.float32)   # m2 has no dino score
    # CLIP-I's own space ranks too (its instance mAP beside its mean cosine); DINO's gallery has no vectors.
    clip_ranked = rank_images(QUERIES, query_vectors[:, ::-1].copy(), GALLERY, gallery_vectors[:, ::-1].copy(),
                              IdentityRanker(None), PARAMS.ks)["instance"]
    return RankResult(QUERIES, scores, {"clip_i": clip_i, "dino": dino}, len(GALLERY), {"clip_i": clip_ranked})


def test_rank_images_scores_every_granularity_against_its_own_labels(result):
    assert set(result.scores) == set(SCORED)
    # p1 (tom): 3 tom images, 6 tabby cats, 6 cats; p4 (ghost): no ghost, no siamese, but 6 cats.
    np.testing.assert_array_equal(result.scores["instance"].num_relevant, [3, 3, 3, 0, 3, 3, 3])
    np.testing.assert_array_equal(result.scores[IN_GROUP].num_relevant, [3, 3, 3, 0, 3, 3, 3])
    np.testing.assert_array_equal(result.scores["subclass"].num_relevant, [6, 6, 3, 0, 6, 6, 3])
    np.testing.assert_array_equal(result.scores["category"].num_relevant, [6, 6, 3, 6, 6, 6, 3])


def test_rank_images_finds_the_subject_first_when_it_is_nearest(result):
    instance = result.scores["instance"]
    has_subject = instance.num_relevant > 0
    np.testing.assert_array_equal(instance.first_hit_rank[has_subject], 1)
    np.testing.assert_allclose(instance.average_precision[has_subject], 1.0, rtol=1e-6)


def test_rankings_table_has_one_valid_row_per_query_and_granularity(result):
    table = rankings_table(result, PARAMS)
    validate(table, RANKINGS)
    assert table.num_rows == len(SCORED) * len(QUERIES)
    rows = table.to_pylist()
    assert {r["encoder"] for r in rows} == {RANKED}
    for g in SCORED:
        assert [r["query_image_id"] for r in rows if r["granularity"] == g] == list(QUERIES.image_ids)
    ghost = next(r for r in rows if r["query_image_id"] == "p4" and r["granularity"] == "instance")
    assert ghost == {"query_image_id": "p4", "model_id": "m2", "encoder": RANKED, "granularity": "instance",
                     "target": "ghost", "average_precision": 0.0, "first_hit_rank": None, "num_relevant": 0}
    tom = next(r for r in rows if r["query_image_id"] == "p1" and r["granularity"] == "subclass")
    assert (tom["target"], tom["num_relevant"], tom["first_hit_rank"]) == ("tabby", 6, 1)


def test_summary_table_has_metric_rows_per_model_and_granularity_and_semantic_rows(result):
    table = summary_table(result, PARAMS)
    validate(table, RANK_SUMMARY)
    per_granularity = 1 + 2 * len(PARAMS.ks)                  # mAP, cmc@k, recall@k
    semantic_rows = {"base": 3, "m1": 3, "m2": 2}             # clip_i, clip_i_map, dino (m2's are all NaN)
    rows = table.to_pylist()
    assert table.num_rows == sum(len(SCORED) * per_granularity + n for n in semantic_rows.values())
    for model, n in semantic_rows.items():
        assert sum(r["model_id"] == model and r["granularity"] == "semantic" for r in rows) == n
    metrics = {(r["metric"], r["k"]) for r in rows if r["granularity"] == "instance"}
    assert metrics == {("mAP", None), ("cmc", 1), ("cmc", 5), ("recall", 1), ("recall", 5)}
    # Each model's subject rides along; a model whose pictures are ranked for several subjects has none.
    assert {(r["model_id"], r["subject"]) for r in rows} == {("m1", "tom"), ("m2", None), ("base", None)}


def test_summary_values_are_the_per_model_means(result):
    rows = summary_table(result, PARAMS).to_pylist()
    value = {(r["model_id"], r["granularity"], r["metric"], r["k"]): r for r in rows}
    m2 = QUERIES.model_ids == "m2"
    expected = summarize(result.scores["instance"], m2)       # only p3: p4's ghost has no relevant image
    assert value[("m2", "instance", "mAP", None)]["value"] == pytest.approx(expected["mAP"])
    assert value[("m2", "instance", "cmc", 1)]["value"] == pytest.approx(expected["cmc@1"])
    clip = value[("m1", "semantic", "clip_i", None)]
    assert clip["value"] == pytest.approx(result.semantic["clip_i"][:2].mean(), rel=1e-6)
    assert clip["encoder"] == PARAMS.semantic["clip_i"]
    assert value[("m1", "instance", "mAP", None)]["encoder"] == RANKED


def test_summary_markdown_has_a_line_per_model(result):
    text = summary_markdown(summary_table(result, PARAMS))
    lines = text.splitlines()
    assert lines[0].startswith("| model | instance mAP | instance preservation | instance_in_group mAP | "
                               "subclass mAP | category mAP | instance cmc@1 | clip_i | clip_i_map | dino | dino_map |")
    assert [line.split(" | ")[0] for line in lines[2:]] == ["| base", "| m1", "| m2"]
    assert lines[-1].endswith("|  |")                         # m2 has no dino score


def test_subject_similarity_is_the_mean_cosine_to_the_subjects_references():
    references = labelled(["tom", "tom", "rex"], prefix="r")
    reference_vectors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)
    query_vectors = np.array([[0.6, 0.8], [0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
    out = subject_similarity(query_vectors, np.array(["tom", "rex", "felix"], dtype=object), references,
                             reference_vectors)
    assert out[0] == pytest.approx((0.6 + 0.8) / 2)
    assert out[1] == pytest.approx(-0.6)
    assert np.isnan(out[2])


def test_check_inputs_rejects_an_empty_gallery():
    with pytest.raises(RankError, match="no gallery.*--role gallery"):
        check_inputs(QUERIES, empty_labelled())


def test_check_inputs_rejects_no_queries():
    no_queries = Queries(np.array([], dtype=object), {g: np.array([], dtype=object) for g in GRANULARITIES},
                         *(np.array([], dtype=object) for _ in range(4)))
    with pytest.raises(RankError, match="no queries"):
        check_inputs(no_queries, GALLERY)


def test_check_inputs_rejects_queries_whose_subjects_are_all_absent_from_the_gallery():
    strangers = queries([("p1", "m1", "ghost", "personalized", None)])
    with pytest.raises(RankError, match="none of the queries' subjects is in the gallery.*'ghost'"):
        check_inputs(strangers, GALLERY)


def test_check_inputs_accepts_queries_when_some_subjects_are_in_the_gallery():
    check_inputs(QUERIES, GALLERY)


def test_rank_scores_round_trip_to_what_eval_rank_scores(result):
    references = labelled(["tom", "rex"], prefix="r")
    reference_scores = {"fpr": {g: result.scores[g] for g in GRANULARITIES}}
    reference_scores["fpr"] = rank_images(references, np.eye(2, 16), GALLERY, np.eye(9, 16),
                                          IdentityRanker(None), (1,))
    table = rank_scores_table(result, references, reference_scores, PARAMS)
    validate(table, RANK_SCORES)
    identity = identity_from_table(table)
    # Every generated query once, personalized ones first, with each method's identity score.
    assert sorted(zip(identity.image_ids, identity.kinds)) == sorted(zip(QUERIES.image_ids, QUERIES.kinds))
    assert set(identity.scores) == {"fpr", "fpr_subclass", "clip_i", "dino"}
    at = {i: k for k, i in enumerate(identity.image_ids)}
    for i, image_id in enumerate(QUERIES.image_ids):
        assert identity.scores["fpr"][at[image_id]] == pytest.approx(result.scores["instance"].average_precision[i])
        assert identity.scores["fpr_subclass"][at[image_id]] == pytest.approx(
            result.scores["subclass"].average_precision[i])
    assert np.isnan(identity.scores["dino"][at["p3"]])                         # m2 has no dino score
    by_ranker, gallery_size = reference_from_table(table)
    assert gallery_size == len(GALLERY) and set(by_ranker) == {"fpr"}
    np.testing.assert_array_equal(by_ranker["fpr"]["instance"].num_relevant, [3, 3])


def test_pairs_read_back_from_rank_scores_match_the_in_memory_ranking(result):
    from persona_lens.tasks.rank.evaluate import IdentityTruth

    truth = IdentityTruth({"m1": 0.0, "m2": 0.5}, {"m1": 0, "m2": 1})
    identity = identity_from_table(rank_scores_table(result, labelled([], prefix="r"), {}, PARAMS))
    rows = {(r["method"], r["split"]): r["value"] for r in pair_rows(identity, truth)}
    p, b = result.scores["instance"].average_precision[[0, 1]], result.scores["instance"].average_precision[[4, 5]]
    assert rows[("fpr", "control")] == pytest.approx(np.mean((p > b) + 0.5 * (p == b)))


def test_preservation_is_the_models_map_over_the_real_image_baseline_of_its_subjects(result):
    # Real pictures of tom retrieve tom with AP 1.0 and 0.5; of rex with 0.8: the real-image baselines.
    references = labelled(["tom", "tom", "rex"], prefix="r")
    scores = QueryScores(np.array([1.0, 0.5, 0.8], np.float32), np.array([1, 2, 1], np.int32),
                         np.array([3, 3, 3], np.int32), {})
    real = real_map_by_subject(references, {"instance": scores})
    assert real == {"instance": {"rex": pytest.approx(0.8), "tom": pytest.approx(0.75)}}
    rows = {(r["model_id"], r["granularity"], r["metric"]): r["value"]
            for r in summary_table(result, PARAMS, real).to_pylist()}
    m1 = rows[("m1", "instance", "mAP")]
    assert rows[("m1", "instance", "real_mAP")] == pytest.approx(0.75)
    assert rows[("m1", "instance", "preservation")] == pytest.approx(m1 / 0.75)
    # The base model's queries are tom, tom, rex: its baseline weighs the subjects as its mAP does.
    assert rows[("base", "instance", "real_mAP")] == pytest.approx((0.75 + 0.75 + 0.8) / 3)
    # m2's queries: rex and ghost (not in the gallery, left out of its mAP and of its baseline).
    assert rows[("m2", "instance", "real_mAP")] == pytest.approx(0.8)
    # No baseline at a granularity the references were not scored at.
    assert ("m1", "subclass", "preservation") not in rows


def test_each_semantic_encoder_is_also_scored_by_retrieval_in_its_own_space(result):
    rows = {(r["model_id"], r["metric"]): r for r in summary_table(result, PARAMS).to_pylist()
            if r["granularity"] == "semantic"}
    m1 = rows[("m1", "clip_i_map")]
    assert m1["encoder"] == PARAMS.clip_encoder
    assert m1["value"] == pytest.approx(summarize(result.semantic_ranked["clip_i"], QUERIES.model_ids == "m1")["mAP"])
    assert ("m1", "dino_map") not in rows          # no gallery vectors of that encoder: no retrieval score
