"""Latent inversion of reference faces, and the subject's latent codes drawn around the inverted pivots.

Inversion (the first half of pivotal tuning, Roich et al. 2022): for each reference, the best of
`candidates` seeded random codes by pixel error, then Adam on the code alone, generator frozen. The
base model cannot draw a real person exactly, so the pivot is its *closest* face: what base twins
show, and where personalization (tasks/generate/personalize.py) teaches the generator the subject.

Subject latents (MyStyle's personalized prior, Nitzan et al. 2022, kept to a neighbourhood because
3–10 pivots span a tiny hull): latent i is pivot i mod K plus seeded Gaussian noise, rescaled to the
pivot's norm so that it stays on the shell where the generator's codes live. Base and personalized
twins are drawn from exactly these codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from persona_lens.models.gan import generate, latents


@dataclass(frozen=True)
class Inversion:
    latents: torch.Tensor     # (K, nz)
    loss: torch.Tensor        # (K,) final per-reference pixel MSE in [-1, 1] units


def invert(net: torch.nn.Module, targets: torch.Tensor, *, steps: int = 60, candidates: int = 128,
           lr: float = 0.1, seed: int = 0) -> Inversion:
    """Codes whose faces are closest to `targets` (K, 3, 64, 64) in [-1, 1]; deterministic in `seed`."""
    if len(targets) == 0:
        raise ValueError("invert needs at least one target image")
    pool = latents(seed, candidates)
    faces = generate(net, pool)
    err = ((faces[None] - targets[:, None]) ** 2).mean((2, 3, 4))   # (K, candidates)
    z = pool[err.argmin(1)].clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    was_training = net.training
    net.eval()
    try:
        for _ in range(steps):
            loss = ((net(z) - targets) ** 2).mean((1, 2, 3))
            opt.zero_grad()
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            final = ((net(z) - targets) ** 2).mean((1, 2, 3))
    finally:
        net.train(was_training)
    return Inversion(z.detach(), final.detach())


def subject_latents(pivots: torch.Tensor, seed: int, n: int, noise: float = 0.15) -> torch.Tensor:
    """`n` codes around the pivots (pivot i mod K, plus noise, on the pivot's norm); same for a seed."""
    if n < 0 or noise < 0:
        raise ValueError(f"n and noise must be non-negative, got n={n!r}, noise={noise!r}")
    g = torch.Generator().manual_seed(seed)
    base = pivots[torch.arange(n) % len(pivots)]
    z = base + noise * torch.randn(base.shape, generator=g)
    return z / z.norm(dim=1, keepdim=True) * base.norm(dim=1, keepdim=True)
