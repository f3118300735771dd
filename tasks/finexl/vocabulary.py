"""The concept vocabulary an explanation may use: phrases grouped by the taxonomy's aspects.

By default the taxonomy's own phrases (world/aspects.yaml). A vocabulary file replaces them:

    aspects:
      style:
        - {phrase: a graphite drawing, concept: a pencil sketch}   # `concept`: the taxonomy concept
        - {phrase: a mosaic of big square pixels}                  #   it stands for (optional; scoring)

Every aspect of the file must be a taxonomy aspect (an unknown one raises, naming file and aspect);
an aspect the file omits keeps no phrase, so it can only be explained by image statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from persona_lens.world.taxonomy import Taxonomy, load_taxonomy

#: The packaged paraphrased vocabulary: no phrase identical to a taxonomy phrase (leakage check).
PARAPHRASES = "paraphrases.yaml"


class VocabularyError(ValueError):
    """A vocabulary file is invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Vocabulary:
    """Concepts in a fixed order: `aspects[i]` and `phrases[i]`, `concepts[i]` the taxonomy phrase it
    stands for (None when the file did not say)."""

    aspects: tuple[str, ...]
    phrases: tuple[str, ...]
    concepts: tuple[str | None, ...]
    source: str

    def __len__(self) -> int:
        return len(self.phrases)

    def indices(self, aspect: str) -> np.ndarray:
        return np.array([i for i, a in enumerate(self.aspects) if a == aspect], dtype=int)

    def aspect_mask(self, aspect_names: list[str]) -> np.ndarray:
        """(n_aspects, n_concepts) booleans: concept j belongs to aspect i."""
        return np.array([[a == name for a in self.aspects] for name in aspect_names])


def taxonomy_vocabulary(taxonomy: Taxonomy | None = None) -> Vocabulary:
    """The taxonomy's own phrases, each standing for itself."""
    tax = taxonomy or load_taxonomy()
    cs = tax.concepts()
    return Vocabulary(tuple(c.aspect for c in cs), tuple(c.phrase for c in cs), tuple(c.phrase for c in cs),
                      tax.source)


def paraphrase_vocabulary(taxonomy: Taxonomy | None = None) -> Vocabulary:
    """The packaged paraphrases (tasks/finexl/paraphrases.yaml)."""
    path = resources.files("persona_lens.tasks.finexl").joinpath(PARAPHRASES)
    return _parse(yaml.safe_load(path.read_text()), str(path), taxonomy or load_taxonomy())


def load_vocabulary(path: str | Path | None = None, taxonomy: Taxonomy | None = None) -> Vocabulary:
    """The vocabulary file at `path`; None: the taxonomy's phrases. Raises VocabularyError."""
    tax = taxonomy or load_taxonomy()
    if path is None:
        return taxonomy_vocabulary(tax)
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise VocabularyError(f"cannot read vocabulary file {str(path)!r}: {exc.strerror}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise VocabularyError(f"vocabulary file {str(path)!r} is not valid YAML: {exc}") from exc
    return _parse(doc, str(path), tax)


def _parse(doc: object, source: str, tax: Taxonomy) -> Vocabulary:
    if not isinstance(doc, dict) or not isinstance(doc.get("aspects"), dict) or not doc["aspects"]:
        raise VocabularyError(f"vocabulary file {source!r} needs a non-empty mapping 'aspects'")
    aspects, phrases, concepts = [], [], []
    for aspect, entries in doc["aspects"].items():
        if aspect not in tax.aspects:
            raise VocabularyError(f"vocabulary file {source!r}: unknown aspect {aspect!r}; "
                                  f"the taxonomy has {tax.names}")
        if not isinstance(entries, list) or not entries:
            raise VocabularyError(f"vocabulary file {source!r}, aspect {aspect!r}: needs a non-empty list")
        for i, entry in enumerate(entries):
            entry = {"phrase": entry} if isinstance(entry, str) else entry
            if not isinstance(entry, dict) or not isinstance(entry.get("phrase"), str) \
                    or not entry["phrase"].strip():
                raise VocabularyError(f"vocabulary file {source!r}, aspect {aspect!r}, entry {i}: "
                                      f"needs a non-empty string 'phrase'")
            phrase = entry["phrase"].strip()
            if phrase in phrases:
                raise VocabularyError(f"vocabulary file {source!r}: phrase {phrase!r} appears twice")
            concept = entry.get("concept")
            if concept is not None and concept not in tax.aspects[aspect].phrases:
                raise VocabularyError(f"vocabulary file {source!r}, phrase {phrase!r}: concept {concept!r} "
                                      f"is not a concept of aspect {aspect!r} ({tax.aspects[aspect].phrases})")
            aspects.append(aspect)
            phrases.append(phrase)
            concepts.append(concept)
    return Vocabulary(tuple(aspects), tuple(phrases), tuple(concepts), source)


def shared_phrases(vocabulary: Vocabulary, taxonomy: Taxonomy | None = None) -> list[str]:
    """Phrases of `vocabulary` identical (case-insensitively) to a taxonomy phrase: must be empty for
    the paraphrase leakage check to mean anything."""
    tax = {c.phrase.lower() for c in (taxonomy or load_taxonomy()).concepts()}
    return [p for p in vocabulary.phrases if p.lower() in tax]


def probe_texts(vocabulary: Vocabulary, probes: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(probe prompts, joined texts "t, C" in order concept-major) to encode for the concept directions."""
    joined = [f"{t.rstrip(' .')}, {phrase}" for phrase in vocabulary.phrases for t in probes]
    return list(probes), joined


def concept_directions(probe_vectors: np.ndarray, joined_vectors: np.ndarray) -> np.ndarray:
    """f(C) = mean over probes t of enc("t, C") - enc(t): (n_concepts, d) from the vectors of
    `probe_texts` ((n_probes, d) and (n_concepts * n_probes, d))."""
    p = np.asarray(probe_vectors, np.float64)
    j = np.asarray(joined_vectors, np.float64)
    if j.ndim != 2 or p.ndim != 2 or j.shape[1] != p.shape[1] or j.shape[0] % p.shape[0]:
        raise ValueError(f"joined vectors {j.shape} do not match probe vectors {p.shape}")
    return (j.reshape(-1, p.shape[0], p.shape[1]) - p[None]).mean(axis=1)
