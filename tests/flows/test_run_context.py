"""The run context every flow shares: one `runs` row per run, on success and on failure."""

import json

import pytest

from persona_lens.flows.run_context import config_json, stage_run
from persona_lens.schemas import QUARANTINE
from persona_lens.storage import read_table
from persona_lens.tasks.embed import EmbedParams


def test_a_completed_run_records_its_parameters_counts_and_timings(root):
    with stage_run("embed", EmbedParams(batch_size=8), root.url, "run-1") as run:
        with run.step("encode"):
            pass
        run.write("quarantine", QUARANTINE.empty())
        run.count(images=3)
        run.count(images=2)
        result = run.result(extra="x")
    assert result == {"run_id": "run-1", "root": root.url, "quarantine": 0, "images": 5, "extra": "x"}
    (row,) = read_table(root, "runs").to_pylist()
    assert (row["flow"], row["status"], row["error"], row["run_id"]) == ("embed", "completed", None, "run-1")
    assert json.loads(row["config"])["batch_size"] == 8
    assert dict(row["counts"]) == {"quarantine": 0, "images": 5}
    assert set(dict(row["timings"])) == {"encode", "seconds"}
    assert row["finished_at"] >= row["started_at"]


def test_a_failed_run_records_the_error_and_the_error_goes_on(root):
    with pytest.raises(ValueError, match="bad input"):
        with stage_run("rank", {"k": 1}, root.url, "run-2") as run:
            run.count(queries=4)
            raise ValueError("bad input\nwith a second line")
    (row,) = read_table(root, "runs").to_pylist()
    assert (row["status"], row["error"], dict(row["counts"])) == ("failed", "ValueError: bad input", {"queries": 4})


def test_runs_of_one_flow_under_one_run_id_keep_their_own_rows_by_part(root):
    for part in ("embed-a", "embed-b"):
        with stage_run("embed", None, root.url, "same", part=part):
            pass
    assert read_table(root, "runs").num_rows == 2


def test_a_new_run_gets_a_sortable_run_id(root):
    with stage_run("x", None, root.url) as first:
        pass
    with stage_run("x", None, root.url) as second:
        pass
    assert first.run_id != second.run_id and first.run_id[:8].isdigit()


def test_config_json_is_sorted_and_takes_models_or_mappings():
    assert config_json({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'
    assert json.loads(config_json(EmbedParams()))["encoder"] == "efficientnet-lite0"
