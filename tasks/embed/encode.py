"""The embed stage's work: one L2-normalised vector per (image, encoder), and per (caption text, encoder).

Plain functions do the work (plan → embed one shard → build tables → write); the `@task` wrappers in
tasks/embed/__init__.py only load the encoder from the per-process registry cache and call them. Work is planned
from the tables alone, so a re-run embeds only what has no row for this encoder yet. A bad image or
a non-finite vector becomes a quarantine row; the rest of its batch still lands.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from persona_lens.models.base import ImageEncoder, ModelError, TextEncoder
from persona_lens.models.registry import encoder_slug
from persona_lens.schemas import EMBEDDINGS, TEXT_EMBEDDINGS, validate
from persona_lens.storage import DatasetRoot, read_members, read_table, split_uri, write_part
from persona_lens.tasks.images import BadImage, decode_rgb
from persona_lens.tasks.quarantine import quarantine_row as _quarantine_row
from persona_lens.tasks.quarantine import quarantine_table

STAGE = "embed"
#: A stored vector must have unit length within this tolerance (float32 normalisation error is ~1e-7).
NORM_TOLERANCE = 1e-3
#: Distinct texts per text_embeddings part.
TEXT_PART_ROWS = 4096


class ImageRef(NamedTuple):
    image_id: str
    uri: str  # `<shard>#<member>`, relative to the dataset root


@dataclass(frozen=True)
class EmbedPlan:
    """Images still to embed with `encoder`, grouped by shard (each shard is read once)."""

    encoder: str                                   # canonical encoder name (the `encoder` column)
    shards: dict[str, list[ImageRef]] = field(default_factory=dict)
    already_embedded: int = 0                      # images skipped: they have a row for this encoder

    @property
    def num_images(self) -> int:
        return sum(len(refs) for refs in self.shards.values())


@dataclass
class ShardEmbeddings:
    """What embedding one shard's images produced: rows to store and rows to quarantine."""

    embeddings: pa.Table
    quarantine: pa.Table
    decode_seconds: float = 0.0
    encode_seconds: float = 0.0


# --- planning --------------------------------------------------------------------------------------

def plan_images(root: DatasetRoot, encoder: str) -> EmbedPlan:
    """Every distinct image of the `images` table without an `embeddings` row for canonical `encoder`.

    Images are grouped by shard and ordered by member URI, so the same tables give the same plan.
    """
    images = read_table(root, "images", columns=["image_id", "uri"])
    # Both reads keep one row per key (storage/parquet.py): an image ingested twice is planned once.
    done = read_table(root, "embeddings", columns=["image_id"], key_filter=pc.field("encoder") == encoder)
    already = 0
    shards: dict[str, list[ImageRef]] = {}
    is_done = pc.is_in(images["image_id"], value_set=done["image_id"]).to_pylist()
    for image_id, uri, skip in sorted(zip(images["image_id"].to_pylist(), images["uri"].to_pylist(), is_done),
                                      key=lambda row: row[1]):
        if skip:
            already += 1
            continue
        shards.setdefault(split_uri(uri)[0], []).append(ImageRef(image_id, uri))
    return EmbedPlan(encoder, shards, already)


def part_key(encoder: str, shard: str, refs: Sequence[ImageRef]) -> str:
    """Deterministic part name for one shard's output: encoder slug + shard + hash of the planned ids.

    The ids are in the key because the same run id can meet the same shard twice with different
    work (a retry after some images were embedded): overwriting the earlier part would lose its rows.
    The same work under the same run id gets the same key, so a retried write replaces itself.
    """
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", shard.removeprefix("shards/").removesuffix(".tar"))[-60:]
    digest = hashlib.sha256("\n".join([shard, *sorted(r.image_id for r in refs)]).encode()).hexdigest()[:10]
    return f"{encoder_slug(encoder)}--{readable}-{digest}"


# --- embedding -------------------------------------------------------------------------------------

def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def vector_problem(vector: np.ndarray) -> str | None:
    """A reason code if `vector` must not be stored (non-finite, or not unit length), else None."""
    if not np.isfinite(vector).all():
        return "non_finite_vector"
    if abs(float(np.linalg.norm(vector.astype(np.float64))) - 1.0) > NORM_TOLERANCE:
        return "not_unit_norm"
    return None


def quarantine_row(source: str, reason: str, detail: str) -> dict:
    return _quarantine_row(STAGE, source, reason, detail)


