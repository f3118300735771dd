"""The main job's step cache: a step runs again only when what it reads, its settings or the code changed."""

from __future__ import annotations

from persona_lens.flows.reuse import STEP_INPUTS, StepCache, run_once
from persona_lens.flows.run_context import StageRun
from persona_lens.storage import write_part
from tests.storage.factory import embedding_rows, summary_rows, unit_vectors


def cache_for(root, run_id: str = "r1", enabled: bool = True) -> StepCache:
    return StepCache(StageRun(flow="pipeline", root=root, run_id=run_id, config="{}", part="pipeline"), enabled)


def test_a_step_whose_inputs_did_not_change_runs_once(root):
    write_part(root, "embeddings", embedding_rows(["a"], "enc", unit_vectors(1, 4)), run_id="r0")
    calls = []
    run_once(cache_for(root, "r1"), "rank", ({"shrinkage": 0.3},), lambda: calls.append("r1"))
    # The step's own outputs are not among its inputs: writing them does not change the key.
    write_part(root, "rank_summary", summary_rows(3), run_id="r1")
    second = cache_for(root, "r2")
    run_once(second, "rank", ({"shrinkage": 0.3},), lambda: calls.append("r2"))
    assert calls == ["r1"]
    assert second.run.counts == {"reused_rank": 1}


def test_a_new_input_part_other_settings_or_reuse_off_run_the_step_again(root):
    write_part(root, "embeddings", embedding_rows(["a"], "enc", unit_vectors(1, 4)), run_id="r0")
    calls = []
    run_once(cache_for(root), "rank", ({"shrinkage": 0.3},), lambda: calls.append("first"))
    run_once(cache_for(root), "rank", ({"shrinkage": 0.5},), lambda: calls.append("other settings"))
    write_part(root, "embeddings", embedding_rows(["b"], "enc", unit_vectors(1, 4, seed=1)), run_id="r1")
    run_once(cache_for(root), "rank", ({"shrinkage": 0.3},), lambda: calls.append("new input"))
    run_once(cache_for(root, enabled=False), "rank", ({"shrinkage": 0.3},), lambda: calls.append("reuse off"))
    assert calls == ["first", "other settings", "new input", "reuse off"]


def test_a_step_that_fails_leaves_no_marker_and_runs_again(root):
    def fail():
        raise RuntimeError("boom")

    try:
        run_once(cache_for(root), "explain", (), fail)
    except RuntimeError:
        pass
    calls = []
    run_once(cache_for(root), "explain", (), lambda: calls.append("again"))
    assert calls == ["again"]


def test_a_weights_file_setting_is_keyed_by_its_content_stamp(root, tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"one")
    cache = cache_for(root)
    first = cache.key("eval_aligner", str(weights))
    weights.write_bytes(b"other bytes")
    assert cache.key("eval_aligner", str(weights)) != first


def test_every_reusable_step_reads_only_tables_it_does_not_write():
    written = {"rank": {"rankings", "rank_summary", "rank_scores", "eval_rank"},
               "explain": {"explanations", "eval_explain", "quarantine"},
               "describe": {"personas", "captions", "caption_scores", "eval_describe"},
               "eval_aligner": {"eval_aligner"}}
    for step, inputs in STEP_INPUTS.items():
        assert not set(inputs) & written[step], step
