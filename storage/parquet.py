"""Parquet tables under the dataset root: hive-partitioned by run_id, written atomically.

Atomicity: on a local disk a part is written to a hidden temporary name in the same folder and renamed
into place, so no reader (DuckDB's `*.parquet` glob included) ever sees half a file and a killed write
leaves only a dot-file that no query picks up. On S3 an object appears only when its upload completes,
which gives the same guarantee without a rename (S3 has no atomic rename).
"""

from __future__ import annotations

import hashlib
import json
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

from persona_lens.schemas import PARTITION_COLUMN, get_schema, validate
from persona_lens.storage.root import DatasetRoot, StorageError


def _check_name(kind: str, value: str) -> None:
    if not value or "/" in value or value.startswith(".") or "=" in value or ".." in value:
        raise ValueError(f"{kind} must be a plain name without '/', '=' or a leading dot, got {value!r}")


def table_dir(root: DatasetRoot, table: str, run_id: str | None = None) -> str:
    return root.path("tables", table, f"{PARTITION_COLUMN}={run_id}" if run_id else "")


def content_key(table: pa.Table) -> str:
    """A deterministic part key from a table's content: writing the same rows twice overwrites one file."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as w:
        w.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]


def write_part(root: DatasetRoot, table: str, data: pa.Table, run_id: str, part: str | None = None) -> str | None:
    """Validate `data` against the schema of `table` and write it as one part of run `run_id`.

    `part` names the file (`part-<part>.parquet`); give a deterministic key (a shard or batch key) so a
    re-run replaces its own output instead of adding rows. Returns the written path, or None when
    `data` has no rows (nothing is written).
    """
    _check_name("run_id", run_id)
    data = validate(data, get_schema(table))
    if data.num_rows == 0:
        return None
    part = part or content_key(data)
    _check_name("part", part)
    folder = table_dir(root, table, run_id)
    final = f"{folder}/part-{part}.parquet"
    fs = root.fs
    try:
        fs.makedirs(folder, exist_ok=True)
        if root.is_local:
            tmp = f"{folder}/.part-{part}.{uuid.uuid4().hex[:8]}.tmp"
            with fs.open(tmp, "wb") as f:
                pq.write_table(data, f, compression="zstd")
            fs.mv(tmp, final)
        else:
            # Serialise first, then upload in one call: writing through `fs.open` would upload the bytes
            # written so far when an exception closes the file (fsspec's __exit__ commits on close).
            buf = pa.BufferOutputStream()
            pq.write_table(data, buf, compression="zstd")
            fs.pipe_file(final, buf.getvalue().to_pybytes())
    except OSError as exc:
        raise StorageError(f"cannot write {table!r} part {part!r} under {root.url!r}: {exc}") from exc
    return final


def list_parts(root: DatasetRoot, table: str) -> list[str]:
    """Committed part files of `table` (temporary files excluded), sorted."""
    base = root.path("tables", table)
    if not root.fs.exists(base):
        return []
    return sorted(p for p in root.fs.glob(f"{base}/{PARTITION_COLUMN}=*/part-*.parquet"))


def read_table(root: DatasetRoot, table: str, columns: list[str] | None = None) -> pa.Table:
    """All committed rows of `table`, with `run_id` added from the partition path.

    For filtering and joins prefer the DuckDB catalog; this is for a stage loading an earlier table.
    """
    schema = get_schema(table)
    parts = list_parts(root, table)
    pieces = []
    for path in parts:
        run_id = path.rsplit(f"{PARTITION_COLUMN}=", 1)[1].split("/", 1)[0]
        with root.fs.open(path, "rb") as f:
            t = pq.read_table(f, columns=columns)
        pieces.append(t.append_column(PARTITION_COLUMN, pa.array([run_id] * t.num_rows, pa.string())))
    if not pieces:
        empty = schema.empty()
        if columns:
            empty = empty.select(columns)
        return empty.append_column(PARTITION_COLUMN, pa.array([], pa.string()))
    # Vector columns of different encoders differ in size: keep them as variable lists when combined.
    return pa.concat_tables([unfix_vectors(p) for p in pieces], promote_options="permissive")


def unfix_vectors(t: pa.Table) -> pa.Table:
    for i, f in enumerate(t.schema):
        if pa.types.is_fixed_size_list(f.type):
            t = t.set_column(i, f.name, t.column(i).cast(pa.list_(f.type.value_type)))
    return t.replace_schema_metadata(None)


# --- batch markers: written last, so their presence marks a batch done (a re-run skips it) ----------

def marker_path(root: DatasetRoot, stage: str, key: str) -> str:
    _check_name("stage", stage)
    _check_name("key", key)
    return root.path("manifests", stage, f"{key}.json")


def read_marker(root: DatasetRoot, stage: str, key: str) -> dict | None:
    path = marker_path(root, stage, key)
    if not root.fs.exists(path):
        return None
    with root.fs.open(path, "rb") as f:
        return json.loads(f.read())


def write_marker(root: DatasetRoot, stage: str, key: str, stats: dict) -> None:
    path = marker_path(root, stage, key)
    root.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    payload = json.dumps(stats, sort_keys=True, default=str).encode()
    if root.is_local:
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        with root.fs.open(tmp, "wb") as f:
            f.write(payload)
        root.fs.mv(tmp, path)
    else:
        with root.fs.open(path, "wb") as f:
            f.write(payload)
