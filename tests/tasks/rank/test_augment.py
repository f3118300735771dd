"""Image-operation copies of identity pictures: seeded, labelled like their originals, never identity edits."""

import numpy as np
import pytest
from PIL import Image

from persona_lens.tasks.rank.augment import augmented_pictures


def _pictures(n):
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)) for _ in range(n)]


def test_each_picture_gets_its_copies_with_its_label_and_the_same_seed_gives_the_same_pixels():
    images, labels = _pictures(3), np.array(["a", "b", "c"], dtype=object)
    out, out_labels = augmented_pictures(images, labels, copies=2, seed=5)
    again, _ = augmented_pictures(images, labels, copies=2, seed=5)
    assert out_labels.tolist() == ["a", "a", "b", "b", "c", "c"]
    assert all(o.size == (48, 48) for o in out)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(out, again))
    assert any(not np.array_equal(np.asarray(out[0]), np.asarray(images[0])) for _ in [0])


def test_no_copies_is_nothing_and_negative_copies_are_refused():
    out, labels = augmented_pictures(_pictures(2), np.array(["a", "b"]), copies=0)
    assert out == [] and len(labels) == 0
    with pytest.raises(ValueError, match="copies"):
        augmented_pictures(_pictures(1), np.array(["a"]), copies=-1)
