"""The storage contract, the same on a local root and an S3 root (a real SeaweedFS server).

Every writer and reader of `persona_lens.storage` is checked here once per kind of root: Parquet parts,
WebDataset shards and the DuckDB catalog. A new backend joins by adding a `params` entry to `any_root`
(tests/storage/conftest.py).
"""

from __future__ import annotations

import subprocess
import tarfile

import numpy as np
import pyarrow as pa
import pytest
import webdataset as wds
from webdataset.tariterators import group_by_keys, tar_file_expander

from persona_lens.schemas import SchemaError
from persona_lens.storage import (
    Catalog, QueryError, ShardWriter, list_parts, list_shards, read_members, read_table, write_part,
)
from tests.storage.factory import (
    embedding_rows, files_under, image_id, sample_bytes, summary_rows, unit_vectors,
)


def with_column(t: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, values)


def sorted_rows(t: pa.Table) -> list[dict]:
    return sorted(t.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


# --- Parquet parts ---------------------------------------------------------------------------------

def test_write_part_then_read_table_round_trips_the_rows_and_adds_run_id(any_root):
    rows = summary_rows(3)
    path = write_part(any_root, "rank_summary", rows, run_id="r1", part="batch-0")

    assert any_root.relative(path) == "tables/rank_summary/run_id=r1/part-batch-0.parquet"
    back = read_table(any_root, "rank_summary")
    assert back.column_names == [*rows.column_names, "run_id"]
    assert back.column("run_id").to_pylist() == ["r1"] * 3
    assert sorted_rows(back.drop_columns(["run_id"])) == sorted_rows(rows)


def test_rows_of_several_runs_keep_their_own_run_id(any_root):
    write_part(any_root, "rank_summary", summary_rows(2, model="a"), run_id="r1")
    write_part(any_root, "rank_summary", summary_rows(1, model="b"), run_id="r2")

    back = read_table(any_root, "rank_summary", columns=["model_id"])
    assert sorted(zip(back.column("model_id").to_pylist(), back.column("run_id").to_pylist())) == [
        ("a", "r1"), ("a", "r1"), ("b", "r2")]


def test_writing_the_same_part_key_twice_replaces_the_rows_instead_of_adding_them(any_root):
    write_part(any_root, "rank_summary", summary_rows(3), run_id="r1", part="batch-0")
    write_part(any_root, "rank_summary", summary_rows(3), run_id="r1", part="batch-0")
    # Without an explicit key the key comes from the content: the same rows land in the same file.
    first = write_part(any_root, "rank_summary", summary_rows(2, model="x"), run_id="r1")
    second = write_part(any_root, "rank_summary", summary_rows(2, model="x"), run_id="r1")

    assert first == second
    assert len(list_parts(any_root, "rank_summary")) == 2
    assert read_table(any_root, "rank_summary").num_rows == 3 + 2


def test_a_key_written_by_two_runs_reads_once_as_the_later_run_s_row(any_root):
    # Two writers (or a re-run) write the same keys; both versions stay on disk.
    write_part(any_root, "rank_summary", summary_rows(3), run_id="20261201T100000Z-aaaa")
    newer = with_column(summary_rows(2), "value", pa.array([0.7, 0.8]))
    write_part(any_root, "rank_summary", newer, run_id="20261202T100000Z-bbbb")

    back = read_table(any_root, "rank_summary")
    assert sorted(zip(back.column("k").to_pylist(), back.column("value").to_pylist(),
                      back.column("run_id").to_pylist())) == [
        (0, 0.7, "20261202T100000Z-bbbb"), (1, 0.8, "20261202T100000Z-bbbb"), (2, 0.2, "20261201T100000Z-aaaa")]
    assert read_table(any_root, "rank_summary", history=True).num_rows == 5
    # A projection without the key columns is still one row per key.
    assert sorted(read_table(any_root, "rank_summary", columns=["value"]).column("value").to_pylist()) == [
        0.2, 0.7, 0.8]
    with Catalog(any_root) as cat:
        assert cat.query("SELECT k, value, run_id FROM rank_summary ORDER BY k").to_pylist() == [
            {"k": 0, "value": 0.7, "run_id": "20261202T100000Z-bbbb"},
            {"k": 1, "value": 0.8, "run_id": "20261202T100000Z-bbbb"},
            {"k": 2, "value": 0.2, "run_id": "20261201T100000Z-aaaa"}]
        assert cat.scalar("SELECT count(*) FROM history.rank_summary") == 5
        assert cat.scalar("SELECT count(*) FROM (SELECT value FROM rank_summary)") == 3


def test_latest_means_written_last_whatever_the_run_ids_say(any_root):
    import time

    write_part(any_root, "rank_summary", summary_rows(1), run_id="zz-first")
    time.sleep(1.1)  # S3's LastModified has one-second resolution
    write_part(any_root, "rank_summary", with_column(summary_rows(1), "value", pa.array([0.9])), run_id="aa-second")

    assert read_table(any_root, "rank_summary").column("run_id").to_pylist() == ["aa-second"]
    with Catalog(any_root) as cat:
        assert cat.query("SELECT value, run_id FROM rank_summary").to_pylist() == [{"value": 0.9, "run_id": "aa-second"}]


def test_a_null_in_a_key_column_is_a_key_value_like_any_other(any_root):
    row = with_column(summary_rows(1), "k", pa.array([None], pa.int32()))
    write_part(any_root, "rank_summary", row, run_id="r1")
    write_part(any_root, "rank_summary", row, run_id="r2")

    assert read_table(any_root, "rank_summary").column("run_id").to_pylist() == ["r2"]
    with Catalog(any_root) as cat:
        assert cat.query("SELECT k, run_id FROM rank_summary").to_pylist() == [{"k": None, "run_id": "r2"}]


def test_a_part_that_repeats_a_key_is_refused_before_anything_is_written(any_root):
    twice = pa.concat_tables([summary_rows(2), summary_rows(1)])
    with pytest.raises(SchemaError, match=r"rank_summary.*1 row\(s\) repeat a key \(model_id, encoder"):
        write_part(any_root, "rank_summary", twice, run_id="r1")
    assert files_under(any_root) == []


def test_a_log_table_keeps_every_row(any_root):
    from persona_lens.schemas import RUNS
    assert RUNS.key == ()
    import datetime as dt
    t = dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)
    row = {"flow": "ingest", "status": "completed", "started_at": t, "finished_at": t, "config": "{}",
           "code_version": "x", "error": None, "timings": [], "counts": []}
    write_part(any_root, "runs", RUNS.from_rows([row, row]), run_id="r1")
    assert read_table(any_root, "runs").num_rows == 2
    with Catalog(any_root) as cat:
        assert cat.scalar("SELECT count(*) FROM runs") == 2


