"""Training: the captioner (mapping network + its language model, once), then DEPER and the style-only persona.

Every step draws its batch from `rng(seed, step)`, so a run resumed from a checkpoint takes exactly the
batches the uninterrupted run would have. Checkpoints (`<out>.ckpt/step-<n>.safetensors` for weights,
`.opt.pt` for the optimizer, loaded with `weights_only=True`) are written every `checkpoint_every` steps
and the newest is resumed from.

Persona training episodes (DEPER §3): a target example of a train viewer, K ∈ [1, 5] other examples of
the same viewer as support; z_subj of each support example (subject head + SupCon on those), their
mean conditions the frozen captioner through the adapter (caption loss on the target) and, for DEPER,
the trajectory decoder on the target image (the auxiliary attention-prediction loss).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from persona_lens.models.captioner import (
    INVENTORY_PROMPT, MappingConfig, MappingNetwork, PatchEncoder, PromptBuilder, save_captioner, small_language_model,
    word_tokenizer,
)
from persona_lens.tasks.deper.data import DeperData, Example
from persona_lens.tasks.deper.model import (
    Deper, PersonaConfig, cosine_schedule, supcon_loss, trajectory_loss,
)


def patch_table(data: DeperData, image_ids: list[str] | None = None) -> dict[str, torch.Tensor]:
    """image_id → (49, 1280) frozen patch features, for every image an example uses."""
    ids = sorted(image_ids or {e.image_id for e in data.examples})
    feats = PatchEncoder()([Image.open(data.images[i]).convert("RGB") for i in ids])
    return dict(zip(ids, feats))


def _rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, step])


@dataclass
class Checkpointer:
    folder: Path
    every: int

    def latest(self) -> int:
        steps = [int(p.stem.split("-")[1]) for p in self.folder.glob("step-*.safetensors")]
        return max(steps, default=0)

    def save(self, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        # save_model/load_model, not save_file: the captioner's LM ties its input and output embeddings
        # (shared tensors), which save_file refuses.
        from safetensors.torch import save_model

        self.folder.mkdir(parents=True, exist_ok=True)
        save_model(model, str(self.folder / ".tmp.safetensors"))
        torch.save(opt.state_dict(), self.folder / ".tmp.opt.pt")
        (self.folder / ".tmp.opt.pt").replace(self.folder / f"step-{step}.opt.pt")
        (self.folder / ".tmp.safetensors").replace(self.folder / f"step-{step}.safetensors")   # last: marks done

    def load(self, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        from safetensors.torch import load_model

        load_model(model, str(self.folder / f"step-{step}.safetensors"))
        opt.load_state_dict(torch.load(self.folder / f"step-{step}.opt.pt", weights_only=True))


def _loop(model, params, step_loss, steps: int, lr: float, ckpt: Checkpointer | None, log_every: int = 50) -> dict:
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    start = ckpt.latest() if ckpt else 0
    if start:
        ckpt.load(start, model, opt)
    t0, losses = time.perf_counter(), []
    for step in range(start, steps):
        for g in opt.param_groups:
            g["lr"] = lr * cosine_schedule(step, steps)
        loss, parts = step_loss(step)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(parts)
        if ckpt and (step + 1) % ckpt.every == 0:
            ckpt.save(step + 1, model, opt)
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1}/{steps} " + " ".join(f"{k}={v:.3f}" for k, v in parts.items()), flush=True)
    secs = time.perf_counter() - t0
    tail = losses[-20:] or [{}]
    return {"steps": steps, "resumed_from": start, "seconds": round(secs, 1),
            "seconds_per_step": round(secs / max(1, steps - start), 4),
            "final_loss": {k: round(float(np.mean([p[k] for p in tail])), 4) for k in tail[0]}}


# --- the captioner ------------------------------------------------------------------------------------

class CaptionerModel(torch.nn.Module):
    def __init__(self, mapping: MappingNetwork, lm) -> None:
        super().__init__()
        self.mapping, self.lm = mapping, lm


def train_captioner(data: DeperData, patches: dict[str, torch.Tensor], out: Path, steps: int = 1500,
                    batch: int = 32, lr: float = 2e-3, seed: int = 0, lm_dim: int = 192, lm_layers: int = 2,
                    checkpoint_every: int = 500, inventories: dict[str, str] | None = None,
                    inventory_rate: float = 0.0) -> dict:
    """Train the mapping network and the small language model on the train viewers' captions (no
    persona), then save both under `out` (they stay frozen from then on).

    With `inventory_rate` > 0, that share of each batch is a grounding task instead: after
    INVENTORY_PROMPT, the caption naming every object of one of the train viewers' images
    (`inventories`, data.inventory_captions). A viewer names only the objects it dwelt on, so its
    captions alone teach the captioner little about what is in an image; the inventories do."""
    if not 0.0 <= inventory_rate < 1.0:
        raise ValueError(f"inventory_rate must be in [0, 1), got {inventory_rate}")
    train = data.split_examples("train")
    inventory_ids = sorted({e.image_id for e in train} & set(inventories or {})) if inventory_rate else []
    if inventory_rate and not inventory_ids:
        raise ValueError("inventory_rate > 0 needs inventory captions of the train viewers' images "
                         "(a world folder with world_objects)")
    n_inv = round(batch * inventory_rate)
    grounding = [INVENTORY_PROMPT, *(inventories[i] for i in inventory_ids)] if inventory_ids else []
    tok = word_tokenizer([e.caption for e in train] + grounding)
    torch.manual_seed(seed)
    lm = small_language_model(len(tok), dim=lm_dim, layers=lm_layers, seed=seed)
    mapping = MappingNetwork(MappingConfig(lm_dim=lm_dim, width=256, layers=2, prefix_len=49, mode="patches"))
    model = CaptionerModel(mapping, lm).train()
    builder = PromptBuilder(lm, tok)

    def step_loss(step: int):
        rng = _rng(seed, step)
        exs = [train[i] for i in rng.integers(0, len(train), batch - n_inv)]
        loss = builder.loss(mapping(torch.stack([patches[e.image_id] for e in exs])), [e.caption for e in exs])
        parts = {"caption": loss.item()}
        if n_inv:
            ids = [inventory_ids[i] for i in rng.integers(0, len(inventory_ids), n_inv)]
            inv = builder.loss(mapping(torch.stack([patches[i] for i in ids])), [inventories[i] for i in ids],
                               prompt=INVENTORY_PROMPT)
            parts["inventory"] = inv.item()
            loss = (loss * (batch - n_inv) + inv * n_inv) / batch
        return loss, parts

    info = _loop(model, list(model.parameters()), step_loss, steps, lr,
                 Checkpointer(out.parent / f"{out.name}.ckpt", checkpoint_every))
    model.eval()
    info |= {"seed": seed, "train_examples": len(train), "vocab": len(tok), "inventory_rate": inventory_rate,
             "inventory_images": len(inventory_ids)}
    save_captioner(out, mapping, lm, tok, card=json.dumps(info, indent=2))
    return info


# --- personas -----------------------------------------------------------------------------------------

def pad_fixations(exs: list[Example], max_fix: int) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(1, max(min(len(e.fixations), max_fix) for e in exs))
    fix = torch.zeros(len(exs), n, 4)
    pad = torch.ones(len(exs), n, dtype=torch.bool)
    for i, e in enumerate(exs):
        f = torch.from_numpy(e.fixations[:max_fix])
        fix[i, : len(f)] = f
        pad[i, : len(f)] = False
    return fix, pad


def caption_embeds(builder: PromptBuilder, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids, mask = builder.caption_ids(texts)
    ids, mask = ids[:, :max_tokens], mask[:, :max_tokens]
    with torch.no_grad():
        return builder.embed(ids), mask == 0


def encode_examples(model: Deper, builder: PromptBuilder, patches: dict[str, torch.Tensor],
                    exs: list[Example]) -> torch.Tensor:
    """z_subj of each example (n, width)."""
    c = model.config
    p = torch.stack([patches[e.image_id] for e in exs])
    cap, cap_pad = caption_embeds(builder, [e.caption for e in exs], c.max_caption_tokens)
    if c.attention:
        fix, fix_pad = pad_fixations(exs, c.max_fixations)
        return model.encoder(p, cap, cap_pad, fix, fix_pad)
    return model.encoder(p, cap, cap_pad)


def train_persona(data: DeperData, patches: dict[str, torch.Tensor], builder: PromptBuilder, out: Path,
                  attention: bool, steps: int = 600, batch: int = 16, max_shots: int = 5, lr: float = 1e-3,
                  seed: int = 0, aux_weight: float = 1.0, checkpoint_every: int = 200, width: int = 256, heads: int = 4, layers: int = 2, decoder_layers: int = 4) -> dict:
    """Train the persona encoder (+ trajectory decoder if `attention`) and the adapter with the captioner
    frozen; save the weights as safetensors at `out`."""
    from safetensors.torch import save_file

    from persona_lens.models.runtime import half_precision

    by_viewer = {v: data.by_viewer()[v] for v in data.viewers("train")}
    viewers = sorted(by_viewer)
    label = {v: i for i, v in enumerate(viewers)}
    torch.manual_seed(seed)
    config = PersonaConfig(attention=attention, width=width, heads=heads, layers=layers, decoder_layers=decoder_layers, lm_dim=builder.embed.embedding_dim,
                           num_subjects=len(viewers))
    model = Deper(config).train()

    def step_loss(step: int):
        rng = _rng(seed, step)
        targets, supports, owners = [], [], []
        for b in range(batch):
            v = viewers[int(rng.integers(len(viewers)))]
            exs = by_viewer[v]
            order = rng.permutation(len(exs))
            k = int(rng.integers(1, max_shots + 1))
            targets.append(exs[order[0]])
            supports.append([exs[i] for i in order[1:k + 1]])
            owners.append(label[v])
        flat = [e for s in supports for e in s]
        z_each = encode_examples(model, builder, patches, flat)
        sizes = [len(s) for s in supports]
        z = torch.stack([chunk.mean(0) for chunk in z_each.split(sizes)])
        flat_labels = torch.tensor([o for o, n in zip(owners, sizes) for _ in range(n)])
        prefix = builder_prefix(builder, patches, targets)
        cap = builder.loss(prefix, [t.caption for t in targets], model.adapter(z))
        subj = F.cross_entropy(model.subject_head(z_each), flat_labels)
        con = supcon_loss(z_each, flat_labels)
        loss = cap + 0.5 * subj + 0.5 * con
        parts = {"caption": float(cap), "subject": float(subj), "supcon": float(con)}
        if attention:
            tp = torch.stack([patches[t.image_id] for t in targets])
            fix, pad = pad_fixations(targets, config.max_fixations)
            pred, valid = model.trajectory(tp, z)
            traj = trajectory_loss(pred, valid, fix, pad)
            loss = loss + aux_weight * traj
            parts["trajectory"] = float(traj)
        return loss, parts

    info = _loop(model, list(model.parameters()), step_loss, steps, lr,
                 Checkpointer(out.parent / f"{out.name}.ckpt", checkpoint_every))
    model.eval()
    info |= {"seed": seed, "attention": attention, "train_viewers": len(viewers)}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(half_precision(model.state_dict()), str(out),
              metadata={"config": json.dumps(config.to_dict()), "training": json.dumps(info)})
    return info


def builder_prefix(builder: PromptBuilder, patches: dict[str, torch.Tensor], exs: list[Example]) -> torch.Tensor:
    """The frozen mapping network's prefix for the examples' images (set as `builder.mapping`)."""
    with torch.no_grad():
        return builder.mapping(torch.stack([patches[e.image_id] for e in exs]))


def load_persona(path: str | Path) -> Deper:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        config = PersonaConfig(**json.loads(f.metadata()["config"]))
    model = Deper(config)
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval()
