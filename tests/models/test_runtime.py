"""Shipping weights: float32 tensors saved as float16 load back into float32 parameters, within 1e-3."""

import numpy as np
import torch

from persona_lens.models.runtime import half_precision


def test_half_precision_halves_float32_tensors_and_leaves_the_rest():
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 4)
    state = {**layer.state_dict(), "steps": torch.tensor([3], dtype=torch.int64)}
    shipped = half_precision(state)
    assert shipped["weight"].dtype == torch.float16 and shipped["steps"].dtype == torch.int64
    back = torch.nn.Linear(16, 4)
    back.load_state_dict({k: v for k, v in shipped.items() if k != "steps"})
    assert back.weight.dtype == torch.float32
    assert (back.weight - layer.weight).abs().max() < 1e-3


def test_images_are_encoded_in_bounded_batches_in_order():
    from persona_lens.models.runtime import in_batches

    seen = []

    def encode(batch):
        seen.append(len(batch))
        return np.array([[x] for x in batch], np.float32)

    out = in_batches(list(range(150)), encode, size=64)
    assert seen == [64, 64, 22] and out[:, 0].tolist() == list(range(150))
