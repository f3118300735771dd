"""The main job's three image encoders in one network pass against three passes, in one run.

The main job embeds every image with efficientnet-lite0, the LiT aligner and the multi-level vector.
All three read the same EfficientNet-Lite0: lite0 is the multi-level vector's last 1280 values and the
aligner's image tower is the multi-level encoder. With derivation on (the default), the embed stage
encodes the multi-level vector from pixels and derives the other two from its stored rows; with it off,
each encoder decodes and encodes every image itself (three passes: the real floor of doing it the old
way, same stage code, same machine, alternated per repeat). Prints both times, their ratio and the
smallest cosine between derived and pixel-encoded vectors.

    .venv/bin/python benchmarks/embed_one_pass.py [--images 192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_throughput import machine, make_jpegs, write_dataset  # noqa: E402 (this folder's helpers)

ENCODERS = ("efficientnet-lite0-multilevel", "efficientnet-lite0", "persona-lens-lit")


def embed_three(root, derive: bool) -> float:
    """The stage's shard task for the three encoders in the main job's order; seconds for all."""
    from persona_lens.tasks.embed import EmbedParams, embed_shard_task
    from persona_lens.tasks.embed.encode import plan_images

    for table in ("embeddings", "quarantine"):
        shutil.rmtree(root.path("tables", table), ignore_errors=True)
    t0 = time.perf_counter()
    for encoder in ENCODERS:
        params = EmbedParams(encoder=encoder, text_encoder=None, derive=derive)
        for shard, refs in plan_images(root, params.encoder).shards.items():
            embed_shard_task.fn(root, shard, refs, params, f"bench-{derive}")
    return time.perf_counter() - t0


def stored(root) -> dict[tuple[str, str], np.ndarray]:
    from persona_lens.storage import read_table

    t = read_table(root, "embeddings")
    return {(i, e): np.asarray(v, np.float32) for i, e, v in
            zip(t["image_id"].to_pylist(), t["encoder"].to_pylist(), t["vector"].to_pylist())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=192)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    from persona_lens.models.registry import load_image_encoder
    from persona_lens.storage import open_root

    for encoder in ENCODERS:
        load_image_encoder(encoder)  # loads and exports before any timing
    with tempfile.TemporaryDirectory() as tmp:
        root = open_root(str(Path(tmp) / "data")).ensure()
        write_dataset(root, make_jpegs(args.images))
        one, three = [], []
        for _ in range(args.repeats):
            three.append(embed_three(root, derive=False))
            pixels = stored(root)
            one.append(embed_three(root, derive=True))
        derived = stored(root)
    cosines = [float(derived[k] @ pixels[k]) for k in pixels if k[1] != ENCODERS[0]]
    t1, t3 = statistics.median(one), statistics.median(three)
    print(f"machine: {machine()}")
    print(f"{args.images} images, encoders {', '.join(ENCODERS)}; median of {args.repeats} repeats")
    print(f"three passes (derive off): {t3:.2f} s ({3 * args.images / t3:.1f} vectors/s)")
    print(f"one pass (derive on):      {t1:.2f} s ({3 * args.images / t1:.1f} vectors/s)")
    print(f"ratio vs three passes: {t3 / t1:.2f}")
    print(f"min cosine derived vs pixel-encoded: {min(cosines):.7f}")


if __name__ == "__main__":
    main()
