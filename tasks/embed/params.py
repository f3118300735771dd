"""The embed stage's parameters: the only home of their defaults and checks (tasks/params.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from persona_lens.tasks.params import ScaleOut, StageParams, image_encoder_name, text_encoder_name


class EmbedParams(StageParams, ScaleOut):
    """Which encoders embed the images (and caption texts) that have no vector of theirs yet."""

    encoder: str = Field("efficientnet-lite0", description="Image encoder name or local model folder.")
    text_encoder: str | None = Field("all-minilm-l6-v2",
                                     description="Text encoder name or folder for caption texts (None: skip).")
    batch_size: int = Field(32, ge=1, description="Images per encoder batch.")
    runtime: Literal["auto", "torch", "onnxruntime"] = Field(
        "auto", description="auto (the encoder's fastest exact runtime), torch or onnxruntime.")
    threads: int | None = Field(None, ge=1, description="ONNX Runtime threads (None: all cores).")
    derive: bool = Field(True, description="Derive the vector from another encoder's stored vector of the same "
                                           "network where one exists (lite0 and LiT from the multi-level "
                                           "vector: one network pass per image); false encodes every pixel.")

    # Canonical names are what the `encoder` column stores: `./clip` and `/abs/clip` are one encoder.
    _image = field_validator("encoder")(image_encoder_name)
    _text = field_validator("text_encoder")(text_encoder_name)
