"""The main job: every stage in order on one dataset root, then a summary read back through DuckDB."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from persona_lens.flows.common import new_run_id, record_run
from persona_lens.flows.config import SourceConfig, parse_config
from persona_lens.flows.embed import embed_flow
from persona_lens.flows.ingest import ingest_flow
from persona_lens.storage import open_root
from persona_lens.tasks.ingest.default_data import LABEL_LEVELS, write_default_manifest
from persona_lens.tasks.summary import dataset_summary, to_markdown


@task
def default_sources(folder: str) -> list[SourceConfig]:
    """The embedded default data as a manifest source."""
    manifest = write_default_manifest(Path(folder))
    return [SourceConfig(source=str(manifest), role="gallery", labels=LABEL_LEVELS)]


@flow(name="persona-lens-pipeline")
def pipeline_flow(root: str | None = None, config: dict | None = None, run_id: str | None = None) -> dict:
    """ingest → embed (later issues add generate, explain, rank, describe), then the summary."""
    cfg = parse_config(config)
    started, timings = dt.datetime.now(dt.timezone.utc), {}
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    with tempfile.TemporaryDirectory(prefix="persona-lens-default-") as tmp:
        t = time.perf_counter()
        for src in cfg.sources or default_sources(tmp):
            ingest_flow(src.source, root=data_root.url, role=src.role, labels=src.labels,
                        batch_size=cfg.ingest_batch_size, run_id=run_id)
        timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    embed_flow(root=data_root.url, run_id=run_id, **cfg.embed.model_dump())
    timings["embed"] = time.perf_counter() - t
    summary = dataset_summary(data_root)
    counts = {row["table"]: row["rows"] for row in summary["tables"].to_pylist()}
    create_markdown_artifact(key="pipeline-summary", markdown=to_markdown(summary), description="Dataset summary")
    record_run(data_root, "pipeline", run_id, cfg.model_dump(), started, timings, counts)
    return {"run_id": run_id, "root": data_root.url, "counts": counts,
            "seconds": {k: round(v, 2) for k, v in timings.items()}}
