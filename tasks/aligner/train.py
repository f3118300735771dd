"""Contrastive training of the aligner's projection heads on cached tower vectors (symmetric InfoNCE).

Each step draws a batch of (image vector, caption vector) pairs, projects both into the shared space
and asks every image to pick its caption among the batch's captions and every caption its image.
Captions repeat in this corpus ("warm orange tones" on hundreds of photos), so the targets are
*multi-positive*: every pair in the batch whose content key matches counts as a positive, with equal
weight. Treating a second "warm orange tones" image as a negative, as plain InfoNCE would, trains the
heads to separate images the captions cannot tell apart.

Reproducible from the seed: the initial weights, the batch order and every update come from torch
generators seeded by it, and torch runs single-threaded here (a different thread count would change
float summation order, hence the weights in their last bits).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from persona_lens.models.aligner import AlignerConfig, ProjectionHeads
from persona_lens.models.base import TextEncoder
from persona_lens.tasks.aligner.dataset import Corpus, CorpusSpec, encode_captions
from persona_lens.world.taxonomy import Taxonomy


@dataclass(frozen=True)
class TrainSpec:
    """Optimisation settings (AdamW with linear warm-up and cosine decay)."""

    seed: int = 0
    steps: int = 3000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 100
    log_every: int = 50

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (contrastive), got {self.batch_size}")
        if not self.lr > 0 or self.weight_decay < 0 or self.warmup < 0:
            raise ValueError(f"lr must be > 0 and weight_decay, warmup >= 0; got lr={self.lr}, "
                             f"weight_decay={self.weight_decay}, warmup={self.warmup}")


@dataclass
class TrainResult:
    heads: ProjectionHeads
    loss_curve: list[tuple[int, float]] = field(default_factory=list)   # (step, mean loss since last point)
    seconds: float = 0.0
    spec: dict = field(default_factory=dict)


def multi_positive_infonce(logits: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every pair with the same key is a positive (targets spread evenly).

    `logits` (b, b): image i against caption j; `keys` (b,): content key id of pair i.
    """
    positives = (keys[:, None] == keys[None, :]).float()
    targets = positives / positives.sum(1, keepdim=True)
    # `positives` is symmetric, so the same targets serve the caption→image direction.
    return 0.5 * (torch.nn.functional.cross_entropy(logits, targets)
                  + torch.nn.functional.cross_entropy(logits.T, targets))


def _lr_factor(step: int, spec: TrainSpec) -> float:
    if step < spec.warmup:
        return (step + 1) / spec.warmup
    progress = (step - spec.warmup) / max(1, spec.steps - spec.warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def train_heads(image_features: np.ndarray, text_features: np.ndarray, caption_rows: np.ndarray,
                keys: list[str], config: AlignerConfig, spec: TrainSpec) -> TrainResult:
    """Train projection heads on pairs (image_features[i], text_features[caption_rows[i]]) with key keys[i].

    Raises ValueError on inconsistent shapes or too few pairs for one batch.
    """
    n = len(image_features)
    if not (len(caption_rows) == len(keys) == n):
        raise ValueError(f"image_features, caption_rows and keys must have one row per pair, got "
                         f"{n}, {len(caption_rows)}, {len(keys)}")
    if n < spec.batch_size:
        raise ValueError(f"batch_size {spec.batch_size} exceeds the {n} training pairs")
    if image_features.shape[1] != config.image_dim or text_features.shape[1] != config.text_dim:
        raise ValueError(f"tower vectors are {image_features.shape[1]}-d and {text_features.shape[1]}-d, "
                         f"the config expects {config.image_dim} and {config.text_dim}")
    t0 = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(spec.seed)
        heads = ProjectionHeads(config)
        images = torch.from_numpy(np.ascontiguousarray(image_features, np.float32))
        texts = torch.from_numpy(np.ascontiguousarray(text_features, np.float32))
        rows = torch.from_numpy(np.asarray(caption_rows, np.int64))
        key_ids = torch.from_numpy(np.unique(np.asarray(keys), return_inverse=True)[1].astype(np.int64))
        with torch.no_grad():
            heads.image.set_statistics(images)
            heads.text.set_statistics(texts[rows])
        curve = _optimise(heads, images, texts, rows, key_ids, spec)
    finally:
        torch.set_num_threads(threads)
    return TrainResult(heads.eval(), curve, time.perf_counter() - t0, asdict(spec))


def _optimise(heads: ProjectionHeads, images: torch.Tensor, texts: torch.Tensor, rows: torch.Tensor,
              key_ids: torch.Tensor, spec: TrainSpec) -> list[tuple[int, float]]:
    # No weight decay on the temperature or on biases: decaying them only fights the loss.
    decay = [p for n, p in heads.named_parameters() if p.ndim > 1]
    rest = [p for n, p in heads.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": spec.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=spec.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, spec))
    gen = torch.Generator().manual_seed(spec.seed)
    order, cursor, curve, running = torch.randperm(len(images), generator=gen), 0, [], []
    heads.train()
    for step in range(spec.steps):
        if cursor + spec.batch_size > len(order):   # a new epoch: a new order, no ragged last batch
            order, cursor = torch.randperm(len(images), generator=gen), 0
        idx = order[cursor:cursor + spec.batch_size]
        cursor += spec.batch_size
        loss = multi_positive_infonce(heads(images[idx], texts[rows[idx]]), key_ids[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if (step + 1) % spec.log_every == 0 or step + 1 == spec.steps:
            curve.append((step + 1, float(np.mean(running))))
            running = []
    return curve


def train_on_corpus(corpus: Corpus, text_encoder: TextEncoder, config: AlignerConfig,
                    spec: TrainSpec) -> TrainResult:
    """Train heads on the corpus's training samples (held-out samples are never seen)."""
    samples, features = corpus.select(purpose="train")
    text_features, row_of = encode_captions([s.caption for s in samples], text_encoder)
    rows = np.asarray([row_of[s.caption] for s in samples])
    return train_heads(features, text_features, rows, [s.key for s in samples], config, spec)


def training_metadata(corpus: Corpus, result: TrainResult, corpus_spec: CorpusSpec,
                      taxonomy: Taxonomy) -> dict:
    """What the weights file records about its training (JSON-serialisable)."""
    return {"seed": result.spec["seed"], "steps": result.spec["steps"], "train": result.spec,
            "corpus": {k: v for k, v in vars(corpus_spec).items()}, "data": corpus.summary(),
            "taxonomy_digest": taxonomy.digest,
            "loss_curve": [[s, round(v, 5)] for s, v in result.loss_curve],
            "train_seconds": round(result.seconds, 1),
            "trained_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
