"""Personalizing a diffusers text-to-image pipeline: LoRA, DreamBooth, textual inversion.

The three recipes of the diffusers training examples (train_dreambooth_lora.py, train_dreambooth.py,
textual_inversion.py), each reduced to its loss and its trainable part:
- every step: VAE latents of a batch of references (sampled from the frozen VAE's posterior), noise
  and timesteps drawn, the DDPM scheduler's forward process, and the MSE between the UNet's
  prediction and its target (the noise, or the velocity for v-prediction models);
- `lora`: rank-r adapters on the UNet's attention projections (`unet.add_adapter(LoraConfig(...))`),
  everything else frozen; the adapter is diffusers' LoRA state dict;
- `dreambooth`: the whole UNet trained on "a photo of sks person", with prior preservation: class
  images drawn by the base pipeline for "a photo of person" add `prior_loss_weight` × their loss,
  so the class itself is not forgotten;
- `textual_inversion`: a new placeholder token in the tokenizer, one embedding vector trained
  (initialised from the class word's), every weight frozen; the adapter is `{token: vector}`.

Determinism: every random draw of a step comes from a CPU generator seeded with (seed, step), LoRA's
initialisation from `seed`, class images from seeded generators; a checkpoint holds the trainable
tensors and AdamW's moments. So a fixed seed gives the same weights, and a run resumed from its last
checkpoint ends where an uninterrupted run ends. Trainable tensors stay float32 while frozen weights
may be float16/bfloat16 on a GPU (the recipes' mixed precision, here via `torch.autocast`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import IO

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from persona_lens.models.diffusion import LORA_TARGETS, DiffusionGenerator, load_pipeline
from persona_lens.tasks.generate.checkpoints import (CheckpointError, latest_checkpoint, list_checkpoints,
                                                     read_checkpoint, save_checkpoint)
from persona_lens.tasks.generate.progress import training_bar

METHODS = ("lora", "dreambooth", "textual_inversion")
DEFAULT_LR = {"lora": 1e-4, "dreambooth": 5e-6, "textual_inversion": 5e-4}   # the recipes' defaults
log = logging.getLogger("persona_lens.generate")


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """Hyper-parameters of one personalization; all but `checkpoint_every` are in its checkpoint key."""

    method: str
    steps: int = 100
    lr: float | None = None                  # None: DEFAULT_LR[method]
    rank: int = 4                            # lora
    alpha: float = 4.0                       # lora
    batch_size: int = 1
    resolution: int | None = None            # None: the pipeline's native size
    token: str = "sks"
    class_word: str = "person"
    instance_prompt: str = "a photo of {token} {class_word}"
    class_prompt: str = "a photo of {class_word}"
    prior_loss_weight: float = 1.0           # dreambooth
    num_class_images: int = 8                # dreambooth
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-2
    seed: int = 0
    checkpoint_every: int = 20

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        for name in ("steps", "rank", "batch_size", "num_class_images", "checkpoint_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if (self.lr is not None and self.lr <= 0) or self.prior_loss_weight < 0 or self.max_grad_norm <= 0:
            raise ValueError(f"lr and max_grad_norm must be > 0 and prior_loss_weight >= 0, got {self}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.method]

    def prompt(self, template: str) -> str:
        return template.format(token=self.token, class_word=self.class_word)

    def hyperparameters(self) -> dict:
        """What shapes the weights (the `hyperparameters` JSON of the tables and the checkpoint key)."""
        d = asdict(self)
        d["lr"] = self.learning_rate
        d.pop("checkpoint_every")
        if self.method != "lora":
            d.pop("rank"), d.pop("alpha")
        if self.method != "dreambooth":
            d.pop("prior_loss_weight"), d.pop("num_class_images"), d.pop("class_prompt")
        return d


@dataclass
class DiffusionPersonalized:
    """A trained personalization: the adapter tensors `models.diffusion.save_adapter` writes."""

    method: str
    adapter: dict[str, torch.Tensor]
    lora_config: dict | None
    steps: int
    final_loss: float
    seconds: float
    losses: list[float] = field(default_factory=list)
    resumed_from: int | None = None


def reference_pixels(images: list[Image.Image], size: int) -> torch.Tensor:
    """(K, 3, size, size) in [-1, 1]: centre square crop, bicubic resize (the recipes' transform)."""
    out = []
    for im in images:
        im = im.convert("RGB")
        side = min(im.size)
        left, top = (im.width - side) // 2, (im.height - side) // 2
        im = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
        out.append(np.asarray(im, dtype=np.float32))
    if not out:
        raise ValueError("personalization needs at least one reference image")
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2) / 127.5 - 1.0