def test_an_empty_table_writes_no_part(any_root):
    assert write_part(any_root, "rank_summary", summary_rows(0), run_id="r1") is None
    assert files_under(any_root) == []


def _missing_column():
    return summary_rows(2).drop_columns(["metric"])


def _wrong_type():
    t = summary_rows(2)
    return t.set_column(t.column_names.index("k"), "k", t.column("k").cast(pa.int64()))


def _nan_in_vector():
    vectors = unit_vectors(2, 4)
    vectors[1, 2] = np.nan
    return embedding_rows(["a", "b"], "enc", vectors)


def _extra_column():
    return summary_rows(2).append_column("note", pa.array(["x", "y"]))


@pytest.mark.parametrize(("table", "make", "column"), [
    ("rank_summary", _missing_column, "metric"),
    ("rank_summary", _wrong_type, "k"),
    ("embeddings", _nan_in_vector, "vector"),
    ("rank_summary", _extra_column, "note"),
], ids=["missing-column", "wrong-type", "nan-in-vector", "extra-column"])
def test_a_table_that_breaks_its_schema_raises_schema_error_naming_the_column_and_writes_nothing(
        any_root, table, make, column):
    with pytest.raises(SchemaError, match=f"'{column}'"):
        write_part(any_root, table, make(), run_id="r1", part="batch-0")

    assert files_under(any_root) == []
    assert read_table(any_root, table).num_rows == 0


