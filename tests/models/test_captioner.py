"""The ClipCap-style captioner: prompt building with a persona slot, training signal, save/load, SmolLM2."""

from __future__ import annotations

import os

import pytest
import torch

from persona_lens.models.base import ModelError
from persona_lens.models.captioner import (
    Captioner, MappingConfig, MappingNetwork, PatchEncoder, PrefixCaptioner, PromptBuilder, load_captioner_parts,
    load_language_model, save_captioner, small_language_model, word_tokenizer,
)

TEXTS = ["a red cup and a cat.", "there is a blue lamp next to a hat."]


def tiny(seed=0):
    tok = word_tokenizer(TEXTS)
    lm = small_language_model(len(tok), dim=32, layers=1, heads=2, seed=seed)
    torch.manual_seed(seed)
    return MappingNetwork(MappingConfig(lm_dim=32, width=32, layers=1, heads=2, prefix_len=4)), lm, tok


def test_persona_row_changes_the_prompt_and_the_loss():
    mapping, lm, tok = tiny()
    b = PromptBuilder(lm, tok)
    plain = b.prompt_embeds(2, None)
    rows = torch.randn(2, 32)
    persona = b.prompt_embeds(2, rows)
    assert persona.shape[1] > plain.shape[1]
    slot = [i for i in range(persona.shape[1]) if torch.allclose(persona[0, i], rows[0])]
    assert len(slot) == 1
    x = torch.randn(2, 49, 1280)
    # (a rescaled row would not do: the LM's RMSNorm is scale-invariant)
    assert b.loss(mapping(x), TEXTS, rows) != b.loss(mapping(x), TEXTS, torch.randn(2, 32))


def test_prefix_training_lowers_the_caption_loss():
    mapping, lm, tok = tiny()
    b = PromptBuilder(lm, tok)
    x = torch.randn(2, 49, 1280)
    opt = torch.optim.Adam([*mapping.parameters(), *lm.parameters()], 1e-2)
    first = float(b.loss(mapping(x), TEXTS))
    for _ in range(30):
        loss = b.loss(mapping(x), TEXTS)
        opt.zero_grad(); loss.backward(); opt.step()
    assert float(loss) < 0.5 * first


def test_saved_captioner_reloads_to_the_same_outputs_and_captions_images(tmp_path):
    from PIL import Image

    mapping, lm, tok = tiny()
    save_captioner(tmp_path / "cap", mapping, lm, tok)
    m2, lm2, tok2 = load_captioner_parts(tmp_path / "cap")
    x = torch.randn(1, 49, 1280)
    # The mapping ships in half precision (models.runtime.half_precision): outputs agree to ~1e-3.
    assert torch.allclose(mapping.eval()(x), m2(x), atol=2e-3)   # frozen copy takes the fused fast path
    cap = PrefixCaptioner(m2, lm2, tok2)
    assert isinstance(cap, Captioner)
    out = cap.caption([Image.new("RGB", (160, 160), (200, 40, 40))], max_new_tokens=5)
    assert len(out) == 1 and isinstance(out[0], str)


def test_missing_captioner_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="train-captioner"):
        load_captioner_parts(tmp_path)


def test_patch_encoder_gives_a_7x7_grid():
    from PIL import Image

    assert PatchEncoder()([Image.new("RGB", (160, 160))]).shape == (1, 49, 1280)


@pytest.mark.slow
def test_smollm2_loads_from_gguf_then_from_its_cached_safetensors(tmp_path):
    cache = os.environ.get("PERSONA_LENS_CACHE_DIR") or tmp_path
    lm, tok = load_language_model(cache)
    assert lm.config.hidden_size == 576 and not any(p.requires_grad for p in lm.parameters())
    b = PromptBuilder(lm, tok)
    out = b.generate(torch.zeros(1, 0, 576), max_new_tokens=5)
    assert len(out) == 1
