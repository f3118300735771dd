"""Markdown tables for Prefect artifacts and model cards: the one writer every stage uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa


def _cell(value: Any, digits: int | None) -> str:
    if value is None:
        return ""
    if digits is not None and isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int | None = None) -> str:
    """A GitHub-style table; `digits` formats floats (None: as they are); None cells stay empty."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def arrow_markdown(table: pa.Table, digits: int | None = None) -> str:
    """An Arrow table as a markdown table, or `_(no rows)_`."""
    if table.num_rows == 0:
        return "_(no rows)_"
    return markdown_table(table.column_names, [list(r.values()) for r in table.to_pylist()], digits)


def tables_markdown(tables: dict[str, pa.Table]) -> str:
    """Each table under a heading made from its name."""
    parts = []
    for name, table in tables.items():
        parts += [f"#### {name.replace('_', ' ')}", arrow_markdown(table)]
    return "\n".join(parts)


def facts_markdown(title: str, facts: dict[str, Any]) -> str:
    """A heading and one bullet per fact (run counts)."""
    return "\n".join([f"### {title}", *(f"- **{k}**: {v}" for k, v in facts.items())])
