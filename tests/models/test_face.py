"""The dlib face descriptor: same face close, different faces apart, fallbacks counted, contract kept."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from persona_lens.models.base import ImageEncoder
from persona_lens.models.face import SAME_PERSON_DISTANCE, face_distance, load_face_encoder
from persona_lens.tasks.generate.subjects import crop_face, packaged_photos


@pytest.fixture(scope="module")
def enc():
    return load_face_encoder()


@pytest.fixture(scope="module")
def faces():
    return {k: crop_face(Image.open(p).convert("RGB")).resize((64, 64)) for k, p in packaged_photos().items()}


def test_is_an_image_encoder_with_unit_rows(enc, faces):
    assert isinstance(enc, ImageEncoder) and enc.dim == 128
    v = enc.encode_images(list(faces.values()))
    assert v.shape == (2, 128) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)


def test_same_person_under_the_threshold_two_people_over_it(enc, faces):
    a, h = faces["astronaut"], faces["grace_hopper"]
    d = enc.describe([a, ImageOps.mirror(a), h])
    assert d.detected.all()
    assert face_distance(d.raw[0], d.raw[1]) < SAME_PERSON_DISTANCE < face_distance(d.raw[0], d.raw[2])


def test_an_image_without_a_face_is_flagged_not_hidden(enc):
    before = enc.fallbacks
    d = enc.describe([Image.new("RGB", (64, 64), (120, 120, 120))])
    assert not d.detected[0] and d.fallbacks == 1 and enc.fallbacks == before + 1
