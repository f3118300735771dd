"""The rank stage's entry point (tasks/rank/__init__): rank → three tables; eval-rank reads them back."""

import numpy as np
import pytest

from persona_lens.schemas import WORLD_PROFILES
from persona_lens.storage import write_part
from persona_lens.tasks.rank import EvalRankParams, RankError, RankParams, evaluate_rank, fit_stage_ranker, rank_tables
from persona_lens.tasks.rank.ranking import RankData
from tests.tasks.rank.test_tables import GALLERY, QUERIES, labelled

PARAMS = RankParams(encoder="efficientnet-lite0", ranker="raw", ks=(1, 5))


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    centres = {s: rng.normal(size=8) for s in ("tom", "felix", "rex", "ghost")}
    vec = lambda names: np.stack([centres[s] + 0.2 * rng.normal(size=8) for s in names])  # noqa: E731
    references = labelled(["tom", "rex"], prefix="r")
    semantic = {"clip_i": rng.uniform(size=len(QUERIES)).astype(np.float32)}
    return RankData(GALLERY, vec(GALLERY.labels["instance"]), QUERIES, vec(QUERIES.subjects), references,
                    vec(references.labels["instance"]), semantic)


def test_rank_writes_rankings_a_summary_and_the_scores_eval_rank_reads(data):
    tables = rank_tables(data, fit_stage_ranker(data, PARAMS), PARAMS.replace(dino_encoder=None))
    assert set(tables) == {"rankings", "rank_summary", "rank_scores"}
    scores = tables["rank_scores"].to_pylist()
    assert {r["kind"] for r in scores} == {"personalized", "base", "reference"}
    assert {r["method"] for r in scores if r["kind"] == "reference"} == {"raw"}     # the raw ranker only


def test_eval_rank_scores_the_rank_run_it_is_given(data, root):
    params = PARAMS.replace(dino_encoder=None)
    write_part(root, "rank_scores", rank_tables(data, fit_stage_ranker(data, params), params)["rank_scores"], "r1")
    write_part(root, "world_profiles", WORLD_PROFILES.from_rows([
        {"model_id": "m1", "subject": "tom", "aspect": "identity", "concept": None, "intensity": 0.0},
        {"model_id": "m2", "subject": "rex", "aspect": "identity", "concept": "x", "intensity": 0.7}]), "w")
    table = evaluate_rank(root, EvalRankParams(rank_run="r1"))
    splits = {(r["split"], r["method"]) for r in table.to_pylist()}
    assert ("control", "fpr") in splits and ("drifted", "clip_i") in splits and ("reference", "raw") in splits
    with pytest.raises(RankError, match="no rank scores for run 'nope'"):
        evaluate_rank(root, EvalRankParams(rank_run="nope"))


def test_extra_fit_pictures_join_the_ranker_fit_but_are_never_ranked_against(data):
    lda = PARAMS.replace(ranker="lda")
    plain = fit_stage_ranker(data, lda)
    rng = np.random.default_rng(7)
    labels = data.gallery.labels["instance"]
    # Copies whose only variation is along one nuisance axis: the fit must learn to ignore it.
    data.fit_vectors = data.gallery_vectors + np.outer(rng.normal(size=len(labels)) * 5, np.eye(8)[0])
    data.fit_labels = labels
    augmented = fit_stage_ranker(data, lda)
    nuisance = np.eye(8)[:1] * 5
    moved = lambda r: float(np.linalg.norm(r.project(data.gallery_vectors[:1] + nuisance)  # noqa: E731
                                           - r.project(data.gallery_vectors[:1])))
    assert moved(augmented) < moved(plain)
    tables = rank_tables(data, augmented, lda.replace(dino_encoder=None))
    assert tables["rank_summary"].num_rows == rank_tables(data, plain, lda.replace(dino_encoder=None))["rank_summary"].num_rows
