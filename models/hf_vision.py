"""Any transformers vision model from a local folder: CLIP/SigLIP image and text features, or the CLS token
of a ViT-style encoder (DINOv2, ViT, DeiT).

Loaded with `from_pretrained` from the folder only (`local_files_only`: nothing is downloaded). Images go
through the folder's own image processor with the PIL backend: the torchvision ("fast") backend is
not installed, and the PIL one is the processors' reference implementation anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from persona_lens.models.base import ModelError, l2_normalize
from persona_lens.models.runtime import check_runtime, check_threads, default_cache_dir, in_batches, noise_images, tower_backend

#: Image-text models: image and text features meet in one projected space.
DUAL_MODEL_TYPES = frozenset({"clip", "siglip"})
#: Vision encoders whose trained image summary is the CLS token (first token) of the last hidden state.
#: BEiT-style models (mean-pooled) and SigLIP vision towers (attention-pooled) are deliberately absent.
CLS_MODEL_TYPES = frozenset({"dinov2", "dinov2_with_registers", "vit", "deit", "vit_msn"})
SUPPORTED_MODEL_TYPES = DUAL_MODEL_TYPES | CLS_MODEL_TYPES
TEXT_BATCH = 64


def model_type_of(folder: str | os.PathLike) -> str:
    """The `model_type` of the folder's config.json (ModelError if it has none or cannot be parsed)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(folder), local_files_only=True).model_type
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"cannot read a transformers config from folder {str(folder)!r}: {exc}") from exc


class ImageTower(torch.nn.Module):
    """pixels → one feature vector per image: projected image features or the CLS token."""

    def __init__(self, model: torch.nn.Module, pooling: str) -> None:
        super().__init__()
        if pooling not in ("projection", "cls"):
            raise ValueError(f"pooling must be 'projection' or 'cls', got {pooling!r}")
        self.model, self.pooling = model, pooling

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        if self.pooling == "projection":
            out = self.model.get_image_features(pixel_values=pixel_values)
            # transformers 5 returns an output object whose pooler_output holds the projection.
            return out if isinstance(out, torch.Tensor) else out.pooler_output
        return self.model(pixel_values=pixel_values).last_hidden_state[:, 0]


class HFVisionEncoder:
    """`ImageEncoder` (and, for CLIP/SigLIP, `TextEncoder`) over a transformers model folder."""

    def __init__(self, folder: str | os.PathLike, runtime: str = "auto",
                 cache_dir: str | os.PathLike | None = None, threads: int | None = None) -> None:
        """`runtime`: "torch" or "auto" (= torch, the reference; large exports are not worth it by
        default) or "onnxruntime" (the image tower exported once to `cache_dir`)."""
        from transformers import AutoImageProcessor, AutoModel

        runtime, folder = check_runtime(runtime), Path(folder).resolve()
        check_threads(threads)
        self.model_type = model_type_of(folder)
        if self.model_type not in SUPPORTED_MODEL_TYPES:
            raise ModelError(f"model folder {str(folder)!r} has model_type {self.model_type!r}; supported: "
                             f"{sorted(SUPPORTED_MODEL_TYPES)}")
        self.name, self.folder = str(folder), folder
        try:
            self.model = AutoModel.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True).eval()
            self.processor = AutoImageProcessor.from_pretrained(str(folder), backend="pil", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model folder {str(folder)!r}: {exc}") from exc
        self.has_text = self.model_type in DUAL_MODEL_TYPES
        self.tower = ImageTower(self.model, "projection" if self.has_text else "cls").eval()
        example = torch.from_numpy(self.preprocess(noise_images()))
        # "auto" is eager torch here: exporting a large tower is not worth it by default.
        weights = [p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") or p.name == "config.json"]
        self.backend = tower_backend(self.tower, "torch" if runtime == "auto" else runtime,
                                     cache_dir or default_cache_dir(), f"{self.model_type}-{folder.name}"[:60],
                                     weights, example, threads)
        self.runtime = self.backend.runtime
        self.dim = int(self.backend(example.numpy()).shape[1])
        self._tokenizer = None

    def preprocess(self, images: list[Image.Image]) -> np.ndarray:
        """RGB images → the model's pixel batch, by the folder's own image processor."""
        rgb = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        return np.asarray(self.processor(images=rgb, return_tensors="np")["pixel_values"], dtype=np.float32)

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, dim) float32, rows L2-normalised."""
        if not images:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalize(in_batches(images, lambda batch: self.backend(self.preprocess(batch))))

    @property
    def tokenizer(self):
        if not self.has_text:
            raise ModelError(f"model {self.name!r} ({self.model_type}) has no text tower")
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
            except (OSError, ValueError) as exc:
                raise ModelError(f"cannot load the tokenizer of {self.name!r}: {exc}") from exc
        return self._tokenizer

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32 text features in the image features' space, rows L2-normalised."""
        tok = self.tokenizer
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        text_cfg = self.model.config.text_config
        max_len = min(tok.model_max_length, text_cfg.max_position_embeddings)
        # SigLIP was trained on text padded to a fixed length; CLIP pools at the EOS token either way.
        padding = "max_length" if self.model_type == "siglip" else True
        out = []
        for i in range(0, len(texts), TEXT_BATCH):
            batch = tok(list(texts[i:i + TEXT_BATCH]), padding=padding, truncation=True, max_length=max_len,
                        return_tensors="pt")
            with torch.inference_mode():
                feats = self.model.get_text_features(**batch)
            feats = feats if isinstance(feats, torch.Tensor) else feats.pooler_output
            out.append(feats.float().numpy())
        return l2_normalize(np.concatenate(out))

