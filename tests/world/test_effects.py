"""Effects: every image-op concept of the taxonomy, continuous and monotone in its intensity."""

import numpy as np
import pytest
from PIL import Image

from persona_lens.world.effects import apply_concept, apply_concepts
from persona_lens.world.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()
IMAGE_OP_CONCEPTS = TAXONOMY.concepts(image_ops_only=True)
# Geometry moves pixels, so pixel distance saturates at once; for those the growing quantity is the
# geometry itself and only "changes" and "determinism" are asserted.
GEOMETRY = {"composition"}


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.chelsea()).resize((160, 128))


def _distance(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())


@pytest.mark.parametrize("concept", IMAGE_OP_CONCEPTS, ids=lambda c: c.phrase)
def test_intensity_zero_is_the_identity_and_one_changes_the_image(photo, concept):
    assert apply_concept(photo, concept, 0.0).tobytes() == photo.tobytes()
    full = apply_concept(photo, concept, 1.0, np.random.default_rng(0))
    assert full.size == photo.size and full.mode == "RGB"
    assert _distance(full, photo) > 3.0


@pytest.mark.parametrize("concept", [c for c in IMAGE_OP_CONCEPTS if c.aspect not in GEOMETRY],
                         ids=lambda c: c.phrase)
def test_stronger_intensity_moves_the_image_further(photo, concept):
    distances = [_distance(apply_concept(photo, concept, t, np.random.default_rng(0)), photo)
                 for t in (0.25, 0.5, 1.0)]
    assert distances[0] < distances[1] < distances[2], distances


@pytest.mark.parametrize("concept", IMAGE_OP_CONCEPTS, ids=lambda c: c.phrase)
def test_same_rng_seed_gives_the_same_pixels(photo, concept):
    a = apply_concept(photo, concept, 0.7, np.random.default_rng(3))
    b = apply_concept(photo, concept, 0.7, np.random.default_rng(3))
    assert a.tobytes() == b.tobytes()


def test_render_only_concepts_are_refused(photo):
    with pytest.raises(ValueError, match="renderer"):
        apply_concept(photo, TAXONOMY.concept("background", "a brick wall"), 0.5)


@pytest.mark.parametrize("intensity", [-0.1, 1.5, float("nan"), "high"])
def test_intensity_outside_zero_one_is_refused(photo, intensity):
    with pytest.raises(ValueError, match="intensity"):
        apply_concept(photo, TAXONOMY.concept("color", "warm orange tones"), intensity)


def test_several_shifts_apply_in_aspect_order_whatever_order_they_are_given(photo):
    noise = TAXONOMY.concept("texture", "grainy film noise")
    zoom = TAXONOMY.concept("composition", "a tight close-up")
    a = apply_concepts(photo, [(noise, 1.0), (zoom, 1.0)], np.random.default_rng(0))
    b = apply_concepts(photo, [(zoom, 1.0), (noise, 1.0)], np.random.default_rng(0))
    assert a.tobytes() == b.tobytes()
    # Geometry first: the grain is added after zooming, so it stays fine instead of being magnified.
    zoomed = apply_concept(photo, zoom, 1.0)
    grain = lambda im: np.abs(np.diff(np.asarray(im, np.float32), axis=1)).mean()  # noqa: E731
    assert grain(a) > grain(zoomed) + 5
