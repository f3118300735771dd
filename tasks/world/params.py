"""The world flows' parameters: the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, field_validator

from persona_lens.tasks.params import StageParams, world_size


class WorldMakeParams(StageParams):
    """Which world to render (everything in it follows from size and seed) and where."""

    size: str = Field("small", description="World preset: small (tests, < 1 min), medium or large.")
    seed: int = Field(0, ge=0, description="Everything in the world follows from it.")
    out: str | None = Field(None, description="Folder to render into (default: the cache).",
                            validation_alias=AliasChoices("out", "folder"))
    workers: int = Field(1, ge=1, description="Render processes (the bytes do not depend on it).")

    _size = field_validator("size")(world_size)


class WorldLoadParams(StageParams):
    """A rendered world folder to load into the dataset root."""

    world: str = Field(description="A folder rendered by `persona-lens world make`.")
    batch_size: int = Field(256, ge=1, description="Images per ingest batch.")
