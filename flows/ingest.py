"""Ingest flow: a source (folder, manifest, WebDataset shards; local or s3://) → images + quarantine."""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote

from persona_lens.flows.common import new_run_id, record_run
from persona_lens.storage import open_root
from persona_lens.tasks.ingest import ingest_batch, list_source_task, plan_batches, record_rejections


@flow(name="ingest")
def ingest_flow(source: str, root: str | None = None, role: str = "gallery", labels: list[str] | None = None,
                batch_size: int = 256, run_id: str | None = None) -> dict:
    """Validate, hash, dedupe and shard every image of `source` into the dataset root."""
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    listing = list_source_task(source, labels, data_root)
    rejected = record_rejections(data_root, quote(listing), run_id)
    totals = {"images": 0, "quarantined": rejected, "duplicates": 0, "shards": 0, "skipped": 0}
    for batch in plan_batches(listing, role, labels, batch_size):
        # quote(): Prefect would otherwise walk every file of the batch looking for futures.
        stats = ingest_batch(quote(batch), source, data_root, role=role, run_id=run_id, label_levels=labels)
        totals = {k: totals[k] + stats[k] for k in totals}
    summary = {"run_id": run_id, "root": data_root.url, "source": source, "role": role, **totals,
               "seconds": round(time.perf_counter() - t0, 2)}
    create_markdown_artifact(key="ingest-summary", markdown="### Ingest\n" + "\n".join(
        f"- **{k}**: {v}" for k, v in summary.items()), description="Ingest counts")
    record_run(data_root, "ingest", run_id, {"source": source, "role": role, "labels": labels,
               "batch_size": batch_size}, started, {"total": summary["seconds"]}, totals,
               part=f"ingest-{listing.key}")
    return summary
