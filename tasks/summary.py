"""The run summary, read back through DuckDB from the tables themselves (not from flow memory)."""

from __future__ import annotations

import pyarrow as pa

from persona_lens.queries import load
from persona_lens.storage import Catalog, DatasetRoot

SUMMARY_QUERIES = ("tables", "images_by_label", "quarantine_reasons", "embeddings_by_encoder", "rank_by_model",
                   "eval_summary")


def dataset_summary(root: DatasetRoot) -> dict[str, pa.Table]:
    """One small table per summary query, keyed by the query's name."""
    with Catalog(root) as catalog:
        return {name: catalog.query(load(name)) for name in SUMMARY_QUERIES}


def to_markdown(tables: dict[str, pa.Table]) -> str:
    parts = []
    for name, t in tables.items():
        parts.append(f"#### {name.replace('_', ' ')}")
        if t.num_rows == 0:
            parts.append("_(no rows)_")
            continue
        parts.append("| " + " | ".join(t.column_names) + " |")
        parts.append("|" + "---|" * t.num_columns)
        for row in t.to_pylist():
            parts.append("| " + " | ".join("" if v is None else str(v) for v in row.values()) + " |")
    return "\n".join(parts)
