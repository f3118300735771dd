"""The encoder registry: a name or a local folder → a loaded encoder, once per process.

Names: `efficientnet-lite0` (image, default), `efficientnet-lite0-multilevel` (image: the same frozen
network read at every stage, the aligner's image tower), `dlib-face-resnet` (image: the dlib ResNet face
descriptor, an identity encoder made for faces), `all-minilm-l6-v2` (text, default),
`persona-lens-lit` (vision-language, default: the trained LiT aligner). A folder is detected
by its files: `modules.json` → sentence-transformers (text); `config.json` → transformers, by
`model_type` (CLIP/SigLIP: image and text; DINOv2/ViT/DeiT: image, CLS token). Nothing is ever
downloaded: folders load with `local_files_only`. `cache_dir` is where ONNX exports go (the caller's
settings; `default_cache_dir()` when None).

An encoder's canonical name (the registry name, or the folder's absolute path) is what the
`encoder` column stores, so `./clip` and `/abs/clip` are one encoder.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

from typing import TYPE_CHECKING

from persona_lens.models.base import Generator, ImageEncoder, ModelError, TextEncoder, VisionLanguageEncoder
from persona_lens.models.runtime import check_runtime, check_threads, default_cache_dir

if TYPE_CHECKING:  # the aligner imports torch: loaded only when an aligner is
    from persona_lens.models.aligner import LiTAligner, ProjectionHeads

IMAGE_ENCODERS = ("efficientnet-lite0", "efficientnet-lite0-multilevel", "dlib-face-resnet")
TEXT_ENCODERS = ("all-minilm-l6-v2",)
VL_ENCODERS = ("persona-lens-lit",)


def _canonical(name_or_path: str, known: tuple[str, ...], kind: str) -> str:
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ModelError(f"{kind} encoder must be a name or a folder path, got {name_or_path!r}")
    if name_or_path.lower() in known:
        return name_or_path.lower()
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return str(path.resolve())
    raise ModelError(f"unknown {kind} encoder {name_or_path!r}: not one of {list(known)} "
                     f"and not an existing folder")


def canonical_image_encoder(name_or_path: str) -> str:
    """The name stored in the `encoder` column for this image encoder (no model is loaded)."""
    # A vision-language encoder is also an image encoder: its image side, in the shared space.
    return _canonical(name_or_path, IMAGE_ENCODERS + VL_ENCODERS, "image")


def canonical_text_encoder(name_or_path: str) -> str:
    """The name stored in the `encoder` column for this text encoder (no model is loaded)."""
    return _canonical(name_or_path, TEXT_ENCODERS + VL_ENCODERS, "text")


def encoder_slug(canonical: str) -> str:
    """A short file-name-safe key for an encoder: the name itself, or a folder's name plus a path hash."""
    if canonical in IMAGE_ENCODERS + TEXT_ENCODERS + VL_ENCODERS:
        return canonical

    tail = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(canonical).name)[:40] or "model"
    return f"{tail}-{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


def _cache(cache_dir: str | os.PathLike | None) -> str:
    return str(Path(cache_dir).expanduser()) if cache_dir else str(default_cache_dir())


def load_image_encoder(name_or_path: str = "efficientnet-lite0", runtime: str = "auto",
                       threads: int | None = None, cache_dir: str | os.PathLike | None = None) -> ImageEncoder:
    """The image encoder `name_or_path` on `runtime` ("auto", "torch", "onnxruntime").

    `threads` sets ONNX Runtime's intra-op threads (None: its default). Loaded once per process and
    argument set (flows call this per shard). Raises ModelError for an unknown name, a missing folder,
    an unsupported model, or a bad `runtime`/`threads`.
    """
    return _load_image(canonical_image_encoder(name_or_path), check_runtime(runtime), check_threads(threads),
                       _cache(cache_dir))


