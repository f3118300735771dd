"""Prompt fidelity of text-to-image twins: a CLIP-score-like cosine, personalized vs base.

fidelity(image, prompt) = cos(encode_image(image), encode_text(prompt)) in the shared space of a
vision-language encoder (the project's LiT aligner `persona-lens-lit` by default, or a CLIP folder).
The prompt is scored without the subject's placeholder token ("a photo of sks person on the beach"
→ "a photo of person on the beach"): the encoder has never seen the token, and the question is
whether the picture still shows what the prompt asks for (DreamBooth's CLIP-T, Ruiz et al. 2023).
Twins share prompt and seed, so the per-pair difference isolates what personalization changed.
"""

from __future__ import annotations

import re

import numpy as np
from PIL import Image

from persona_lens.tasks.generate.evaluate import STAGE, bootstrap_ci


def scoring_text(prompt: str, token: str) -> str:
    """The prompt without the placeholder token (spaces collapsed)."""
    return re.sub(r"\s+", " ", prompt.replace(token, " ")).strip()


def fidelity(encoder, images: list[Image.Image], texts: list[str]) -> np.ndarray:
    """(n,) cosine of each image with its own text (the encoder's rows are L2-normalised)."""
    if len(images) != len(texts) or not images:
        raise ValueError(f"need one text per image and at least one image, got {len(images)} and {len(texts)}")
    return np.sum(encoder.encode_images(images) * encoder.encode_texts(texts), axis=1).astype(np.float64)


def fidelity_rows(encoder, model_id: str, method: str, texts: list[str], base_images: list[Image.Image],
                  personalized_images: list[Image.Image], seed: int = 0) -> list[dict]:
    """`eval_generate` rows of one model (split = the model id): base, personalized and their gain."""
    base = fidelity(encoder, base_images, texts)
    pers = fidelity(encoder, personalized_images, texts)
    gain = pers - base
    lo, hi = bootstrap_ci(gain, seed)
    n, name = len(gain), getattr(encoder, "name", "encoder")
    row = dict(stage=STAGE, split=model_id)
    return [
        {**row, "method": method, "metric": "prompt_fidelity", "value": float(pers.mean()),
         "detail": f"n={n}, encoder={name}"},
        {**row, "method": "base", "metric": "prompt_fidelity", "value": float(base.mean()),
         "detail": f"n={n}, encoder={name}"},
        {**row, "method": method, "metric": "prompt_fidelity_gain", "value": float(gain.mean()),
         "detail": f"n={n}, ci95=[{lo:.3f}, {hi:.3f}], encoder={name}"},
    ]
