"""Training checkpoints and trained adapters as safetensors files, local or on any fsspec URL.

A checkpoint holds everything a killed run needs to continue bit for bit: the trainable tensors,
Adam's moments, the inverted pivot latents and the step; the per-step randomness is derived from
(seed, step), so no RNG state is stored. Its metadata names the base model by the sha256 of its
weights (`base_digest`) and the job by the hash of its training settings (`job_key`): resuming from
a checkpoint of another base model or another job is refused with an error naming both.

Files are written to a temporary name and renamed, so a kill mid-write never leaves a half file
under a checkpoint's name; `latest_checkpoint` only ever sees complete files.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

import fsspec
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

CHECKPOINT_RE = re.compile(r"^step-(\d{6})\.safetensors$")
FORMAT = "persona-lens-gan-checkpoint/1"
ADAPTER_FORMAT = "persona-lens-gan-adapter/1"


class CheckpointError(ValueError):
    """A checkpoint or adapter file cannot be used here (other base model, other job, bad file)."""


@dataclass
class Checkpoint:
    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict
    uri: str


def _fs(url: str):
    return fsspec.core.url_to_fs(url)


def _join(folder: str, name: str) -> str:
    return folder.rstrip("/") + "/" + name


def write_atomic(uri: str, data: bytes) -> None:
    """Write `data` to `uri` via a temporary name in the same folder, then rename."""
    fs, path = _fs(uri)
    parent = path.rsplit("/", 1)[0] if "/" in path else "."
    fs.makedirs(parent, exist_ok=True)
    tmp = f"{parent}/.{path.rsplit('/', 1)[-1]}.{uuid.uuid4().hex[:8]}.tmp"
    with fs.open(tmp, "wb") as f:
        f.write(data)
    fs.mv(tmp, path)


def save_checkpoint(folder: str, step: int, tensors: dict[str, torch.Tensor], meta: dict) -> str:
    """Write `step-<step>.safetensors` under `folder`; returns its URI."""
    uri = _join(folder, f"step-{step:06d}.safetensors")
    metadata = {"format": FORMAT, "step": str(step), "meta": json.dumps(meta, sort_keys=True)}
    write_atomic(uri, st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata))
    return uri


def list_checkpoints(folder: str) -> list[tuple[int, str]]:
    """(step, uri) of every complete checkpoint in `folder`, by step."""
    fs, path = _fs(folder)
    if not fs.exists(path):
        return []
    found = []
    for entry in fs.ls(path, detail=False):
        m = CHECKPOINT_RE.match(entry.rsplit("/", 1)[-1])
        if m:
            found.append((int(m.group(1)), _join(folder, m.group(0))))
    return sorted(found)


def _read(uri: str, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors and the string metadata of a safetensors file (the header is JSON after 8 length bytes)."""
    fs, path = _fs(uri)
    if not fs.exists(path):
        raise CheckpointError(f"{what} file {uri!r} does not exist")
    with fs.open(path, "rb") as f:
        data = f.read()
    try:
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        return tensors, json.loads(data[8:8 + header_len]).get("__metadata__", {})
    except Exception as exc:
        raise CheckpointError(f"{what} file {uri!r} is not a readable safetensors file: {exc}") from exc


def read_checkpoint(uri: str) -> Checkpoint:
    tensors, metadata = _read(uri, "checkpoint")
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{uri!r} is not a generate-stage checkpoint (format {metadata.get('format')!r})")
    return Checkpoint(int(metadata["step"]), tensors, json.loads(metadata["meta"]), uri)


def check_compatible(ckpt: Checkpoint, base_digest: str, job_key: str) -> None:
    """Refuse a checkpoint made from another base model or for another job."""
    if ckpt.meta.get("base_digest") != base_digest:
        raise CheckpointError(
            f"checkpoint {ckpt.uri!r} was trained from another base model (weights sha256 "
            f"{str(ckpt.meta.get('base_digest'))[:12]}…, this base is {base_digest[:12]}…): refusing to resume")
    if ckpt.meta.get("job_key") != job_key:
        raise CheckpointError(
            f"checkpoint {ckpt.uri!r} belongs to another job (settings key {ckpt.meta.get('job_key')!r}, "
            f"this job is {job_key!r}): use another checkpoint folder")


def latest_checkpoint(folder: str, base_digest: str, job_key: str) -> Checkpoint | None:
    """The newest checkpoint in `folder`, checked against this base model and job; None if none."""
    found = list_checkpoints(folder)
    if not found:
        return None
    ckpt = read_checkpoint(found[-1][1])
    check_compatible(ckpt, base_digest, job_key)
    return ckpt


def save_adapter(uri: str, tensors: dict[str, torch.Tensor], meta: dict) -> str:
    """A trained adapter (LoRA tensors, or the full generator's state) with its provenance."""
    metadata = {"format": ADAPTER_FORMAT, "meta": json.dumps(meta, sort_keys=True)}
    write_atomic(uri, st_save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata))
    return uri


def read_adapter(uri: str) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, metadata = _read(uri, "adapter")
    if metadata.get("format") != ADAPTER_FORMAT:
        raise CheckpointError(f"{uri!r} is not a generate-stage adapter (format {metadata.get('format')!r})")
    return tensors, json.loads(metadata["meta"])
