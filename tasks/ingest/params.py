"""The ingest stage's parameters: the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from persona_lens.tasks.params import ScaleOut, StageParams

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class IngestParams(StageParams, ScaleOut):
    """One source to ingest, the role its images play, and the names of its label levels."""

    source: str = Field(description="Folder, manifest (.csv/.parquet), WebDataset shards (.tar), local or s3://.")
    role: str = Field("gallery", description="What the images are for: reference, gallery, generated, scene, …")
    labels: list[str] | None = Field(
        None, description="Label level names, e.g. category,subclass,instance (folder levels or manifest "
                          "columns); none or empty: no labels.")
    layout: Literal["auto", "cub-200-2011", "stanford-cars", "wildlife-reid"] = Field(
        "auto", description="auto: a folder, manifest or shards as named; or a public dataset's published layout "
                            "(its own metadata gives category, subclass, instance and split labels).")
    split: str | None = Field(None, description="With a layout: keep only this split of the dataset's own "
                                                "(train, test, …); None: all.")
    batch_size: int = Field(256, ge=1, description="Images per batch (and per shard).")
    follow_symlinks: bool = Field(False, description="Read files a folder's symbolic links point to outside the "
                                                     "folder (refused by default: quarantined as symlink_outside_source).")

    @field_validator("source")
    @classmethod
    def _source(cls, source: str) -> str:
        if not source.strip():
            raise ValueError("source must name a folder, manifest, shards or s3:// prefix")
        return source

    @field_validator("role")
    @classmethod
    def _role(cls, role: str) -> str:
        if not _NAME.match(role):
            raise ValueError("role must be a word of letters, digits and underscores")
        return role

    @field_validator("labels", mode="before")
    @classmethod
    def _split(cls, labels):
        # The CLI and the deployment parameters may give comma-separated names ("category,subclass").
        if isinstance(labels, str):
            labels = [labels]
        if isinstance(labels, (list, tuple)) and all(isinstance(x, str) for x in labels):
            labels = [s.strip() for item in labels for s in item.split(",") if s.strip()]
        return labels

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: list[str] | None) -> list[str] | None:
        if labels is None:
            return None
        bad = [n for n in labels if not _NAME.match(n)]
        if bad or len(set(labels)) != len(labels):
            raise ValueError("labels must be distinct names of letters, digits and underscores")
        return labels

    @model_validator(mode="after")
    def _layout_labels(self) -> "IngestParams":
        if self.layout != "auto" and self.labels is not None:
            raise ValueError(f"layout {self.layout} sets the labels itself (category, subclass, instance, split); "
                             "do not give labels with it")
        if self.layout == "auto" and self.split is not None:
            raise ValueError("split selects a split of a dataset layout; give a layout with it")
        return self
