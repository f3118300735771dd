"""DEPER's trained parts: the dual-context persona encoder, the FiLM trajectory decoder and the adapter.

Per example (image, scanpath, caption):
- image tokens: the frozen encoder's 7×7 patches projected to `width`;
- scanpath tokens: each fixation ROI-pooled on the patch grid (bilinear, at the fixation), plus 2-D
  position, order and log-duration encodings (up to 30 fixations);
- caption tokens: the frozen language model's embedding of the caption's tokens, projected;
- `layers` dual-context blocks: scanpath tokens attend to image + caption, caption tokens to image +
  scanpath; query-attention pooling over both → z_subj.
Heads: subject classification (train viewers) and a supervised-contrastive loss (τ = 0.07) on z_subj;
the trajectory decoder (`decoder_layers` parallel layers, learned slot queries FiLM-conditioned on
z_subj, reading the image tokens) predicts each slot's fixation (x, y, log-duration) with smooth-L1
(β = 1/9) and a validity flag (BCE). The adapter is one linear map z_subj → the persona token's row.

The style-only persona (`attention=False`) is the same model without scanpath input and trajectory
decoder: caption tokens attend to the image alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from persona_lens.models.captioner import PATCH_DIM, PATCH_GRID

MAX_FIX = 30


@dataclass(frozen=True)
class PersonaConfig:
    attention: bool = True            # False: the style-only persona
    width: int = 256
    heads: int = 4
    layers: int = 2
    decoder_layers: int = 4
    lm_dim: int = 192
    num_subjects: int = 24
    max_fixations: int = MAX_FIX
    max_caption_tokens: int = 48

    def to_dict(self) -> dict:
        return asdict(self)


class CrossBlock(nn.Module):
    """Self-attention within a stream, cross-attention to a context, feed-forward (pre-norm)."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.n1, self.n2, self.n3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.cross = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x, x_pad, ctx, ctx_pad):
        h = self.n1(x)
        x = x + self.self_attn(h, h, h, key_padding_mask=x_pad, need_weights=False)[0]
        x = x + self.cross(self.n2(x), ctx, ctx, key_padding_mask=ctx_pad, need_weights=False)[0]
        return x + self.ff(self.n3(x))


