"""The registry: names and folders → encoders, clear one-line errors, one load per process."""

from __future__ import annotations

import json

import pytest

from persona_lens.models.base import ImageEncoder, ModelError, TextEncoder
from persona_lens.models.registry import (
    canonical_image_encoder, canonical_text_encoder, encoder_slug, load_image_encoder, load_text_encoder,
)
from persona_lens.models.text import minilm_folder


def test_unknown_name_error_names_the_value_and_the_known_names():
    with pytest.raises(ModelError, match=r"unknown image encoder 'resnet-9000'.*efficientnet-lite0") as err:
        load_image_encoder("resnet-9000")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match=r"unknown text encoder 'efficientnet-lite0'.*all-minilm-l6-v2"):
        load_text_encoder("efficientnet-lite0")


def test_missing_folder_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(ModelError, match="not an existing folder"):
        load_image_encoder(str(tmp_path / "no-such-model"))


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_encoder_name_is_refused(bad):
    with pytest.raises(ModelError, match="must be a name or a folder path"):
        canonical_image_encoder(bad)


def test_bad_runtime_and_threads_are_refused_naming_the_value():
    with pytest.raises(ModelError, match=r"runtime must be one of .*got 'tensorrt'"):
        load_image_encoder("efficientnet-lite0", runtime="tensorrt")
    with pytest.raises(ModelError, match=r"threads must be a positive integer or None, got 0"):
        load_image_encoder("efficientnet-lite0", threads=0)


def test_folder_without_a_model_config_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ModelError, match="has no config.json"):
        load_image_encoder(str(tmp_path))
    with pytest.raises(ModelError, match="neither modules.json nor config.json"):
        load_text_encoder(str(tmp_path))


def test_text_model_folder_is_refused_as_an_image_encoder():
    with pytest.raises(ModelError, match="sentence-transformers"):
        load_image_encoder(str(minilm_folder()))


def test_unsupported_transformers_model_type_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8,
                                                      "num_attention_heads": 2, "num_hidden_layers": 1,
                                                      "intermediate_size": 8, "vocab_size": 10}))
    with pytest.raises(ModelError, match=r"model_type 'bert'; supported: .*clip.*dinov2"):
        load_image_encoder(str(tmp_path))


def test_names_are_case_insensitive_and_folders_are_stored_by_absolute_path(tmp_path, monkeypatch):
    assert canonical_image_encoder("EfficientNet-Lite0") == "efficientnet-lite0"
    assert canonical_text_encoder("All-MiniLM-L6-v2") == "all-minilm-l6-v2"
    (tmp_path / "m").mkdir()
    monkeypatch.chdir(tmp_path)
    assert canonical_image_encoder("m") == canonical_image_encoder(str(tmp_path / "m")) == str(tmp_path / "m")


def test_slug_is_a_safe_file_name_and_distinguishes_folders_of_the_same_name(tmp_path):
    a, b = tmp_path / "x" / "my model", tmp_path / "y" / "my model"
    slugs = {encoder_slug(str(a)), encoder_slug(str(b))}
    assert len(slugs) == 2 and all("/" not in s and " " not in s and not s.startswith(".") for s in slugs)
    assert encoder_slug("efficientnet-lite0") == "efficientnet-lite0"


def test_default_image_encoder_is_efficientnet_on_onnxruntime_and_loads_once(onnx_cache_dir):
    enc = load_image_encoder()
    assert isinstance(enc, ImageEncoder)
    assert (enc.name, enc.dim, enc.runtime) == ("efficientnet-lite0", 1280, "onnxruntime")
    assert load_image_encoder("EFFICIENTNET-LITE0", runtime="auto") is enc
    assert load_image_encoder(runtime="torch").runtime == "torch"


def test_default_text_encoder_is_minilm_and_loads_once():
    enc = load_text_encoder()
    assert isinstance(enc, TextEncoder) and (enc.name, enc.dim) == ("all-minilm-l6-v2", 384)
    assert load_text_encoder("all-minilm-l6-v2") is enc
