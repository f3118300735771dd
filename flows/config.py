"""Typed configuration of the main job (`persona-lens run --config FILE`, YAML or JSON)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """The configuration file or a parameter is invalid; the message names the field and value."""


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(description="Folder, manifest (.csv/.parquet), WebDataset shards (.tar), local or s3://.")
    role: str = "gallery"
    labels: list[str] | None = Field(None, description="Names of the label levels, e.g. [category, subclass, instance].")


class EmbedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    encoder: str = "efficientnet-lite0"
    text_encoder: str | None = "all-minilm-l6-v2"
    batch_size: int = Field(32, ge=1)
    runtime: str = "auto"
    vl_encoder: str | None = Field("persona-lens-lit", description=(
        "Vision-language encoder whose image and text vectors share one space (the LiT aligner, or a "
        "CLIP/SigLIP folder); None skips it."))
    evaluate_vl: bool = Field(True, description="Score the vision-language encoder on held-out data (eval_aligner).")


class RankConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(True, description="Run Finer-Personalization Rank when there are generated images with a subject.")
    encoder: str = Field("efficientnet-lite0-multilevel", description="Image features the identity ranker is fitted on.")
    ranker: str = Field("lda", description="lda (fitted on the gallery's identities) or raw (the encoder's cosine).")
    shrinkage: float = Field(0.3, gt=0, le=1)
    ks: list[int] = Field([1, 5, 10], min_length=1)
    evaluate: bool = Field(True, description="Score it against the world's known identity drift (eval_rank).")


class WorldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: str = Field("small", description="World preset: small, medium or large.")
    seed: int = 0
    folder: str | None = Field(None, description="Where to render it (default: the cache).")


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[SourceConfig] | None = Field(
        None, description="What to ingest; None means the embedded default data: the synthetic world.")
    world: WorldConfig = WorldConfig()
    ingest_batch_size: int = Field(256, ge=1)
    embed: EmbedConfig = EmbedConfig()
    rank: RankConfig = RankConfig()


def parse_config(data: dict | None) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate(data or {})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigError(f"config field {where!r}: {err['msg']} (got {err.get('input')!r})") from exc


def load_config(path: str | Path) -> PipelineConfig:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())  # JSON is YAML too
    except OSError as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML/JSON: {exc}") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping, got {type(data).__name__}")
    return parse_config(data)
