"""LoRA for `nn.ConvTranspose2d`, plugged into peft through its custom-module mapping.

peft 0.21 adapts Conv1d/2d/3d but not transposed convolutions, and every layer of the DCGAN
generator is one. peft's own `_ConvNd` layer already builds `lora_A`/`lora_B` with the base layer's
type, so for a transposed conv it gets `lora_A = ConvTranspose2d(in, r, k, stride, padding)` and
`lora_B = ConvTranspose2d(r, out, 1)`: the forward `base(x) + B(A(x)) * scale` is right as it
stands. Only two things differ and are overridden here: the channel counts (peft does not know the
layer) and the merged weight, whose layout is (in, out, k, k) instead of (out, in, k, k).
Registered with `LoraConfig._register_custom_module`, peft's documented (experimental) extension
point, so saving, loading, merging and disabling adapters all stay peft's.
"""

from __future__ import annotations

import torch
from peft import LoraConfig
from peft.tuners.lora.layer import _ConvNd
from torch import nn


class LoraConvTranspose2d(_ConvNd):
    """peft LoRA layer around a ConvTranspose2d (groups=1, no output padding changes)."""

    def __init__(self, base_layer: nn.Module, adapter_name: str, config: LoraConfig, **kwargs) -> None:
        base = base_layer.get_base_layer() if hasattr(base_layer, "get_base_layer") else base_layer
        if not isinstance(base, nn.ConvTranspose2d):
            raise TypeError(f"LoraConvTranspose2d adapts nn.ConvTranspose2d, got {type(base).__name__}")
        if base.groups != 1 or any(base.output_padding) or any(d != 1 for d in base.dilation):
            raise ValueError(f"LoRA on ConvTranspose2d needs groups=1, no output_padding and no dilation, "
                             f"got {base}")
        super().__init__(base_layer, adapter_name, config=config, **kwargs)
        self.conv_fn = None  # unused: get_delta_weight below computes the merge directly

    def _get_in_out_features(self, module: nn.Module) -> tuple[int, int]:
        return module.in_channels, module.out_channels

    @property
    def lora_variants(self):
        return {(): None}  # plain LoRA only (no DoRA for transposed convs)

    def get_delta_weight(self, adapter: str) -> torch.Tensor:
        """ΔW (in, out, k, k) = Σ_r A[i, r, :, :] · B[r, o] · scale — the same map as B(A(x))."""
        a = self.lora_A[adapter].weight            # (in, r, k, k)
        b = self.lora_B[adapter].weight[:, :, 0, 0]  # (r, out)
        return torch.einsum("irhw,ro->iohw", a, b) * self.scaling[adapter]


def lora_config(target_modules: list[str], rank: int, alpha: float, dropout: float = 0.0) -> LoraConfig:
    """A peft LoraConfig whose targets may be ConvTranspose2d layers."""
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                        init_lora_weights=True, bias="none")
    config._register_custom_module({nn.ConvTranspose2d: LoraConvTranspose2d})
    return config
