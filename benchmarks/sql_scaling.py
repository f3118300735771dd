"""`persona-lens sql` against DuckDB alone, and how the shipped queries grow with the data, in one run.

Two measurements on synthetic tables written through the storage layer (`write_part`, the stages' own
writer, in parts of `--part-rows` rows):

1. **Command vs floor** on `--rows` embedding rows (default 1,000,000; `--summary-dim` floats each, small,
   since the summary reads no vector): the per-encoder summary `queries/embeddings_by_encoder.sql`
   through `persona-lens sql` (a new process: Python, the command line, the keyed views) against the
   floor, a new `python -c` process that runs the same SQL in DuckDB over the same Parquet files
   directly (`read_parquet`, no keyed view). Prints `ratio vs duckdb: X` (command / floor; the goal is
   at most 1.5).
2. **Growth**: `queries/nearest_neighbours.sql` (the `$k` images nearest one image) over 1280-d
   embeddings at each of `--nn-sizes`, through the catalog in-process; time per image should stay flat
   (linear in the data) rather than grow with n (an n × n join).

    .venv/bin/python benchmarks/sql_scaling.py [--rows 1000000] [--nn-sizes 1000,4000,16000,64000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

ENCODERS = ("efficientnet-lite0", "efficientnet-lite0-multilevel", "persona-lens-lit")


def write_tables(root_dir: Path, rows: int, dim: int, part_rows: int, seed: int = 0) -> None:
    """`images` (rows / len(ENCODERS) images) and `embeddings` (`rows` rows: each image under every
    encoder), L2-normalised random vectors, written as the stages write them."""
    from persona_lens.schemas import get_schema
    from persona_lens.storage import open_root
    from persona_lens.storage.parquet import write_part

    root = open_root(str(root_dir))
    rng = np.random.default_rng(seed)
    n_images = max(1, rows // len(ENCODERS))
    ids = np.array([f"{i:064x}" for i in range(n_images)])
    now = datetime.now(timezone.utc)
    images = get_schema("images").arrow(None)
    for start in range(0, n_images, part_rows):
        chunk = ids[start:start + part_rows]
        n = len(chunk)
        t = pa.table({
            "image_id": chunk, "uri": [f"shards/gallery/r/shard-0.tar#{i}.jpg" for i in chunk],
            "role": ["gallery"] * n, "source": ["synthetic"] * n, "category": ["cat"] * n,
            "subclass": ["tabby"] * n, "instance": [f"img-{start + j}" for j in range(n)], "subject": [None] * n,
            "labels": pa.array([[]] * n, images.field("labels").type), "width": np.full(n, 64, np.int32), "height": np.full(n, 64, np.int32),
            "format": ["JPEG"] * n, "num_bytes": np.full(n, 1000, np.int64), "ingested_at": [now] * n,
        })
        write_part(root, "images", t.select(images.names).cast(images), "bench", part=f"b{start}")
    embeddings = get_schema("embeddings").arrow(dim)
    per_part = max(1, part_rows // len(ENCODERS))
    for start in range(0, n_images, per_part):
        chunk = ids[start:start + per_part]
        for encoder in ENCODERS:
            v = rng.standard_normal((len(chunk), dim), dtype=np.float32)
            v /= np.linalg.norm(v, axis=1, keepdims=True)
            t = pa.table({"image_id": chunk, "encoder": [encoder] * len(chunk),
                          "dim": np.full(len(chunk), dim, np.int32),
                          "vector": pa.FixedSizeListArray.from_arrays(v.ravel(), dim),
                          "runtime": ["onnxruntime"] * len(chunk)})
            write_part(root, "embeddings", t.cast(embeddings), "bench", part=f"{encoder}-{start}")


def wall(cmd: list[str], repeats: int) -> tuple[float, str]:
    """Median wall seconds of running `cmd` as a new process, and its last stdout."""
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t0)
        out = done.stdout
    return float(np.median(times)), out


def command_vs_floor(root_dir: Path, repeats: int) -> None:
    from persona_lens.queries import load

    sql = load("embeddings_by_encoder")
    command = [str(Path(sys.executable).with_name("persona-lens")), "sql", "@embeddings_by_encoder",
               "--root", str(root_dir), "-f", "json"]
    glob = lambda table: str(root_dir / "tables" / table / "run_id=*" / "part-*.parquet")  # noqa: E731
    direct = (f"CREATE VIEW embeddings AS SELECT * FROM read_parquet('{glob('embeddings')}');"
              f"CREATE VIEW images AS SELECT * FROM read_parquet('{glob('images')}');")
    floor = [sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(); con.execute(sys.argv[1]); "
             "print(con.sql(sys.argv[2]).fetchall())", direct, sql]
    wall(command, 1), wall(floor, 1)                      # warm the file cache for both
    t_cmd, out_cmd = wall(command, repeats)
    t_floor, out_floor = wall(floor, repeats)
    print(f"persona-lens sql @embeddings_by_encoder: {t_cmd:.2f} s (median of {repeats} processes)")
    print(f"duckdb directly, same SQL and files:     {t_floor:.2f} s")
    print(f"ratio vs duckdb: {t_cmd / t_floor:.2f}")
    print(f"  command's answer: {' '.join(out_cmd.split())[:240]}")
    print(f"  floor's answer:   {out_floor.strip()[:240]}")


def nn_growth(base: Path, sizes: list[int], part_rows: int, repeats: int) -> None:
    from persona_lens.queries import load
    from persona_lens.storage import Catalog, open_root

    sql = load("nearest_neighbours")
    print("nearest_neighbours ($k = 10), 1280-d: images | seconds per query (median) | µs per image")
    for n in sizes:
        folder = base / f"nn-{n}"
        write_tables(folder, n * len(ENCODERS), 1280, part_rows)
        with Catalog(open_root(str(folder))) as cat:
            args = {"encoder": ENCODERS[0], "image": "img-7", "k": 10}
            cat.query(sql, args)                           # warm
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                top = cat.query(sql, args)
                times.append(time.perf_counter() - t0)
        t = float(np.median(times))
        print(f"  {n:>8,} | {t:.3f} | {1e6 * t / n:.1f}   (top row: {top.slice(0, 1).to_pylist()})")
        shutil.rmtree(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--summary-dim", type=int, default=8)
    ap.add_argument("--nn-sizes", default="1000,4000,16000,64000")
    ap.add_argument("--part-rows", type=int, default=60_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    base = Path(tempfile.mkdtemp(prefix="pl-sql-bench-"))
    try:
        t0 = time.perf_counter()
        write_tables(base / "summary", args.rows, args.summary_dim, args.part_rows)
        print(f"wrote {args.rows:,} embedding rows in {time.perf_counter() - t0:.1f} s")
        command_vs_floor(base / "summary", args.repeats)
        shutil.rmtree(base / "summary")
        nn_growth(base, [int(s) for s in args.nn_sizes.split(",") if s], args.part_rows, args.repeats)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
