"""diffusers text-to-image pipelines from a local folder, behind one small generator interface.

`load_diffusion_generator(path, device="auto", dtype="auto")` loads any pipeline folder written by
`save_pretrained` (Stable Diffusion 1.x/2.x, SDXL, …) with `local_files_only=True`: nothing is ever
downloaded. Device: `cuda` when available, else `cpu`; dtype `auto` is float16 on a GPU and float32
on the CPU (half precision on the CPU is refused: its kernels are slow or missing there), so the same
code runs on both.

A base model is identified by `base_digest`, the sha256 of its folder's files (configs and weights),
independent of the device and dtype it is loaded in. Every adapter file records the digest of the
model it was trained from, and `with_adapter` refuses an adapter of another base model.

Adapters are safetensors files (format `persona-lens-diffusion-adapter/1` in the metadata):
- `lora`: diffusers' LoRA state dict (`unet.` keys, as `save_lora_weights` writes it), loaded with
  `load_lora_weights`;
- `dreambooth`: the fine-tuned UNet's state dict, loaded into a fresh copy of the base UNet;
- `textual_inversion`: `{token: vector}`, loaded with `load_textual_inversion`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from persona_lens.models.base import ModelError

ADAPTER_FORMAT = "persona-lens-diffusion-adapter/1"
ADAPTER_METHODS = ("lora", "dreambooth", "textual_inversion")
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
LORA_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]   # attention projections, as the diffusers recipes


def is_diffusers_folder(path: str | os.PathLike) -> bool:
    return (Path(path).expanduser() / "model_index.json").is_file()


def check_pipeline_folder(path: str | os.PathLike) -> Path:
    """The folder, absolute; ModelError if it is missing or not a diffusers pipeline folder."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise ModelError(f"diffusers model folder {str(path)!r} does not exist")
    if not (folder / "model_index.json").is_file():
        raise ModelError(f"{str(path)!r} is not a diffusers pipeline folder (no model_index.json)")
    return folder.resolve()


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ModelError(f"device must be auto, cpu or cuda[:n], got {device!r}")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """`auto`: float16 on a GPU, float32 on the CPU; half precision is refused on the CPU."""
    if dtype == "auto":
        return torch.float16 if device.type == "cuda" else torch.float32
    if dtype not in DTYPES:
        raise ModelError(f"dtype must be one of {['auto', *DTYPES]}, got {dtype!r}")
    if device.type != "cuda" and dtype != "float32":
        raise ModelError(f"dtype {dtype!r} needs a GPU; on {device.type} use float32 (or auto)")
    return DTYPES[dtype]


def _folder_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


@functools.lru_cache(maxsize=16)
def _digest(folder: str, stamp: tuple) -> str:
    h = hashlib.sha256()
    root = Path(folder)
    for p in _folder_files(root):
        h.update(str(p.relative_to(root)).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def base_digest(path: str | os.PathLike) -> str:
    """sha256 over the pipeline folder's files (names and bytes); cached while the files are unchanged."""
    folder = check_pipeline_folder(path)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in _folder_files(folder))
    return _digest(str(folder), stamp)


