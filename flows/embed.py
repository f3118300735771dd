"""Embed flow: every image (and caption text) of a dataset root without a vector for these encoders."""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from persona_lens.flows.common import configure_environment, new_run_id, record_run
from persona_lens.models.registry import encoder_slug
from persona_lens.storage import open_root
from persona_lens.tasks.embed import (
    check_params, embed_shard_task, embed_texts_task, plan_task, summarize, summary_markdown,
)


# One shard at a time by default: the encoder already uses every core, and concurrent shards would only
# contend for them. A DaskTaskRunner (`embed_flow.with_options(task_runner=...)`) spreads shards over
# processes or machines.
@flow(name="embed", task_runner=ThreadPoolTaskRunner(max_workers=1))
def embed_flow(root: str | None = None, encoder: str = "efficientnet-lite0",
               text_encoder: str | None = "all-minilm-l6-v2", batch_size: int = 32, runtime: str = "auto",
               run_id: str | None = None, threads: int | None = None) -> dict:
    """Embed images not yet embedded by `encoder` (a name or a model folder) and caption texts not yet
    embedded by `text_encoder` (None skips texts). `threads`: ONNX Runtime threads (None: all cores)."""
    configure_environment()
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    image_enc, text_enc = check_params(encoder, text_encoder, batch_size, runtime, threads)
    plan = plan_task(data_root, image_enc)
    # quote(): Prefect would otherwise walk every image reference looking for futures.
    futures = [embed_shard_task.submit(data_root, image_enc, shard, quote(refs), batch_size, run_id, runtime,
                                       threads) for shard, refs in plan.shards.items()]
    shard_stats = [f.result() for f in futures]
    text_stats = embed_texts_task(data_root, text_enc, run_id) if text_enc else {}
    summary = summarize(plan, shard_stats, text_stats, time.perf_counter() - t0)
    create_markdown_artifact(key="embed-summary", markdown=summary_markdown(summary),
                             description="Embed counts")
    record_run(data_root, "embed", run_id,
               {"encoder": encoder, "text_encoder": text_encoder, "batch_size": batch_size,
                "runtime": runtime, "threads": threads}, started,
               {k: float(summary[k]) for k in ("decode_s", "encode_s", "seconds")},
               {k: v for k, v in summary.items() if isinstance(v, int)}, part=f"embed-{encoder_slug(image_enc)}")
    return {"run_id": run_id, "root": data_root.url, **summary}