# --- WebDataset shards -----------------------------------------------------------------------------

def write_samples(root, sizes: list[int], **limits) -> tuple[list[str], dict[str, bytes], list[str]]:
    """Write one `.jpg` sample per size; return (image ids, {member uri: bytes}, committed shards)."""
    ids, expected = [], {}
    with ShardWriter(root, "gallery", "r1", **limits) as writer:
        for i, size in enumerate(sizes):
            data = sample_bytes(i, size)
            ids.append(image_id(data))
            expected[writer.write(ids[-1], {"jpg": data})["jpg"]] = data
    return ids, expected, writer.shards


def tar_member_names(root, shard: str) -> list[str]:
    with root.fs.open(shard, "rb") as f, tarfile.open(fileobj=f, mode="r|") as tar:
        return [m.name for m in tar]


def test_shard_writer_rolls_over_at_maxcount_with_members_named_image_id_dot_ext(any_root):
    ids, _, shards = write_samples(any_root, [10] * 5, maxcount=2)

    assert [any_root.relative(s) for s in shards] == [
        f"shards/gallery/r1/shard-{i:06d}.tar" for i in range(3)]
    assert list_shards(any_root) == shards
    assert [tar_member_names(any_root, s) for s in shards] == [
        [f"{ids[0]}.jpg", f"{ids[1]}.jpg"], [f"{ids[2]}.jpg", f"{ids[3]}.jpg"], [f"{ids[4]}.jpg"]]


def test_shard_writer_rolls_over_before_a_sample_would_pass_maxsize(any_root):
    _, _, shards = write_samples(any_root, [100] * 5, maxsize=250)

    assert [len(tar_member_names(any_root, s)) for s in shards] == [2, 2, 1]


def test_member_uris_point_into_their_shard_and_read_members_returns_the_exact_bytes(any_root):
    ids, expected, _ = write_samples(any_root, [50, 60, 70, 80, 90], maxcount=2)

    assert list(expected) == [
        f"shards/gallery/r1/shard-{i // 2:06d}.tar#{key}.jpg" for i, key in enumerate(ids)]
    assert read_members(any_root, list(expected)) == expected


def test_shards_are_readable_by_the_webdataset_library(any_root):
    ids, expected, shards = write_samples(any_root, [30, 40, 50], maxcount=2)

    # webdataset's own tar reader and sample grouping, fed streams from the root's filesystem (its URL
    # openers know neither s3fs credentials nor custom endpoints).
    streams = [{"url": s, "stream": any_root.fs.open(s, "rb")} for s in shards]
    try:
        samples = list(group_by_keys(tar_file_expander(streams)))
    finally:
        for s in streams:
            s["stream"].close()
    assert [s["__key__"] for s in samples] == ids
    assert [s["jpg"] for s in samples] == list(expected.values())


def test_local_shards_are_plain_tar_files_for_tar_tf_and_webdataset_urls(root):
    ids, expected, shards = write_samples(root, [30, 40, 50], maxcount=2)

    listed = [subprocess.run(["tar", "tf", s], capture_output=True, text=True, check=True, timeout=30)
              .stdout.split() for s in shards]
    assert listed == [[f"{ids[0]}.jpg", f"{ids[1]}.jpg"], [f"{ids[2]}.jpg"]]
    samples = list(wds.WebDataset(shards, shardshuffle=False))
    assert [(s["__key__"], s["jpg"]) for s in samples] == list(zip(ids, expected.values()))


def test_an_exception_inside_the_shard_writer_commits_nothing(any_root):
    with pytest.raises(RuntimeError, match="boom"):
        with ShardWriter(any_root, "gallery", "r1") as writer:
            writer.write(image_id(b"a"), {"jpg": b"a"})
            raise RuntimeError("boom")

    assert writer.shards == []
    assert list_shards(any_root) == []
    assert files_under(any_root) == []


# --- DuckDB catalog --------------------------------------------------------------------------------

