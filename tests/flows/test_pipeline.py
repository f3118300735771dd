"""The main job on its default data: the world rendered and loaded, the DCGAN personalized on real faces,
everything embedded, the aligner scored, the generated images ranked against the gallery and the
ranking scored against the known identities."""

import pytest

from persona_lens.flows.pipeline import pipeline_flow
from persona_lens.queries import load
from persona_lens.schemas import get_schema
from persona_lens.storage import Catalog

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_the_default_run_embeds_every_world_image_and_scores_the_aligner_and_the_ranker_above_chance(root):
    result = pipeline_flow(root=root.url)
    assert {"world", "ingest", "generate", "embed", "eval_aligner", "rank", "explain", "describe"} <= set(result["seconds"])
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
        # Every personalized image of a gallery individual and its base twin ranked at three granularities
        # and within its look-alike group,
        # every such model summarised (the generated faces have no gallery of their own to rank against).
        in_gallery = "subject IN (SELECT instance FROM images WHERE role = 'gallery')"
        queries = cat.scalar(f"SELECT count(*) FROM generations WHERE method <> 'base' AND {in_gallery}")
        assert cat.scalar("SELECT count(*) FROM rankings") == 4 * 2 * queries
        models = cat.scalar(f"""
            SELECT count(DISTINCT model_id) FROM generations
            WHERE (method <> 'base' AND {in_gallery}) OR image_id IN (
                SELECT base_image_id FROM generations WHERE method <> 'base' AND {in_gallery})""")
        assert cat.scalar("SELECT count(*) FROM rank_summary WHERE metric = 'mAP'") == 4 * models
        assert cat.query(load("rank_by_model")).num_rows == models
        personalized_ranked = cat.scalar(f"SELECT count(DISTINCT model_id) FROM generations "
                                         f"WHERE method <> 'base' AND {in_gallery}")
        assert cat.query(load("identity_by_subject")).num_rows == personalized_ranked
        by_group = cat.query(load("rank_by_group")).to_pylist()
        assert len(by_group) == personalized_ranked
        # Cutting the gallery to the look-alike group only removes competitors.
        assert all(r["in_group_map"] >= r["instance_map"] - 1e-3 for r in by_group)
        # The DCGAN personalized on two real faces by LoRA and by full fine-tuning, plus known-truth snapshots.
        adapters = cat.query("SELECT method, count(DISTINCT subject) AS subjects, count(*) AS n FROM adapters "
                             "WHERE model_id NOT LIKE '%-s0%' GROUP BY 1 ORDER BY 1").to_pylist()
        assert adapters == [{"method": "full", "subjects": 2, "n": 2}, {"method": "lora", "subjects": 2, "n": 2}]
        assert cat.scalar("SELECT count(DISTINCT model_id) FROM generate_truth") == 4
        gains = {r["model_id"]: r["value"] for r in cat.query(
            "SELECT split AS model_id, value FROM eval_generate WHERE metric = 'identity_gain'").to_pylist()}
        # Every personalized model the job generated or loaded is explained, every aspect listed.
        personalized = cat.scalar("SELECT count(DISTINCT model_id) FROM generations WHERE method <> 'base'")
        assert cat.scalar("SELECT count(DISTINCT model_id) FROM explanations") == personalized
        assert cat.scalar("SELECT count(*) FROM explanations WHERE aspect <> 'summary'") == 7 * personalized
        assert cat.query(load("explain_by_model")).num_rows == personalized
        explain = {r["method"]: r["value"] for r in cat.query(
            "SELECT method, value FROM eval_explain WHERE split = 'root' AND metric = 'explanation_accuracy' "
            "AND detail IS NULL").to_pylist()}
        # The world's held-out viewers personalized from K = 5 examples and captioned (DEPER), scored
        # beside the frozen captioner and the style-only persona.
        fewshot = cat.scalar("SELECT count(*) FROM world_viewers WHERE split = 'fewshot'")
        assert cat.scalar("SELECT count(*) FROM personas WHERE method = 'deper' AND num_shots = 5") == fewshot
        assert cat.scalar("SELECT count(*) FROM captions WHERE model = 'deper'") > 0
        assert {r["method"] for r in cat.query(load("describe_scores")).to_pylist() if r["metric"] == "cider"} == {
            "frozen_captioner", "style_only", "deper"}
        sweep = {r["method"]: r["score"] for r in cat.query(load("eval_summary")).to_pylist()
                 if r["split"] == "drift_sweep"}
        # No run writes a key twice (the views would silently keep one of the rows).
        for table in cat.tables:
            key = get_schema(table).key
            if key:
                cols = ", ".join(["run_id", *key])
                assert cat.scalar(f"SELECT count(*) FROM (SELECT {cols} FROM history.{table} "
                                  f"GROUP BY ALL HAVING count(*) > 1)") == 0, table
        rows_per_table = {r["table"]: r["rows"] for r in cat.row_counts().to_pylist() if r["table"] != "runs"}
        ranker = {r["method"]: r["value"] for r in cat.query(
            "SELECT method, value FROM eval_rank WHERE split = 'reference' AND detail = 'instance' "
            "AND metric = 'mAP'").to_pylist()}
    photos, chance = scores[("heldout_photos", "accuracy")]
    assert photos > 0.6 and photos > 5 * chance       # whole photos never seen in training
    assert scores[("heldout_world", "recall@1")][0] > 0.8
    # The identity ranker on real individuals: measured 0.83 vs 0.20 for the raw features, chance 0.10.
    assert ranker["fpr"] > 0.6 and ranker["fpr"] > ranker["raw"] + 0.3 and ranker["fpr"] > 4 * ranker["chance"]
    # The drift sweep (graded identity drift per subject): FPR follows it, measured 0.94 (docs/rank.md).
    assert set(sweep) == {"fpr", "clip_i", "dino"} and sweep["fpr"] > 0.7 and sweep["fpr"] > sweep["clip_i"]
    # Full fine-tuning moves both subjects' twins clearly towards the subject (face-descriptor distance).
    # FineXL on the job's known-truth models (8 world profiles, 4 GAN snapshots): measured 0.44 vs
    # coarse 0.40 and random concepts far below; a small set, so only the order against chance is held.
    assert explain["finexl"] > 2 * explain["random"], explain
    full = [v for m, v in gains.items() if "-full-" in m]
    assert len(full) == 2 and min(full) > 0.1, gains

    # Run again with nothing changed: every evaluating step is reused, and no view gains a row.
    again = pipeline_flow(root=root.url)
    assert {k for k in again["counts"] if k.startswith("reused_")} == {
        "reused_eval_aligner", "reused_rank", "reused_explain", "reused_describe"}
    with Catalog(root) as cat:
        assert {r["table"]: r["rows"] for r in cat.row_counts().to_pylist() if r["table"] != "runs"} == rows_per_table
