"""The LiT-style vision-language aligner: two frozen towers, two small trained projection heads.

No CLIP weights ship offline (ARCHITECTURE.md §3), so the default `VisionLanguageEncoder` is built the
LiT way ("locked-image tuning", Zhai et al. 2022): the pretrained EfficientNet-Lite0 image tower and
the pretrained all-MiniLM-L6-v2 text tower stay frozen, and only a projection head on each side plus
a temperature are trained contrastively (tasks/aligner/train.py). Because the towers never change, the
heads work on the towers' cached vectors, and the trained part is a few MB.

The weights file is safetensors only: the heads' tensors, and in its metadata the configuration (tower
names and sizes) and what the heads were trained on (seed, steps, taxonomy digest, data summary, loss
curve, held-out photos), so a file says what it is without its training run.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from persona_lens.models.base import ImageEncoder, ModelError, TextEncoder, l2_normalize

ALIGNER_NAME = "persona-lens-lit"
#: The committed default weights: trained by `persona-lens train-aligner`, described in docs/models/aligner.md.
DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / f"{ALIGNER_NAME}.safetensors"
FORMAT = "persona-lens-lit/1"
#: CLIP's initial temperature (1/0.07) and its cap on the logit scale, which keeps training stable.
INIT_LOGIT_SCALE = math.log(1 / 0.07)
MAX_LOGIT_SCALE = math.log(100.0)


@dataclass(frozen=True)
class AlignerConfig:
    """The shape of an aligner: which towers feed it and how large its heads are."""

    image_tower: str = "efficientnet-lite0-multilevel"
    text_tower: str = "all-minilm-l6-v2"
    image_dim: int = 2912          # the image tower's vector length
    text_dim: int = 384            # the text tower's vector length
    dim: int = 256                 # the shared space
    hidden: int = 0                # hidden width of 2-layer heads; 0: linear heads (as good here, 2x faster)

    def __post_init__(self) -> None:
        for field in ("image_dim", "text_dim", "dim"):
            if not isinstance(getattr(self, field), int) or getattr(self, field) < 1:
                raise ModelError(f"aligner {field} must be a positive integer, got {getattr(self, field)!r}")
        if not isinstance(self.hidden, int) or self.hidden < 0:
            raise ModelError(f"aligner hidden must be a non-negative integer, got {self.hidden!r}")


class _Head(torch.nn.Module):
    """Tower vector → shared space: per-feature standardisation (statistics of the training vectors,
    kept as buffers) then a linear map or a 2-layer MLP.

    Standardising matters because a frozen tower's vectors share a large common component; without it
    the first steps spend themselves learning to remove it.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))
        if hidden:
            self.net = torch.nn.Sequential(torch.nn.Linear(in_dim, hidden), torch.nn.GELU(),
                                           torch.nn.Linear(hidden, out_dim))
        else:
            self.net = torch.nn.Sequential(torch.nn.Linear(in_dim, out_dim))

    def set_statistics(self, features: torch.Tensor) -> None:
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(self.net((features - self.mean) / self.std), dim=-1)


