"""Embed flow: every image (and caption text) of a dataset root without a vector for these encoders."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote

from persona_lens.flows.run_context import stage_run
from persona_lens.flows.scale import map_tasks
from persona_lens.models.registry import encoder_slug
from persona_lens.tasks.embed import EmbedParams, embed_shard_task, embed_texts_task, plan_task, summarize, \
    summary_markdown


# One shard at a time by default: the encoder already uses every core, and concurrent shards would only
# contend for them. `workers` / `dask_address` (flows/scale.py) spread shards over processes or machines.
@flow(name="embed")
def embed_flow(params: EmbedParams = EmbedParams(), root: str | None = None, run_id: str | None = None) -> dict:
    """Embed images not yet embedded by `params.encoder` and caption texts not yet embedded by
    `params.text_encoder` (None skips texts)."""
    with stage_run("embed", params, root, run_id, part=f"embed-{encoder_slug(params.encoder)}") as run:
        plan = plan_task(run.root, params.encoder)
        # quote(): Prefect would otherwise walk every image reference looking for futures.
        calls = [dict(root=run.root, shard=shard, refs=quote(refs), params=params, run_id=run.run_id)
                 for shard, refs in plan.shards.items()]
        shard_stats = map_tasks(embed_shard_task, calls, params, "embed")
        text_stats = embed_texts_task(run.root, params.text_encoder, run.run_id) if params.text_encoder else {}
        summary = summarize(plan, shard_stats, text_stats, run.seconds)
        create_markdown_artifact(key="embed-summary", markdown=summary_markdown(summary), description="Embed counts")
        run.timings.update({k: float(summary[k]) for k in ("decode_s", "encode_s")})
        run.count(**{k: v for k, v in summary.items() if isinstance(v, int)})
        return run.result(**{k: v for k, v in summary.items() if not isinstance(v, int)})