def decode_batch(refs: Sequence[ImageRef], data: dict[str, bytes]
                 ) -> tuple[list[ImageRef], list, list[dict], float]:
    """Decode one batch: (good refs, their RGB images, quarantine rows for the bad ones, seconds)."""
    t0 = time.perf_counter()
    good, images, bad = [], [], []
    for ref in refs:
        try:
            images.append(decode_rgb(data.pop(ref.uri)))  # pop: the bytes are not needed twice
            good.append(ref)
        except BadImage as exc:
            bad.append(quarantine_row(ref.image_id, exc.reason, f"{ref.uri}: {exc.detail}"))
    return good, images, bad, time.perf_counter() - t0


def _prefetched(refs: Sequence[ImageRef], data: dict[str, bytes], batch_size: int) -> Iterator[tuple]:
    """Decoded batches, the next one decoding in a worker thread while the caller encodes this one.

    PIL decodes with the GIL released, so decoding overlaps the encoder's work instead of adding to
    it; one batch of look-ahead bounds the decoded pixels held in memory to two batches.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-decode") as pool:
        pending = None
        for batch in batches(refs, batch_size):
            nxt = pool.submit(decode_batch, batch, data)
            if pending is not None:
                yield pending.result()
            pending = nxt
        if pending is not None:
            yield pending.result()


def embed_images(root: DatasetRoot, refs: Sequence[ImageRef], encoder: ImageEncoder, batch_size: int,
                 encoder_name: str | None = None) -> ShardEmbeddings:
    """Read, decode and encode `refs` (one shard's images) in batches of `batch_size`.

    `encoder_name` is stored in the `encoder` column (default: `encoder.name`). Bytes are read once per
    shard and released as each batch is decoded, so a shard's decoded pixels never sit in memory at once.
    """
    name = encoder_name or encoder.name
    data = read_members(root, [r.uri for r in refs])
    ids: list[str] = []
    vectors: list[np.ndarray] = []
    bad: list[dict] = []
    decode_s = encode_s = 0.0
    for good, images, refused, seconds in _prefetched(refs, data, batch_size):
        bad.extend(refused)
        decode_s += seconds
        t0 = time.perf_counter()
        vecs = encoder.encode_images(images) if images else np.zeros((0, encoder.dim), np.float32)
        encode_s += time.perf_counter() - t0
        if vecs.shape != (len(images), encoder.dim):
            raise ModelError(f"encoder {name!r} returned shape {vecs.shape} for {len(images)} images, "
                             f"expected ({len(images)}, {encoder.dim})")
        for ref, vec in zip(good, vecs):
            problem = vector_problem(vec)
            if problem:
                bad.append(quarantine_row(ref.image_id, problem, f"{ref.uri}: encoder {name!r} gave a "
                                          f"vector of norm {np.linalg.norm(vec):.4g}"))
            else:
                ids.append(ref.image_id)
                vectors.append(vec)
    stacked = np.stack(vectors) if vectors else np.zeros((0, encoder.dim), np.float32)
    return ShardEmbeddings(embeddings_table(ids, name, stacked, encoder.runtime), quarantine_table(bad),
                           decode_s, encode_s)


def source_vectors(root: DatasetRoot, source: str, image_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, str]]:
    """The stored `source` encoder vectors (and their runtime) of those of `image_ids` that have one."""
    rows = read_table(root, "embeddings", columns=["image_id", "vector", "runtime"],
                      key_filter=(pc.field("encoder") == source) & pc.field("image_id").isin(list(image_ids)))
    if rows.num_rows == 0:
        return {}
    vectors = np.stack(rows.column("vector").to_numpy(zero_copy_only=False)).astype(np.float32)
    return {i: (v, r) for i, v, r in zip(rows.column("image_id").to_pylist(), vectors,
                                          rows.column("runtime").to_pylist())}


def derive_embeddings(refs: Sequence[ImageRef], stored: dict[str, tuple[np.ndarray, str]], encoder,
                      encoder_name: str | None = None) -> ShardEmbeddings:
    """`encoder`'s vectors for `refs` computed from their stored source vectors (no pixel is decoded).

    Each row's runtime is the one that computed the source vector; a vector the checks refuse is
    quarantined as when encoding pixels.
    """
    name = encoder_name or encoder.name
    t0 = time.perf_counter()
    source = np.stack([stored[r.image_id][0] for r in refs]) if refs else np.zeros((0, 1), np.float32)
    vecs = encoder.from_source_vectors(source) if refs else np.zeros((0, encoder.dim), np.float32)
    if vecs.shape != (len(refs), encoder.dim):
        raise ModelError(f"encoder {name!r} derived shape {vecs.shape} for {len(refs)} images, "
                         f"expected ({len(refs)}, {encoder.dim})")
    keep, bad = [], []
    for i, (ref, vec) in enumerate(zip(refs, vecs)):
        problem = vector_problem(vec)
        if problem:
            bad.append(quarantine_row(ref.image_id, problem, f"{ref.uri}: encoder {name!r} derived a vector "
                                      f"of norm {np.linalg.norm(vec):.4g} from {encoder.source_encoder!r}"))
        else:
            keep.append(i)
    kept = [refs[i] for i in keep]
    table = embeddings_table([r.image_id for r in kept], name, vecs[keep] if keep else
                             np.zeros((0, encoder.dim), np.float32), [stored[r.image_id][1] for r in kept])
    return ShardEmbeddings(table, quarantine_table(bad), 0.0, time.perf_counter() - t0)


def combine(results: Sequence[ShardEmbeddings]) -> ShardEmbeddings:
    """One shard's results from its derived and its encoded images."""
    return ShardEmbeddings(pa.concat_tables([r.embeddings for r in results]),
                           pa.concat_tables([r.quarantine for r in results]),
                           sum(r.decode_seconds for r in results), sum(r.encode_seconds for r in results))


def _vector_array(vectors: np.ndarray) -> pa.FixedSizeListArray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be a 2-d (n, dim) array, got shape {vectors.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])


