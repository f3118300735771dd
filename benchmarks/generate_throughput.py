"""Generate stage throughput on the DCGAN face generator, against the bare runtime doing the same work.

Run from the repository root: `.venv/bin/python benchmarks/generate_throughput.py [--steps 40]`.

- generation: the stage's `generate` + PNG-ready uint8 images, vs the bare `net(z)` forward (no_grad);
- LoRA training: the stage's `personalize` (peft LoRA on every transposed conv, the locality
  regulariser, loss logging) vs a bare loop building the same peft model and taking the same Adam
  steps on the same loss, in the same process. The stage should cost no more than ~10 %.
The diffusers backend's seconds per step are measured by benchmarks/diffusion_steps.py.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from persona_lens.models.gan import generate, latents, load_dcgan, to_uint8
from persona_lens.tasks.generate.personalize import TrainConfig, build_model, personalize, trainable


def bare_lora_loop(base, refs: torch.Tensor, pivots: torch.Tensor, config: TrainConfig) -> float:
    """The floor: the same peft model, optimiser, batches and loss, nothing else."""
    model = build_model(base, config)
    opt = torch.optim.Adam(trainable(model).values(), lr=config.learning_rate, betas=(0.5, 0.999))
    pool = torch.randn(config.locality_pool, base.nz, generator=torch.Generator().manual_seed(config.seed + 1))
    with torch.no_grad():
        pool_faces = base(pool)
    t = time.perf_counter()
    for step in range(1, config.steps + 1):
        g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        idx = torch.randint(0, config.locality_pool, (config.locality_batch,), generator=g)
        loss = ((model(pivots) - refs) ** 2).mean() + config.locality_weight * (
            (model(pool[idx]) - pool_faces[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="LoRA training steps per run")
    ap.add_argument("--images", type=int, default=512, help="images per generation run")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the stage's default is 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base = load_dcgan()
    z = latents(0, args.images)

    with torch.no_grad():
        base(z[:64])                                                     # warm-up
        t = time.perf_counter()
        for i in range(0, len(z), 64):
            base(z[i:i + 64])
        bare = time.perf_counter() - t
    t = time.perf_counter()
    to_uint8(generate(base, z))
    staged = time.perf_counter() - t
    print(f"machine: {os.cpu_count()} logical CPUs, torch {torch.__version__}, {args.threads} thread(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"DCGAN generation  stage {args.images / staged:8.1f} images/s   bare forward {args.images / bare:8.1f} "
          f"images/s   ratio {staged / bare:.2f}")

    refs = generate(base, latents(7, 6))                                # six faces the base can draw
    pivots = latents(7, 6)
    config = TrainConfig("lora", steps=args.steps, seed=0, threads=args.threads)
    bare_lora_loop(base, refs, pivots, TrainConfig("lora", steps=3, seed=0))   # warm-up (peft, allocator)
    floor = bare_lora_loop(base, refs, pivots, config)
    stage = personalize(refs, config, base=base, pivots=pivots).seconds
    print(f"LoRA training     stage {args.steps / stage:8.2f} steps/s    bare peft loop {args.steps / floor:8.2f} "
          f"steps/s    ratio {stage / floor:.2f} (the stage's time includes building and merging the adapter)")


if __name__ == "__main__":
    main()
