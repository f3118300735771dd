"""Seconds per training step of each diffusers personalization method, on the tiny test pipeline.

Run from the repository root: `PYTHONPATH=. .venv/bin/python benchmarks/diffusion_steps.py`.
A step's cost is the difference between a 12-step and a 2-step run (setup cancels out).
"""

import tempfile
import time

import numpy as np
import torch
from PIL import Image

from persona_lens.models.diffusion import load_diffusion_generator
from persona_lens.tasks.generate.diffusion import DiffusionTrainConfig, personalize_diffusion
from tests.tasks.generate.tiny_pipeline import build_tiny_pipeline


def main() -> None:
    torch.set_num_threads(1)
    base = load_diffusion_generator(build_tiny_pipeline(tempfile.mkdtemp() + "/sd"), steps=2, guidance_scale=1.0)
    refs = [Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)) for i in range(3)]
    for method in ("lora", "dreambooth", "textual_inversion"):
        token = "<e>" if method == "textual_inversion" else "sks"
        s = [personalize_diffusion(base, refs, DiffusionTrainConfig(method, steps=n, token=token,
                                                                    num_class_images=2)).seconds for n in (2, 12)]
        print(f"{method}: {(s[1] - s[0]) / 10:.3f} s/step")
    t = time.perf_counter()
    base.generate(["a photo of a dog"] * 4, [0, 1, 2, 3])
    print(f"sampling: {(time.perf_counter() - t) / 8:.3f} s per image per denoising step")
    print("load average:", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
