"""The packaged DCGAN: real weights loaded without unpickling, seeded latents, faces dlib can find."""

import pytest
import torch

from persona_lens.models.base import ModelError
from persona_lens.models.gan import (DCGANGenerator, from_pil, generate, latents, load_dcgan, load_state,
                                     state_digest, to_pil, to_uint8, weights_path)


@pytest.fixture(scope="module")
def net():
    return load_dcgan()


def test_shipped_weights_fit_the_module_exactly(net):
    state = load_state()
    assert set(state) == set(DCGANGenerator().state_dict())
    assert not any(p.requires_grad for p in net.parameters()) and not net.training


def test_a_seed_draws_the_same_faces_and_another_seed_others(net):
    a, b, c = generate(net, latents(3, 4)), generate(net, latents(3, 4)), generate(net, latents(4, 4))
    assert a.shape == (4, 3, 64, 64) and torch.equal(a, b) and not torch.allclose(a, c)
    assert a.min() >= -1 and a.max() <= 1


def test_a_face_does_not_depend_on_its_batch(net):
    z = latents(5, 6)
    assert torch.allclose(generate(net, z)[:1], generate(net, z[:1]), atol=1e-5)


def test_images_round_trip_through_pil(net):
    x = generate(net, latents(0, 2))
    images = to_pil(x)
    assert images[0].size == (64, 64) and to_uint8(x).dtype.name == "uint8"
    assert (from_pil(images) - x).abs().max() <= 1 / 127.5 + 1e-6


def test_bad_seed_and_foreign_weights_are_refused(tmp_path):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        latents(-1, 2)
    bad = tmp_path / "w.tar"
    torch.save({"other": {}}, bad)
    with pytest.raises(ModelError, match="netG_state_dict"):
        load_state(bad)


def test_state_digest_tells_weights_apart(net):
    state = net.state_dict()
    other = {k: v.clone() for k, v in state.items()}
    other["main.0.weight"][0, 0, 0, 0] += 1
    assert state_digest(state) != state_digest(other) and weights_path().name == "weights.tar"
