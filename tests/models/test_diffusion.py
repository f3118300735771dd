"""diffusers pipelines from a local folder: a tiny Stable Diffusion pipeline built from configs, loaded by path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_lens.models.base import ModelError
from persona_lens.models.diffusion import (base_digest, load_diffusion_generator, read_adapter, resolve_device,
                                           resolve_dtype, save_adapter)
from tests.tasks.generate.tiny_pipeline import build_tiny_pipeline


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-sd")
    return build_tiny_pipeline(root / "a", seed=0), build_tiny_pipeline(root / "b", seed=1)


@pytest.fixture(scope="module")
def base(folders):
    return load_diffusion_generator(folders[0], steps=2, guidance_scale=1.0)


def _arrays(images):
    return [np.asarray(im) for im in images]


def test_same_prompt_and_seed_give_the_same_image_and_another_seed_another(base):
    a, _ = base.generate(["a photo of a dog", "a photo of a dog"], [3, 4])
    b, seconds = base.generate(["a photo of a dog"], [3])
    assert a[0].size == (32, 32) and seconds > 0
    assert np.array_equal(_arrays(a)[0], _arrays(b)[0])
    assert not np.array_equal(_arrays(a)[0], _arrays(a)[1])


def test_latent_codes_drive_generation_instead_of_the_seed(base):
    z = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(7))
    a, _ = base.generate(["a cat"], [0], latents=z)
    b, _ = base.generate(["a cat"], [99], latents=z)
    c, _ = base.generate(["a cat"], [0])
    assert np.array_equal(_arrays(a)[0], _arrays(b)[0]) and not np.array_equal(_arrays(a)[0], _arrays(c)[0])


def test_device_and_dtype_follow_the_machine_and_half_precision_is_refused_on_cpu():
    dev = resolve_device("auto")
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", torch.device("cpu")) == torch.float32
    assert resolve_dtype("auto", torch.device("cuda")) == torch.float16
    with pytest.raises(ModelError, match="'float16' needs a GPU"):
        resolve_dtype("float16", torch.device("cpu"))
    with pytest.raises(ModelError, match="dtype must be one of"):
        resolve_dtype("int8", torch.device("cpu"))


def test_missing_or_non_pipeline_folder_is_refused(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_diffusion_generator(tmp_path / "nope")
    with pytest.raises(ModelError, match="no model_index.json"):
        load_diffusion_generator(tmp_path)


def test_base_digest_names_the_weights_not_the_load(folders, base):
    assert base.digest == base_digest(folders[0]) and base.digest != base_digest(folders[1])


def test_textual_inversion_adapter_loads_back_changes_only_prompts_with_its_token(base, tmp_path):
    vec = torch.randn(32, generator=torch.Generator().manual_seed(0)) * 3
    uri = save_adapter(str(tmp_path / "ti.safetensors"), "textual_inversion", {"<x>": vec},
                       {"base_digest": base.digest, "base_model": base.name, "token": "<x>"})
    tensors, meta = read_adapter(uri)
    assert torch.equal(tensors["<x>"], vec) and meta["method"] == "textual_inversion"
    pers = base.with_adapter(uri)
    prompts, seeds = ["a photo of <x> person", "a photo of person"], [1, 1]
    b, _ = base.generate(prompts, seeds)
    p, _ = pers.generate(prompts, seeds)
    assert not np.array_equal(_arrays(b)[0], _arrays(p)[0])    # the token now means the learned vector
    assert np.array_equal(_arrays(b)[1], _arrays(p)[1])        # nothing else moved
    assert base.pipeline.tokenizer.convert_tokens_to_ids("<x>") != pers.pipeline.tokenizer.convert_tokens_to_ids("<x>")


def test_adapter_of_another_base_model_is_refused_naming_both(folders, base, tmp_path):
    other = load_diffusion_generator(folders[1], steps=2, guidance_scale=1.0)
    uri = save_adapter(str(tmp_path / "ti.safetensors"), "textual_inversion", {"<x>": torch.zeros(32)},
                       {"base_digest": other.digest, "base_model": other.name, "token": "<x>"})
    with pytest.raises(ModelError, match=rf"trained from base model '{other.name}'.*not from '{base.name}'"):
        base.with_adapter(uri)


def test_a_file_that_is_not_an_adapter_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(ModelError, match="not a diffusers adapter"):
        read_adapter(str(tmp_path / "x.safetensors"))
    with pytest.raises(ModelError, match="does not exist"):
        read_adapter(str(tmp_path / "missing.safetensors"))
