"""The run summary: every summary query answers on an empty root and reads the latest eval per stage."""

from persona_lens.schemas import eval_table
from persona_lens.storage import write_part
from persona_lens.tasks.summary import SUMMARY_QUERIES, dataset_summary


def test_every_summary_query_answers_on_an_empty_root(root):
    summary = dataset_summary(root)
    assert list(summary) == ["tables", *SUMMARY_QUERIES]
    assert summary["tables"].num_rows == summary["eval_summary"].num_rows == 0


def _eval(stage, value, split="reference", detail="instance", metric="mAP"):
    return [{"stage": stage, "method": m, "metric": metric, "value": v, "split": split, "detail": detail}
            for m, v in (("fpr", value), ("chance", 0.1))]


def test_the_eval_summary_shows_each_stage_s_latest_run_beside_chance(root):
    write_part(root, "eval_rank", eval_table("rank").from_rows(_eval("rank", 0.5)), run_id="r1")
    write_part(root, "eval_rank", eval_table("rank").from_rows(_eval("rank", 0.8)), run_id="r2")
    aligner = _eval("aligner", 0.7, split="heldout_photos", detail="all_edits", metric="accuracy")
    write_part(root, "eval_aligner", eval_table("aligner").from_rows(aligner), run_id="r0")
    summary = dataset_summary(root)
    # The second eval_rank run is a new version of the same results: the view shows it alone.
    assert summary["tables"].to_pylist() == [{"table": "eval_aligner", "rows": 2}, {"table": "eval_rank", "rows": 2}]
    rows = summary["eval_summary"].to_pylist()
    assert [(r["stage"], r["method"], r["score"], r["chance"]) for r in rows] == [
        ("aligner", "fpr", 0.7, 0.1), ("rank", "fpr", 0.8, 0.1)]
