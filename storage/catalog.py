"""The DuckDB catalog: one view per table over the Parquet files, queried with bound parameters.

DuckDB cannot install httpfs offline, so an S3 root is reached by registering the s3fs filesystem with
DuckDB (`register_filesystem`), which DuckDB then uses for `s3://` paths.
"""

from __future__ import annotations

import os

import duckdb
import pyarrow as pa

from persona_lens.schemas import EVAL_VIEW, PARTITION_COLUMN, TABLES, eval_table, get_schema
from persona_lens.storage.parquet import unfix_vectors, write_order, written_parts
from persona_lens.storage.root import DatasetRoot, StorageError


class QueryError(ValueError):
    """A SQL query failed (syntax, unknown table or column, wrong parameters)."""


#: What a confined catalog runs: queries that read (SELECT, WITH, DESCRIBE, SUMMARIZE, SHOW) and EXPLAIN.
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class Catalog:
    """A DuckDB connection with a view per table found under the dataset root.

    Each view holds one row per key, the latest written; `history.<table>` holds every version
    (storage/parquet.py: why the readers, not the writers, keep tables sets).

    `confined` (what `persona-lens sql` uses unless told `--allow-external`): only statements that read
    run (no COPY, ATTACH, INSTALL, CREATE, SET…), DuckDB reaches no file outside a local root
    (`enable_external_access = false` with the root as the one allowed directory), installs and loads no
    extension, and the configuration is locked so a query cannot undo any of it. On an S3 root the
    statement check and the extension and configuration locks apply; DuckDB's file access stays on, since
    the root is read through a registered fsspec filesystem.
    """

    def __init__(self, root: DatasetRoot, confined: bool = False) -> None:
        self.root = root
        self.confined = confined
        self.con = duckdb.connect(":memory:")
        if not root.is_local:
            self.con.register_filesystem(root.fs)
        self.tables: list[str] = []
        self.refresh()
        if confined:
            self._confine()

    def _confine(self) -> None:
        if self.root.is_local:
            folder = os.path.abspath(self.root.path()).rstrip("/") + "/"
            self.con.execute(f"SET allowed_directories = ['{_sql_str(folder)}']")
            self.con.execute("SET enable_external_access = false")
        self.con.execute("SET autoinstall_known_extensions = false")
        self.con.execute("SET autoload_known_extensions = false")
        self.con.execute("SET lock_configuration = true")

    def refresh(self) -> list[str]:
        """(Re)create one view per table that has committed parts; returns the table names."""
        base = self.root.path("tables")
        parts: dict[str, dict[str, float]] = {}   # table → its committed parts and their write times
        if self.root.fs.exists(base):
            for entry in sorted(self.root.fs.ls(base, detail=False)):
                name = entry.rstrip("/").rsplit("/", 1)[-1]
                if not name.startswith((".", "_")):
                    written = written_parts(self.root, name)
                    if written:
                        parts[name] = written
        found = list(parts)
        self.con.execute("CREATE SCHEMA IF NOT EXISTS history")
        for name in found:
            self.con.unregister(name)  # an empty placeholder registered by an earlier refresh
            glob = self.root.uri("tables", name, f"{PARTITION_COLUMN}=*", "part-*.parquet")
            # Identifiers cannot be bound parameters; `name` comes from our own folder listing and is
            # quoted. The glob is a string literal with quotes escaped.
            files = (f"read_parquet('{_sql_str(glob)}', hive_partitioning=true, union_by_name=true, "
                     f"hive_types={{'{PARTITION_COLUMN}': 'VARCHAR'}}")
            self.con.execute(f'CREATE OR REPLACE VIEW history."{name}" AS SELECT * FROM {files})')
            self._register_write_order(name, parts[name])
            self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {_latest_per_key(name, files)}')
        # Known tables with no rows yet get an empty, typed view, so `SELECT count(*) FROM quarantine`
        # answers 0 instead of failing.
        for name, schema in {**TABLES, EVAL_VIEW: eval_table("stage")}.items():
            if name not in found:
                self.con.unregister(name)
                empty = schema.empty()
                empty = empty.append_column(PARTITION_COLUMN, pa.array([], pa.string()))
                self.con.register(name, unfix_vectors(empty))
                self.con.execute(f'CREATE OR REPLACE VIEW history."{name}" AS SELECT * FROM "{name}"')
        # `eval`: every stage's eval_<stage> table in one view (they share one schema), so a query over
        # all stages' scores needs no list of stages.
        evals = [name for name in found if name.startswith("eval_")]
        if evals:
            self.con.unregister(EVAL_VIEW)
            for schema in ("main", "history"):
                union = " UNION ALL BY NAME ".join(f'SELECT * FROM {schema}."{name}"' for name in evals)
                self.con.execute(f'CREATE OR REPLACE VIEW {schema}."{EVAL_VIEW}" AS {union}')
        self.tables = found
        return found

    def _register_write_order(self, name: str, written: dict[str, float]) -> None:
        """`__parts_<name>`: each part file of the table (as DuckDB's `filename` names it) and its place in
        the order the parts were written (storage/parquet.py), which the view's "latest" follows."""
        order = write_order(written)
        self.con.unregister(f"__parts_{name}")
        self.con.register(f"__parts_{name}", pa.table({
            "filename": pa.array([p if self.root.is_local else f"s3://{p}" for p in order], pa.string()),
            "written": pa.array(range(len(order)), pa.int64())}))

    def query(self, sql: str, params: list | dict | None = None) -> pa.Table:
        """Run `sql` with bound `params` (`?` or `$name` placeholders); return an Arrow table."""
        if self.confined:
            self._check_reads_only(sql)
        try:
            rel = self.con.sql(sql, params=params or None)
            return rel.to_arrow_table() if rel is not None else pa.table({})
        except duckdb.Error as exc:
            msg = str(exc).splitlines()[0]
            hint = ""
            if "does not exist" in msg and not self.tables:
                hint = f" (no tables under {self.root.url!r} yet: run `persona-lens run` first)"
            raise QueryError(f"{msg}{hint}") from exc
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    def _check_reads_only(self, sql: str) -> None:
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryError(str(exc).splitlines()[0]) from exc
        writes = sorted({s.type.name for s in statements} - {t.name for t in READ_STATEMENTS})
        if writes:
            raise QueryError(f"only queries that read are allowed here, not {', '.join(writes)} "
                             f"(`persona-lens sql --allow-external` lifts this)")

    def row_counts(self) -> pa.Table:
        """Rows per table that has committed parts (`table`, `rows`), in name order."""
        counts = [self.scalar(f'SELECT count(*) FROM "{name}"') for name in self.tables]
        return pa.table({"table": pa.array(self.tables, pa.string()), "rows": pa.array(counts, pa.int64())})

    def scalar(self, sql: str, params: list | dict | None = None):
        t = self.query(sql, params)
        return t.column(0)[0].as_py() if t.num_rows else None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _latest_per_key(name: str, files: str) -> str:
    """The view of table `name`: one row per key, the latest written (storage/parquet.py says why).

    Repeated keys are rare (a re-run with another batch layout), so the view does not sort every row to
    find them: a hash aggregate over the key columns finds the hashes seen more than once, the rows of
    every other hash pass through untouched, and only the rows of repeated hashes are ranked — by when
    their part was written (`__parts_<name>`; a part written after the catalog listed them counts as
    newest), within each actual key, so a hash collision of two keys keeps both. A null key value is a
    value like any other. 4× faster than ranking every row (1M rows: 0.45 s against 1.85 s;
    benchmarks/sql_scaling.py). A table without a key (a log), or one unknown to the schemas, is shown whole.
    """
    try:
        schema = get_schema(name)
    except (KeyError, ValueError):
        schema = None
    if schema is None or not schema.key:
        return f"SELECT * FROM {files})"
    key = ", ".join(f'"{k}"' for k in schema.key)
    plain, rows = f"{files})", f"{files}, filename=true)"
    # `__key_hash`: no table has a column of that name (a table's own column `h` would win `GROUP BY h`).
    return (f"WITH repeated AS MATERIALIZED (SELECT hash({key}) AS __key_hash FROM {plain} GROUP BY __key_hash "
            f"HAVING count(*) > 1) "
            f"SELECT * FROM {plain} WHERE hash({key}) NOT IN (SELECT __key_hash FROM repeated) "
            f"UNION ALL BY NAME "
            f"SELECT * EXCLUDE (filename, __written) FROM ("
            f'SELECT r.*, w.written AS __written FROM {rows} r LEFT JOIN "__parts_{name}" w USING (filename) '
            f"WHERE hash({key}) IN (SELECT __key_hash FROM repeated)) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY __written DESC NULLS FIRST, filename DESC) = 1")


def _sql_str(s: str) -> str:
    return s.replace("'", "''")
