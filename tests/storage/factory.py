"""Small, valid tables and shard samples for the storage tests (seeded, a few rows)."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pyarrow as pa

from persona_lens.schemas import QUARANTINE, RANK_SUMMARY
from persona_lens.storage import DatasetRoot


def summary_rows(n: int, model: str = "m1") -> pa.Table:
    """`rank_summary` rows: k = 0..n-1 and value = k / 10, so every row is different."""
    return RANK_SUMMARY.from_rows([
        {"model_id": model, "encoder": "enc", "granularity": "instance", "metric": "mAP",
         "k": k, "value": k / 10}
        for k in range(n)
    ])


def quarantine_rows(n: int) -> pa.Table:
    return QUARANTINE.from_rows([
        {"stage": "ingest", "source": f"bad-{i}.jpg", "reason": "truncated_image", "detail": "cut short",
         "quarantined_at": dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc)}
        for i in range(n)
    ])


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def embedding_rows(image_ids: list[str], encoder: str, vectors: np.ndarray) -> pa.Table:
    """An `embeddings` table with a fixed-size float32 vector column of the vectors' width."""
    n, dim = vectors.shape
    return pa.table({
        "image_id": image_ids,
        "encoder": [encoder] * n,
        "dim": pa.array([dim] * n, pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), dim),
        "runtime": ["torch"] * n,
    })


def sample_bytes(i: int, size: int = 100) -> bytes:
    """`size` bytes that differ per `i` (shards store bytes as they are; no decoding involved)."""
    return np.random.default_rng(i).integers(0, 256, size, dtype=np.uint8).tobytes()


def image_id(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_under(root: DatasetRoot) -> list[str]:
    """Every file under the root (paths inside its filesystem), sorted."""
    return sorted(root.fs.find(root.path())) if root.fs.exists(root.path()) else []
