"""The main job on its default data: the world rendered, loaded, embedded twice, the aligner scored."""

import pytest

from persona_lens.flows.pipeline import pipeline_flow
from persona_lens.queries import load
from persona_lens.storage import Catalog

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_default_run_embeds_every_world_image_and_scores_the_aligner_above_chance(root):
    result = pipeline_flow(root=root.url)
    assert {"world", "ingest", "embed", "eval_aligner"} <= set(result["seconds"])
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
                  for r in cat.query(load("eval_summary")).to_pylist()}
    photos, chance = scores[("heldout_photos", "accuracy")]
    assert photos > 0.6 and photos > 5 * chance       # whole photos never seen in training
    assert scores[("heldout_world", "recall@1")][0] > 0.8
