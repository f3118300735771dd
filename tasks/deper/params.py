"""The describe stage's parameters (DEPER): the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from persona_lens.tasks.params import StageParams

WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "weights"
CAPTIONER = WEIGHTS / "deper-captioner-small"
DEPER_WEIGHTS = WEIGHTS / "deper-persona.safetensors"
STYLE_WEIGHTS = WEIGHTS / "deper-style-only.safetensors"


def _absolute(path: str | None) -> str | None:
    return None if path is None else str(Path(path).expanduser().resolve())


class DeperDataParams(StageParams):
    """Where the viewers, images, attention and captions come from."""

    world: str | None = Field(None, description="A world folder (tables/ + images/); None: the world "
                              "scenes of `world_size`, rendered once into the cache.")
    world_size: Literal["small", "medium", "large"] = Field("medium", description="World preset when `world` is None.")
    world_seed: int = Field(0, description="World seed when `world` is None.")
    viewer_examples: str | None = Field(None, description="JSON lines of viewers' examples (docs/describe.md) "
                                        "instead of a world; needs `images`.")
    images: str | None = Field(None, description="With `viewer_examples`: the folder of the images they "
                               "name, each file's stem its image_id.")

    _abs = field_validator("world", "viewer_examples", "images")(_absolute)

    @model_validator(mode="after")
    def _examples(self):
        if (self.viewer_examples is None) != (self.images is None):
            raise ValueError("viewer_examples and images go together")
        if self.viewer_examples is not None:
            if not Path(self.viewer_examples).is_file():
                raise ValueError(f"viewer_examples {self.viewer_examples!r} is not a file")
            if not Path(self.images).is_dir():
                raise ValueError(f"images {self.images!r} is not a folder")
            if self.world is not None:
                raise ValueError("give a world or viewer_examples + images, not both")
        return self


class TrainCaptionerParams(DeperDataParams):
    """Train the frozen captioner's mapping network (and its small language model) once."""

    out: str = Field(str(CAPTIONER), description="Folder the trained captioner is written to.")
    steps: int = Field(1200, ge=1, description="Optimizer steps (the shipped captioner: 1200).")
    batch: int = Field(32, ge=1, description="Captions per step.")
    lr: float = Field(2e-3, gt=0, description="Peak learning rate (cosine schedule).")
    seed: int = Field(0, description="Seed of initialisation and batches.")
    inventory_rate: float = Field(0.5, ge=0.0, lt=1.0, description="Share of each batch spent on the "
                                  "grounding task: name every object of an image (from a world folder's "
                                  "world_objects; JSON-lines examples have none, so 0 there); 0: viewers' "
                                  "captions only. The shipped captioner: 0.5.")

    _abs_out = field_validator("out")(_absolute)


class TrainDeperParams(DeperDataParams):
    """Train DEPER and/or the style-only persona with the captioner frozen."""

    captioner: str = Field(str(CAPTIONER), description="Trained captioner folder (train-captioner).")
    variant: Literal["deper", "style_only", "both"] = Field("both", description="Which persona model(s).")
    deper_out: str = Field(str(DEPER_WEIGHTS), description="DEPER weights file (safetensors).")
    style_out: str = Field(str(STYLE_WEIGHTS), description="Style-only weights file (safetensors).")
    steps: int = Field(250, ge=1, description="Optimizer steps per model.")
    batch: int = Field(16, ge=1, description="Target captions per step.")
    max_shots: int = Field(5, ge=1, description="Support examples per episode: 1..max_shots.")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate.")
    aux_weight: float = Field(1.0, ge=0, description="Weight of the trajectory (attention-prediction) loss.")
    seed: int = Field(0, description="Seed of initialisation and episodes.")

    _abs_paths = field_validator("captioner", "deper_out", "style_out")(_absolute)


class EvalDescribeParams(DeperDataParams):
    """Score the frozen captioner, the style-only persona and DEPER on held-out (fewshot) viewers."""

    captioner: str = Field(str(CAPTIONER), description="Trained captioner folder.")
    deper: str = Field(str(DEPER_WEIGHTS), description="DEPER weights.")
    style_only: str = Field(str(STYLE_WEIGHTS), description="Style-only persona weights.")
    ks: tuple[int, ...] = Field((1, 3, 5, 10), min_length=1, description="Shots K per held-out viewer.")
    seeds: tuple[int, ...] = Field((0, 1, 2), min_length=1, description="Seeds of the support draws.")
    max_queries: int = Field(10, ge=1, description="Query images scored per viewer, K and seed.")
    resamples: int = Field(1000, ge=100, description="Bootstrap resamples.")

    _abs_paths = field_validator("captioner", "deper", "style_only")(_absolute)

    @field_validator("ks")
    @classmethod
    def _positive(cls, ks: tuple[int, ...]) -> tuple[int, ...]:
        if min(ks) < 1:
            raise ValueError("every K must be >= 1")
        return tuple(sorted(set(ks)))


class DescribeParams(DeperDataParams):
    """Personalize each held-out viewer from K examples and caption its other images (personas, captions)."""

    captioner: str = Field(str(CAPTIONER), description="Trained captioner folder.")
    deper: str = Field(str(DEPER_WEIGHTS), description="DEPER weights.")
    k: int = Field(5, ge=1, description="Examples per viewer the persona is the mean over.")
    seed: int = Field(0, description="Seed of the support draw.")
    split: Literal["train", "fewshot"] = Field("fewshot", description="Viewers to personalize.")

    _abs_paths = field_validator("captioner", "deper")(_absolute)
