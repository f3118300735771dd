"""Shared: the base generator and a tiny, fast training setting (real weights, few steps)."""

import pytest

from persona_lens.models.gan import load_dcgan


@pytest.fixture(scope="session")
def base():
    return load_dcgan()


def tiny_job(tmp_path, **over) -> dict:
    job = {"subject": {"name": "eileen", "packaged": "astronaut"}, "method": "lora", "num_references": 3,
           "latents": {"count": 2}, "training": {"steps": 30, "checkpoint_every": 5, "inversion_steps": 5,
                                                 "inversion_candidates": 16}}
    for k, v in over.items():
        job[k] = v
    return job