def load_pipeline(path: str | os.PathLike, device: torch.device, dtype: torch.dtype):
    """The pipeline in `path` on `device`, weights in `dtype`; ModelError when it cannot be loaded."""
    from diffusers import DiffusionPipeline

    folder = check_pipeline_folder(path)
    try:
        pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError, TypeError) as exc:
        raise ModelError(f"cannot load the diffusers pipeline in {str(folder)!r}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def read_adapter(uri: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and provenance of an adapter file; ModelError if it is not one."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    if not Path(uri).is_file():
        raise ModelError(f"adapter file {uri!r} does not exist")
    try:
        with safe_open(uri, framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(uri)
    except Exception as exc:  # safetensors raises its own error types for a damaged header
        raise ModelError(f"adapter file {uri!r} is not a readable safetensors file: {exc}") from exc
    if metadata.get("persona_lens_format") != ADAPTER_FORMAT:
        raise ModelError(f"{uri!r} is not a diffusers adapter of this project "
                         f"(format {metadata.get('persona_lens_format')!r})")
    return tensors, json.loads(metadata["persona_lens_meta"])


@dataclass
class DiffusionGenerator:
    """A text-to-image pipeline loaded from a folder: the base model, or the base plus one adapter."""

    name: str                 # the folder, absolute (the `generator` column)
    pipeline: object
    device: torch.device
    dtype: torch.dtype
    digest: str
    adapter_uri: str | None = None
    method: str = "base"
    steps: int = 20           # sampling steps
    guidance_scale: float = 7.5
    resolution: int | None = None   # None: the UNet's sample size × the VAE's scale factor

    @property
    def size(self) -> int:
        if self.resolution:
            return self.resolution
        return int(self.pipeline.unet.config.sample_size * self.pipeline.vae_scale_factor)

    def generate(self, prompts: list[str], seeds: list[int], batch_size: int = 4,
                 latents: torch.Tensor | None = None) -> tuple[list[Image.Image], float]:
        """One image per (prompt, seed) pair, and the seconds it took.

        Each image has its own `torch.Generator(device).manual_seed(seed)`, so an image depends on its
        prompt and seed only (not on the batch), and base and personalized twins share the noise.
        `latents` (n, c, h, w): start from these codes instead of drawing them from the seeds.
        """
        if len(prompts) != len(seeds):
            raise ValueError(f"prompts and seeds must pair up: {len(prompts)} prompts, {len(seeds)} seeds")
        if latents is not None and len(latents) != len(prompts):
            raise ValueError(f"latents must have one code per prompt: {len(latents)} for {len(prompts)} prompts")
        images, t0 = [], time.perf_counter()
        for i in range(0, len(prompts), batch_size):
            gens = [torch.Generator(self.device).manual_seed(int(s)) for s in seeds[i:i + batch_size]]
            kwargs = {} if latents is None else {"latents": latents[i:i + batch_size].to(self.device, self.dtype)}
            with torch.inference_mode():
                out = self.pipeline(prompt=list(prompts[i:i + batch_size]), generator=gens,
                                    num_inference_steps=self.steps, guidance_scale=self.guidance_scale,
                                    height=self.size, width=self.size, output_type="pil", **kwargs)
            images += out.images
        return images, time.perf_counter() - t0

    def draw(self, seeds: list[int], prompts: list[str] | None = None) -> list[Image.Image]:
        """The `Generator` interface: one image per (seed, prompt)."""
        if prompts is None:
            raise ValueError(f"generator {self.name!r} is text-to-image: give one prompt per seed")
        return self.generate(list(prompts), list(seeds))[0]

    def with_adapter(self, uri: str) -> DiffusionGenerator:
        """A fresh copy of the base pipeline with the adapter in `uri` applied (this one is unchanged).

        Refuses (ModelError naming both) an adapter trained from another base model.
        """
        tensors, meta = read_adapter(uri)
        if meta.get("base_digest") != self.digest:
            raise ModelError(f"adapter {uri!r} was trained from base model {meta.get('base_model')!r} "
                             f"(sha256 {str(meta.get('base_digest'))[:12]}…), not from {self.name!r} "
                             f"(sha256 {self.digest[:12]}…): refusing to load it")
        method = meta.get("method")
        pipe = load_pipeline(self.name, self.device, self.dtype)
        if method == "lora":
            pipe.load_lora_weights(str(Path(uri).parent), weight_name=Path(uri).name)
        elif method == "dreambooth":
            pipe.unet.load_state_dict({k: v.to(self.dtype) for k, v in tensors.items()}, strict=True)
        elif method == "textual_inversion":
            token = meta["token"]
            pipe.load_textual_inversion({token: tensors[token].to(self.dtype)}, token=token)
        else:
            raise ModelError(f"adapter {uri!r} has unknown method {method!r}; known: {list(ADAPTER_METHODS)}")
        return DiffusionGenerator(self.name, pipe, self.device, self.dtype, self.digest, uri, method, self.steps,
                                  self.guidance_scale, self.resolution)


def save_adapter(uri: str, method: str, tensors: dict[str, torch.Tensor], meta: dict,
                 lora_config: dict | None = None) -> str:
    """Write an adapter file atomically (temp name, rename) with its provenance; returns `uri`.

    LoRA tensors go through `StableDiffusionPipeline.save_lora_weights`, so the file is the one
    diffusers writes (its own `lora_adapter_metadata` kept) plus this project's provenance.
    """
    from safetensors import safe_open
    from safetensors.torch import save_file

    if method not in ADAPTER_METHODS:
        raise ValueError(f"method must be one of {list(ADAPTER_METHODS)}, got {method!r}")
    target = Path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": "pt", "persona_lens_format": ADAPTER_FORMAT,
                "persona_lens_meta": json.dumps({**meta, "method": method}, sort_keys=True)}
    tmp = target.parent / f".{target.name}.{os.getpid()}.tmp"
    if method == "lora":
        from diffusers import StableDiffusionPipeline

        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".lora-") as d:
            StableDiffusionPipeline.save_lora_weights(d, unet_lora_layers=tensors, weight_name="lora.safetensors",
                                                      unet_lora_adapter_metadata=lora_config)
            with safe_open(f"{d}/lora.safetensors", framework="pt") as f:
                metadata = {**(f.metadata() or {}), **metadata}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, target)
    return str(target)


def load_diffusion_generator(path: str | os.PathLike, device: str = "auto", dtype: str = "auto",
                             steps: int = 20, guidance_scale: float = 7.5,
                             resolution: int | None = None) -> DiffusionGenerator:
    """The base pipeline in folder `path` (ModelError: missing folder, not a pipeline, bad device/dtype)."""
    folder = check_pipeline_folder(path)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    pipe = load_pipeline(folder, dev, dt)
    return DiffusionGenerator(str(folder), pipe, dev, dt, base_digest(folder), None, "base", steps,
                              guidance_scale, resolution)
