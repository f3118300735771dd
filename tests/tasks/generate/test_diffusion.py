"""The diffusers backend end to end on a tiny pipeline: YAML job → train → save → load back → paired rows."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from persona_lens.models.base import ModelError
from persona_lens.models.diffusion import load_diffusion_generator, read_adapter
from persona_lens.tasks.generate.checkpoints import CheckpointError, list_checkpoints
from persona_lens.tasks.generate.diffusion import DiffusionTrainConfig, personalize_diffusion
from persona_lens.tasks.generate.job import main, run
from persona_lens.tasks.generate.params import PersonalizationJob, load_job
from persona_lens.tasks.params import ConfigError
from tests.tasks.generate.tiny_pipeline import build_tiny_clip, build_tiny_pipeline

LR = {"lora": 5e-2, "dreambooth": 1e-3, "textual_inversion": 5e-2}   # large: 3 steps must move the weights


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-models")
    refs = root / "refs"
    refs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(refs / f"r{i}.png")
    return {"sd": str(build_tiny_pipeline(root / "sd", 0)), "other": str(build_tiny_pipeline(root / "other", 1)),
            "clip": str(build_tiny_clip(root / "clip")), "refs": str(refs)}


def job_dict(models, method: str, **over) -> dict:
    job = {"subject": {"name": "eileen", "folder": models["refs"]}, "method": method, "generator": models["sd"],
           "num_references": 3, "prompts": ["a photo of {token} person on the beach", "a {token} toy"],
           "seeds": [0, 1], "training": {"steps": 3, "lr": LR[method], "checkpoint_every": 2, "seed": 0},
           "diffusion": {"num_class_images": 2, "sample_steps": 2, "guidance_scale": 1.0,
                         "vl_encoder": models["clip"]}}
    job.update(over)
    return job


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)))


@pytest.mark.parametrize("method", ["lora", "dreambooth", "textual_inversion"])
def test_method_trains_saves_loads_back_and_draws_paired_twins(models, method, tmp_path):
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job_dict(models, method)))
    job = load_job(tmp_path / "job.yaml")
    result = run(job, str(tmp_path / "out"))
    t = result.tables()
    gens = t["generations"].to_pylist()
    base = {r["image_id"]: r for r in gens if r["method"] == "base"}
    pers = [r for r in gens if r["method"] == method]
    assert len(base) == len(pers) == 4       # 2 prompts x 2 seeds, every personalized image new
    for r in pers:                           # linked row by row: same prompt, same seed
        twin = base[r["base_image_id"]]
        assert (twin["prompt"], twin["seed"]) == (r["prompt"], r["seed"]) and "{token}" not in r["prompt"]
        assert r["adapter_uri"].endswith(".safetensors") and r["wall_seconds"] > 0
    adapter = t["adapters"].to_pylist()[0]
    assert adapter["method"] == method and adapter["steps"] == 3 and np.isfinite(adapter["final_loss"])
    tensors, meta = read_adapter(adapter["checkpoint_uri"])
    assert meta["base_digest"] == adapter["base_digest"]
    assert [s for s, _ in list_checkpoints(str(tmp_path / "out" / "checkpoints" / adapter["model_id"]))] == [2, 3]
    metrics = {(r["method"], r["metric"]) for r in t["eval_generate"].to_pylist()}
    assert metrics == {(method, "prompt_fidelity"), ("base", "prompt_fidelity"), (method, "prompt_fidelity_gain")}
    # Loaded back from its file, the adapter redraws the table's images bit for bit (same seed, same image).
    gen = load_diffusion_generator(job.generator, steps=2, guidance_scale=1.0).with_adapter(adapter["checkpoint_uri"])
    again, _ = gen.generate([pers[0]["prompt"]], [pers[0]["seed"]])
    first = next(g for g in result.images if g.image_id == pers[0]["image_id"])
    assert np.array_equal(np.asarray(again[0]), _decode(first.png))


@pytest.mark.parametrize("method", ["lora", "textual_inversion"])
def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(models, method, tmp_path, monkeypatch):
    import persona_lens.tasks.generate.diffusion as diffusion

    base = load_diffusion_generator(models["sd"], steps=2, guidance_scale=1.0)
    refs = [Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)) for i in range(3)]
    cfg = DiffusionTrainConfig(method, steps=3, lr=LR[method], checkpoint_every=2,
                               token="<e>" if method == "textual_inversion" else "sks")
    whole = personalize_diffusion(base, refs, cfg, checkpoint_dir=str(tmp_path / "a"))
    real = diffusion.save_checkpoint

    def crash_after_step_2(folder, step, tensors, meta):
        uri = real(folder, step, tensors, meta)
        if step == 2:
            raise KeyboardInterrupt("killed")
        return uri

    monkeypatch.setattr(diffusion, "save_checkpoint", crash_after_step_2)
    with pytest.raises(KeyboardInterrupt):
        personalize_diffusion(base, refs, cfg, checkpoint_dir=str(tmp_path / "b"))
    monkeypatch.setattr(diffusion, "save_checkpoint", real)
    resumed = personalize_diffusion(base, refs, cfg, checkpoint_dir=str(tmp_path / "b"))
    assert resumed.resumed_from == 2 and resumed.losses == whole.losses
    assert whole.adapter.keys() == resumed.adapter.keys()
    assert all(torch.equal(whole.adapter[k], resumed.adapter[k]) for k in whole.adapter)
    other_seed = personalize_diffusion(base, refs, DiffusionTrainConfig(**{**cfg.__dict__, "seed": 1}))
    assert not all(torch.equal(whole.adapter[k], other_seed.adapter[k]) for k in whole.adapter)


def test_checkpoint_of_another_base_model_is_refused_naming_both_and_nothing_is_written(models, tmp_path):
    out = tmp_path / "out"
    job = PersonalizationJob.parse(job_dict(models, "textual_inversion", model_id="m",
                                            training={"steps": 2, "checkpoint_every": 1, "lr": 0.05}))
    other = load_diffusion_generator(models["other"], steps=2, guidance_scale=1.0)
    refs = [Image.fromarray(np.zeros((32, 32, 3), np.uint8))] * 3
    personalize_diffusion(other, refs, DiffusionTrainConfig("textual_inversion", steps=1, token="<eileen>"),
                          checkpoint_dir=str(out / "checkpoints" / "m"))
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(CheckpointError, match=rf"base model '{other.name}'.*not from '{job.generator}'"):
        run(job, str(out))
    assert sorted(p.name for p in out.rglob("*")) == before and not (out / "m.safetensors").exists()


@pytest.mark.parametrize("over, match", [
    ({"method": "dreamboth"}, r"'method'.*unknown method 'dreamboth'"),
    ({"method": "full"}, r"method 'full' is not available for the diffusers generator"),
    ({"generator": "/no/such/model"}, r"'generator'.*not an existing folder"),
    ({"prompts": []}, r"needs prompts"),
    ({"prompts": ["a {subject} photo"]}, r"prompts\[0\].*placeholders"),
    ({"seeds": [1, 1]}, r"'seeds'.*distinct"),
    ({"diffusion": {"dtype": "float8"}}, r"'diffusion.dtype'.*float8"),
])
def test_bad_job_is_refused_naming_the_field(models, over, match):
    with pytest.raises(ConfigError, match=match):
        PersonalizationJob.parse({**job_dict(models, "lora"), **over})


def test_textual_inversion_prompts_must_use_the_token_and_folders_must_be_pipelines(models, tmp_path):
    with pytest.raises(ConfigError, match=r"prompts\[0\] 'a dog'.*does not use the learned token"):
        PersonalizationJob.parse(job_dict(models, "textual_inversion", prompts=["a dog"]))
    with pytest.raises(ConfigError, match="no weights.tar.*nor model_index.json"):
        PersonalizationJob.parse(job_dict(models, "lora", generator=str(tmp_path)))


def test_prompts_file_beside_the_job_and_model_override_on_the_command_line(models, tmp_path):
    (tmp_path / "prompts.yaml").write_text(yaml.safe_dump({"prompts": ["a {token} toy"]}))
    job = job_dict(models, "textual_inversion", prompts="prompts.yaml", seeds=[5], generator="dcgan-face-64",
                   training={"steps": 1, "lr": 0.05})
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    with pytest.raises(ConfigError, match="needs a diffusers generator"):
        load_job(tmp_path / "job.yaml")    # the job alone names the DCGAN, which knows no textual inversion
    assert main([str(tmp_path / "job.yaml"), str(tmp_path / "out")]) == 2 and not (tmp_path / "out").exists()
    assert load_job(tmp_path / "job.yaml", generator=models["sd"]).prompts == ["a {token} toy"]
    assert main([str(tmp_path / "job.yaml"), str(tmp_path / "out"), "--model", models["sd"]]) == 0
    import pyarrow.parquet as pq

    gens = pq.read_table(tmp_path / "out" / "tables" / "generations.parquet").to_pylist()
    assert {r["generator"] for r in gens} == {models["sd"]} and {r["prompt"] for r in gens} == {"a <eileen> toy"}


def test_half_precision_on_cpu_fails_before_anything_is_written(models, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("float16 is allowed on a GPU")
    job = PersonalizationJob.parse(job_dict(models, "lora", diffusion={"dtype": "float16"}))
    with pytest.raises(ModelError, match="'float16' needs a GPU"):
        run(job, str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
