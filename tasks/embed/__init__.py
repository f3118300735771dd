"""The embed stage (3): image and text vectors, batched per shard, stored as fixed-size float32 lists.

The stage's entry point: flows/embed.py calls only what this module exposes. The work is in
tasks/embed/encode.py (plain functions); the tasks below load the encoder from the per-process
registry cache and call them.
"""

from __future__ import annotations

import hashlib
import time

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.models.registry import encoder_slug, load_image_encoder, load_text_encoder
from persona_lens.storage import DatasetRoot, write_part
from persona_lens.tasks.embed.encode import (TEXT_PART_ROWS, EmbedPlan, ImageRef, batches, combine,
                                             derive_embeddings, embed_images, embed_texts, part_key, plan_images,
                                             plan_texts, source_vectors, write_shard)
from persona_lens.tasks.embed.params import EmbedParams
from persona_lens.tasks.markdown import facts_markdown
from persona_lens.tasks.retries import IO_RETRIES

__all__ = ["EmbedParams", "EmbedPlan", "ImageRef", "embed_shard_task", "embed_texts_task", "plan_task",
           "summarize", "summary_markdown"]


_io_retries = dict(**IO_RETRIES, cache_policy=NO_CACHE)


@task(name="embed-plan", **_io_retries)
def plan_task(root: DatasetRoot, encoder: str) -> EmbedPlan:
    """Images not yet embedded by `encoder`, by shard."""
    return plan_images(root, encoder)


@task(name="embed-shard", **_io_retries)
def embed_shard_task(root: DatasetRoot, shard: str, refs: list[ImageRef], params: EmbedParams, run_id: str) -> dict:
    """Embed one shard's planned images and write its embeddings and quarantine parts."""
    model = load_image_encoder(params.encoder, params.runtime, params.threads, cache_dir=root.settings.cache_dir)
    t0 = time.perf_counter()
    # One network pass per image: an encoder that is a function of another's vector (lite0 and the LiT
    # aligner of the multi-level vector) reads those rows where they exist; only the rest are decoded.
    source = getattr(model, "source_encoder", None) if params.derive else None
    stored = source_vectors(root, source, [r.image_id for r in refs]) if source else {}
    derived = [r for r in refs if r.image_id in stored]
    encoded = [r for r in refs if r.image_id not in stored]
    parts = [derive_embeddings(derived, stored, model, encoder_name=params.encoder)] if derived else []
    if encoded or not parts:
        parts.append(embed_images(root, encoded, model, params.batch_size, encoder_name=params.encoder))
    result = combine(parts)
    counts = write_shard(root, result, run_id, part_key(params.encoder, shard, refs))
    return {**counts, "derived": len(derived), "decode_s": result.decode_seconds,
            "encode_s": result.encode_seconds, "seconds": time.perf_counter() - t0, "runtime": model.runtime}


@task(name="embed-texts", **_io_retries)
def embed_texts_task(root: DatasetRoot, text_encoder: str, run_id: str) -> dict:
    """Embed caption texts not yet embedded by `text_encoder`; write them in parts of TEXT_PART_ROWS."""
    texts = plan_texts(root, text_encoder)
    counts = {"texts_embedded": 0, "texts_quarantined": 0}
    if not texts:
        return counts
    model = load_text_encoder(text_encoder, cache_dir=root.settings.cache_dir)
    for chunk in batches(texts, TEXT_PART_ROWS):
        table, bad = embed_texts(chunk, model, encoder_name=text_encoder)
        key = hashlib.sha256("\n".join(chunk).encode()).hexdigest()[:10]
        part = f"{encoder_slug(text_encoder)}--{key}"
        write_part(root, "text_embeddings", table, run_id, part=part)
        write_part(root, "quarantine", bad, run_id, part=f"embed-text-{part}")
        counts["texts_embedded"] += table.num_rows
        counts["texts_quarantined"] += bad.num_rows
    return counts


def summarize(plan: EmbedPlan, shard_stats: list[dict], text_stats: dict, seconds: float) -> dict:
    """Counts and timings of one embed run (what the flow returns and records)."""
    embedded = sum(s["embedded"] for s in shard_stats)
    shard_s = sum(s["seconds"] for s in shard_stats)  # read + decode + encode + write
    return {
        "encoder": plan.encoder,
        "runtime": shard_stats[0]["runtime"] if shard_stats else None,
        "shards": len(shard_stats),
        "images_planned": plan.num_images,
        "already_embedded": plan.already_embedded,
        "embedded": embedded,
        "derived": sum(s.get("derived", 0) for s in shard_stats),
        "quarantined": sum(s["quarantined"] for s in shard_stats),
        "texts_embedded": text_stats.get("texts_embedded", 0),
        "texts_quarantined": text_stats.get("texts_quarantined", 0),
        "decode_s": round(sum(s["decode_s"] for s in shard_stats), 3),
        "encode_s": round(sum(s["encode_s"] for s in shard_stats), 3),
        "seconds": round(seconds, 3),
        "images_per_s": round(embedded / shard_s, 2) if shard_s > 0 else None,
    }


def summary_markdown(summary: dict) -> str:
    """The summary as a small markdown list for the Prefect UI."""
    return facts_markdown("Embed", summary)