def job_key(config: DiffusionTrainConfig, pixels: torch.Tensor, digest: str) -> str:
    """Hash of the settings, the reference pixels and the base: a checkpoint belongs to one key."""
    h = hashlib.sha256(json.dumps(config.hyperparameters(), sort_keys=True).encode())
    h.update(pixels.contiguous().numpy().tobytes())
    h.update(digest.encode())
    return h.hexdigest()[:16]


class PlaceholderEmbedding(nn.Module):
    """The frozen token embedding with one trainable row: the recipe's "train the new row only"."""

    def __init__(self, base: nn.Embedding, token_id: int, init: torch.Tensor) -> None:
        super().__init__()
        self.base, self.token_id = base, token_id
        self.vector = nn.Parameter(init.detach().float().clone())

    @property
    def weight(self) -> torch.Tensor:   # callers that read the table (resize, tying) see the base rows
        return self.base.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.base(ids)
        return torch.where((ids == self.token_id)[..., None], self.vector.to(out.dtype), out)


def _latent_stats(vae, pixels: torch.Tensor, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of the frozen VAE's posterior per image: sampling them each step = `latent_dist.sample()`."""
    with torch.no_grad():
        dist = vae.encode(pixels.to(device, dtype)).latent_dist
    return dist.mean.float(), dist.std.float()


def _encode_prompt(pipe, text: str | list[str]) -> torch.Tensor:
    tok = pipe.tokenizer
    ids = tok(text, padding="max_length", max_length=tok.model_max_length, truncation=True,
              return_tensors="pt").input_ids.to(pipe.text_encoder.device)
    return pipe.text_encoder(ids)[0]


def _trainable(pipe, config: DiffusionTrainConfig) -> tuple[dict[str, nn.Parameter], dict | None]:
    """Freeze the pipeline, then make the method's part trainable (float32); returns it and the LoRA config."""
    pipe.unet.requires_grad_(False)
    pipe.vae.requires_grad_(False)
    pipe.text_encoder.requires_grad_(False)
    if config.method == "lora":
        from peft import LoraConfig

        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, init_lora_weights="gaussian",
                          target_modules=LORA_TARGETS)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)   # peft draws LoRA's A matrices from the global generator
            pipe.unet.add_adapter(lora)
        params = {n: p for n, p in pipe.unet.named_parameters() if p.requires_grad}
        for p in params.values():
            p.data = p.data.float()
        return params, pipe.unet.peft_config["default"].to_dict()
    if config.method == "dreambooth":
        pipe.unet.to(torch.float32).requires_grad_(True)
        return dict(pipe.unet.named_parameters()), None
    tok, enc = pipe.tokenizer, pipe.text_encoder
    if tok.add_tokens(config.token) != 1:
        raise ValueError(f"placeholder token {config.token!r} is already in the tokenizer's vocabulary: "
                         f"textual inversion needs a new token")
    init_ids = tok.encode(config.class_word, add_special_tokens=False)
    if len(init_ids) != 1:
        raise ValueError(f"class_word {config.class_word!r} is {len(init_ids)} tokens; textual inversion "
                         f"initialises the new token from a single-token word")
    enc.resize_token_embeddings(len(tok), mean_resizing=False)   # the new row is the wrapper's vector
    emb = enc.get_input_embeddings()
    wrapper = PlaceholderEmbedding(emb, tok.convert_tokens_to_ids(config.token), emb.weight[init_ids[0]])
    enc.set_input_embeddings(wrapper)
    return {"vector": wrapper.vector}, None


