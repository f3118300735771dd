"""The concept space: one vocabulary's directions, phrase vectors and whitening, built once per encoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persona_lens.tasks.finexl.core import Decomposition, ExplainInputError, published_core
from persona_lens.tasks.finexl.vocabulary import Vocabulary, concept_directions, probe_texts
from persona_lens.tasks.finexl.whitened import Whitening, fit_whitening, whitened_nnls

FORMS = ("whitened", "core")


@dataclass(frozen=True)
class ConceptSpace:
    """`directions[j]` = f(C_j); `phrases[j]` = enc(C_j) alone (what a picture of C_j looks like)."""

    vocabulary: Vocabulary
    directions: np.ndarray        # (n_concepts, d)
    phrases: np.ndarray           # (n_concepts, d)
    whitening: Whitening

    @property
    def dim(self) -> int:
        return self.directions.shape[1]


def texts_to_encode(vocabulary: Vocabulary, probes: tuple[str, ...]) -> list[str]:
    """Every text a concept space needs, in the order `build_concept_space` reads their vectors."""
    p, joined = probe_texts(vocabulary, probes)
    return [*p, *joined, *vocabulary.phrases]


def build_concept_space(vocabulary: Vocabulary, probes: tuple[str, ...], text_vectors: np.ndarray,
                        whiten_components: int = 18) -> ConceptSpace:
    """From the vectors of `texts_to_encode(vocabulary, probes)` (same order)."""
    t = np.asarray(text_vectors, np.float64)
    n_p, k = len(probes), len(vocabulary)
    if t.ndim != 2 or len(t) != n_p + n_p * k + k:
        raise ExplainInputError(f"expected {n_p + n_p * k + k} text vectors for {k} concepts and {n_p} probes, "
                                f"got shape {t.shape}")
    if not np.isfinite(t).all():
        raise ExplainInputError("text vectors hold NaN or infinite values")
    directions = concept_directions(t[:n_p], t[n_p:n_p + n_p * k])
    return ConceptSpace(vocabulary, directions, t[n_p + n_p * k:], fit_whitening(directions, whiten_components))


def encode_concept_space(encoder, vocabulary: Vocabulary, probes: tuple[str, ...],
                         whiten_components: int = 18) -> ConceptSpace:
    """`build_concept_space` with the texts encoded by `encoder` (any VisionLanguageEncoder)."""
    return build_concept_space(vocabulary, probes, encoder.encode_texts(texts_to_encode(vocabulary, probes)),
                               whiten_components)


def decompose(v: np.ndarray, space: ConceptSpace, form: str, ortho_threshold: float = 0.03,
              residual_threshold: float = 0.2) -> Decomposition:
    """V (d,) -> weights over the vocabulary, by `form` ("whitened" or "core")."""
    if form == "whitened":
        return whitened_nnls(v, space.directions, space.whitening)
    if form == "core":
        return published_core(v, space.directions, ortho_threshold, residual_threshold)
    raise ExplainInputError(f"unknown form {form!r}; choose one of {FORMS}")
