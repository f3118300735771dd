"""EfficientNet-Lite0: real weights, the preprocessing they were trained with, and ONNX == eager."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from skimage import data

from persona_lens.models.efficientnet import DIM, EfficientNetLite0Encoder, preprocess
from persona_lens.models.runtime import cosine_rows, onnx_cache_path

# ImageNet classes: 281-285 are domestic cats; 967 espresso, 968 cup; 657 missile, 812 space shuttle.
CATS, COFFEE = range(281, 286), {967, 968}


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    """Real photos of varied size and content shipped with scikit-image."""
    files = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg", "motorcycle_left.png", "retina.jpg"]
    return {f.split(".")[0]: Image.open(Path(data.data_dir) / f).convert("RGB") for f in files}


@pytest.fixture(scope="module")
def cache_dir(onnx_cache_dir):
    return onnx_cache_dir


@pytest.fixture(scope="module")
def eager() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(runtime="torch")


@pytest.fixture(scope="module")
def onnx(cache_dir) -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(runtime="onnxruntime", cache_dir=cache_dir, threads=1)


def test_onnx_runtime_matches_eager_torch_on_real_photos(photos, eager, onnx):
    images = list(photos.values())
    a, b = eager.encode_images(images), onnx.encode_images(images)
    assert (eager.runtime, onnx.runtime) == ("torch", "onnxruntime")
    assert cosine_rows(a, b).min() >= 0.9999


def test_vectors_are_1280_d_float32_and_unit_norm(photos, onnx):
    v = onnx.encode_images(list(photos.values()))
    assert v.shape == (len(photos), DIM) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_batching_does_not_change_a_vector(photos, onnx):
    images = list(photos.values())
    together = onnx.encode_images(images)
    alone = np.concatenate([onnx.encode_images([im]) for im in images])
    assert cosine_rows(together, alone).min() >= 0.9999


def test_preprocessing_is_the_one_the_weights_were_trained_with(photos, eager):
    """The classifier head names real photos correctly only if crop and normalisation are right."""
    with torch.inference_mode():
        logits = eager.net(torch.from_numpy(preprocess([photos["chelsea"], photos["coffee"]])))
    probs = logits.softmax(-1)
    assert int(probs[0].argmax()) in CATS
    assert int(probs[1].argmax()) in COFFEE and float(probs[1].max()) > 0.8


def test_a_photo_is_closer_to_its_mirror_image_than_to_another_photo(photos, onnx):
    cat, mirrored, coffee = onnx.encode_images(
        [photos["chelsea"], ImageOps.mirror(photos["chelsea"]), photos["coffee"]])
    assert float(cat @ mirrored) > 0.9
    assert float(cat @ mirrored) - float(cat @ coffee) > 0.3


def test_any_size_and_grayscale_input_gives_one_vector_each(onnx):
    images = [Image.new("L", (20, 300), 128), Image.new("RGB", (1000, 17), (0, 255, 0))]
    v = onnx.encode_images(images)
    assert v.shape == (2, DIM) and np.isfinite(v).all()
    assert onnx.encode_images([]).shape == (0, DIM)


def test_export_is_cached_once_and_reused(cache_dir, onnx, monkeypatch):
    files = list((cache_dir / "onnx").glob("*.onnx"))
    assert len(files) == 1 and onnx.backend.path == str(files[0])
    mtime = files[0].stat().st_mtime_ns

    def no_export(*args, **kwargs):
        raise AssertionError("export ran although the cached file exists")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    again = EfficientNetLite0Encoder(runtime="onnxruntime", cache_dir=cache_dir)
    assert again.backend.path == str(files[0]) and files[0].stat().st_mtime_ns == mtime
    assert not list((cache_dir / "onnx").glob(".*"))  # no temporary file left behind


def test_cache_key_changes_with_the_weights(tmp_path):
    assert onnx_cache_path(tmp_path, "m", "a" * 64) != onnx_cache_path(tmp_path, "m", "b" * 64)
    assert onnx_cache_path(tmp_path, "m", "a" * 64) == onnx_cache_path(tmp_path, "m", "a" * 64)
