"""The main job on its default data: the world rendered, loaded, embedded, the aligner scored, the
generated images ranked against the gallery and the ranking scored against the known identities."""

import pytest

from persona_lens.flows.pipeline import pipeline_flow
from persona_lens.queries import load
from persona_lens.storage import Catalog

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_default_run_embeds_every_world_image_and_scores_the_aligner_and_the_ranker_above_chance(root):
    result = pipeline_flow(root=root.url)
    assert {"world", "ingest", "embed", "eval_aligner", "rank"} <= set(result["seconds"])
    with Catalog(root) as cat:
        images = cat.scalar("SELECT count(*) FROM images")
        assert set(cat.query("SELECT DISTINCT role FROM images").column("role").to_pylist()) == {
            "reference", "gallery", "base", "generated", "scene"}
        for encoder in ("efficientnet-lite0", "persona-lens-lit"):
            assert cat.scalar("SELECT count(DISTINCT image_id) FROM embeddings WHERE encoder = ?",
                              [encoder]) == images
        # Captions and concept phrases live in the aligner's shared space too.
        assert cat.scalar("SELECT count(*) FROM text_embeddings WHERE encoder = 'persona-lens-lit'") > 0
        scores = {(r["split"], r["metric"]): (r["score"], r["chance"])
                  for r in cat.query(load("eval_summary")).to_pylist() if r["stage"] == "aligner"}
        # Every personalized image and its base twin ranked at three granularities, every model summarised.
        queries = cat.scalar("SELECT count(*) FROM generations WHERE method <> 'base'")
        assert cat.scalar("SELECT count(*) FROM rankings") == 3 * 2 * queries
        models = cat.scalar("SELECT count(DISTINCT model_id) FROM generations")
        assert cat.scalar("SELECT count(*) FROM rank_summary WHERE metric = 'mAP'") == 3 * models
        assert cat.query(load("rank_by_model")).num_rows == models
        ranker = {r["method"]: r["value"] for r in cat.query(
            "SELECT method, value FROM eval_rank WHERE split = 'reference' AND detail = 'instance' "
            "AND metric = 'mAP'").to_pylist()}
    photos, chance = scores[("heldout_photos", "accuracy")]
    assert photos > 0.6 and photos > 5 * chance       # whole photos never seen in training
    assert scores[("heldout_world", "recall@1")][0] > 0.8
    # The identity ranker on real individuals: measured 0.83 vs 0.20 for the raw features, chance 0.10.
    assert ranker["fpr"] > 0.6 and ranker["fpr"] > ranker["raw"] + 0.3 and ranker["fpr"] > 4 * ranker["chance"]
