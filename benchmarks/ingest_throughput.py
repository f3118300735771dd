"""Ingest throughput: the ingest stage vs bare decode + hash + one Parquet write, in the same run.

    .venv/bin/python benchmarks/ingest_throughput.py [--images 400] [--size 256]

The bare baseline does the minimum any ingest must do (read, fully decode, sha256, one Parquet file);
the stage adds validation, EXIF handling, deduplication, WebDataset shards, atomic commits, the
quarantine table and batch markers. The ratio says what that costs.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import platform
import tempfile
import time
from pathlib import Path

from persona_lens.flows.run_context import configure_environment  # noqa: E402 (before Prefect)

configure_environment()

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from PIL import Image  # noqa: E402


def make_images(folder: Path, n: int, size: int) -> list[Path]:
    """n distinct JPEG photos-like images (smooth gradients + noise) under category/subclass/instance."""
    rng = np.random.default_rng(0)
    paths = []
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        base = np.stack([xx * rng.uniform(50, 255), yy * rng.uniform(50, 255), (xx + yy) * rng.uniform(20, 120)], -1)
        arr = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        p = folder / f"cat{i % 3}" / f"sub{i % 7}" / f"inst{i % 23}" / f"{i:05d}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(p, quality=90)
        paths.append(p)
    return paths


def bare_baseline(paths: list[Path], out: Path) -> float:
    t = time.perf_counter()
    rows = []
    for p in paths:
        data = p.read_bytes()
        img = Image.open(io.BytesIO(data))
        img.load()
        rows.append({"image_id": hashlib.sha256(data).hexdigest(), "path": str(p), "w": img.width, "h": img.height})
    pq.write_table(pa.Table.from_pylist(rows), out / "bare.parquet")
    return time.perf_counter() - t


def stage(src: Path, root: Path, labels: list[str] | None) -> float:
    from persona_lens.flows.ingest import ingest_flow
    from persona_lens.tasks.ingest import IngestParams

    t = time.perf_counter()
    summary = ingest_flow(IngestParams(source=str(src), labels=labels, batch_size=256), root=str(root))
    elapsed = time.perf_counter() - t
    assert summary["images"] > 0, summary
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = make_images(tmp / "src", args.images, args.size)
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=60):
            # Warm-up on a small subset so flow/engine start-up is not billed to the stage.
            stage(tmp / "src" / "cat0" / "sub0", tmp / "warm", None)
            bare = bare_baseline(paths, tmp)
            staged = stage(tmp / "src", tmp / "root", ["category", "subclass", "instance"])
    n = len(paths)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"{n} JPEGs of {args.size}x{args.size}")
    print(f"bare decode+hash+parquet : {n / bare:8.1f} images/s ({bare:.2f} s)")
    print(f"ingest stage (flow)      : {n / staged:8.1f} images/s ({staged:.2f} s)")
    print(f"stage / bare             : {bare / staged:8.2f}x")


if __name__ == "__main__":
    main()
