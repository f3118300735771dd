"""transformers models from a local folder: a tiny random CLIP and DINOv2 saved to disk, loaded by path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from persona_lens.models.base import ImageEncoder, ModelError, TextEncoder
from persona_lens.models.hf_vision import HFVisionEncoder
from persona_lens.models.registry import load_image_encoder, load_text_encoder
from persona_lens.models.runtime import cosine_rows

WORDS = "a photo of cat dog red blue green square circle on the".split()


def _tokenizer():
    """A word-level tokenizer built with `tokenizers` (no download), wrapped for transformers."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"[PAD]": 0, "[UNK]": 1, "[BOS]": 2, "[EOS]": 3, **{w: i + 4 for i, w in enumerate(WORDS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[BOS] $A [EOS]",
                                                       special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                      bos_token="[BOS]", eos_token="[EOS]", model_max_length=16)
    return wrapped, len(vocab)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = tmp_path_factory.mktemp("tiny-clip")
    tokenizer, vocab_size = _tokenizer()
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, bos_token_id=2, eos_token_id=3,
                         pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=24)
    CLIPModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def dinov2_dir(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    folder = tmp_path_factory.mktemp("tiny-dinov2")
    torch.manual_seed(0)
    config = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                          image_size=28, patch_size=14)
    Dinov2Model(config).eval().save_pretrained(folder)
    processor = BitImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 28, "width": 28})
    processor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(1)
    sizes = ((40, 40), (64, 30), (50, 90))
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]


def test_clip_folder_loads_by_path_as_image_and_text_encoder(clip_dir):
    img, txt = load_image_encoder(str(clip_dir)), load_text_encoder(str(clip_dir))
    assert isinstance(img, ImageEncoder) and isinstance(txt, TextEncoder)
    assert img is txt  # one model serves both towers, loaded once
    assert (img.name, img.dim, img.runtime) == (str(clip_dir), 24, "torch")


def test_clip_image_vectors_are_the_models_projected_features(clip_dir, images):
    from transformers import AutoImageProcessor, CLIPModel

    enc = load_image_encoder(str(clip_dir))
    got = enc.encode_images(images)
    model = CLIPModel.from_pretrained(clip_dir).eval()
    pixels = AutoImageProcessor.from_pretrained(clip_dir, backend="pil")(images=images, return_tensors="pt")
    with torch.no_grad():
        out = model.get_image_features(pixel_values=pixels["pixel_values"])
    ref = getattr(out, "pooler_output", out).numpy()
    assert got.shape == (3, 24) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert cosine_rows(got, ref).min() >= 0.99999


def test_clip_text_vectors_are_the_models_projected_features(clip_dir):
    from transformers import CLIPModel

    texts = ["a photo of a cat", "a red square on the blue circle", "dog"]
    got = load_text_encoder(str(clip_dir)).encode_texts(texts)
    model = CLIPModel.from_pretrained(clip_dir).eval()
    tok = _tokenizer()[0]
    with torch.no_grad():
        out = model.get_text_features(**tok(texts, padding=True, return_tensors="pt"))
    ref = getattr(out, "pooler_output", out).numpy()
    assert got.shape == (3, 24)
    assert cosine_rows(got, ref).min() >= 0.99999
    assert cosine_rows(got[:1], got[1:2])[0] < 0.9999  # different texts, different vectors


def test_clip_onnx_runtime_matches_eager(clip_dir, images, onnx_cache_dir):
    onnx = load_image_encoder(str(clip_dir), runtime="onnxruntime", threads=1)
    assert onnx.runtime == "onnxruntime" and list((onnx_cache_dir / "onnx").glob("clip-*.onnx"))
    eager = load_image_encoder(str(clip_dir), runtime="torch")
    assert cosine_rows(onnx.encode_images(images), eager.encode_images(images)).min() >= 0.9999


def test_dinov2_folder_gives_the_cls_token(dinov2_dir, images):
    from transformers import AutoImageProcessor, Dinov2Model

    enc = load_image_encoder(str(dinov2_dir))
    got = enc.encode_images(images)
    model = Dinov2Model.from_pretrained(dinov2_dir).eval()
    pixels = AutoImageProcessor.from_pretrained(dinov2_dir, backend="pil")(images=images, return_tensors="pt")
    with torch.no_grad():
        cls = model(**pixels).last_hidden_state[:, 0].numpy()
    assert got.shape == (3, 32)
    assert cosine_rows(got, cls).min() >= 0.99999


def test_a_vision_only_folder_has_no_text_encoder(dinov2_dir):
    with pytest.raises(ModelError, match="without a text tower"):
        load_text_encoder(str(dinov2_dir))
    with pytest.raises(ModelError, match="has no text tower"):
        HFVisionEncoder(dinov2_dir).encode_texts(["x"])
