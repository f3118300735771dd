"""The generator registry: every backend behind one `Generator` interface, drawing twins from seeds."""

import numpy as np
import pytest

from persona_lens.models.base import Generator, ModelError
from persona_lens.models.registry import load_generator


def test_the_shipped_dcgan_draws_the_same_face_for_the_same_seed():
    gen = load_generator("dcgan-face-64")
    assert isinstance(gen, Generator) and gen.name == "dcgan-face-64"
    a, b, c = gen.draw([3, 3, 4])
    assert a.size == (64, 64) and np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))
    with pytest.raises(ValueError, match="takes no prompts"):
        gen.draw([0], ["a face"])


def test_a_diffusers_folder_is_a_text_to_image_generator(tmp_path):
    from tests.tasks.generate.tiny_pipeline import build_tiny_pipeline

    gen = load_generator(build_tiny_pipeline(tmp_path / "sd"))
    assert isinstance(gen, Generator)
    first, again = gen.draw([1], ["a photo of a dog"]), gen.draw([1], ["a photo of a dog"])
    assert np.array_equal(np.asarray(first[0]), np.asarray(again[0]))
    with pytest.raises(ValueError, match="give one prompt per seed"):
        gen.draw([1])


def test_an_unknown_generator_is_named(tmp_path):
    with pytest.raises(ModelError, match="unknown generator 'nope'"):
        load_generator("nope")
    with pytest.raises(ModelError, match="unknown generator"):
        load_generator(str(tmp_path))
