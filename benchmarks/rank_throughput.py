"""Throughput of the rank stage's exact scoring against the bare floors, in one run.

The stage (`tasks.rank.ranking.rank_vectors`: blocked inner products, then exact tie-aware AP, first-hit
rank and recall@k for every query) is timed against two floors that do *less* work on the same data:
- numpy: the same blocked float32 matmul plus `argpartition` top-10 per query (no AP);
- faiss: `IndexFlatIP` exact top-10 search (faiss-cpu; no AP), when installed (`pip install faiss-cpu`).

    .venv/bin/python benchmarks/rank_throughput.py [--gallery 100000] [--queries 1000] [--dim 1280]

The gallery is synthetic and clustered (identities of 10 images around a centroid, L2-normalised
float32). Prints each time, the peak memory of the scoring (tracemalloc, numpy's allocations included)
and the ratios: `ratio vs faiss: X` is faiss time / stage time (above 1: the stage is faster while
computing every AP).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np

#: Per-dimension noise around an identity centroid: same-identity cosines ~0.06 against ~0.03 spread
#: between identities, so retrieval is neither trivial nor hopeless (mAP well inside (0, 1)).
NOISE = 2.6


def clustered(n: int, dim: int, per_identity: int, rng: np.random.Generator, centroids: np.ndarray | None = None):
    ids = np.arange(n) // per_identity
    if centroids is None:
        centroids = rng.standard_normal((ids.max() + 1, dim), dtype=np.float32)
    x = centroids[ids] + NOISE * rng.standard_normal((n, dim), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, ids, centroids


def timed(fn):
    tracemalloc.start()
    t = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, seconds, peak


def numpy_floor(queries: np.ndarray, gallery: np.ndarray, k: int, block: int) -> np.ndarray:
    gt = gallery.T
    out = []
    for lo in range(0, len(queries), block):
        s = queries[lo:lo + block] @ gt
        out.append(np.argpartition(-s, k, axis=1)[:, :k])
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gallery", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--per-identity", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from persona_lens.tasks.rank.ranking import BLOCK_BYTES, BYTES_PER_PAIR, rank_vectors

    rng = np.random.default_rng(args.seed)
    gallery, g_ids, centroids = clustered(args.gallery, args.dim, args.per_identity, rng)
    q_ids = rng.integers(0, g_ids.max() + 1, args.queries)
    queries = centroids[q_ids] + NOISE * rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    block = max(1, BLOCK_BYTES // (BYTES_PER_PAIR * args.gallery))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, numpy {np.__version__}; "
          f"gallery {args.gallery} x {args.dim}, {args.queries} queries, first block of {block} queries")

    labels_q = {"instance": q_ids.astype(str)}
    labels_g = {"instance": g_ids.astype(str)}
    scores, stage_s, stage_mem = timed(lambda: rank_vectors(queries, labels_q, gallery, labels_g, (1, 5, 10)))
    m = float(scores["instance"].average_precision.mean())
    print(f"stage  (exact AP, cmc, recall@1/5/10): {stage_s:8.2f} s  {args.queries / stage_s:9.1f} queries/s  "
          f"peak {stage_mem / 2**20:7.0f} MiB  mAP {m:.4f}")

    _, floor_s, floor_mem = timed(lambda: numpy_floor(queries, gallery, 10, block))
    print(f"numpy  (matmul + argpartition top-10): {floor_s:8.2f} s  {args.queries / floor_s:9.1f} queries/s  "
          f"peak {floor_mem / 2**20:7.0f} MiB")
    print(f"ratio vs numpy floor: {floor_s / stage_s:.2f}")
    try:
        import faiss
    except ImportError:
        print("faiss: not installed (pip install faiss-cpu) — no faiss ratio")
        return
    index = faiss.IndexFlatIP(args.dim)
    index.add(gallery)
    _, faiss_s, faiss_mem = timed(lambda: index.search(queries, 10))
    print(f"faiss  (IndexFlatIP top-10):           {faiss_s:8.2f} s  {args.queries / faiss_s:9.1f} queries/s  "
          f"peak {faiss_mem / 2**20:7.0f} MiB (numpy-side only)")
    print(f"ratio vs faiss: {faiss_s / stage_s:.2f}")


if __name__ == "__main__":
    main()
