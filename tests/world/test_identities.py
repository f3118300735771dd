"""The identity tree and its reference/gallery pictures: deterministic, consistent with the truth, and
fine-grained (individuals of one breed differ only in their marks)."""

from __future__ import annotations

import hashlib
import itertools
import json

import numpy as np
import pytest

from persona_lens.schemas import get_schema
from persona_lens.world.backgrounds import BACKGROUND_KINDS, draw_background
from persona_lens.world.creatures import CATEGORIES, sample_params
from persona_lens.world.render import render
from persona_lens.world.identities import build_identities, identity_params, render_identities
from persona_lens.world.spec import WorldError, rng_for

from tests.world.conftest import TINY, Rendered


def test_the_same_seed_gives_the_same_bytes_in_another_order_and_process(tiny_identities, tmp_path):
    # Two worker processes render the pictures in another order than the fixture's single process.
    again = render_identities(TINY, tmp_path, workers=2)
    assert Rendered(TINY, tmp_path, again).hashes() == tiny_identities.hashes()
    assert again.tables == tiny_identities.part.tables


def test_another_seed_gives_other_pictures(tiny_identities, tmp_path):
    spec = TINY.replace(seed=TINY.seed + 1, reference_per_instance=1, gallery_per_instance=0)
    part = render_identities(spec, tmp_path)
    for row in part.manifest["reference"]:
        mine = hashlib.sha256((tmp_path / row["path"]).read_bytes()).hexdigest()
        assert mine != hashlib.sha256((tiny_identities.out / row["path"]).read_bytes()).hexdigest()


def test_truth_tables_follow_their_schemas_and_match_the_manifests(tiny_identities):
    part, spec = tiny_identities.part, tiny_identities.spec
    identities = {r["instance"]: r for r in part.tables["world_identities"]}
    for name, rows in part.tables.items():
        get_schema(name).from_rows(rows)          # raises on a wrong column, type or null
    n_instances = (spec.categories * spec.groups_per_category * spec.subclasses_per_group
                   * spec.instances_per_subclass)
    assert len(identities) == n_instances
    assert len(part.manifest["reference"]) == n_instances * spec.reference_per_instance
    assert len(part.manifest["gallery"]) == n_instances * spec.gallery_per_instance

    images = {r["image_id"]: r for r in part.tables["world_images"]}
    ids_by_role = {}
    for role in ("reference", "gallery"):
        for row in part.manifest[role]:
            truth = identities[row["instance"]]
            assert (row["subclass"], row["category"]) == (truth["subclass"], truth["category"])
            assert row["subclass"].startswith(truth["group"] + "-")
            assert truth["group"].startswith(row["category"] + "-")
            assert row["subject"] == (row["instance"] if role == "reference" else None)
            image_id = hashlib.sha256((tiny_identities.out / row["path"]).read_bytes()).hexdigest()
            assert images[image_id]["kind"] == role and images[image_id]["instance"] == row["instance"]
            ids_by_role.setdefault(role, set()).add(image_id)
    assert not ids_by_role["reference"] & ids_by_role["gallery"]
    assert len(images) == len(part.manifest["reference"]) + len(part.manifest["gallery"])
    for truth in identities.values():
        marks = json.loads(truth["marks"])
        assert 2 <= len(marks) <= 3 and marks[0]["kind"] == "spot" and len(marks[0]["position"]) == 2
    params = json.loads(next(iter(images.values()))["params"])
    assert {"pose", "scale", "position", "background", "lighting"} <= set(params)


def test_reference_and_gallery_pictures_use_disjoint_seeds_and_references_vary_the_background():
    tree = build_identities(TINY)
    for ind in tree.individuals:
        refs = [identity_params(TINY, ind, "reference", k) for k in range(TINY.reference_per_instance)]
        gals = [identity_params(TINY, ind, "gallery", k) for k in range(TINY.gallery_per_instance)]
        assert not {s for s, _ in refs} & {s for s, _ in gals}
        assert len({p.background for _, p in refs}) == len(refs)


