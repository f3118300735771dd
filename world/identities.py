"""The world's identity tree and its pictures: the reference and gallery images FPR is scored on.

`build_identities(spec)` grows the tree category → look-alike group → subclass (breed) → instance
(individual) deterministically from the spec; `render_identities(spec, out)` draws, per individual,
`reference_per_instance` reference images (what a user would personalize on) and
`gallery_per_instance` gallery images (what retrieval ranks against). Both sets come from
disjoint per-image seeds, so no gallery picture repeats a reference picture's pose, framing or light.

Names are structured so a label says where it sits in the tree: category `cat`, group `cat-g1`,
subclass `cat-g1-s2`, instance `cat-g1-s2-i03`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from persona_lens.world.backgrounds import BACKGROUND_KINDS
from persona_lens.world.creatures import (CATEGORIES, Breed, Mark, RenderParams, breed_in_group,
                                          group_prototype, make_marks, sample_params)
from persona_lens.world.render import render
from persona_lens.world.spec import WorldError, WorldPart, WorldSpec, rng_for, save_png

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Individual:
    """One instance of the world: where it sits in the tree, its breed's look and its own marks."""

    instance: str
    subclass: str
    category: str
    group: str
    breed: Breed
    marks: tuple[Mark, ...]

    def labels(self) -> dict[str, str]:
        return {"category": self.category, "subclass": self.subclass, "instance": self.instance}


@dataclass(frozen=True)
class IdentityTree:
    """All individuals, plus each subclass's breed and each group's subclasses."""

    individuals: tuple[Individual, ...]
    breeds: dict[str, Breed]
    groups: dict[str, tuple[str, ...]]

    def individual(self, instance: str) -> Individual:
        for ind in self.individuals:
            if ind.instance == instance:
                return ind
        raise KeyError(f"no instance {instance!r} in this world")

    def lookalikes(self, subclass: str) -> tuple[str, ...]:
        """Other subclasses of `subclass`'s look-alike group (the hardest distractors)."""
        group = subclass.rsplit("-", 1)[0]
        return tuple(s for s in self.groups.get(group, ()) if s != subclass)

    def same_category(self, subclass: str) -> tuple[str, ...]:
        category = subclass.split("-", 1)[0]
        return tuple(s for s in self.breeds if s.split("-", 1)[0] == category and s != subclass)


def check_spec(spec: WorldSpec) -> None:
    """Raise WorldError naming the field if the identity part of `spec` cannot be built."""
    if spec.categories > len(CATEGORIES):
        raise WorldError(f"categories must be <= {len(CATEGORIES)} ({', '.join(CATEGORIES)}), "
                         f"got {spec.categories}")
    if spec.profiles and not (spec.categories and spec.groups_per_category and spec.subclasses_per_group
                              and spec.instances_per_subclass):
        raise WorldError(f"profiles={spec.profiles} needs at least one instance to personalize on; "
                         f"categories, groups_per_category, subclasses_per_group and instances_per_subclass "
                         f"must all be >= 1")


def build_identities(spec: WorldSpec) -> IdentityTree:
    """The identity tree of `spec`: a pure function of its seed and counts."""
    check_spec(spec)
    individuals, breeds, groups = [], {}, {}
    for category in CATEGORIES[: spec.categories]:
        for g in range(spec.groups_per_category):
            group = f"{category}-g{g}"
            proto = group_prototype(category, g, spec.seed)
            members = []
            for s in range(spec.subclasses_per_group):
                subclass = f"{group}-s{s}"
                breed = breed_in_group(proto, s, spec.subclasses_per_group,
                                       rng_for(spec.seed, "breed", subclass))
                breeds[subclass] = breed
                members.append(subclass)
                for i in range(spec.instances_per_subclass):
                    instance = f"{subclass}-i{i:02d}"
                    marks = make_marks(category, breed.colours["body"], rng_for(spec.seed, "marks", instance))
                    individuals.append(Individual(instance, subclass, category, group, breed, marks))
            groups[group] = tuple(members)
    return IdentityTree(tuple(individuals), breeds, groups)


def identity_params(spec: WorldSpec, individual: Individual, role: str, k: int) -> tuple[int, RenderParams]:
    """Seed and render parameters of picture `k` of `individual` in `role` (reference or gallery).

    References cycle through the background kinds (a user's own photos show the pet in several
    places); gallery pictures draw theirs at random. The seed alone reproduces the parameters.
    """
    if role not in ("reference", "gallery"):
        raise ValueError(f"role must be 'reference' or 'gallery', got {role!r}")
    seed = int(rng_for(spec.seed, role, individual.instance, k).integers(0, 2**31 - 1))
    background = None
    if role == "reference":
        offset_rng = rng_for(spec.seed, "reference-backgrounds", individual.instance)
        offset = int(offset_rng.integers(len(BACKGROUND_KINDS)))
        background = BACKGROUND_KINDS[(offset + k) % len(BACKGROUND_KINDS)]
    return seed, sample_params(individual.category, np.random.default_rng(seed), background)


def render_individual(spec: WorldSpec, individual: Individual, role: str, k: int):
    """Picture `k` of `individual` in `role`: (image, seed, params)."""
    seed, params = identity_params(spec, individual, role, k)
    return render(individual.breed, individual.marks, params, spec.image_size), seed, params


def render_identities(spec: WorldSpec, out: Path, workers: int = 1) -> WorldPart:
    """Render every reference and gallery picture of `spec` under `out`/images/identities.

    Returns the manifest rows (roles reference, gallery; paths relative to `out`) and the truth rows
    of world_identities and world_images. `workers` > 1 renders in that many processes; the bytes do
    not change, since every picture has its own seed.
    """
    tree = build_identities(spec)
    jobs = [(spec, Path(out), ind, role, k)
            for ind in tree.individuals
            for role, count in (("reference", spec.reference_per_instance),
                                ("gallery", spec.gallery_per_instance))
            for k in range(count)]
    part = WorldPart()
    for role, manifest_row, image_row in parallel_map(_render_job, jobs, workers):
        part.add_image(role, manifest_row)
        part.add_row("world_images", image_row)
    for ind in tree.individuals:
        part.add_row("world_identities", {
            "instance": ind.instance, "subclass": ind.subclass, "category": ind.category, "group": ind.group,
            "marks": json.dumps([m.to_json() for m in ind.marks], sort_keys=True),
            "num_reference": spec.reference_per_instance, "num_gallery": spec.gallery_per_instance,
        })
    return part


def _render_job(job: tuple[WorldSpec, Path, Individual, str, int]) -> tuple[str, dict, dict]:
    spec, out, ind, role, k = job
    image, seed, params = render_individual(spec, ind, role, k)
    rel = f"images/identities/{ind.category}/{ind.instance}/{role}-{k:02d}.png"
    image_id = save_png(image, out / rel)
    # Reference pictures belong to the personalization subject they show; gallery pictures to no one.
    manifest_row = {"path": rel, **ind.labels(), "subject": ind.instance if role == "reference" else None}
    image_row = {"image_id": image_id, "kind": role, "instance": ind.instance, "seed": seed,
                 "params": json.dumps(params.to_json() | {"subclass": ind.subclass}, sort_keys=True)}
    return role, manifest_row, image_row


def parallel_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 1) -> list[R]:
    """`[fn(x) for x in items]`, in order, in `workers` processes when workers > 1."""
    items = list(items)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(items) < 2:
        return [fn(x) for x in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items, chunksize=max(1, len(items) // (workers * 8))))
