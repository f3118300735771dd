"""Ingest and embed throughput in one process against a local Dask cluster of N workers, in one run.

Each configuration ingests the same folder of gallery-sized JPEGs into a fresh root and embeds it
(efficientnet-lite0, no texts), through the real flows (Prefect's temporary server, started once before
any timing). The Dask side includes starting and stopping its cluster, as a user's run does. Prints
images/s per stage and the ratio of N workers to one process.

    .venv/bin/python benchmarks/scale_workers.py [--images 192] [--workers 2] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import machine, make_jpegs  # noqa: E402 (this folder's helpers)


def run(folder: Path, root: str, workers: int, batch_size: int) -> tuple[float, float]:
    from persona_lens.flows.embed import embed_flow
    from persona_lens.flows.ingest import ingest_flow
    from persona_lens.tasks.embed import EmbedParams
    from persona_lens.tasks.ingest import IngestParams

    t0 = time.perf_counter()
    ingest_flow(IngestParams(source=str(folder), batch_size=batch_size, workers=workers), root=root)
    t1 = time.perf_counter()
    embed_flow(EmbedParams(text_encoder=None, workers=workers), root=root)
    return t1 - t0, time.perf_counter() - t1


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=192)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16, help="images per ingest batch (and shard)")
    args = ap.parse_args(argv)

    from persona_lens.flows.run_context import configure_environment
    from persona_lens.models.registry import load_image_encoder

    configure_environment()
    load_image_encoder("efficientnet-lite0")  # the ONNX export happens before any timing
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for i, data in enumerate(make_jpegs(args.images)):
            (folder / f"img{i:05d}.jpg").write_bytes(data)
        run(folder, str(Path(tmp) / "warm"), 1, args.batch_size)  # starts Prefect's temporary server
        one = run(folder, str(Path(tmp) / "one"), 1, args.batch_size)
        many = run(folder, str(Path(tmp) / "many"), args.workers, args.batch_size)
    print(f"machine: {machine()}")
    print(f"{args.images} images, ingest batches of {args.batch_size}")
    for stage, a, b in (("ingest", one[0], many[0]), ("embed", one[1], many[1])):
        print(f"{stage}: 1 process {args.images / a:.1f} images/s; {args.workers} Dask workers "
              f"{args.images / b:.1f} images/s; ratio {a / b:.2f}")


if __name__ == "__main__":
    main()