def roi_pool(patches: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """Bilinear read of the (n, 49, C) patch grid at fixations xy (n, f, 2) in [0, 1] → (n, f, C)."""
    n, _, c = patches.shape
    grid = patches.transpose(1, 2).reshape(n, c, PATCH_GRID, PATCH_GRID)
    g = (xy * 2 - 1)[:, :, None, :]                                     # (n, f, 1, 2), x then y
    return F.grid_sample(grid, g, align_corners=False, padding_mode="border")[..., 0].transpose(1, 2)


class PersonaEncoder(nn.Module):
    def __init__(self, c: PersonaConfig) -> None:
        super().__init__()
        self.c = c
        w = c.width
        self.img_proj = nn.Sequential(nn.LayerNorm(PATCH_DIM), nn.Linear(PATCH_DIM, w))
        self.img_pos = nn.Parameter(torch.randn(PATCH_GRID * PATCH_GRID, w) * 0.02)
        self.cap_proj = nn.Linear(c.lm_dim, w)
        self.cap_pos = nn.Parameter(torch.randn(c.max_caption_tokens, w) * 0.02)
        self.cap_blocks = nn.ModuleList(CrossBlock(w, c.heads) for _ in range(c.layers))
        if c.attention:
            self.fix_roi = nn.Sequential(nn.LayerNorm(PATCH_DIM), nn.Linear(PATCH_DIM, w))
            self.fix_pos = nn.Sequential(nn.Linear(2, w), nn.GELU(), nn.Linear(w, w))
            self.fix_dur = nn.Sequential(nn.Linear(1, w), nn.GELU(), nn.Linear(w, w))
            self.fix_order = nn.Embedding(c.max_fixations, w)
            self.fix_blocks = nn.ModuleList(CrossBlock(w, c.heads) for _ in range(c.layers))
        self.pool_query = nn.Parameter(torch.randn(1, 1, w) * 0.02)
        self.pool = nn.MultiheadAttention(w, c.heads, batch_first=True)
        self.out = nn.LayerNorm(w)

    def image_tokens(self, patches: torch.Tensor) -> torch.Tensor:
        return self.img_proj(patches) + self.img_pos

    def forward(self, patches, cap_embeds, cap_pad, fix=None, fix_pad=None) -> torch.Tensor:
        """patches (n, 49, 1280), caption embeddings (n, t, lm_dim) + pad mask, fixations (n, f, 4) + pad
        mask (attention variant) → z_subj (n, width)."""
        img = self.image_tokens(patches)
        img_pad = torch.zeros(img.shape[:2], dtype=torch.bool)
        cap = self.cap_proj(cap_embeds) + self.cap_pos[: cap_embeds.shape[1]]
        if self.c.attention:
            order = torch.arange(fix.shape[1]).expand(len(fix), -1)
            s = (self.fix_roi(roi_pool(patches, fix[..., :2])) + self.fix_pos(fix[..., :2])
                 + self.fix_dur(torch.log1p(fix[..., 3:4].clamp(min=0))) + self.fix_order(order))
            for cb, fb in zip(self.cap_blocks, self.fix_blocks):
                cap, s = (cb(cap, cap_pad, torch.cat([img, s], 1), torch.cat([img_pad, fix_pad], 1)),
                          fb(s, fix_pad, torch.cat([img, cap], 1), torch.cat([img_pad, cap_pad], 1)))
            tokens, pad = torch.cat([s, cap], 1), torch.cat([fix_pad, cap_pad], 1)
        else:
            for cb in self.cap_blocks:
                cap = cb(cap, cap_pad, img, img_pad)
            tokens, pad = cap, cap_pad
        z = self.pool(self.pool_query.expand(len(tokens), -1, -1), tokens, tokens, key_padding_mask=pad,
                      need_weights=False)[0][:, 0]
        return self.out(z)


class TrajectoryDecoder(nn.Module):
    """Parallel decoder: `max_fixations` slot queries, FiLM-modulated by z_subj, read the image tokens and
    predict each slot's fixation (x, y in [0, 1] via sigmoid, log-duration) and whether the slot is used."""

    def __init__(self, c: PersonaConfig) -> None:
        super().__init__()
        w = c.width
        self.queries = nn.Parameter(torch.randn(c.max_fixations, w) * 0.02)
        self.film = nn.ModuleList(nn.Linear(w, 2 * w) for _ in range(c.decoder_layers))
        self.blocks = nn.ModuleList(CrossBlock(w, c.heads) for _ in range(c.decoder_layers))
        self.box = nn.Linear(w, 3)
        self.valid = nn.Linear(w, 1)

    def forward(self, img_tokens: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.queries.expand(len(z), -1, -1)
        pad = torch.zeros(img_tokens.shape[:2], dtype=torch.bool)
        for film, block in zip(self.film, self.blocks):
            gamma, beta = film(z).chunk(2, dim=-1)
            x = x * (1 + gamma[:, None]) + beta[:, None]
            x = block(x, None, img_tokens, pad)
        out = self.box(x)
        return torch.cat([torch.sigmoid(out[..., :2]), out[..., 2:]], -1), self.valid(x)[..., 0]


class Deper(nn.Module):
    """Persona encoder + subject head + (attention variant) trajectory decoder + adapter."""

    def __init__(self, c: PersonaConfig) -> None:
        super().__init__()
        self.config = c
        self.encoder = PersonaEncoder(c)
        self.subject_head = nn.Linear(c.width, c.num_subjects)
        self.decoder = TrajectoryDecoder(c) if c.attention else None
        self.adapter = nn.Linear(c.width, c.lm_dim)

    def trajectory(self, patches: torch.Tensor, z: torch.Tensor):
        if self.decoder is None:
            raise ValueError("the style-only persona has no trajectory decoder")
        return self.decoder(self.encoder.image_tokens(patches), z)


def supcon_loss(z: torch.Tensor, labels: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al.) over a batch of embeddings with subject labels."""
    z = F.normalize(z, dim=-1)
    sim = z @ z.T / tau
    eye = torch.eye(len(z), dtype=torch.bool)
    sim = sim.masked_fill(eye, -1e9)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    has = pos.any(1)
    if not has.any():
        return z.sum() * 0
    return -((log_prob * pos).sum(1)[has] / pos.sum(1)[has]).mean()


def trajectory_loss(pred: torch.Tensor, valid_logit: torch.Tensor, fix: torch.Tensor, fix_pad: torch.Tensor
                    ) -> torch.Tensor:
    """Smooth-L1 (β = 1/9) on (x, y, log-duration) of the used slots + BCE on every slot's validity."""
    target = torch.cat([fix[..., :2], torch.log(fix[..., 3:4].clamp(min=1e-3))], -1)
    n = fix.shape[1]
    used = ~fix_pad
    box = F.smooth_l1_loss(pred[:, :n][used], target[used], beta=1 / 9)
    valid = torch.zeros(valid_logit.shape)
    valid[:, :n] = used.float()
    return box + F.binary_cross_entropy_with_logits(valid_logit, valid)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def cosine_schedule(step: int, total: int, warmup: int = 20) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
