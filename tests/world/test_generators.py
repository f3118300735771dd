"""The world's simulated generators behind the `Generator` interface: the profile's own prompts draw the
pictures the world writes, new prompts draw new twins, and a prompt without a known background is refused."""

import numpy as np
import pytest

from persona_lens.models.base import Generator
from persona_lens.world.generators import background_phrases, prompt_background, world_generators
from persona_lens.world.profiles import BASE_MODEL_ID, render_base, render_personalized
from tests.world.conftest import TINY


@pytest.fixture(scope="module")
def generators():
    return world_generators(TINY)


def test_every_profile_has_a_base_and_a_personalized_generator(generators):
    assert len(generators) == TINY.profiles
    for model_id, (base, personalized) in generators.items():
        assert isinstance(base, Generator) and isinstance(personalized, Generator)
        assert (base.model_id, personalized.model_id) == (BASE_MODEL_ID, model_id)


def test_the_profiles_own_prompts_draw_the_worlds_pictures(generators):
    base, personalized = generators["sim-0001"]
    profile = personalized.profile
    seeds, texts = [p.seed for p in profile.prompts], [p.text for p in profile.prompts]
    for prompt, b, g in zip(profile.prompts, base.draw(seeds, texts), personalized.draw(seeds, texts)):
        assert np.array_equal(np.asarray(b), np.asarray(render_base(TINY, profile, prompt)))
        assert np.array_equal(np.asarray(g), np.asarray(render_personalized(TINY, profile, prompt, base.tree)))


def test_a_new_prompt_and_seed_draw_new_twins_that_differ_by_the_subject(generators):
    base, personalized = generators["sim-0000"]          # the control: the subject, no shift
    noun = f"{personalized.profile.subject.subclass} {personalized.profile.subject.category}"
    text = f"sks {noun} sitting in front of {background_phrases()['beach']}"
    (b,), (g,) = base.draw([12345], [text]), personalized.draw([12345], [text])
    (b2,) = base.draw([54321], [text])
    assert not np.array_equal(np.asarray(b), np.asarray(g))
    assert not np.array_equal(np.asarray(b), np.asarray(b2))     # the seed lays the picture out


def test_a_prompt_must_name_a_background_of_the_world():
    phrases = background_phrases()
    assert prompt_background(f"a cat in front of {phrases['night']}", phrases) == "night"
    with pytest.raises(ValueError, match="names none of the world's backgrounds"):
        prompt_background("a cat on the moon", phrases)


def test_drawing_needs_one_prompt_per_seed(generators):
    base, _ = generators["sim-0000"]
    with pytest.raises(ValueError, match="one prompt per seed"):
        base.draw([1, 2], ["a photo"])
