"""Throughput of the embed stage against a bare eager PyTorch loop over the same images, in one run.

The stage is timed end to end on a temporary dataset root: plan → read shard → decode → batch →
encode → build tables → write Parquet parts. The eager loop gets the already decoded images and times
only preprocessing + the eager forward + normalisation, so the comparison favours the loop. Repeats
alternate loop and stage so that both meet the same machine noise; the medians are compared.

    .venv/bin/python benchmarks/embed_throughput.py [--images 96] [--batch-size 32] [--repeats 3]

Model loading (and the one-off ONNX export) happens before any timing. Prints both rates, their
ratio and the minimum cosine between the stored vectors and the eager ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps


def photos() -> list[Image.Image]:
    """Real photos that ship inside installed packages (scikit-image, scikit-learn, matplotlib)."""
    import matplotlib
    import sklearn
    from skimage import data

    names = ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg")
    files = [Path(data.data_dir) / f for f in names]
    files += [Path(sklearn.__file__).parent / "datasets" / "images" / f for f in ("china.jpg", "flower.jpg")]
    files.append(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return [Image.open(f).convert("RGB") for f in files if f.is_file()]


def make_jpegs(n: int, seed: int = 0) -> list[bytes]:
    """`n` distinct JPEGs (~640x480, like a typical gallery photo): random crops and flips of real photos."""
    rng = np.random.default_rng(seed)
    base = photos()
    out = []
    for i in range(n):
        img = base[i % len(base)]
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        crop = img.crop((x, y, x + cw, y + ch))
        crop = ImageOps.mirror(crop) if rng.random() < 0.5 else crop
        scale = 640 / max(crop.size)
        crop = crop.resize((max(8, round(crop.width * scale)), max(8, round(crop.height * scale))),
                           Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        crop.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def write_dataset(root, files: list[bytes]) -> None:
    """An images table and its shards, written with the storage API (what ingest would produce)."""
    from persona_lens.schemas import IMAGES
    from persona_lens.storage import ShardWriter, write_part

    now, rows = dt.datetime.now(dt.timezone.utc), []
    with ShardWriter(root, "gallery", "bench", maxcount=64) as writer:
        for data in files:
            image_id = hashlib.sha256(data).hexdigest()
            uri = writer.write(image_id, {"jpg": data})["jpg"]
            w, h = Image.open(io.BytesIO(data)).size
            rows.append({"image_id": image_id, "uri": uri, "role": "gallery", "source": "benchmark",
                         "labels": [], "width": w, "height": h, "format": "JPEG", "num_bytes": len(data),
                         "ingested_at": now})
    write_part(root, "images", IMAGES.from_rows(rows), "bench", part="images")


def run_stage(root, encoder_name: str, runtime: str, threads: int | None, batch_size: int) -> float:
    """The stage's own functions, as the flow's tasks call them; returns seconds for all images."""
    from persona_lens.models.registry import load_image_encoder
    from persona_lens.tasks.embed.encode import embed_images, part_key, plan_images, write_shard

    for table in ("embeddings", "quarantine"):  # start each repeat from an unembedded root
        shutil.rmtree(root.path("tables", table), ignore_errors=True)
    t0 = time.perf_counter()
    encoder = load_image_encoder(encoder_name, runtime, threads)  # cached: loaded before timing
    plan = plan_images(root, encoder_name)
    for shard, refs in plan.shards.items():
        result = embed_images(root, refs, encoder, batch_size, encoder_name=encoder_name)
        write_shard(root, result, "bench-run", part_key(encoder_name, shard, refs))
    return time.perf_counter() - t0


def run_eager(tower: torch.nn.Module, images: list[Image.Image], batch_size: int) -> tuple[float, np.ndarray]:
    """A bare eager PyTorch loop over decoded images: preprocess, forward, normalise."""
    from persona_lens.models.base import l2_normalize
    from persona_lens.models.efficientnet import preprocess

    out = []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = torch.from_numpy(preprocess(images[i:i + batch_size]))
            out.append(l2_normalize(tower(x).numpy()))
    return time.perf_counter() - t0, np.concatenate(out)


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=5).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                      if line.startswith("Model name")), "?")
    except (OSError, subprocess.SubprocessError):
        model = platform.processor() or "?"
    return (f"{model}; {os.cpu_count()} logical CPUs; torch {torch.__version__} "
            f"(intra-op threads {torch.get_num_threads()}); load average {os.getloadavg()[0]:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runtime", default="auto", choices=["auto", "torch", "onnxruntime"])
    parser.add_argument("--threads", type=int, default=None,
                        help="ONNX Runtime intra-op threads (default: all cores)")
    args = parser.parse_args(argv)
    if args.images < 1 or args.batch_size < 1 or args.repeats < 1:
        parser.error("--images, --batch-size and --repeats must be positive")

    from persona_lens.models.efficientnet import PooledFeatures, load_network
    from persona_lens.models.registry import load_image_encoder
    from persona_lens.models.runtime import cosine_rows
    from persona_lens.storage import open_root, read_table
    from persona_lens.tasks.images import decode_rgb

    print(f"machine: {machine()}")
    files = make_jpegs(args.images)
    images = [decode_rgb(f) for f in files]
    encoder = load_image_encoder("efficientnet-lite0", args.runtime, args.threads)  # load/export, untimed
    tower = PooledFeatures(load_network()).eval()
    print(f"images: {len(files)} JPEGs, mean {np.mean([len(f) for f in files]) / 1024:.0f} KiB; "
          f"batch {args.batch_size}; stage runtime {encoder.runtime}")
    with tempfile.TemporaryDirectory(prefix="persona-lens-bench-") as tmp:
        root = open_root(tmp).ensure()
        write_dataset(root, files)
        run_eager(tower, images[:args.batch_size], args.batch_size)  # warm-up both paths
        run_stage(root, "efficientnet-lite0", args.runtime, args.threads, args.batch_size)
        eager_s, stage_s = [], []
        for r in range(args.repeats):
            t, eager_vecs = run_eager(tower, images, args.batch_size)
            eager_s.append(t)
            stage_s.append(run_stage(root, "efficientnet-lite0", args.runtime, args.threads, args.batch_size))
            print(f"repeat {r + 1}: eager {len(images) / eager_s[-1]:7.1f} img/s   "
                  f"stage {len(images) / stage_s[-1]:7.1f} img/s")
        stored = read_table(root, "embeddings")
        by_id = dict(zip(stored["image_id"].to_pylist(), stored["vector"].to_pylist()))
        ids = [hashlib.sha256(f).hexdigest() for f in files]
        cos = cosine_rows(np.array([by_id[i] for i in ids]), eager_vecs)
    eager_rate = len(images) / statistics.median(eager_s)
    stage_rate = len(images) / statistics.median(stage_s)
    print(f"eager PyTorch loop (preprocess + forward, decoded images): {eager_rate:.1f} images/s (median)")
    print(f"embed stage (read + decode + batch + encode + write):      {stage_rate:.1f} images/s (median)")
    print(f"ratio stage / eager: {stage_rate / eager_rate:.2f}x   "
          f"min cosine stored vs eager: {cos.min():.6f}")


if __name__ == "__main__":
    main()
