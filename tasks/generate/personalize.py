"""Personalizing the DCGAN on a subject's references: LoRA through peft, or full few-shot fine-tuning.

Both methods are pivotal tuning (Roich et al. 2022): the references are inverted to pivot codes
(tasks/generate/inversion.py), then the generator is tuned so that each pivot draws its reference:
  loss = ‖G'(z_k) − x_k‖² + λ · ‖G'(z_r) − G(z_r)‖²      (z_r: random codes of a fixed seeded pool)
The second term is the regulariser, PTI's locality regularisation: away from the subject, the tuned
generator must still draw the faces the base drew. It constrains *outputs*, not weights, which is
what "keep the rest of the face space" asks; a weight anchor such as L2-SP would limit how far the
weights move without saying which faces may change. Full fine-tuning needs it most (3.6 M free
weights and 3–10 images); LoRA (rank-r updates of every transposed conv, `models/lora_convtranspose.py`)
is low-capacity by construction and gets the same term so the two methods differ only in capacity.

The generator stays in eval mode: BatchNorm keeps the base's running statistics, so a face depends on
its code alone. Training is deterministic for a seed (single-threaded by default, which was also
the fastest setting on 2 shared cores): LoRA's initialisation and every step's random draw derive
from (seed, step), and a checkpoint holds the rest, so a killed run resumed from its last
checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO

import torch
from torch import nn

from persona_lens.models.gan import DCGANGenerator, load_dcgan, state_digest
from persona_lens.tasks.generate.checkpoints import latest_checkpoint, save_checkpoint
from persona_lens.tasks.generate.inversion import invert
from persona_lens.tasks.generate.progress import training_bar

METHODS = ("lora", "full")
#: Every transposed convolution of the generator (main.0, 3, 6, 9, 12).
LORA_TARGETS = ("main.0", "main.3", "main.6", "main.9", "main.12")
DEFAULT_LR = {"lora": 1e-2, "full": 5e-4}
log = logging.getLogger("persona_lens.generate")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one personalization; everything but `checkpoint_every`/`threads` is in its key."""

    method: str
    steps: int = 60
    lr: float | None = None                # None: DEFAULT_LR[method]
    rank: int = 8
    alpha: float = 8.0
    locality_weight: float = 1.0
    locality_batch: int = 4
    locality_pool: int = 64
    inversion_steps: int = 60
    inversion_candidates: int = 128
    seed: int = 0
    checkpoint_every: int = 20
    threads: int = 1

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("steps", "rank", "locality_batch", "locality_pool", "checkpoint_every", "threads",
                     "inversion_candidates"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.inversion_steps < 0 or self.locality_weight < 0 or (self.lr is not None and self.lr <= 0):
            raise ValueError(f"inversion_steps and locality_weight must be >= 0 and lr > 0, got {self}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def hyperparameters(self) -> dict:
        """What shapes the weights (the `hyperparameters` JSON of the tables and the checkpoint key)."""
        d = asdict(self)
        d["lr"] = self.learning_rate
        for k in ("checkpoint_every", "threads") + (() if self.method == "lora" else ("rank", "alpha")):
            d.pop(k)
        return d


@dataclass
class Personalized:
    """A trained personalization: the tuned generator (eval mode) and what the tables record."""

    method: str
    model: nn.Module
    pivots: torch.Tensor
    adapter: dict[str, torch.Tensor]        # what `save_adapter` writes
    steps: int
    final_loss: float
    seconds: float
    losses: list[float]
    snapshots: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    resumed_from: int | None = None


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def job_key(config: TrainConfig, references: torch.Tensor, base_digest: str) -> str:
    """Hash of the settings, the reference pixels and the base: a checkpoint belongs to one key."""
    h = hashlib.sha256(json.dumps(config.hyperparameters(), sort_keys=True).encode())
    h.update(references.detach().float().contiguous().numpy().tobytes())
    h.update(base_digest.encode())
    return h.hexdigest()[:16]


def build_model(base: DCGANGenerator, config: TrainConfig) -> nn.Module:
    """A trainable copy of `base`: peft LoRA on every transposed conv, or every parameter free."""
    net = copy.deepcopy(base).eval()
    if config.method == "full":
        net.requires_grad_(True)
        return net
    from peft import get_peft_model

    from persona_lens.models.lora_convtranspose import lora_config

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)   # LoRA's A matrices are drawn from the global generator
        model = get_peft_model(net, lora_config(list(LORA_TARGETS), config.rank, config.alpha))
    return model.eval()


def trainable(model: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in model.named_parameters() if p.requires_grad}


def adapter_tensors(model: nn.Module, method: str) -> dict[str, torch.Tensor]:
    """LoRA: peft's adapter state dict; full: the whole generator's state (buffers included)."""
    if method == "lora":
        from peft import get_peft_model_state_dict

        return {k: v.detach().clone() for k, v in get_peft_model_state_dict(model).items()}
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def merged_generator(base: DCGANGenerator, method: str, adapter: dict[str, torch.Tensor],
                     rank: int = 8, alpha: float = 8.0) -> DCGANGenerator:
    """A plain DCGANGenerator with the adapter applied (LoRA merged into the weights)."""
    if method == "full":
        net = copy.deepcopy(base)
        net.load_state_dict(adapter, strict=True)
        return net.requires_grad_(False).eval()
    from peft import set_peft_model_state_dict

    model = build_model(base, TrainConfig("lora", rank=rank, alpha=alpha))
    result = set_peft_model_state_dict(model, adapter)
    if result.unexpected_keys:
        raise ValueError(f"LoRA adapter has tensors this generator lacks: {result.unexpected_keys[:4]}")
    return model.merge_and_unload().requires_grad_(False).eval()


def _checkpoint_tensors(params: dict[str, nn.Parameter], opt: torch.optim.Adam, pivots: torch.Tensor) -> dict:
    out = {"pivots": pivots}
    for name, p in params.items():
        out[f"param.{name}"] = p.detach()
        state = opt.state.get(p)
        if state:
            out[f"adam.{name}.exp_avg"] = state["exp_avg"]
            out[f"adam.{name}.exp_avg_sq"] = state["exp_avg_sq"]
            out["adam.step"] = torch.as_tensor(state["step"], dtype=torch.float32).reshape(1)
    return out


def _restore(params: dict[str, nn.Parameter], opt: torch.optim.Adam | None, tensors: dict) -> None:
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(tensors[f"param.{name}"])
            if opt is not None and f"adam.{name}.exp_avg" in tensors:
                opt.state[p] = {"step": tensors["adam.step"][0].clone(),
                                "exp_avg": tensors[f"adam.{name}.exp_avg"].clone(),
                                "exp_avg_sq": tensors[f"adam.{name}.exp_avg_sq"].clone()}


def _snapshots_before(base: DCGANGenerator, config: TrainConfig, folder: str, start: int,
                      snapshot_steps: tuple[int, ...]) -> dict[int, dict[str, torch.Tensor]]:
    """On resume: the snapshots a killed run had passed, rebuilt from their step checkpoints."""
    from persona_lens.tasks.generate.checkpoints import CheckpointError, list_checkpoints, read_checkpoint

    found = dict(list_checkpoints(folder))
    out = {}
    for s in (s for s in snapshot_steps if s <= start):
        if s not in found:
            raise CheckpointError(f"resuming at step {start} needs the checkpoint of snapshot step {s} in "
                                  f"{folder!r}: make snapshot steps multiples of checkpoint_every")
        model = build_model(base, config)
        _restore(trainable(model), None, read_checkpoint(found[s]).tensors)
        out[s] = adapter_tensors(model, config.method)
    return out


def personalize(references: torch.Tensor, config: TrainConfig, *, base: DCGANGenerator | None = None,
                checkpoint_dir: str | None = None, snapshot_steps: tuple[int, ...] = (),
                pivots: torch.Tensor | None = None, logger: logging.Logger | None = None,
                progress: IO[str] | None = None) -> Personalized:
    """Tune the generator on `references` (K, 3, 64, 64) in [-1, 1].

    With `checkpoint_dir` (a folder path or fsspec URL), a checkpoint is written every
    `config.checkpoint_every` steps and at the end, and a run finding checkpoints of the same job there
    resumes from the last one (CheckpointError if they belong to another base model or job).
    `snapshot_steps`: steps at which a copy of the adapter is kept (known-truth snapshots).
    `pivots`: the references' inverted codes when already known (one inversion serves every method).
    `progress`: the stream of the terminal progress bar (stderr; drawn only on a terminal).
    """
    logger = logger or log
    base = base if base is not None else load_dcgan()
    digest = state_digest(base.state_dict())
    key = job_key(config, references, digest)
    bad = [s for s in snapshot_steps if not 1 <= s <= config.steps]
    if bad:
        raise ValueError(f"snapshot_steps must lie in [1, steps={config.steps}], got {bad}")
    t0 = time.perf_counter()
    with torch_threads(config.threads):
        ckpt = latest_checkpoint(checkpoint_dir, digest, key) if checkpoint_dir else None
        if ckpt is not None:
            pivots = ckpt.tensors["pivots"]
        elif pivots is None:
            pivots = invert(base, references, steps=config.inversion_steps,
                            candidates=config.inversion_candidates, seed=config.seed).latents
        model = build_model(base, config)
        params = trainable(model)
        opt = torch.optim.Adam(params.values(), lr=config.learning_rate, betas=(0.5, 0.999))
        start, losses, snapshots = 0, [], {}
        if ckpt is not None:
            _restore(params, opt, ckpt.tensors)
            start, losses = ckpt.step, list(ckpt.meta.get("losses", []))
            snapshots = _snapshots_before(base, config, checkpoint_dir, start, snapshot_steps)
            logger.info("resuming %s personalization from step %d (%s)", config.method, start, ckpt.uri)
        pool = torch.randn(config.locality_pool, base.nz, generator=torch.Generator().manual_seed(config.seed + 1))
        with torch.no_grad():
            pool_faces = base(pool)
        meta = {"base_digest": digest, "job_key": key, "method": config.method,
                "hyperparameters": config.hyperparameters()}
        bar = training_bar(config.method, config.steps, start, progress)
        for step in range(start + 1, config.steps + 1):
            g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            idx = torch.randint(0, config.locality_pool, (config.locality_batch,), generator=g)
            rec = ((model(pivots) - references) ** 2).mean()
            loc = ((model(pool[idx]) - pool_faces[idx]) ** 2).mean()
            loss = rec + config.locality_weight * loc
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
            bar.update(1)
            if step in snapshot_steps:
                snapshots[step] = adapter_tensors(model, config.method)
            if checkpoint_dir and (step % config.checkpoint_every == 0 or step == config.steps
                                   or step in snapshot_steps):
                save_checkpoint(checkpoint_dir, step, _checkpoint_tensors(params, opt, pivots),
                                {**meta, "losses": losses})
            if step % config.checkpoint_every == 0 or step == config.steps:
                logger.info("%s step %d/%d: loss %.4f (reconstruction %.4f, locality %.4f), %.1f s",
                            config.method, step, config.steps, loss.item(), rec.item(), loc.item(),
                            time.perf_counter() - t0)
        bar.close()
    adapter = adapter_tensors(model, config.method)
    final = merged_generator(base, config.method, adapter, config.rank, config.alpha)
    return Personalized(config.method, final, pivots, adapter, config.steps, losses[-1] if losses else float("nan"),
                        time.perf_counter() - t0, losses, snapshots, ckpt.step if ckpt else None)