@pytest.mark.parametrize("category", CATEGORIES)
def test_individuals_of_a_breed_differ_only_in_marks_and_look_alike_more_than_other_breeds(category):
    spec = TINY.replace(categories=len(CATEGORIES), subclasses_per_group=3, instances_per_subclass=2)
    inds = [i for i in build_identities(spec).individuals if i.category == category]
    for trial in range(2):
        params = sample_params(category, rng_for(5, category, trial))
        pics = {i.instance: np.asarray(render(i.breed, i.marks, params, 128), np.float32) for i in inds}
        dist = {(a.instance, b.instance): float(np.abs(pics[a.instance] - pics[b.instance]).mean())
                for a, b in itertools.permutations(inds, 2)}
        for a in inds:
            siblings = [dist[a.instance, b.instance] for b in inds if b.subclass == a.subclass and b is not a]
            others = [dist[a.instance, b.instance] for b in inds if b.subclass != a.subclass]
            # Not identical (the marks differ), yet closer to its own breed than to any other breed.
            assert min(siblings) > 0.0
            assert max(siblings) < min(others), (a.instance, siblings, min(others))
        # Without their marks, two individuals of a breed are the same picture.
        a, b = [i for i in inds if i.subclass == inds[0].subclass][:2]
        assert a.breed == b.breed
        unmarked = [np.asarray(render(x.breed, (), params, 128)) for x in (a, b)]
        assert np.array_equal(*unmarked)


@pytest.mark.parametrize("category", CATEGORIES)
def test_a_breeds_nearest_other_breed_is_a_look_alike_of_its_own_group(category):
    spec = TINY.replace(categories=len(CATEGORIES), groups_per_category=3, subclasses_per_group=3,
                        instances_per_subclass=1)
    inds = [i for i in build_identities(spec).individuals if i.category == category]
    params = sample_params(category, rng_for(5, "groups"))
    pics = {i.subclass: np.asarray(render(i.breed, (), params, 128), np.float32) for i in inds}
    dist = lambda a, b: float(np.abs(pics[a.subclass] - pics[b.subclass]).mean())  # noqa: E731
    same_all, other_all = [], []
    for a in inds:
        same = [dist(a, b) for b in inds if b.group == a.group and b is not a]
        other = [dist(a, b) for b in inds if b.group != a.group]
        assert min(same) < min(other), a.subclass
        same_all += same
        other_all += other
    assert np.mean(same_all) < 0.75 * np.mean(other_all)


@pytest.mark.parametrize("field,value", [("categories", 5)])
def test_an_impossible_identity_spec_is_refused_naming_the_field(field, value):
    with pytest.raises(WorldError, match=field):
        build_identities(TINY.replace(**{field: value}))


def test_profiles_without_any_instance_are_refused():
    with pytest.raises(WorldError, match="profiles=8 needs at least one instance"):
        build_identities(TINY.replace(instances_per_subclass=0))


def test_backgrounds_are_recognisable_kinds_and_an_unknown_kind_is_refused():
    pics = {k: np.asarray(draw_background(k, 128, rng_for(0, k)), np.float32) for k in BACKGROUND_KINDS}
    mean = {k: p.reshape(-1, 3).mean(axis=0) for k, p in pics.items()}
    lower = {k: p[96:].reshape(-1, 3).mean(axis=0) for k, p in pics.items()}
    assert lower["meadow"][1] > lower["meadow"][0] + 30                 # green grass
    assert mean["brick"][0] > mean["brick"][2] + 40                    # red bricks
    assert mean["night"].max() < 60                                    # dark sky
    assert lower["beach"][0] > lower["beach"][2] + 40 and pics["beach"][55].mean(axis=0)[2] > 120  # sand, sea
    assert mean["wood"][0] > mean["wood"][2] + 50                      # brown planks
    assert pics["studio"].std() < 25                                   # smooth sweep
    textured = {k: np.abs(np.diff(p, axis=1)).mean() for k, p in pics.items()}
    assert min(textured[k] for k in ("meadow", "brick", "wood", "beach")) > 1.8 * textured["studio"]
    with pytest.raises(ValueError, match="'marble'"):
        draw_background("marble", 128, rng_for(0))


def test_pictures_are_drawn_at_the_spec_size():
    ind = build_identities(TINY).individuals[0]
    for size in (128, 224):
        img = render(ind.breed, ind.marks, sample_params(ind.category, rng_for(0, size)), size)
        assert img.size == (size, size) and img.mode == "RGB"


def test_unknown_categories_and_backgrounds_are_refused_by_name():
    with pytest.raises(ValueError, match="'dragon'"):
        sample_params("dragon", rng_for(0))
    with pytest.raises(ValueError, match="'marble'"):
        sample_params("cat", rng_for(0), background="marble")
