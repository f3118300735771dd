"""The aligner's corpus, encoded once by the frozen towers: sources → samples → cached tower vectors.

The towers never change during training, so every image is rendered and encoded exactly once and the
heads train on these cached vectors (that is what makes training minutes, not hours). Sources plug in
behind one small interface (`CaptionSource`): the packaged real photos (tasks/aligner/corpus.py) and
the synthetic world (tasks/aligner/world_source.py) when it is available.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from persona_lens.models.base import ImageEncoder, TextEncoder
from persona_lens.tasks.aligner.corpus import (
    Photo, Sample, packaged_photos, photo_samples, photo_zero_shot_samples, split_photos,
)
from persona_lens.world.spec import SIZES
from persona_lens.world.taxonomy import Taxonomy

Pairs = Iterator[tuple[Sample, Image.Image]]


class CaptionSource(Protocol):
    """A source of captioned images, with its own held-out subjects."""

    name: str

    def train(self) -> Pairs:
        """Training pairs (subjects never seen by `zero_shot`/`retrieval`)."""
        ...

    def zero_shot(self) -> Pairs:
        """Held-out pairs with one known concept per aspect tested."""
        ...

    def retrieval(self) -> Pairs:
        """Held-out pairs captioned like the training ones (text→image retrieval)."""
        ...

    def summary(self) -> dict:
        """What the source holds (counts, held-out subjects), for the weights' metadata and the card."""
        ...


@dataclass(frozen=True)
class CorpusSpec:
    """How much of each source to draw; every count is a number of images."""

    seed: int = 0
    photo_train: int = 4000
    heldout_photos: int = 5              # whole photo subjects kept out of training
    photo_zero_shot_views: int = 3       # random views per held-out photo, each with every concept
    photo_retrieval: int = 300
    world_size: str | None = "small"     # world preset rendered for the world source; None: photos only
    world_train: int = 3000
    world_zero_shot: int = 440          # 20 per edit concept with the default taxonomy
    world_retrieval: int = 300
    intensity: tuple[float, float] = (0.5, 1.0)   # edit intensities: high enough to be visible

    def __post_init__(self) -> None:
        for name in ("photo_train", "photo_zero_shot_views", "photo_retrieval", "world_train",
                     "world_zero_shot", "world_retrieval"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.world_size is not None and self.world_size not in SIZES:
            raise ValueError(f"world_size must be one of {list(SIZES)} or None, got {self.world_size!r}")
        lo, hi = self.intensity
        if not 0.0 < lo <= hi <= 1.0:
            raise ValueError(f"intensity must be a range inside (0, 1], got {self.intensity!r}")


@dataclass
class PhotoSource:
    """The packaged real photos with programmatic edits; `heldout_photos` whole subjects held out."""

    spec: CorpusSpec
    taxonomy: Taxonomy
    name: str = "photo"
    photos: list[Photo] = field(default_factory=packaged_photos)

    def __post_init__(self) -> None:
        self.train_photos, self.heldout_photos = split_photos(self.photos, self.spec.heldout_photos,
                                                              self.spec.seed)

    def train(self) -> Pairs:
        return photo_samples(self.train_photos, self.spec.photo_train, "train", self.spec.seed, self.taxonomy,
                             self.spec.intensity)

    def zero_shot(self) -> Pairs:
        return photo_zero_shot_samples(self.heldout_photos, self.spec.photo_zero_shot_views, self.spec.seed,
                                       self.taxonomy, self.spec.intensity)

    def retrieval(self) -> Pairs:
        return photo_samples(self.heldout_photos, self.spec.photo_retrieval, "retrieval", self.spec.seed,
                             self.taxonomy, self.spec.intensity)

    def summary(self) -> dict:
        return {"train_subjects": sorted({p.instance for p in self.train_photos}),
                "heldout_subjects": sorted({p.instance for p in self.heldout_photos})}


@dataclass
class Corpus:
    """Every sample of every source with its image-tower vector (row i of `image_features`)."""

    samples: list[Sample]
    image_features: np.ndarray
    sources: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def dim(self) -> int:
        """Length of the image tower's vectors."""
        return int(self.image_features.shape[1])

    def select(self, source: str | None = None,
               purpose: str | None = None) -> tuple[list[Sample], np.ndarray]:
        """Samples (and their vectors) of one source and/or purpose."""
        idx = [i for i, s in enumerate(self.samples)
               if (source is None or s.source == source) and (purpose is None or s.purpose == purpose)]
        return [self.samples[i] for i in idx], self.image_features[idx]

    def summary(self) -> dict:
        """Counts per (source, purpose), distinct captions and keys, and each source's description."""
        counts = Counter(f"{s.source}/{s.purpose}" for s in self.samples)
        train = [s for s in self.samples if s.purpose == "train"]
        return {"images": dict(sorted(counts.items())), "train_captions": len({s.caption for s in train}),
                "train_keys": len({s.key for s in train}), "sources": self.sources,
                "encode_seconds": round(self.seconds, 1)}


def encode_pairs(pairs: Iterable[tuple[Sample, Image.Image]], encoder: ImageEncoder,
                 batch_size: int = 64) -> tuple[list[Sample], np.ndarray]:
    """Render-and-encode in batches, so that only one batch of images is ever held in memory."""
    samples, chunks = [], []
    it = iter(pairs)
    while batch := list(itertools.islice(it, batch_size)):
        samples.extend(s for s, _ in batch)
        chunks.append(encoder.encode_images([img for _, img in batch]))
    features = np.concatenate(chunks) if chunks else np.zeros((0, encoder.dim), np.float32)
    return samples, features.astype(np.float32)


def build_corpus(sources: list[CaptionSource], encoder: ImageEncoder, batch_size: int = 64) -> Corpus:
    """Every source's training, zero-shot and retrieval samples, encoded by the frozen image tower."""
    t0 = time.perf_counter()
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f"source names must be distinct, got {names}")
    pairs = itertools.chain.from_iterable(
        itertools.chain(s.train(), s.zero_shot(), s.retrieval()) for s in sources)
    samples, features = encode_pairs(pairs, encoder, batch_size)
    if not np.isfinite(features).all():
        raise ValueError("the image tower returned non-finite vectors for some corpus images")
    return Corpus(samples, features, {s.name: s.summary() for s in sources}, time.perf_counter() - t0)


def encode_captions(texts: list[str], encoder: TextEncoder) -> tuple[np.ndarray, dict[str, int]]:
    """Each distinct text encoded once: (vectors, text → row)."""
    distinct = sorted(set(texts))
    return encoder.encode_texts(distinct).astype(np.float32), {t: i for i, t in enumerate(distinct)}
