"""The stage contract's parameters: one typed model per stage, the only home of its defaults and checks.

Each stage declares `class <Stage>Params(StageParams)` beside its tasks (`tasks/<stage>/params.py`).
The flow takes that model, the pipeline config nests it, the CLI's options are generated from its
fields (flows/cli_params.py) and Prefect builds the deployment's parameter schema from it, so a
setting is declared once. Checks run when the model is built, before any data is read; names are
canonicalised there (an encoder folder given as `./clip` becomes its absolute path, as embed stores it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from persona_lens.models.base import ModelError
from persona_lens.models.registry import canonical_image_encoder, canonical_text_encoder


class ConfigError(ValueError):
    """A configuration file or a parameter is invalid; the message names the field and its value."""


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """One line naming the first bad field (dotted path under `prefix`), what is wrong and the value."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "") or prefix or "config"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown parameter {where!r} (got {err.get('input')!r})"
    return f"parameter {where!r}: {msg} (got {err.get('input')!r})"


class StageParams(BaseModel):
    """Base of every stage's parameters: unknown fields are refused, values are immutable once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None = None, *, prefix: str = "", **overrides: Any) -> Self:
        """Build from a mapping plus keyword overrides; a bad value raises ConfigError naming it."""
        try:
            return cls.model_validate({**(data or {}), **overrides})
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, prefix)) from exc

    def replace(self, **changes: Any) -> Self:
        """A copy with `changes`, validated like a fresh model (model_copy alone would skip the checks)."""
        return type(self).parse({**self.model_dump(), **changes})


class ScaleOut(BaseModel):
    """Where a stage's shard tasks run: in this process (the default), on a local Dask cluster of
    `workers` processes, or on the Dask cluster whose scheduler is at `dask_address` (flows/scale.py)."""

    workers: int = Field(1, ge=1, description="Run the shard tasks on a local Dask cluster of this many worker "
                                              "processes (1: one at a time in this process).")
    dask_address: str | None = Field(None, description="A running Dask scheduler (tcp://host:8786) to run the "
                                                       "shard tasks on instead of a local cluster.")

    @field_validator("dask_address")
    @classmethod
    def _address(cls, address: str | None) -> str | None:
        if address is not None and not re.match(r"^(tcp|tls|inproc|ucx)://[^\s/]+$", address):
            raise ValueError(f"dask_address must look like tcp://host:port, got {address!r}")
        return address

    @property
    def on_dask(self) -> bool:
        return self.workers > 1 or self.dask_address is not None


def image_encoder_name(name: str | None) -> str | None:
    """The canonical name embed stores for an image encoder (`./clip` → its absolute path), for a field
    validator: an unknown name or a missing folder is a ValueError naming it. None stays None."""
    try:
        return None if name is None else canonical_image_encoder(name)
    except ModelError as exc:
        raise ValueError(str(exc)) from exc


def world_size(size: str) -> str:
    """A world preset's name, for a field validator (ValueError naming the presets)."""
    from persona_lens.world.spec import SIZES

    if size not in SIZES:
        raise ValueError(f"unknown world size; choose one of {list(SIZES)}")
    return size


def text_encoder_name(name: str | None) -> str | None:
    """Like `image_encoder_name`, for a text encoder; None or empty means no text encoder."""
    try:
        return canonical_text_encoder(name) if name else None
    except ModelError as exc:
        raise ValueError(str(exc)) from exc
