"""DEPER's trained parts: shapes, the style-only variant, losses, and seeded resumable training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from persona_lens.models.captioner import MappingConfig, MappingNetwork, PromptBuilder, small_language_model, word_tokenizer
from persona_lens.tasks.deper.data import DeperData, Example
from persona_lens.tasks.deper.model import Deper, PersonaConfig, roi_pool, supcon_loss, trajectory_loss
from persona_lens.tasks.deper.train import encode_examples, load_persona, train_persona


def toy_data(viewers=3, per_viewer=4) -> tuple[DeperData, dict]:
    rng = np.random.default_rng(0)
    exs, patches = [], {}
    for v in range(viewers):
        for i in range(per_viewer):
            iid = f"img-{i}"
            patches.setdefault(iid, torch.randn(49, 1280))
            fix = np.concatenate([rng.uniform(0, 1, (5, 2)), np.zeros((5, 1)), rng.uniform(0.1, 0.5, (5, 1))], 1)
            exs.append(Example(f"v{v}", iid, fix.astype(np.float32), f"a {['red', 'blue', 'green'][v]} cup and a cat."))
    return DeperData({k: None for k in patches}, {f"v{v}": "train" for v in range(viewers)}, exs), patches


def builder():
    tok = word_tokenizer(["a red blue green cup and a cat."])
    b = PromptBuilder(small_language_model(len(tok), dim=32, layers=1, heads=2).requires_grad_(False), tok)
    b.mapping = MappingNetwork(MappingConfig(lm_dim=32, width=32, layers=1, heads=2, prefix_len=4)).requires_grad_(False)
    return b


def test_roi_pool_reads_the_cell_under_a_fixation():
    grid = torch.zeros(1, 49, 3)
    grid[0, 3 * 7 + 5] = torch.tensor([1.0, 2.0, 3.0])       # row 3, column 5
    got = roi_pool(grid, torch.tensor([[[(5 + 0.5) / 7, (3 + 0.5) / 7]]]))
    assert torch.allclose(got[0, 0], torch.tensor([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("attention", [True, False])
def test_encoder_gives_one_persona_per_example_and_only_deper_predicts_attention(attention):
    data, patches = toy_data()
    model = Deper(PersonaConfig(attention=attention, width=32, heads=2, layers=1, decoder_layers=2, lm_dim=32, num_subjects=3))
    z = encode_examples(model, builder(), patches, data.examples[:5])
    assert z.shape == (5, 32)
    if attention:
        xy, valid = model.trajectory(torch.stack([patches["img-0"]] * 5), z)
        assert xy.shape == (5, 30, 3) and valid.shape == (5, 30) and ((xy[..., :2] >= 0) & (xy[..., :2] <= 1)).all()
    else:
        with pytest.raises(ValueError, match="style-only"):
            model.trajectory(torch.stack([patches["img-0"]] * 5), z)


def test_supcon_prefers_embeddings_grouped_by_subject():
    labels = torch.tensor([0, 0, 1, 1])
    grouped = torch.tensor([[1.0, 0], [0.9, 0.1], [0, 1.0], [0.1, 0.9]])
    mixed = grouped[[0, 2, 1, 3]]
    assert supcon_loss(grouped, labels) < supcon_loss(mixed, labels)


def test_trajectory_loss_is_smallest_at_the_truth():
    fix = torch.tensor([[[0.2, 0.3, 0.0, 0.25], [0.7, 0.6, 0.3, 0.4]]])
    pad = torch.zeros(1, 2, dtype=torch.bool)
    exact = torch.zeros(1, 30, 3); exact[0, :2, :2] = fix[0, :, :2]; exact[0, :2, 2] = torch.log(fix[0, :, 3])
    logits = torch.full((1, 30), -9.0); logits[0, :2] = 9.0
    assert trajectory_loss(exact, logits, fix, pad) < 0.01 < trajectory_loss(exact + 0.2, -logits, fix, pad)


def test_training_is_seeded_and_resumes_to_the_same_weights(tmp_path):
    data, patches = toy_data()
    kw = dict(attention=True, steps=4, batch=3, max_shots=2, seed=1, width=32, checkpoint_every=2)
    b = builder()
    full = train_persona(data, patches, b, tmp_path / "a.safetensors", **kw)
    assert full["resumed_from"] == 0
    # An interrupted run: 2 steps checkpointed, then the same call resumes from step 2.
    train_persona(data, patches, b, tmp_path / "b.safetensors", **(kw | {"steps": 2}))
    resumed = train_persona(data, patches, b, tmp_path / "b.safetensors", **kw)
    assert resumed["resumed_from"] == 2
    a, c = load_persona(tmp_path / "a.safetensors").state_dict(), load_persona(tmp_path / "b.safetensors").state_dict()
    assert all(torch.allclose(a[k], c[k], atol=1e-6) for k in a)


def test_captioner_training_checkpoints_its_tied_embeddings_and_resumes(tmp_path):
    # The small LM ties input and output embeddings: a checkpoint must save and restore them.
    from persona_lens.tasks.deper.train import train_captioner

    data, patches = toy_data()
    kw = dict(steps=4, batch=3, seed=0, lm_dim=16, lm_layers=1, checkpoint_every=2)
    train_captioner(data, patches, tmp_path / "cap", **(kw | {"steps": 2}))
    resumed = train_captioner(data, patches, tmp_path / "cap", **kw)
    assert resumed["resumed_from"] == 2 and (tmp_path / "cap" / "mapping.safetensors").is_file()


def test_captioner_grounding_task_trains_on_inventories_of_the_train_viewers_images(tmp_path):
    from persona_lens.tasks.deper.train import train_captioner

    data, patches = toy_data()
    inventories = {i: "a red cup, a blue hat and a cat." for i in patches}
    info = train_captioner(data, patches, tmp_path / "cap", steps=3, batch=4, seed=0, lm_dim=16, lm_layers=1,
                           inventories=inventories, inventory_rate=0.5)
    assert info["inventory_images"] == len(patches) and "inventory" in info["final_loss"]
    with pytest.raises(ValueError, match="needs inventory captions"):
        train_captioner(data, patches, tmp_path / "none", steps=1, inventories={}, inventory_rate=0.5)
    with pytest.raises(ValueError, match="inventory_rate"):
        train_captioner(data, patches, tmp_path / "bad", steps=1, inventories=inventories, inventory_rate=1.0)
