"""The aligner flows' parameters: the only home of their defaults and checks (tasks/params.py).

Both flows name the same held-out sets (whole photo subjects and world creatures that training never
sees), so the fields that draw them are shared: eval-aligner with the same seed and counts scores
exactly what train-aligner held out.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from persona_lens.tasks.aligner.dataset import CorpusSpec
from persona_lens.tasks.params import StageParams, image_encoder_name
from persona_lens.world.spec import SIZES


class HeldoutParams(StageParams):
    """What is held out of training, and how it is scored."""

    seed: int = Field(0, ge=0, description="Everything (data, held-out split, weights) follows from it.")
    heldout_photos: int = Field(5, ge=0, description="Whole photo subjects held out of training.")
    heldout_views: int = Field(3, ge=0, description="Random views of each held-out photo, each with every edit concept.")
    world_size: str | None = Field("medium", description="World preset (small, medium, large), or None for photos only.")
    world_heldout: int = Field(440, ge=0, description="Held-out world images, each with one edit concept (in turn).")
    eval_samples: int = Field(300, ge=0, description="Text→image retrieval images per source.")
    runtime: Literal["auto", "torch", "onnxruntime"] = Field("auto", description="Image tower runtime (auto: ONNX Runtime).")

    @field_validator("world_size")
    @classmethod
    def _size(cls, size: str | None) -> str | None:
        if size is not None and size not in SIZES:
            raise ValueError(f"unknown world size; choose one of {list(SIZES)} or None")
        return size

    def corpus_spec(self, photo_train: int = 0, world_train: int = 0) -> CorpusSpec:
        return CorpusSpec(seed=self.seed, photo_train=photo_train, heldout_photos=self.heldout_photos,
                          photo_zero_shot_views=self.heldout_views, photo_retrieval=self.eval_samples,
                          world_size=self.world_size, world_train=world_train,
                          world_zero_shot=self.world_heldout, world_retrieval=self.eval_samples)


class TrainAlignerParams(HeldoutParams):
    """Training the LiT aligner's two projection heads on frozen towers (~6 min with the defaults)."""

    steps: int = Field(3000, ge=1, description="Optimisation steps.")
    photo_samples: int = Field(4000, ge=0, description="Training images from packaged photos.")
    world_samples: int = Field(3000, ge=0, description="Training images from the world.")
    batch_size: int = Field(256, ge=2, description="Images per contrastive batch.")
    dim: int = Field(256, ge=1, description="Shared-space dimension.")
    hidden: int = Field(0, ge=0, description="Hidden width of the heads (0: linear heads).")
    lr: float = Field(1e-3, gt=0, description="Learning rate.")
    image_tower: str = Field("efficientnet-lite0-multilevel", description="Frozen image tower: a registry image encoder.")
    out: str | None = Field(None, description="Weights file to write (default: the cache).")
    card: str | None = Field(None, description="Model card whose results block to rewrite.")

    _tower = field_validator("image_tower")(image_encoder_name)


class EvalAlignerParams(HeldoutParams):
    """Scoring any vision-language encoder on the held-out sets of train-aligner with the same seed."""

    encoder: str = Field("persona-lens-lit", description="persona-lens-lit, an aligner .safetensors file, or a CLIP/SigLIP folder.")
