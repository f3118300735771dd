"""How an image tower runs: eager PyTorch (the reference) or an ONNX export run by ONNX Runtime.

Both backends take the same preprocessed `(n, 3, h, w)` float32 array and return `(n, d)` float32
features, so an encoder's preprocessing and normalisation are shared and only the network changes.
The ONNX file is exported once per (weights, export code) and cached under the `cache_dir` the caller
gives (the dataset root's settings; `default_cache_dir()` otherwise); it is checked against eager
PyTorch right after export, so a bad export never reaches a table.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from persona_lens.models.base import ModelError

#: Runtimes an image encoder can be asked for; "auto" lets the encoder pick its fastest exact one.
RUNTIMES = ("auto", "torch", "onnxruntime")
#: Bump when the export code or wrapper modules change: it is part of every cache key.
EXPORT_VERSION = "1"
#: An export must match eager PyTorch at least this well on its check batch.
EXPORT_MIN_COSINE = 0.9999


def check_runtime(runtime: str) -> str:
    """Return `runtime` if it is one of RUNTIMES, else raise ModelError naming it."""
    if runtime not in RUNTIMES:
        raise ModelError(f"runtime must be one of {list(RUNTIMES)}, got {runtime!r}")
    return runtime


def check_threads(threads: int | None) -> int | None:
    """None (the runtime's default) or a positive thread count."""
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ModelError(f"threads must be a positive integer or None, got {threads!r}")
    return threads


def default_cache_dir() -> Path:
    """Where derived artefacts go when the caller names no folder: $PERSONA_LENS_CACHE_DIR, else
    ~/.cache/persona-lens (the same default as storage's Settings.cache_dir, read from the same variable)."""
    return Path(os.environ.get("PERSONA_LENS_CACHE_DIR") or Path.home() / ".cache" / "persona-lens")


def tower_backend(tower: torch.nn.Module, runtime: str, cache_dir: str | os.PathLike, slug: str,
                  weights: Iterable[str | os.PathLike], example: torch.Tensor, threads: int | None = None):
    """The runtime an image tower runs on: eager PyTorch for "torch", else its ONNX export under ONNX
    Runtime, exported once to `cache_dir` (keyed by `slug` and the digest of the `weights` files) and
    checked against eager PyTorch on `example`."""
    runtime = check_runtime(runtime)
    check_threads(threads)
    if runtime == "torch":
        return TorchFeatures(tower)
    path = onnx_cache_path(cache_dir, slug, files_digest(weights))
    return OnnxFeatures(export_onnx(tower, example, path), threads=threads)


def files_digest(paths: Iterable[str | os.PathLike]) -> str:
    """sha256 over the names and bytes of `paths` (sorted), streamed so large weights stay out of memory."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(p.name.encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


class TorchFeatures:
    """Eager PyTorch: the reference every other runtime is tested against."""

    runtime = "torch"

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module.eval()

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.module(torch.from_numpy(np.ascontiguousarray(pixels))).float().numpy()


class OnnxFeatures:
    """An ONNX Runtime session over an exported tower (CPU execution provider)."""

    runtime = "onnxruntime"

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        # intra-op threads do the work; 0 means ORT's default (one per physical core). One inter-op
        # thread: the graph is a single chain, and more threads only contend on small machines.
        opts.intra_op_num_threads = check_threads(threads) or 0
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = str(path)
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(pixels, dtype=np.float32)})
        return out[0]


def onnx_cache_path(cache_dir: str | os.PathLike, slug: str, weights_digest: str) -> Path:
    """Where the export of `slug` with these weights lives: changes with the weights, the export code
    and the torch version (whose exporter writes the graph)."""
    key = hashlib.sha256(f"{weights_digest}|{EXPORT_VERSION}|{torch.__version__}".encode()).hexdigest()[:16]
    return Path(cache_dir) / "onnx" / f"{slug}-{key}.onnx"


def export_onnx(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    """Export `module` (pixels → features, dynamic batch) to `path` once; return `path`.

    Written to a temporary name in the same folder and renamed, so a killed export or two processes
    exporting at once never leave a half file under the final name. The export is compared with eager
    PyTorch on `example` before it is committed.
    """
    if path.exists():
        return path
    if example.shape[0] < 2:
        raise ValueError(f"example must hold at least 2 images (so the batch stays dynamic), "
                         f"got shape {tuple(example.shape)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.tmp.onnx")
    module = module.eval()
    registration_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration_log.level
    try:
        # Exporter chatter is not ours to act on: deprecation warnings, and one line per torchvision op
        # it skips registering because torchvision is (deliberately) not installed.
        registration_log.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module, (example,), input_names=["pixel_values"], output_names=["features"],
                dynamic_shapes=({0: torch.export.Dim("batch")},), dynamo=True, optimize=True, verbose=False)
        program.save(str(tmp), external_data=False)
        _check_export(module, example, tmp)
        os.replace(tmp, path)
    except ModelError:
        raise
    except Exception as exc:  # the exporter raises many types; all mean "this model cannot be exported"
        raise ModelError(f"cannot export {type(module).__name__} to ONNX at {str(path)!r}: {exc}") from exc
    finally:
        registration_log.setLevel(level)
        tmp.unlink(missing_ok=True)
    return path


def _check_export(module: torch.nn.Module, example: torch.Tensor, onnx_path: Path) -> None:
    """Raise ModelError unless the ONNX file reproduces eager PyTorch on `example`."""
    expected = TorchFeatures(module)(example.numpy())
    got = OnnxFeatures(onnx_path, threads=1)(example.numpy())
    cos = cosine_rows(expected, got)
    if not np.all(cos >= EXPORT_MIN_COSINE):
        raise ModelError(f"ONNX export {str(onnx_path)!r} differs from eager PyTorch: "
                         f"min cosine {cos.min():.6f} < {EXPORT_MIN_COSINE}")


#: Images per forward pass: a caller may hand over thousands of pictures; one batch of them all would hold
#: every activation at once (a 2,000-picture call needed > 20 GB). 64 keeps ONNX Runtime's speed.
IMAGE_BATCH = 64


def in_batches(images: list, encode: Callable[[list], np.ndarray], size: int = IMAGE_BATCH) -> np.ndarray:
    """`encode` applied to consecutive slices of at most `size` images, the rows stacked in order."""
    return np.concatenate([encode(images[i:i + size]) for i in range(0, len(images), size)])


def noise_images(sizes: tuple[tuple[int, int], ...] = ((96, 96), (80, 120))) -> list:
    """Seeded noise RGB images of `sizes` (h, w): the batch an export is checked on and features sized by."""
    from PIL import Image

    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, d) arrays."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-300)


def half_precision(state: dict) -> dict:
    """A state dict to save for shipping: float32 tensors as float16 (contiguous), others as they are.

    Trained weights committed to the repository are stored at half the size; loaders copy them into
    float32 parameters (`load_state_dict` converts), and outputs move by ~1e-3 (checked where used)."""
    import torch

    return {k: (v.to(torch.float16) if v.dtype == torch.float32 else v).contiguous() for k, v in state.items()}