def load_text_encoder(name_or_path: str = "all-minilm-l6-v2", cache_dir: str | os.PathLike | None = None
                      ) -> TextEncoder:
    """The text encoder `name_or_path`, loaded once per process. Raises ModelError like load_image_encoder.
    `cache_dir` matters only to a vision-language encoder (its image tower's ONNX export)."""
    return _load_text(canonical_text_encoder(name_or_path), _cache(cache_dir))


@functools.cache
def _load_image(canonical: str, runtime: str, threads: int | None, cache_dir: str) -> ImageEncoder:
    if canonical in VL_ENCODERS:
        return _load_vl(canonical, runtime, cache_dir)
    if canonical == "efficientnet-lite0":
        from persona_lens.models.efficientnet import EfficientNetLite0Encoder

        return EfficientNetLite0Encoder(runtime=runtime, cache_dir=cache_dir, threads=threads)
    if canonical == "dlib-face-resnet":
        from persona_lens.models.face import load_face_encoder

        return load_face_encoder()
    if canonical == "efficientnet-lite0-multilevel":
        from persona_lens.models.multilevel import EfficientNetLite0MultiLevelEncoder

        return EfficientNetLite0MultiLevelEncoder(runtime=runtime, cache_dir=cache_dir, threads=threads)
    from persona_lens.models.text import is_sentence_transformers_folder

    if is_sentence_transformers_folder(canonical):
        raise ModelError(f"image encoder {canonical!r} is a sentence-transformers (text) model folder")
    if not (Path(canonical) / "config.json").is_file():
        raise ModelError(f"image encoder folder {canonical!r} has no config.json (not a transformers model)")
    return _load_hf(canonical, runtime, threads, cache_dir)


@functools.cache
def _load_text(canonical: str, cache_dir: str) -> TextEncoder:
    from persona_lens.models.text import MINILM_NAME, SentenceTextEncoder, is_sentence_transformers_folder, \
        minilm_folder

    if canonical in VL_ENCODERS:
        return _load_vl(canonical, "auto", cache_dir)
    if canonical == MINILM_NAME:
        return SentenceTextEncoder(minilm_folder(), MINILM_NAME)
    if is_sentence_transformers_folder(canonical):
        return SentenceTextEncoder(canonical, canonical)
    if not (Path(canonical) / "config.json").is_file():
        raise ModelError(f"text encoder folder {canonical!r} has neither modules.json nor config.json")
    encoder = _load_hf(canonical, "torch", None, cache_dir)
    if not encoder.has_text:
        raise ModelError(f"text encoder {canonical!r} is a {encoder.model_type} vision model "
                         f"without a text tower")
    return encoder


