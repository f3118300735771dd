"""Ingest: list a source, plan batches, validate/hash/dedupe/shard each batch (tasks wrap the logic)."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.storage import DatasetRoot, filesystem_for, read_marker, read_table, write_marker, write_part
from persona_lens.tasks.ingest.batches import Batch, BatchResult, plan_batches, process_batch, rejected_row
from persona_lens.tasks.quarantine import quarantine_table
from persona_lens.tasks.retries import IO_RETRIES
from persona_lens.tasks.ingest.params import IngestParams
from persona_lens.tasks.ingest.sources import Listing, SourceError, list_source

__all__ = ["Batch", "BatchResult", "IngestParams", "Listing", "SourceError", "ingest_batch",
           "list_source", "list_source_task", "plan_batches", "process_batch", "record_rejections"]

# Resume is explicit (batch markers in storage), so Prefect's input-hash cache is off for these tasks:
# their inputs hold filesystem handles that cannot be hashed. Only storage/OS errors are retried.


@task(**IO_RETRIES, cache_policy=NO_CACHE)
def list_source_task(source: str, label_levels: list[str] | None, root: DatasetRoot,
                     follow_symlinks: bool = False, layout: str = "auto", split: str | None = None) -> Listing:
    """List the source's files or shards."""
    return list_source(source, label_levels, root.settings, follow_symlinks=follow_symlinks,
                       layout=layout, split=split)


@task(cache_policy=NO_CACHE)
def record_rejections(root: DatasetRoot, listing: Listing, run_id: str) -> int:
    """Quarantine the items refused while listing (bad manifest rows, wrong folder depth)."""
    rows = [rejected_row(r) for r in listing.rejected]
    write_part(root, "quarantine", quarantine_table(rows), run_id, part=f"ingest-listing-{listing.key}")
    return len(rows)


@task(**IO_RETRIES, cache_policy=NO_CACHE)
def ingest_batch(batch: Batch, source: str, root: DatasetRoot, *, role: str, run_id: str,
                 label_levels: list[str] | None) -> dict:
    """Ingest one batch unless its marker says it is done; return its stats."""
    if read_marker(root, "ingest", batch.key) is not None:
        return {"images": 0, "quarantined": 0, "duplicates": 0, "shards": 0, "skipped": 1}
    # Read the ids fresh for every batch: earlier batches of this run have committed their parts, so
    # dedupe needs no state carried between tasks (and survives a resumed run).
    seen = set(read_table(root, "images", columns=["image_id"]).column("image_id").to_pylist())
    fs, _ = filesystem_for(source, root.settings)
    result = process_batch(batch, fs, root, role=role, run_id=run_id, label_levels=label_levels,
                           seen=seen)
    stats = {**result.stats, "run_id": run_id, "skipped": 0}
    write_marker(root, "ingest", batch.key, stats)
    return stats
