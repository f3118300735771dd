"""The main job: every stage in order on one dataset root, then a summary read back through DuckDB."""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from persona_lens.flows.aligner import eval_aligner_flow
from persona_lens.flows.common import new_run_id, record_run
from persona_lens.flows.config import parse_config
from persona_lens.flows.embed import embed_flow
from persona_lens.flows.ingest import ingest_flow
from persona_lens.flows.rank import eval_rank_flow, rank_flow
from persona_lens.flows.world import world_load_flow, world_make_flow
from persona_lens.storage import open_root
from persona_lens.tasks.rank.steps import has_rank_queries
from persona_lens.tasks.summary import dataset_summary, to_markdown


@flow(name="persona-lens-pipeline")
def pipeline_flow(root: str | None = None, config: dict | None = None, run_id: str | None = None) -> dict:
    """world (the default data) or sources → ingest → embed → rank (when there are generated images) → summary."""
    cfg = parse_config(config)
    started, timings = dt.datetime.now(dt.timezone.utc), {}
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    t = time.perf_counter()
    if cfg.sources is None:
        world = world_make_flow(cfg.world.size, cfg.world.seed, cfg.world.folder)
        timings["world"] = time.perf_counter() - t
        t = time.perf_counter()
        world_load_flow(world["folder"], root=data_root.url, run_id=run_id, batch_size=cfg.ingest_batch_size)
    else:
        for src in cfg.sources:
            ingest_flow(src.source, root=data_root.url, role=src.role, labels=src.labels,
                        batch_size=cfg.ingest_batch_size, run_id=run_id)
    timings["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    embed = cfg.embed
    embed_flow(root=data_root.url, run_id=run_id, encoder=embed.encoder, text_encoder=embed.text_encoder,
               batch_size=embed.batch_size, runtime=embed.runtime)
    if embed.vl_encoder:
        embed_flow(root=data_root.url, run_id=run_id, encoder=embed.vl_encoder, text_encoder=embed.vl_encoder,
                   batch_size=embed.batch_size, runtime=embed.runtime)
    timings["embed"] = time.perf_counter() - t
    if embed.vl_encoder and embed.evaluate_vl:
        t = time.perf_counter()
        # A quick slice of the held-out sets that train-aligner keeps out (same seed): ~30 s on 2 cores.
        # `persona-lens eval-aligner` with its defaults scores the full sets (docs/models/aligner.md).
        eval_aligner_flow(encoder=embed.vl_encoder, heldout_views=1, world_heldout=70, eval_samples=100,
                          runtime=embed.runtime, root=data_root.url, run_id=run_id)
        timings["eval_aligner"] = time.perf_counter() - t
    rank = cfg.rank
    if rank.enabled and has_rank_queries(data_root):
        t = time.perf_counter()
        if rank.encoder not in (embed.encoder, embed.vl_encoder):
            embed_flow(root=data_root.url, run_id=run_id, encoder=rank.encoder, text_encoder=None,
                       batch_size=embed.batch_size, runtime=embed.runtime)
        features = dict(encoder=rank.encoder, ranker=rank.ranker, shrinkage=rank.shrinkage,
                        clip_encoder=embed.vl_encoder, dino_encoder=embed.encoder)
        rank_flow(root=data_root.url, run_id=run_id, ks=rank.ks, **features)
        if rank.evaluate and cfg.sources is None:
            eval_rank_flow(root=data_root.url, run_id=run_id, **features)
        timings["rank"] = time.perf_counter() - t
    summary = dataset_summary(data_root)
    counts = {row["table"]: row["rows"] for row in summary["tables"].to_pylist()}
    create_markdown_artifact(key="pipeline-summary", markdown=to_markdown(summary), description="Dataset summary")
    record_run(data_root, "pipeline", run_id, cfg.model_dump(), started, timings, counts)
    return {"run_id": run_id, "root": data_root.url, "counts": counts,
            "seconds": {k: round(v, 2) for k, v in timings.items()}}