class ProjectionHeads(torch.nn.Module):
    """The trained part of the aligner: an image head, a text head and a learnable temperature."""

    def __init__(self, config: AlignerConfig) -> None:
        super().__init__()
        self.config = config
        self.image = _Head(config.image_dim, config.hidden, config.dim)
        self.text = _Head(config.text_dim, config.hidden, config.dim)
        self.logit_scale = torch.nn.Parameter(torch.tensor(INIT_LOGIT_SCALE))

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), capped like CLIP's so the softmax never saturates."""
        return self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()

    def forward(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """Similarity logits (images × texts), scaled by the temperature."""
        return self.scale() * self.image(image_features) @ self.text(text_features).T


#: Loads a frozen tower by kind ("image" or "text") and registry name; the registry passes its own.
TowerLoader = Callable[[str, str], Any]


class LiTAligner:
    """`VisionLanguageEncoder` over frozen towers and trained projection heads.

    The towers are loaded by `towers` (the registry's loader) on first use, so building an aligner
    from cached features — training, evaluation — never loads them; without `towers` only the
    `embed_*_features` methods work (load through `registry.load_vl_encoder` to encode images/texts).
    """

    def __init__(self, heads: ProjectionHeads, name: str, metadata: dict | None = None,
                 runtime: str = "auto", towers: TowerLoader | None = None) -> None:
        self.heads = heads.eval()
        self.config = heads.config
        self.name, self.dim = name, heads.config.dim
        self.metadata = dict(metadata or {})
        self.runtime = runtime
        self._towers = towers
        self._image_tower: ImageEncoder | None = None
        self._text_tower: TextEncoder | None = None

    @property
    def image_tower(self) -> ImageEncoder:
        if self._image_tower is None:
            self._image_tower = _check_dim(self._load("image", self.config.image_tower), self.config.image_dim,
                                           self.name)
        return self._image_tower

    @property
    def text_tower(self) -> TextEncoder:
        if self._text_tower is None:
            self._text_tower = _check_dim(self._load("text", self.config.text_tower), self.config.text_dim,
                                          self.name)
        return self._text_tower

    def _load(self, kind: str, name: str):
        if self._towers is None:
            raise ModelError(f"aligner {self.name!r} has no tower loader: load it with "
                             f"persona_lens.models.registry.load_vl_encoder to encode {kind}s")
        return self._towers(kind, name)

    @property
    def source_encoder(self) -> str:
        """The image tower's registry name: its stored `embeddings` rows are exactly what the heads read,
        so the embed stage derives this aligner's image vectors from them (models/base.DerivedImageEncoder)."""
        return self.config.image_tower

    def from_source_vectors(self, vectors: np.ndarray) -> np.ndarray:
        return self.embed_image_features(vectors)

    def embed_image_features(self, features: np.ndarray) -> np.ndarray:
        """Image-tower vectors (n, image_dim) → (n, dim) shared-space vectors, L2-normalised."""
        return self._project(self.heads.image, features, self.config.image_dim, "image")

    def embed_text_features(self, features: np.ndarray) -> np.ndarray:
        """Text-tower vectors (n, text_dim) → (n, dim) shared-space vectors, L2-normalised."""
        return self._project(self.heads.text, features, self.config.text_dim, "text")

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_image_features(self.image_tower.encode_images(images))

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised, in the images' space."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_text_features(self.text_tower.encode_texts(list(texts)))

    def _project(self, head: _Head, features: np.ndarray, in_dim: int, kind: str) -> np.ndarray:
        features = np.asarray(features, np.float32)
        if features.ndim != 2 or features.shape[1] != in_dim:
            raise ModelError(f"aligner {self.name!r}: {kind} features must have shape (n, {in_dim}), "
                             f"got {features.shape}")
        with torch.inference_mode():
            return l2_normalize(head(torch.from_numpy(features)).numpy())


def _check_dim(encoder, expected: int, name: str):
    if encoder.dim != expected:
        raise ModelError(f"aligner {name!r} was trained on {expected}-d vectors of {encoder.name!r}, "
                         f"which now gives {encoder.dim}-d ones")
    return encoder


def save_aligner(heads: ProjectionHeads, path: str | os.PathLike, training: dict) -> Path:
    """Write `heads` and their description to the safetensors file `path` (temp name, then rename).

    `training` is JSON-serialisable information about how the heads were trained (seed, steps, data);
    it is stored in the file's metadata beside the configuration.
    """
    from safetensors.torch import save_file

    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": FORMAT, "config": json.dumps(asdict(heads.config), sort_keys=True),
                "training": json.dumps(training, sort_keys=True)}
    tensors = {k: v.detach().contiguous().clone() for k, v in heads.state_dict().items()}
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        tmp.chmod(0o644)  # a shared weights file, not a private temporary one
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_metadata(path: str | os.PathLike) -> tuple[AlignerConfig, dict]:
    """The configuration and training description stored in an aligner file (no tensors loaded)."""
    from safetensors import safe_open

    path = Path(path).expanduser()
    if not path.is_file():
        raise ModelError(f"aligner weights {str(path)!r} not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for a non-safetensors file
        raise ModelError(f"{str(path)!r} is not a safetensors file: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise ModelError(f"{str(path)!r} is not a {FORMAT} aligner file (format {meta.get('format')!r})")
    try:
        return AlignerConfig(**json.loads(meta["config"])), json.loads(meta.get("training", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{str(path)!r} has an invalid aligner configuration: {exc}") from exc


def load_aligner(path: str | os.PathLike = DEFAULT_WEIGHTS, name: str | None = None,
                 runtime: str = "auto", towers: TowerLoader | None = None) -> LiTAligner:
    """The aligner stored at `path` (default: the committed weights), its towers loaded by `towers`.
    Raises ModelError if the file is missing, is not an aligner file, or its tensors do not fit its
    configuration."""
    from safetensors.torch import load_file

    config, training = read_metadata(path)
    heads = ProjectionHeads(config)
    try:
        heads.load_state_dict(load_file(str(Path(path).expanduser())), strict=True)
    except RuntimeError as exc:
        raise ModelError(f"aligner weights {str(path)!r} do not fit their configuration: {exc}") from exc
    return LiTAligner(heads, name or str(Path(path).expanduser().resolve()), training, runtime=runtime,
                      towers=towers)
