"""The small interfaces every neural piece sits behind, so flows never care which model is loaded."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


class ModelError(RuntimeError):
    """A model cannot be resolved or loaded (unknown name, missing folder, unsupported architecture)."""


@runtime_checkable
class ImageEncoder(Protocol):
    """Images in, L2-normalised float32 vectors out."""

    name: str      # registry name or path, stored in the `encoder` column
    dim: int       # vector length
    runtime: str   # "torch" or "onnxruntime"

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised. `images` are RGB PIL images of any size."""
        ...


@runtime_checkable
class DerivedImageEncoder(Protocol):
    """An image encoder whose vector is a function of another encoder's stored vector: the same network
    read once. The embed stage derives it from `source_encoder`'s `embeddings` rows where they exist,
    without decoding a pixel, and encodes the rest from pixels as usual (the vectors agree to float
    rounding: tests/tasks/embed). `source_encoder` None: nothing to derive from."""

    source_encoder: str | None

    def from_source_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """(n, source dim) stored vectors → (n, dim) float32 vectors, rows L2-normalised."""
        ...


@runtime_checkable
class TextEncoder(Protocol):
    """Texts in, L2-normalised float32 vectors out."""

    name: str
    dim: int

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        ...


@runtime_checkable
class VisionLanguageEncoder(Protocol):
    """Images and texts in, L2-normalised float32 vectors out, in one shared space: the cosine of an
    image's vector and a text's vector says how well the text describes the image (zero-shot
    classification, text→image retrieval). CLIP/SigLIP folders and the trained LiT aligner implement it."""

    name: str      # registry name or path
    dim: int       # length of both kinds of vector

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised. `images` are RGB PIL images of any size."""
        ...

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised, comparable with `encode_images` by dot product."""
        ...


@runtime_checkable
class Generator(Protocol):
    """Images from seeds (and prompts, for text-to-image models). The same seed (and prompt) always
    draws the same picture, so a base model and its personalization draw twins for the same inputs."""

    name: str      # registry name or folder, stored in the `generator` column

    def draw(self, seeds: list[int], prompts: list[str] | None = None) -> list[Image.Image]:
        """One RGB image per seed (paired with `prompts` when the model takes text)."""
        ...


def l2_normalize(x: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