def load_vl_encoder(name_or_path: str = "persona-lens-lit", runtime: str = "auto",
                    cache_dir: str | os.PathLike | None = None) -> VisionLanguageEncoder:
    """A vision-language encoder: `persona-lens-lit` (the committed LiT aligner weights), an aligner
    `.safetensors` file trained by `persona-lens train-aligner`, or a local CLIP/SigLIP folder.

    `runtime` is the image tower's ("auto": ONNX Runtime for the aligner, eager torch for a folder).
    Loaded once per process. Raises ModelError for an unknown name, a missing path, a file that is not
    an aligner, or a model folder without a text tower.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise ModelError(f"vision-language encoder must be a name or a path, got {name_or_path!r}")
    if name_or_path.lower() in VL_ENCODERS:
        return _load_vl(name_or_path.lower(), check_runtime(runtime), _cache(cache_dir))
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise ModelError(f"unknown vision-language encoder {name_or_path!r}: not one of {list(VL_ENCODERS)} "
                         f"and not an existing file or folder")
    return _load_vl(str(path.resolve()), check_runtime(runtime), _cache(cache_dir))


@functools.cache
def _load_vl(canonical: str, runtime: str, cache_dir: str) -> VisionLanguageEncoder:
    from persona_lens.models.aligner import ALIGNER_NAME, DEFAULT_WEIGHTS, load_aligner

    if canonical == ALIGNER_NAME or Path(canonical).is_file():
        # The aligner's frozen towers come from this registry, loaded on first use.
        towers = functools.partial(_aligner_tower, runtime=runtime, cache_dir=cache_dir)
        path = DEFAULT_WEIGHTS if canonical == ALIGNER_NAME else canonical
        return load_aligner(path, name=ALIGNER_NAME if canonical == ALIGNER_NAME else None, runtime=runtime,
                            towers=towers)
    if not (Path(canonical) / "config.json").is_file():
        raise ModelError(f"vision-language folder {canonical!r} has no config.json "
                         f"(not a transformers model)")
    encoder = _load_hf(canonical, runtime, None, cache_dir)
    if not encoder.has_text:
        raise ModelError(f"vision-language encoder {canonical!r} is a {encoder.model_type} vision model "
                         f"without a text tower")
    return encoder


def _aligner_tower(kind: str, name: str, runtime: str, cache_dir: str) -> ImageEncoder | TextEncoder:
    if kind == "image":
        return load_image_encoder(name, runtime=runtime, cache_dir=cache_dir)
    return load_text_encoder(name, cache_dir=cache_dir)


def _load_hf(canonical: str, runtime: str, threads: int | None, cache_dir: str):
    # One cache entry for both towers, so a CLIP folder used as image and text encoder loads once:
    # "auto" is eager torch for transformers folders, and threads/cache only matter to ONNX Runtime.
    if runtime in ("auto", "torch"):
        return _load_hf_cached(canonical, "torch", None, "")
    return _load_hf_cached(canonical, runtime, threads, cache_dir)


@functools.cache
def _load_hf_cached(canonical: str, runtime: str, threads: int | None, cache_dir: str):
    from persona_lens.models.hf_vision import HFVisionEncoder

    return HFVisionEncoder(canonical, runtime=runtime, cache_dir=cache_dir or None, threads=threads)


def clear_cache() -> None:
    """Forget every loaded encoder (tests; a long-lived worker switching models)."""
    for fn in (_load_image, _load_text, _load_hf_cached, _load_vl):
        fn.cache_clear()


def aligner_from_heads(heads: "ProjectionHeads", name: str, runtime: str = "auto", cache_dir: str | os.PathLike | None = None
                       ) -> "LiTAligner":
    """A LiT aligner over freshly trained `heads` whose frozen towers load through this registry."""
    from persona_lens.models.aligner import LiTAligner

    towers = functools.partial(_aligner_tower, runtime=check_runtime(runtime), cache_dir=_cache(cache_dir))
    return LiTAligner(heads, name, runtime=runtime, towers=towers)


GENERATORS = ("dcgan-face-64",)


def load_generator(name_or_path: str = "dcgan-face-64", device: str = "auto", dtype: str = "auto",
                   **sampling) -> Generator:
    """A `Generator`: `dcgan-face-64` (the shipped DCGAN), a folder holding a DCGAN `weights.tar`, or a
    diffusers pipeline folder (`model_index.json`; `device`, `dtype` and `sampling` — steps,
    guidance_scale, resolution — apply to it). ModelError otherwise."""
    from persona_lens.models import gan
    from persona_lens.models.diffusion import is_diffusers_folder, load_diffusion_generator

    if name_or_path in GENERATORS:
        return gan.DCGANFaces(gan.load_dcgan())
    path = Path(name_or_path).expanduser()
    if path.is_dir() and is_diffusers_folder(path):
        return load_diffusion_generator(path, device=device, dtype=dtype, **sampling)
    if path.is_dir() and (path / "weights.tar").is_file():
        return gan.DCGANFaces(gan.load_dcgan(path / "weights.tar"), str(path.resolve()))
    raise ModelError(f"unknown generator {name_or_path!r}: not one of {list(GENERATORS)}, a diffusers pipeline "
                     f"folder or a folder with a DCGAN weights.tar")
