"""The aspect taxonomy (world/aspects.yaml): aspects of personalization and their concept vocabularies.

One file is read by the world's renderer and captions, the aligner's training captions and the
explanation stage, so they can never disagree on what "style" or "warm orange tones" means. A user
points `PERSONA_LENS_TAXONOMY` (or `load_taxonomy(path)`) at an extended copy to add concepts.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("aspects.yaml")
ASPECTS = ("identity", "style", "color", "texture", "composition", "lighting", "background")


class TaxonomyError(ValueError):
    """The taxonomy file is invalid; the message names the file and the entry."""


@dataclass(frozen=True)
class Concept:
    aspect: str
    phrase: str
    op: str
    params: dict = field(default_factory=dict, hash=False, compare=False)
    render: bool = False          # only the world's renderer can realise it (not an image operation)


@dataclass(frozen=True)
class Aspect:
    name: str
    description: str
    concepts: tuple[Concept, ...]
    templates: tuple[str, ...]

    @property
    def phrases(self) -> list[str]:
        return [c.phrase for c in self.concepts]


@dataclass(frozen=True)
class Taxonomy:
    aspects: dict[str, Aspect]
    source: str
    digest: str                   # sha256 of the file: stored with anything trained on it

    @property
    def names(self) -> list[str]:
        return list(self.aspects)

    def concept(self, aspect: str, phrase: str) -> Concept:
        if aspect not in self.aspects:
            raise KeyError(f"unknown aspect {aspect!r}; known: {self.names}")
        for c in self.aspects[aspect].concepts:
            if c.phrase == phrase:
                return c
        raise KeyError(f"aspect {aspect!r} has no concept {phrase!r}; it has {self.aspects[aspect].phrases}")

    def concepts(self, *, image_ops_only: bool = False) -> list[Concept]:
        """Every concept in file order; `image_ops_only` keeps those `apply_concept` can realise on any image."""
        return [c for a in self.aspects.values() for c in a.concepts if not (image_ops_only and c.render)]

    def captions(self, concept: Concept) -> list[str]:
        """The concept's phrase put into each template of its aspect."""
        return [t.format(phrase=concept.phrase) for t in self.aspects[concept.aspect].templates]


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """The taxonomy at `path`, else $PERSONA_LENS_TAXONOMY, else the packaged world/aspects.yaml."""
    chosen = Path(path or os.environ.get("PERSONA_LENS_TAXONOMY") or DEFAULT_TAXONOMY).expanduser().resolve()
    return _load(str(chosen))


@functools.cache
def _load(path: str) -> Taxonomy:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {path!r}: {exc.strerror}") from exc
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"taxonomy file {path!r} is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("aspects"), dict) or not doc["aspects"]:
        raise TaxonomyError(f"taxonomy file {path!r} needs a non-empty mapping 'aspects'")
    aspects = {name: _aspect(path, name, body) for name, body in doc["aspects"].items()}
    missing = [a for a in ASPECTS if a not in aspects]
    if missing:
        # The stages are built around these seven; more may be added, none removed.
        raise TaxonomyError(f"taxonomy file {path!r} lacks the aspect(s) {missing}")
    return Taxonomy(aspects, path, hashlib.sha256(raw).hexdigest())


def _aspect(path: str, name: str, body: object) -> Aspect:
    where = f"taxonomy file {path!r}, aspect {name!r}"
    if not isinstance(body, dict) or not isinstance(body.get("concepts"), list) or not body["concepts"]:
        raise TaxonomyError(f"{where}: needs a non-empty list 'concepts'")
    templates = tuple(body.get("templates") or ["{phrase}"])
    if not all(isinstance(t, str) and "{phrase}" in t for t in templates):
        raise TaxonomyError(f"{where}: every template must be a string containing {{phrase}}, got {templates}")
    concepts, seen = [], set()
    for i, entry in enumerate(body["concepts"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("phrase"), str) or not entry["phrase"].strip():
            raise TaxonomyError(f"{where}, concept {i}: needs a non-empty string 'phrase'")
        effect = entry.get("effect")
        if not isinstance(effect, dict) or not isinstance(effect.get("op"), str):
            raise TaxonomyError(f"{where}, concept {entry['phrase']!r}: needs an 'effect' mapping with an 'op'")
        if entry["phrase"] in seen:
            raise TaxonomyError(f"{where}: concept {entry['phrase']!r} appears twice")
        seen.add(entry["phrase"])
        params = {k: v for k, v in effect.items() if k not in ("op", "render")}
        concepts.append(Concept(name, entry["phrase"], effect["op"], params, bool(effect.get("render", False))))
    return Aspect(name, str(body.get("description", "")), tuple(concepts), templates)
