"""Parquet tables under the dataset root: hive-partitioned by run_id, written atomically, read as sets.

Keys: every table but the `runs` log has a natural key (its schema's `key`). A key may be written more
than once — a re-run, two writers on one root at once, a retried batch — and no lock or commit log can
be had on S3 alike, so the guarantee sits in the readers: `read_table` and the DuckDB catalog keep one
row per key, the *latest* written, and every version stays on disk (`read_table(history=True)`, the
catalog's `history` schema). "Latest" is the order the parts were committed in (their file times: an
mtime, S3's LastModified; ties broken by run id and path), not the run ids' text, which a caller may
choose. So nothing a writer commits is lost, no query sees a key twice, and a re-run of an evaluation
is a new version whose rows replace the old ones in every view.

Atomicity: on a local disk a part is written to a hidden temporary name in the same folder and renamed
into place, so no reader (DuckDB's `*.parquet` glob included) ever sees half a file and a killed write
leaves only a dot-file that no query picks up. On S3 an object appears only when its upload completes,
which gives the same guarantee without a rename (S3 has no atomic rename).
"""

from __future__ import annotations

import hashlib
import json
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from persona_lens.schemas import PARTITION_COLUMN, SchemaError, TableSchema, get_schema, validate
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
    schema = get_schema(table)
    data = validate(data, schema)
    if data.num_rows == 0:
        return None
    _check_unique_keys(data, schema)
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
    return sorted(written_parts(root, table))


def written_parts(root: DatasetRoot, table: str) -> dict[str, float]:
    """Committed part files of `table` → when each was written (POSIX seconds; its mtime, or S3's
    LastModified), the order `read_table` and the catalog take as "latest"."""
    return {path: written for path, (written, _) in part_details(root, table).items()}


def part_details(root: DatasetRoot, table: str) -> dict[str, tuple[float, int]]:
    """Committed part files of `table` → (when written, size in bytes), from one listing."""
    base = root.path("tables", table)
    if not root.fs.exists(base):
        return {}
    found = root.fs.glob(f"{base}/{PARTITION_COLUMN}=*/part-*.parquet", detail=True)
    return {path: (_written_at(info), int(info.get("size") or 0)) for path, info in found.items()}


def _written_at(info: dict) -> float:
    t = info.get("mtime", info.get("LastModified"))
    if hasattr(t, "timestamp"):
        return float(t.timestamp())
    return float(t) if t is not None else 0.0


def write_order(parts: dict[str, float]) -> list[str]:
    """Part paths oldest first: by write time, then run id, then path (S3 times have 1 s resolution)."""
    return sorted(parts, key=lambda p: (parts[p], part_run_id(p), p))


def part_run_id(path: str) -> str:
    return path.rsplit(f"{PARTITION_COLUMN}=", 1)[1].split("/", 1)[0]


def read_table(root: DatasetRoot, table: str, columns: list[str] | None = None,
               history: bool = False, key_filter: pc.Expression | None = None) -> pa.Table:
    """The rows of `table`, one per key (the latest written), with `run_id` added from the partition path.

    `history=True` returns every committed row, every version of a key included. `key_filter` (an Arrow
    expression over *key* columns only, e.g. `pc.field("encoder") == "x"`) is applied while reading each
    part; on a non-key column it could return an older version of a key whose latest does not match.
    For other filters and joins prefer the DuckDB catalog; this is for a stage loading an earlier table.
    """
    schema = get_schema(table)
    key = [] if history else list(schema.key)
    read_columns = None if columns is None else [*columns, *(k for k in key if k not in columns)]
    # Oldest first, so that the last row of a key is its latest version.
    parts = write_order(written_parts(root, table))
    pieces = []
    for path in parts:
        with root.fs.open(path, "rb") as f:
            t = pq.read_table(f, columns=read_columns, filters=key_filter)
        pieces.append(t.append_column(PARTITION_COLUMN, pa.array([part_run_id(path)] * t.num_rows, pa.string())))
    if not pieces:
        empty = schema.empty()
        if columns:
            empty = empty.select(columns)
        return empty.append_column(PARTITION_COLUMN, pa.array([], pa.string()))
    # Vector columns of different encoders differ in size: keep them as variable lists when combined.
    rows = pa.concat_tables([unfix_vectors(p) for p in pieces], promote_options="permissive")
    if key:
        rows = latest_per_key(rows, key)
    return rows if columns is None else rows.select([*columns, PARTITION_COLUMN])


def latest_per_key(rows: pa.Table, key: list[str]) -> pa.Table:
    """The last row of each key (rows ordered oldest to newest), in their original order.

    A null is a key value like any other here (Arrow's group-by keeps nulls as one group), as in the
    catalog's PARTITION BY.
    """
    position = pa.array(np.arange(rows.num_rows, dtype=np.int64))
    last = (rows.select(key).append_column("__position", position)
            .group_by(key, use_threads=False).aggregate([("__position", "max")]))
    keep = np.sort(last.column("__position_max").to_numpy())
    return rows if len(keep) == rows.num_rows else rows.take(pa.array(keep))


def _check_unique_keys(data: pa.Table, schema: TableSchema) -> None:
    """One part holds each key once: a writer that repeats a key in one batch has a bug, and the
    readers would silently keep only one of the rows."""
    if not schema.key:
        return
    groups = data.select(list(schema.key)).group_by(list(schema.key), use_threads=False).aggregate([])
    if groups.num_rows != data.num_rows:
        raise SchemaError(f"table {schema.name!r}: {data.num_rows - groups.num_rows} row(s) repeat a key "
                          f"({', '.join(schema.key)}) of another row in the same part")


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
    write_bytes(root, marker_path(root, stage, key), json.dumps(stats, sort_keys=True, default=str).encode())


def write_bytes(root: DatasetRoot, path: str, payload: bytes) -> None:
    """Write one whole file at `path` (inside the root's filesystem) so no reader sees half of it: on a
    local disk under a temporary name renamed into place; on S3 an object appears only when complete."""
    root.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    if root.is_local:
        tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
        with root.fs.open(tmp, "wb") as f:
            f.write(payload)
        root.fs.mv(tmp, path)
    else:
        with root.fs.open(path, "wb") as f:
            f.write(payload)
