"""Row builders of the generate stage's tables: `generations`, `adapters`, `generate_truth`, `eval_generate`.

Each returns a pyarrow table built with the schema's `from_rows` (so every row is validated); the flow
writes them with `storage.write_part`. Images are PNG-encoded here so that `image_id` (sha256 of the
bytes) is known when the rows are built: the same bytes go into the shards.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass

import pyarrow as pa
from PIL import Image

from persona_lens.schemas import get_schema
from persona_lens.tasks.images import image_id_of

log = logging.getLogger("persona_lens.generate")


@dataclass(frozen=True)
class GeneratedImage:
    """One generated face with its `generations` row (the PNG bytes go into a shard under `image_id`)."""

    image_id: str
    png: bytes
    row: dict


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def twin_images(*, model_id: str, method: str, subject: str, generator: str, seed: int, sampler: str,
                base_images: list[Image.Image], personalized_images: list[Image.Image],
                hyperparameters: dict, adapter_uri: str | None, base_seconds: float,
                personalized_seconds: float) -> tuple[list[GeneratedImage], list[GeneratedImage]]:
    """Base and personalized twins (same latent codes, same order) linked row by row."""
    if len(base_images) != len(personalized_images):
        raise ValueError(f"twins must pair up: {len(base_images)} base vs {len(personalized_images)} personalized")
    base, pers = [], []
    hp = json.dumps(hyperparameters, sort_keys=True)
    n = max(len(base_images), 1)
    for i, (b, p) in enumerate(zip(base_images, personalized_images)):
        bb, pb = png_bytes(b), png_bytes(p)
        bid, pid = image_id_of(bb), image_id_of(pb)
        latent_id = f"{sampler}:{seed}:{i}"
        common = {"subject": subject, "prompt": "", "seed": seed, "generator": generator, "latent_id": latent_id}
        base.append(GeneratedImage(bid, bb, {**common, "image_id": bid, "model_id": generator, "method": "base",
                                             "base_image_id": None, "wall_seconds": base_seconds / n}))
        pers.append(GeneratedImage(pid, pb, {**common, "image_id": pid, "model_id": model_id, "method": method,
                                             "base_image_id": bid, "hyperparameters": hp, "adapter_uri": adapter_uri,
                                             "wall_seconds": personalized_seconds / n}))
    return base, pers


def prompt_twins(*, model_id: str, method: str, subject: str | None, generator: str, prompts: list[str],
                 seeds: list[int], base_images: list[Image.Image], personalized_images: list[Image.Image] | None,
                 hyperparameters: dict, adapter_uri: str | None, base_seconds: float, personalized_seconds: float,
                 latent_ids: list[str] | None = None) -> tuple[list[GeneratedImage], list[GeneratedImage]]:
    """`generations` rows of base and personalized twins: same prompt and seed, linked by base_image_id.

    `personalized_images` None: base rows only (a base model drawn on its own). `latent_ids`: the
    codes of a generator driven by latent codes (prompts are then empty strings).
    """
    n_pers = len(base_images) if personalized_images is None else len(personalized_images)
    if not (len(prompts) == len(seeds) == len(base_images) == n_pers) or (latent_ids and len(latent_ids) != len(seeds)):
        raise ValueError(f"twins must pair up: {len(prompts)} prompts, {len(seeds)} seeds, "
                         f"{len(base_images)} base and {n_pers} personalized images")
    hp, n = json.dumps(hyperparameters, sort_keys=True), max(len(prompts), 1)
    base, pers = [], []
    for i, (prompt, seed, b) in enumerate(zip(prompts, seeds, base_images)):
        bb = png_bytes(b)
        bid = image_id_of(bb)
        common = {"subject": subject, "prompt": prompt, "seed": int(seed), "generator": generator,
                  "latent_id": latent_ids[i] if latent_ids else None}
        base.append(GeneratedImage(bid, bb, {**common, "image_id": bid, "model_id": generator,
                                             "method": "base", "wall_seconds": base_seconds / n}))
        if personalized_images is None:
            continue
        pb = png_bytes(personalized_images[i])
        pid = image_id_of(pb)
        if bid == pid:   # the key is image_id: the personalized row would vanish behind its twin
            log.warning("%s drew the same image as the base for %r, seed %d", model_id, prompt, seed)
        pers.append(GeneratedImage(pid, pb, {**common, "image_id": pid, "model_id": model_id, "method": method,
                                             "base_image_id": bid, "hyperparameters": hp,
                                             "adapter_uri": adapter_uri, "wall_seconds": personalized_seconds / n}))
    return base, pers


def generations_table(images: list[GeneratedImage]) -> pa.Table:
    """One row per image_id (a base twin shared by several models appears once)."""
    seen, rows = set(), []
    for g in images:
        if g.image_id not in seen:
            seen.add(g.image_id)
            rows.append(g.row)
    return get_schema("generations").from_rows(rows)


def adapter_row(*, model_id: str, base_model: str, base_digest: str, method: str, subject: str, steps: int,
                final_loss: float, checkpoint_uri: str, seconds: float, hyperparameters: dict) -> dict:
    return {"model_id": model_id, "base_model": base_model, "base_digest": base_digest, "method": method,
            "subject": subject, "steps": int(steps), "final_loss": float(final_loss),
            "checkpoint_uri": checkpoint_uri, "seconds": float(seconds),
            "hyperparameters": json.dumps(hyperparameters, sort_keys=True)}


def adapters_table(rows: list[dict]) -> pa.Table:
    return get_schema("adapters").from_rows(rows)


def truth_table(rows: list[dict]) -> pa.Table:
    return get_schema("generate_truth").from_rows(rows)


def eval_table_of(rows: list[dict]) -> pa.Table:
    return get_schema("eval_generate").from_rows(rows)