def test_the_catalog_has_one_view_per_written_table(any_root):
    write_part(any_root, "rank_summary", summary_rows(2), run_id="r1")
    write_part(any_root, "embeddings", embedding_rows(["a"], "enc", unit_vectors(1, 4)), run_id="r1")

    with Catalog(any_root) as cat:
        # Tables without parts are registered empty Arrow tables (temporary views), not views over files.
        views = cat.query(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary "
            "AND schema_name = 'main' ORDER BY 1")
        assert cat.tables == views.column("view_name").to_pylist() == ["embeddings", "rank_summary"]
        assert cat.scalar("SELECT count(*) FROM rank_summary") == 2
        # A known table with no parts yet answers with zero rows instead of failing.
        assert cat.scalar("SELECT count(*) FROM quarantine") == 0


def test_every_stage_s_scores_meet_in_one_eval_view_that_exists_before_any(any_root):
    from persona_lens.schemas import eval_table

    with Catalog(any_root) as cat:
        assert cat.scalar("SELECT count(*) FROM eval") == 0
    for stage, n in (("rank", 2), ("newstage", 3)):
        rows = [{"stage": stage, "method": "m", "metric": f"acc@{k}", "value": 0.5, "split": "test", "detail": None}
                for k in range(n)]
        write_part(any_root, f"eval_{stage}", eval_table(stage).from_rows(rows), run_id="r1")
    with Catalog(any_root) as cat:
        counts = cat.query("SELECT stage, count(*) AS n FROM eval GROUP BY 1 ORDER BY 1").to_pylist()
        assert counts == [{"stage": "newstage", "n": 3}, {"stage": "rank", "n": 2}]
        assert cat.scalar("SELECT count(*) FROM eval_newstage") == 3


def test_run_id_is_varchar_even_when_it_looks_like_a_number(any_root):
    write_part(any_root, "rank_summary", summary_rows(1), run_id="20261122")

    with Catalog(any_root) as cat:
        assert cat.query("SELECT typeof(run_id) AS t, run_id FROM rank_summary").to_pylist() == [
            {"t": "VARCHAR", "run_id": "20261122"}]


def test_queries_take_bound_parameters_by_position_and_by_name(any_root):
    write_part(any_root, "rank_summary", summary_rows(5, model="a"), run_id="r1")
    write_part(any_root, "rank_summary", summary_rows(3, model="b"), run_id="r1")

    with Catalog(any_root) as cat:
        assert cat.scalar("SELECT count(*) FROM rank_summary WHERE model_id = ? AND k >= ?", ["a", 3]) == 2
        assert cat.scalar("SELECT sum(k) FROM rank_summary WHERE model_id = $model",
                          {"model": "b"}) == 0 + 1 + 2
        # A value that looks like SQL stays a value.
        assert cat.scalar("SELECT count(*) FROM rank_summary WHERE model_id = ?", ["a' OR '1'='1"]) == 0


def test_a_query_naming_a_missing_table_raises_query_error_in_one_line(any_root):
    write_part(any_root, "rank_summary", summary_rows(1), run_id="r1")

    with Catalog(any_root) as cat, pytest.raises(QueryError) as info:
        cat.query("SELECT * FROM no_such_table")
    message = str(info.value)
    assert "no_such_table" in message and "does not exist" in message
    assert "\n" not in message