def embeddings_table(image_ids: Sequence[str], encoder: str, vectors: np.ndarray,
                     runtime: str | Sequence[str]) -> pa.Table:
    """The validated EMBEDDINGS table: one fixed-size float32 vector per image (`runtime`: one for all
    rows, or one per row)."""
    if len(image_ids) != len(vectors):
        raise ValueError(f"got {len(image_ids)} image ids for {len(vectors)} vectors")
    n, dim = len(image_ids), int(np.shape(vectors)[1])
    runtimes = [runtime] * n if isinstance(runtime, str) else list(runtime)
    table = pa.table({
        "image_id": pa.array(list(image_ids), pa.string()),
        "encoder": pa.array([encoder] * n, pa.string()),
        "dim": pa.array([dim] * n, pa.int32()),
        "vector": _vector_array(vectors),
        "runtime": pa.array(runtimes, pa.string()),
    })
    return validate(table, EMBEDDINGS)


def write_shard(root: DatasetRoot, result: ShardEmbeddings, run_id: str, part: str) -> dict[str, int]:
    """Write a shard's embeddings and quarantine rows as parts named `part`; return the row counts."""
    write_part(root, "embeddings", result.embeddings, run_id, part=part)
    write_part(root, "quarantine", result.quarantine, run_id, part=f"embed-{part}")
    return {"embedded": result.embeddings.num_rows, "quarantined": result.quarantine.num_rows}


# --- caption texts ---------------------------------------------------------------------------------

def text_id_of(text: str) -> str:
    """sha256 (hex) of the UTF-8 text: the `text_id` key."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def plan_texts(root: DatasetRoot, encoder: str) -> list[str]:
    """Distinct caption texts (sorted) without a `text_embeddings` row for canonical `encoder`."""
    captions = read_table(root, "captions", columns=["text"])
    if captions.num_rows == 0:
        return []
    done = read_table(root, "text_embeddings", columns=["text_id", "encoder"])
    done_ids = set(done.filter(pc.equal(done["encoder"], encoder))["text_id"].to_pylist())
    texts = set(pc.unique(captions["text"]).to_pylist())
    return sorted(t for t in texts if text_id_of(t) not in done_ids)


def embed_texts(texts: Sequence[str], encoder: TextEncoder, encoder_name: str | None = None
                ) -> tuple[pa.Table, pa.Table]:
    """(TEXT_EMBEDDINGS table, quarantine table) for `texts`; a non-finite vector is quarantined."""
    name = encoder_name or encoder.name
    vecs = encoder.encode_texts(list(texts)) if texts else np.zeros((0, encoder.dim), np.float32)
    if vecs.shape != (len(texts), encoder.dim):
        raise ModelError(f"text encoder {name!r} returned shape {vecs.shape} for {len(texts)} texts")
    keep, bad = [], []
    for i, (text, vec) in enumerate(zip(texts, vecs)):
        problem = vector_problem(vec)
        if problem:
            bad.append(quarantine_row(text_id_of(text), problem, f"text encoder {name!r}: {text[:80]!r}"))
        else:
            keep.append(i)
    kept = [texts[i] for i in keep]
    n = len(kept)
    table = pa.table({
        "text_id": pa.array([text_id_of(t) for t in kept], pa.string()),
        "text": pa.array(kept, pa.string()),
        "encoder": pa.array([name] * n, pa.string()),
        "dim": pa.array([encoder.dim] * n, pa.int32()),
        "vector": _vector_array(vecs[keep] if keep else np.zeros((0, encoder.dim), np.float32)),
    })
    return validate(table, TEXT_EMBEDDINGS), quarantine_table(bad)