def _state(params: dict[str, nn.Parameter], opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for name, p in params.items():
        out[f"param.{name}"] = p.detach()
        state = opt.state.get(p)
        if state:
            out[f"adam.{name}.exp_avg"] = state["exp_avg"]
            out[f"adam.{name}.exp_avg_sq"] = state["exp_avg_sq"]
            out["adam.step"] = torch.as_tensor(state["step"], dtype=torch.float32).reshape(1)
    return out


def _restore(params: dict[str, nn.Parameter], opt: torch.optim.Optimizer, tensors: dict) -> None:
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(tensors[f"param.{name}"].to(p.device))
            if f"adam.{name}.exp_avg" in tensors:
                opt.state[p] = {"step": tensors["adam.step"][0].clone(),
                                "exp_avg": tensors[f"adam.{name}.exp_avg"].to(p.device),
                                "exp_avg_sq": tensors[f"adam.{name}.exp_avg_sq"].to(p.device)}


def _adapter(pipe, config: DiffusionTrainConfig, params: dict[str, nn.Parameter]) -> dict[str, torch.Tensor]:
    if config.method == "lora":
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        return {k: v.detach().float().cpu().clone()
                for k, v in convert_state_dict_to_diffusers(get_peft_model_state_dict(pipe.unet)).items()}
    if config.method == "dreambooth":
        return {k: v.detach().cpu().clone() for k, v in pipe.unet.state_dict().items()}
    return {config.token: params["vector"].detach().cpu().clone()}


def check_resumable(checkpoint_dir: str, base: DiffusionGenerator) -> None:
    """Refuse, naming both models, a checkpoint folder whose last checkpoint comes from another base model."""
    found = list_checkpoints(checkpoint_dir)
    if not found:
        return
    meta = read_checkpoint(found[-1][1]).meta
    if meta.get("base_digest") != base.digest:
        raise CheckpointError(
            f"checkpoint {found[-1][1]!r} was trained from base model {meta.get('base_model')!r} (sha256 "
            f"{str(meta.get('base_digest'))[:12]}…), not from {base.name!r} (sha256 {base.digest[:12]}…): "
            f"refusing to resume; use another output folder")


def personalize_diffusion(base: DiffusionGenerator, references: list[Image.Image], config: DiffusionTrainConfig,
                          *, checkpoint_dir: str | None = None,
                          logger: logging.Logger | None = None,
                          progress: IO[str] | None = None) -> DiffusionPersonalized:
    """Train `config.method` on `references` from the base pipeline (which is left unchanged).

    With `checkpoint_dir`, a checkpoint is written every `config.checkpoint_every` steps and at the
    end, and a run finding checkpoints of the same job there resumes from the last one
    (CheckpointError, before any training, if they belong to another base model or job).
    `progress`: the stream of the terminal progress bar (stderr; drawn only on a terminal).
    """
    from diffusers import DDPMScheduler

    logger = logger or log
    size = config.resolution or base.size
    pixels = reference_pixels(references, size)
    key = job_key(config, pixels, base.digest)
    if checkpoint_dir:
        check_resumable(checkpoint_dir, base)
    ckpt = latest_checkpoint(checkpoint_dir, base.digest, key) if checkpoint_dir else None
    t0 = time.perf_counter()
    device, dtype = base.device, base.dtype
    pipe = load_pipeline(base.name, device, dtype)    # a private copy: training never touches `base`
    scheduler = DDPMScheduler.from_pretrained(base.name, subfolder="scheduler", local_files_only=True)
    params, lora_config = _trainable(pipe, config)
    mean, std = _latent_stats(pipe.vae, pixels, device, dtype)
    sf = pipe.vae.config.scaling_factor
    cond = None
    if config.method != "textual_inversion":          # frozen text encoder: encode once
        with torch.no_grad():
            cond = _encode_prompt(pipe, config.prompt(config.instance_prompt))
    class_stats, class_cond = None, None
    if config.method == "dreambooth":
        # Prior preservation: the base model's own images of the class (seeded), as the recipe makes them.
        seeds = [config.seed * 10_007 + i for i in range(config.num_class_images)]
        class_images, _ = base.generate([config.prompt(config.class_prompt)] * len(seeds), seeds)
        class_stats = _latent_stats(pipe.vae, reference_pixels(class_images, size), device, dtype)
        with torch.no_grad():
            class_cond = _encode_prompt(pipe, config.prompt(config.class_prompt))
    opt = torch.optim.AdamW(params.values(), lr=config.learning_rate, betas=(0.9, 0.999),
                            weight_decay=config.weight_decay, eps=1e-8)
    start, losses = 0, []
    if ckpt is not None:
        _restore(params, opt, ckpt.tensors)
        start, losses = ckpt.step, list(ckpt.meta.get("losses", []))
        logger.info("resuming %s personalization from step %d (%s)", config.method, start, ckpt.uri)
    meta = {"base_digest": base.digest, "base_model": base.name, "job_key": key, "method": config.method,
            "hyperparameters": config.hyperparameters()}
    autocast = torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext()
    pipe.unet.train()
    T = scheduler.config.num_train_timesteps

    def draw(g: torch.Generator, stats: tuple[torch.Tensor, torch.Tensor]):
        m, s = stats
        idx = torch.randint(0, len(m), (config.batch_size,), generator=g)
        lat = (m[idx] + s[idx] * torch.randn(m[idx].shape, generator=g).to(device)) * sf
        noise = torch.randn(lat.shape, generator=g).to(device)
        t = torch.randint(0, T, (config.batch_size,), generator=g).to(device)
        target = noise if scheduler.config.prediction_type == "epsilon" else scheduler.get_velocity(lat, noise, t)
        return scheduler.add_noise(lat, noise, t), t, target

    bar = training_bar(config.method, config.steps, start, progress)
    for step in range(start + 1, config.steps + 1):
        g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        noisy, t, target = draw(g, (mean, std))
        with autocast:
            hidden = _encode_prompt(pipe, config.prompt(config.instance_prompt)) if cond is None else cond
            batch_cond = hidden.expand(config.batch_size, -1, -1)
            pred = pipe.unet(noisy.to(dtype), t, encoder_hidden_states=batch_cond).sample
            loss = F.mse_loss(pred.float(), target.float())
            if class_stats is not None:
                c_noisy, c_t, c_target = draw(g, class_stats)
                c_pred = pipe.unet(c_noisy.to(dtype), c_t,
                                   encoder_hidden_states=class_cond.expand(config.batch_size, -1, -1)).sample
                loss = loss + config.prior_loss_weight * F.mse_loss(c_pred.float(), c_target.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()), config.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
        bar.update(1)
        if checkpoint_dir and (step % config.checkpoint_every == 0 or step == config.steps):
            save_checkpoint(checkpoint_dir, step, _state(params, opt), {**meta, "losses": losses})
        if step % config.checkpoint_every == 0 or step == config.steps:
            logger.info("%s step %d/%d: loss %.4f, %.1f s", config.method, step, config.steps, loss.item(),
                        time.perf_counter() - t0)
    bar.close()
    adapter = _adapter(pipe, config, params)
    del pipe, opt
    return DiffusionPersonalized(config.method, adapter, lora_config, config.steps,
                                 losses[-1] if losses else float("nan"), time.perf_counter() - t0, losses,
                                 ckpt.step if ckpt else None)
