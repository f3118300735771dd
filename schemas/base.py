"""The table-schema machinery: one `TableSchema` per table, and the one validator every writer uses.

A `TableSchema` is the single source of truth for a table's columns: writers build their Arrow tables
from it and `validate` checks any table against it before a byte is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


class SchemaError(ValueError):
    """A table does not match its schema (wrong columns, types, nulls or vector sizes)."""


# Marker type for a fixed-size float32 vector column whose size is fixed per file, not per table
# (one encoder's embeddings are 1280-d, another's 384-d).
VECTOR = pa.list_(pa.float32())

#: Hive partition column of every table (tables/<table>/run_id=<id>/part-<key>.parquet).
PARTITION_COLUMN = "run_id"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    doc: str
    nullable: bool = False

    @property
    def is_vector(self) -> bool:
        return self.type == VECTOR


@dataclass(frozen=True)
class TableSchema:
    """Columns, documentation and version of one table.

    `run_id` is not a file column: it lives in the hive partition path and every reader (DuckDB views,
    `storage.parquet.read_table`) adds it back.

    `key` is the table's natural key: a table is a set of rows by key. Writers may write a key more
    than once (a re-run, two writers on one root, a retried batch); every reader keeps one row per key,
    the latest written (greatest run_id, then part path: storage/parquet.py), and the DuckDB schema
    `history` keeps every version. An empty key marks a log (`runs`), whose every row is kept.
    """

    name: str
    version: int
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = [k for k in self.key if k not in self.names]
        if unknown:
            raise SchemaError(f"table {self.name!r}: key column(s) {unknown} are not columns")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def arrow(self, vector_dim: int | None = None) -> pa.Schema:
        """The Arrow schema; `vector_dim` fixes the size of the vector column, if the table has one."""
        fields = []
        for c in self.columns:
            typ = c.type
            if c.is_vector:
                if vector_dim is None:
                    raise SchemaError(f"table {self.name!r} has vector column {c.name!r}: pass vector_dim")
                typ = pa.list_(pa.float32(), vector_dim)
            fields.append(pa.field(c.name, typ, nullable=c.nullable, metadata={"doc": c.doc}))
        return pa.schema(
            fields,
            metadata={"table": self.name, "schema_version": str(self.version), "doc": self.doc},
        )

    def empty(self, vector_dim: int = 0) -> pa.Table:
        dim = vector_dim if any(c.is_vector for c in self.columns) else None
        return self.arrow(dim).empty_table()

    def from_rows(self, rows: list[dict], vector_dim: int | None = None) -> pa.Table:
        """Build a validated table from row dicts (missing nullable columns become null)."""
        schema = self.arrow(vector_dim)
        unknown = {k for row in rows for k in row} - set(self.names)
        if unknown:
            raise SchemaError(f"table {self.name!r} has no column(s) {sorted(unknown)}")
        cols = {c.name: [row.get(c.name) for row in rows] for c in self.columns}
        try:
            table = pa.Table.from_pydict(cols, schema=schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaError(f"table {self.name!r}: {exc}") from exc
        return validate(table, self)

    def docs_markdown(self) -> str:
        lines = [f"### `{self.name}` (schema v{self.version})", "", self.doc, "",
                 "| column | type | null | meaning |", "|---|---|---|---|"]
        for c in self.columns:
            typ = "FLOAT[d]" if c.is_vector else str(c.type)
            lines.append(f"| `{c.name}` | `{typ}` | {'yes' if c.nullable else 'no'} | {c.doc} |")
        lines.append("| `run_id` | partition | no | Run that wrote the row (hive partition). |")
        key = ", ".join(f"`{k}`" for k in self.key)
        lines += ["", f"Key: {key} (one row per key: the latest written)." if key
                  else "A log: every row is kept."]
        return "\n".join(lines)


def conform(table: pa.Table, schema: TableSchema) -> pa.Table:
    """`table` with the schema's missing *nullable* columns appended as nulls, in schema order.

    For tables written before a schema gained optional columns (the world renders `generations` at
    render time). A missing non-nullable column raises SchemaError; extra columns are left for
    `validate` to refuse.
    """
    missing = [c for c in schema.columns if c.name not in table.column_names]
    required = [c.name for c in missing if not c.nullable]
    if required:
        raise SchemaError(f"table {schema.name!r}: missing required columns {required}")
    for c in missing:
        if c.is_vector:
            raise SchemaError(f"table {schema.name!r}: cannot fill vector column {c.name!r} with nulls")
        table = table.append_column(pa.field(c.name, c.type, nullable=True), pa.nulls(table.num_rows, c.type))
    known = [n for n in schema.names if n in table.column_names]
    return table.select(known + [n for n in table.column_names if n not in schema.names])


def validate(table: pa.Table, schema: TableSchema) -> pa.Table:
    """Check `table` against `schema`; return it with the schema's metadata attached.

    Raises SchemaError naming the table and the first problem found: a missing or extra column, a wrong
    type, a null in a non-nullable column, or a vector column that is not fixed-size float32 or holds
    NaN/inf values.
    """
    got = table.column_names
    if got != schema.names:
        missing = [n for n in schema.names if n not in got]
        extra = [n for n in got if n not in schema.names]
        if missing or extra:
            raise SchemaError(f"table {schema.name!r}: missing columns {missing}, unexpected columns {extra}")
        raise SchemaError(f"table {schema.name!r}: columns must be in order {schema.names}, got {got}")

    vector_dim = None
    for col in schema.columns:
        arr = table.column(col.name)
        if col.is_vector:
            if not (pa.types.is_fixed_size_list(arr.type) and arr.type.value_type == pa.float32()):
                raise SchemaError(
                    f"table {schema.name!r}: column {col.name!r} must be a fixed-size float32 list, got {arr.type}"
                )
            vector_dim = arr.type.list_size
            flat = pc.list_flatten(arr).to_numpy(zero_copy_only=False)
            if flat.size and not np.isfinite(flat).all():
                raise SchemaError(f"table {schema.name!r}: column {col.name!r} holds NaN or infinite values")
        elif arr.type != col.type:
            raise SchemaError(f"table {schema.name!r}: column {col.name!r} must be {col.type}, got {arr.type}")
        if not col.nullable and arr.null_count:
            raise SchemaError(f"table {schema.name!r}: column {col.name!r} has {arr.null_count} null(s)")
    return table.cast(schema.arrow(vector_dim))