def test_vectors_of_two_encoders_with_different_dims_are_readable_and_castable(any_root):
    a, b = unit_vectors(2, 4, seed=1), unit_vectors(3, 3, seed=2)
    write_part(any_root, "embeddings", embedding_rows(["x", "y"], "enc-a", a), run_id="r1", part="enc-a")
    write_part(any_root, "embeddings", embedding_rows(["x", "y", "z"], "enc-b", b), run_id="r1", part="enc-b")

    table = read_table(any_root, "embeddings")
    vectors = table.column("vector").to_pylist()
    dims = dict(zip(table.column("encoder").to_pylist(), (len(v) for v in vectors)))
    assert dims == {"enc-a": 4, "enc-b": 3}

    with Catalog(any_root) as cat:
        got_a = cat.query("SELECT vector::FLOAT[4] AS v FROM embeddings WHERE encoder = ? ORDER BY image_id",
                          ["enc-a"]).column("v").to_pylist()
        got_b = cat.query("SELECT vector::FLOAT[3] AS v FROM embeddings WHERE encoder = ? ORDER BY image_id",
                          ["enc-b"]).column("v").to_pylist()
        self_sim = cat.scalar(
            "SELECT min(array_cosine_similarity(vector::FLOAT[3], vector::FLOAT[3])) FROM embeddings "
            "WHERE encoder = 'enc-b'")
    np.testing.assert_allclose(np.array(got_a), a, rtol=1e-6)
    np.testing.assert_allclose(np.array(got_b), b, rtol=1e-6)
    assert self_sim == pytest.approx(1.0, abs=1e-6)


def test_a_confined_catalog_reads_the_root_and_nothing_else(any_root, tmp_path):
    write_part(any_root, "rank_summary", summary_rows(2), run_id="r1")
    outside = tmp_path / "secret.txt"
    outside.write_text("not for queries")
    with Catalog(any_root, confined=True) as cat:
        assert cat.scalar("SELECT count(*) FROM rank_summary") == 2
        assert cat.scalar("WITH s AS (SELECT * FROM rank_summary) SELECT count(*) FROM s") == 2
        for sql in (f"COPY (SELECT 1) TO '{tmp_path / 'out.csv'}'", f"ATTACH '{tmp_path / 'x.db'}'",
                    "INSTALL httpfs", "SET enable_external_access = true", "CREATE TABLE t AS SELECT 1",
                    "SELECT 1; DROP VIEW rank_summary"):
            with pytest.raises(QueryError, match="only queries that read"):
                cat.query(sql)
        if any_root.is_local:
            with pytest.raises(QueryError, match="disabled by configuration"):
                cat.query(f"SELECT * FROM read_text('{outside}')")
        assert cat.scalar("SELECT count(*) FROM rank_summary") == 2          # nothing was dropped
    assert not (tmp_path / "out.csv").exists()
    with Catalog(any_root) as cat:                                           # the stages' own catalog
        assert cat.scalar(f"SELECT content FROM read_text('{outside}')") == "not for queries"


def test_writers_with_their_own_prefix_share_a_folder_without_overwriting(any_root):
    # Two writers open at once in one run's folder (a run's batches on two workers): neither sees the
    # other's uncommitted shard, so only their prefixes keep the names apart.
    a, b = ShardWriter(any_root, "gallery", "r1", prefix="b00000"), ShardWriter(any_root, "gallery", "r1", prefix="b00001")
    with a, b:
        uri_a = a.write(image_id(b"a"), {"jpg": b"a"})["jpg"]
        uri_b = b.write(image_id(b"b"), {"jpg": b"b"})["jpg"]
    assert [s.rsplit("/", 1)[1] for s in list_shards(any_root)] == ["shard-b00000-000000.tar", "shard-b00001-000000.tar"]
    assert read_members(any_root, [uri_a, uri_b]) == {uri_a: b"a", uri_b: b"b"}
    with pytest.raises(ValueError, match="shard prefix"):
        ShardWriter(any_root, "gallery", "r1", prefix="../x")


def test_every_known_table_gets_a_keyed_view_whatever_its_columns_are_called(root):
    # A view's own helper names must not collide with a table's columns (world_objects has x, y, w, h).
    import pyarrow.parquet as pq

    from persona_lens.schemas import TABLES

    for name, schema in TABLES.items():
        folder = root.path("tables", name, "run_id=r1")
        root.fs.makedirs(folder, exist_ok=True)
        pq.write_table(schema.empty(vector_dim=4), f"{folder}/part-empty.parquet")
    with Catalog(root) as cat:
        assert set(TABLES) <= set(cat.tables)
        for name in TABLES:
            assert cat.scalar(f'SELECT count(*) FROM "{name}"') == 0, name
