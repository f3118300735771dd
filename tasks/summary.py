"""The run summary, read back through DuckDB from the tables themselves (not from flow memory)."""

from __future__ import annotations

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.queries import load
from persona_lens.storage import Catalog, DatasetRoot

SUMMARY_QUERIES = ("images_by_label", "quarantine_reasons", "embeddings_by_encoder", "rank_by_model",
                   "explain_by_model", "describe_scores", "eval_summary")


def dataset_summary(root: DatasetRoot) -> dict[str, pa.Table]:
    """Rows per table (`tables`), then one small table per summary query, keyed by the query's name."""
    with Catalog(root) as catalog:
        return {"tables": catalog.row_counts(), **{name: catalog.query(load(name)) for name in SUMMARY_QUERIES}}


dataset_summary_task = task(dataset_summary, name="dataset-summary", cache_policy=NO_CACHE)
