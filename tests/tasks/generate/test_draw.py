"""Drawing without training: a base generator alone, or base and adapter twins on the same inputs,
bit for bit the images the training run drew; an adapter of another base is refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from persona_lens.models.base import ModelError
from persona_lens.models.gan import from_pil, generate, latents, to_pil
from persona_lens.tasks.generate import TrainConfig, personalize
from persona_lens.tasks.generate.checkpoints import save_adapter
from persona_lens.tasks.generate.draw import draw
from persona_lens.tasks.generate.job import run
from persona_lens.tasks.generate.params import DrawParams, load_job
from persona_lens.tasks.generate.subjects import packaged_subject
from persona_lens.tasks.params import ConfigError
from tests.tasks.generate.tiny_pipeline import build_tiny_clip, build_tiny_pipeline


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.fixture(scope="module")
def gan_adapter(tmp_path_factory, base):
    refs = from_pil(packaged_subject("astronaut", 3).references)
    cfg = TrainConfig("lora", steps=4, inversion_steps=2, inversion_candidates=8, locality_batch=2, lr=5e-2)
    p = personalize(refs, cfg, base=base)
    from persona_lens.models.gan import state_digest

    uri = str(tmp_path_factory.mktemp("adapters") / "astro-lora.safetensors")
    save_adapter(uri, p.adapter, {"base_digest": state_digest(base.state_dict()), "model_id": "astro-lora",
                                  "method": "lora", "subject": "astronaut", "hyperparameters": cfg.hyperparameters()})
    return uri, p.model


def test_a_base_generator_alone_draws_one_base_row_per_seed():
    result = draw(DrawParams.parse(seeds=[3, 5]))
    rows = result.tables()["generations"].to_pylist()
    assert [r["method"] for r in rows] == ["base", "base"] and [r["seed"] for r in rows] == [3, 5]
    assert all(r["base_image_id"] is None and r["latent_id"] == f"seed:{r['seed']}:0" for r in rows)


def test_dcgan_adapter_twins_share_latents_and_match_the_trained_model(gan_adapter, base):
    uri, trained = gan_adapter
    result = draw(DrawParams.parse(seeds=[0, 1, 2], adapter=uri))
    rows = result.tables()["generations"].to_pylist()
    base_rows = {r["image_id"]: r for r in rows if r["method"] == "base"}
    pers = [r for r in rows if r["method"] == "lora"]
    assert len(base_rows) == len(pers) == 3
    assert {r["model_id"] for r in pers} == {"astro-lora"} and {r["subject"] for r in pers} == {"astronaut"}
    for r in pers:
        assert base_rows[r["base_image_id"]]["latent_id"] == r["latent_id"] and r["adapter_uri"] == uri
    images = {g.image_id: _pixels(g.png) for g in result.images}
    z = torch.cat([latents(s, 1) for s in (0, 1, 2)])
    expected = [np.asarray(im) for im in to_pil(generate(trained, z))]
    assert all(np.array_equal(images[r["image_id"]], e) for r, e in zip(pers, expected))
    assert not np.array_equal(images[pers[0]["image_id"]], images[pers[0]["base_image_id"]])


def test_an_adapter_of_another_base_model_is_refused_naming_it(gan_adapter, tmp_path, base):
    other = type(base)()
    other.load_state_dict(base.state_dict())
    with torch.no_grad():
        other.main[0].weight.add_(0.01)
    torch.save({"netG_state_dict": other.state_dict()}, tmp_path / "weights.tar")   # a user's DCGAN folder
    with pytest.raises(ModelError, match="trained from another base model"):
        draw(DrawParams.parse(model=str(tmp_path), seeds=[0], adapter=gan_adapter[0]))


@pytest.mark.parametrize("over, match", [
    ({"prompts": ["a face"]}, "driven by latent codes"),
    ({"adapter": "/nowhere/x.safetensors"}, "does not exist"),
    ({"seeds": [1, 1]}, "distinct"),
    ({"model": "/nowhere"}, "not an existing folder"),
])
def test_bad_draw_parameters_are_refused_naming_the_field(over, match):
    with pytest.raises(ConfigError, match=match):
        DrawParams.parse(**over)


def test_diffusers_twins_from_an_existing_adapter_match_the_training_run(tmp_path):
    sd, clip = str(build_tiny_pipeline(tmp_path / "sd", 0)), str(build_tiny_clip(tmp_path / "clip"))
    refs = tmp_path / "refs"
    refs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(refs / f"r{i}.png")
    job = {"subject": {"name": "eileen", "folder": str(refs)}, "method": "lora", "generator": sd, "num_references": 3,
           "prompts": ["a photo of {token} person on the beach"], "seeds": [0, 1],
           "training": {"steps": 3, "lr": 5e-2, "checkpoint_every": 3},
           "diffusion": {"sample_steps": 2, "guidance_scale": 1.0, "vl_encoder": None}}
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    trained = run(load_job(tmp_path / "job.yaml"), str(tmp_path / "out"))
    uri = trained.tables()["adapters"].to_pylist()[0]["checkpoint_uri"]
    with pytest.raises(ConfigError, match="needs prompts"):
        DrawParams.parse(model=sd, adapter=uri)
    result = draw(DrawParams.parse(model=sd, prompts=["a photo of sks person on the beach"], seeds=[0, 1],
                                   adapter=uri, sample_steps=2, guidance_scale=1.0, vl_encoder=clip))
    drawn = {g.image_id for g in result.images}
    assert {g.image_id for g in trained.images} == drawn          # the same bytes: the same images
    rows = result.tables()["generations"].to_pylist()
    assert {r["subject"] for r in rows if r["method"] == "lora"} == {"eileen"}
    metrics = {r["metric"] for r in result.tables()["eval_generate"].to_pylist()}
    assert "prompt_fidelity_gain" in metrics
