"""Shipping weights: float32 tensors saved as float16 load back into float32 parameters, within 1e-3."""

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
