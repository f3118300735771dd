"""Ingest flow: a source (folder, manifest, WebDataset shards; local or s3://) → images + quarantine."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote

from persona_lens.flows.run_context import stage_run
from persona_lens.flows.scale import map_tasks
from persona_lens.tasks.ingest import IngestParams, ingest_batch, list_source_task, plan_batches, record_rejections
from persona_lens.tasks.markdown import facts_markdown


@flow(name="ingest")
def ingest_flow(params: IngestParams, root: str | None = None, run_id: str | None = None) -> dict:
    """Validate, hash, dedupe and shard every image of `params.source` into the dataset root."""
    with stage_run("ingest", params, root, run_id) as run:
        listing = list_source_task(params.source, params.labels, run.root, params.follow_symlinks,
                                   params.layout, params.split)
        run.part = f"ingest-{listing.key}"
        run.count(images=0, quarantined=record_rejections(run.root, quote(listing), run.run_id), duplicates=0,
                  shards=0, skipped=0)
        # quote(): Prefect would otherwise walk every file of the batch looking for futures.
        calls = [dict(batch=quote(batch), source=params.source, root=run.root, role=params.role,
                      run_id=run.run_id, label_levels=params.labels)
                 for batch in plan_batches(listing, params.role, params.labels, params.batch_size)]
        for stats in map_tasks(ingest_batch, calls, params, "ingest"):
            run.count(**{k: stats[k] for k in ("images", "quarantined", "duplicates", "shards", "skipped")})
        summary = run.result(source=params.source, role=params.role, seconds=round(run.seconds, 2))
        create_markdown_artifact(key="ingest-summary", markdown=facts_markdown("Ingest", summary),
                                 description="Ingest counts")
        return summary
