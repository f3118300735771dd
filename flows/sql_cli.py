"""`persona-lens sql`: DuckDB over the dataset's table views, and the shared error handling of the CLI.

This module imports only what a query needs (typer, DuckDB, Arrow, the storage layer; never Prefect,
torch or the stages' parameters), so that `persona-lens sql` answers in well under a second:
flows/entry.py sends `sql` here without loading the rest of the command line.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

RootOpt = Annotated[Optional[str], typer.Option("--root", help="Dataset root (path or s3://bucket/prefix); "
                                                "default $PERSONA_LENS_ROOT, else ./data.")]

#: Error types whose message is already the one line a user needs (no class name in front).
KNOWN_ERRORS = ("SchemaError", "SourceError", "StorageError", "QueryError", "ModelError", "ConfigError",
                "BadImage", "WorldError", "TaxonomyError", "RankError", "PairingError", "ExplainerError",
                "ExplainInputError", "VocabularyError")


def _param_value(text: str):
    """Bound parameters arrive as text; numbers are bound as numbers so comparisons type-check."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text



def sql(query: Annotated[str, typer.Argument(help="SQL over the table views, or @name for queries/<name>.sql.")],
        root: RootOpt = None,
        param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="Value for a `?` placeholder (repeat in order).")] = None,
        named: Annotated[Optional[list[str]], typer.Option("--named", "-n", help="NAME=VALUE for a `$NAME` placeholder.")] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")] = "table",
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
        allow_external: Annotated[bool, typer.Option("--allow-external", help="Let the query write, attach, install "
                                                     "extensions and read files outside the root.")] = False) -> None:
    """Query the dataset with DuckDB; parameters are bound, never pasted into the SQL. Read-only and
    confined to the dataset root unless --allow-external."""
    from persona_lens.queries import load
    from persona_lens.storage import Catalog, open_root

    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter(f"--format must be table, csv, json or parquet, got {fmt!r}")
    if param and named:
        raise typer.BadParameter("use either --param (for ?) or --named (for $name), not both")
    if fmt == "parquet" and output is None:
        raise typer.BadParameter("--format parquet needs --output FILE")
    params: list | dict | None = [_param_value(p) for p in param] if param else None
    if named:
        pairs = [n.split("=", 1) for n in named]
        if any(len(p) != 2 or not p[0] for p in pairs):
            raise typer.BadParameter(f"--named takes NAME=VALUE, got {named!r}")
        params = {k: _param_value(v) for k, v in pairs}
    text = load(query[1:]) if query.startswith("@") else query
    with Catalog(open_root(root), confined=not allow_external) as catalog:
        table = catalog.query(text, params)
    _write_result(table, fmt, output)



def _csv_ready(table):
    """CSV has no nested cells: list, map and struct columns become one JSON string per cell."""
    import pyarrow as pa

    for i, field in enumerate(table.schema):
        if pa.types.is_nested(field.type):
            as_dict = pa.types.is_map(field.type)      # Arrow gives a map cell as (key, value) pairs
            cells = [None if v is None else json.dumps(dict(v) if as_dict else v, default=str)
                     for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(cells, pa.string()))
    return table



def _write_result(table, fmt: str, output: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        pq.write_table(table, output)
        return
    if fmt == "csv":
        table = _csv_ready(table)
        if output:
            pacsv.write_csv(table, output)
        else:
            pacsv.write_csv(table, sys.stdout.buffer)
        return
    if fmt == "json":
        text = json.dumps(table.to_pylist(), indent=2, default=str)
    else:
        if output is None:
            print_result(table)
            return
        with output.open("w") as f:
            print_result(table, f)
        return
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)



def _rich_table(table, title: str | None = None):
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for col in table.column_names:
        out.add_column(col)
    for row in table.to_pylist():
        out.add_row(*("" if v is None else str(v) for v in row.values()))
    return out



def print_result(table, output=None) -> None:
    """The `table` format: a grid when every column fits the terminal, else one block per row.

    A grid squeezed below its columns' widths cuts every cell to a character or two (rich shrinks each
    column to fit); a wide table reads better as `column: value` lines per row, as psql's expanded view.
    """
    from rich.console import Console

    console = Console() if output is None else Console(file=output, width=200)
    table = _csv_ready(table)  # a map or list cell as JSON, not as Python's repr of Arrow's pairs
    if _fits(table, console.width):
        console.print(_rich_table(table))
        return
    names = table.column_names
    pad = max((len(n) for n in names), default=0)
    for i, row in enumerate(table.to_pylist()):
        console.print(f"-[ row {i + 1} ]" + "-" * max(0, min(console.width, 60) - 12), markup=False,
                      highlight=False)
        for name in names:
            value = "" if row[name] is None else str(row[name])
            console.print(f"{name.ljust(pad)} | {value}", markup=False, highlight=False, soft_wrap=True)
    console.print(f"({table.num_rows} rows, {len(names)} columns)", markup=False, highlight=False)


#: A column narrower than this (or than its name) is unreadable in a grid.
MIN_READABLE = 12


def _fits(table, width: int) -> bool:
    needed = 0
    sample = table.slice(0, 50).to_pylist()
    for name in table.column_names:
        longest = max((len("" if r[name] is None else str(r[name])) for r in sample), default=0)
        needed += max(min(len(name), MIN_READABLE), min(longest, MIN_READABLE)) + 3
    return needed + 1 <= width


def one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return msg if exc.__class__.__name__ in KNOWN_ERRORS else f"{exc.__class__.__name__}: {msg}"


def run_guarded(app: typer.Typer, args: list[str] | None = None) -> None:
    """Run a Typer app as the console script does: one clear line for every error, never a traceback
    (PERSONA_LENS_DEBUG=1 shows it)."""
    try:
        app(args=args)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the CLI's last line of defence: everything becomes one line
        if os.environ.get("PERSONA_LENS_DEBUG"):
            raise
        typer.echo(f"error: {one_line(exc)}", err=True)
        sys.exit(2)


def sql_app() -> typer.Typer:
    """A command line holding `sql` alone (what flows/entry.py runs for `persona-lens sql …`)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _group() -> None:
        """Persona Lens: how a personalized image model is personalized, measured."""

    app.command()(sql)
    return app
