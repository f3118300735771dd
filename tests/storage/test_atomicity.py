"""Writes are atomic: a crash leaves no committed part, shard or marker, and leftovers are never read.

Leftover temp files are made the way a killed run makes them, by crashing the real writers between
writing the bytes and the commit, so the tests follow the temp names the code really uses. Temp files
and renames exist only on a local root; the crash and marker contracts also run on S3.
"""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from persona_lens.storage import (
    Catalog, ShardWriter, list_parts, list_shards, read_marker, read_table, write_marker, write_part,
)
from tests.storage.factory import files_under, image_id, quarantine_rows, summary_rows


class Killed(Exception):
    """Stands for the process dying at this point."""


def crash_on_commit(monkeypatch, root) -> None:
    """Make the rename that commits a local temp file fail, as if the process died just before it."""
    def mv(*args, **kwargs):
        raise Killed("killed before the rename")

    monkeypatch.setattr(root.fs, "mv", mv)


def temp_files(root, prefix: str) -> list[str]:
    """Files named `<prefix>*.tmp` anywhere under the root."""
    names = [p.rsplit("/", 1)[-1] for p in files_under(root)]
    return [n for n in names if n.startswith(prefix) and n.endswith(".tmp")]


def test_a_temp_part_left_by_a_killed_write_is_never_read(root, monkeypatch):
    write_part(root, "rank_summary", summary_rows(2, model="kept"), run_id="r1", part="batch-0")
    with monkeypatch.context() as m:
        crash_on_commit(m, root)
        with pytest.raises(Killed):
            write_part(root, "rank_summary", summary_rows(3, model="lost"), run_id="r1", part="batch-1")
        with pytest.raises(Killed):  # a table whose only file is a leftover
            write_part(root, "quarantine", quarantine_rows(1), run_id="r1", part="batch-0")

    assert len(temp_files(root, ".part-")) == 2  # the crash really left its temp files behind
    assert [p.rsplit("/", 1)[-1] for p in list_parts(root, "rank_summary")] == ["part-batch-0.parquet"]
    assert list_parts(root, "quarantine") == []
    assert read_table(root, "rank_summary").column("model_id").to_pylist() == ["kept", "kept"]
    with Catalog(root) as cat:
        assert cat.tables == ["rank_summary"]
        assert cat.query("SELECT model_id, count(*) AS n FROM rank_summary GROUP BY 1").to_pylist() == [
            {"model_id": "kept", "n": 2}]
        assert cat.scalar("SELECT count(*) FROM quarantine") == 0


def test_a_temp_shard_left_by_a_killed_write_is_never_listed(root, monkeypatch):
    with ShardWriter(root, "gallery", "r1") as writer:
        writer.write(image_id(b"a"), {"jpg": b"a"})
    with monkeypatch.context() as m:
        crash_on_commit(m, root)
        with pytest.raises(Killed):
            with ShardWriter(root, "gallery", "r1", start=1) as writer:
                writer.write(image_id(b"b"), {"jpg": b"b"})

    assert len(temp_files(root, ".shard-")) == 1
    assert [root.relative(s) for s in list_shards(root)] == ["shards/gallery/r1/shard-000000.tar"]


def test_a_crash_in_the_middle_of_writing_parquet_commits_no_part(any_root, monkeypatch):
    real_write_table = pq.write_table

    def dies_half_way(table, where, **kwargs):
        buf = io.BytesIO()
        real_write_table(table, buf, **kwargs)
        where.write(buf.getvalue()[: buf.tell() // 2])
        raise Killed("died half way through the file")

    monkeypatch.setattr(pq, "write_table", dies_half_way)
    with pytest.raises(Killed):
        write_part(any_root, "rank_summary", summary_rows(50), run_id="r1", part="batch-0")
    monkeypatch.undo()

    assert list_parts(any_root, "rank_summary") == []
    assert not any(p.endswith(".parquet") for p in files_under(any_root))
    assert read_table(any_root, "rank_summary").num_rows == 0
    with Catalog(any_root) as cat:
        assert cat.scalar("SELECT count(*) FROM rank_summary") == 0


def test_batch_markers_round_trip_and_a_missing_marker_reads_as_none(any_root):
    stats = {"images": 3, "quarantined": 1, "shards": ["shard-000000.tar"]}

    assert read_marker(any_root, "ingest", "batch-0001") is None
    write_marker(any_root, "ingest", "batch-0001", stats)

    assert read_marker(any_root, "ingest", "batch-0001") == stats
    assert read_marker(any_root, "ingest", "batch-0002") is None
    assert [any_root.relative(p) for p in files_under(any_root)] == ["manifests/ingest/batch-0001.json"]


def test_a_marker_write_killed_before_its_commit_leaves_the_previous_marker_whole(root, monkeypatch):
    write_marker(root, "ingest", "batch-0001", {"images": 3})
    with monkeypatch.context() as m:
        crash_on_commit(m, root)
        with pytest.raises(Killed):
            write_marker(root, "ingest", "batch-0001", {"images": 4})
        with pytest.raises(Killed):
            write_marker(root, "ingest", "batch-0002", {"images": 5})

    assert read_marker(root, "ingest", "batch-0001") == {"images": 3}
    assert read_marker(root, "ingest", "batch-0002") is None
