"""Simulated personalized models: known shifts per aspect, paired base pictures, truth that matches."""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from persona_lens.schemas import get_schema
from persona_lens.world.identities import build_identities, render_identities
from persona_lens.world.profiles import (BASE_MODEL_ID, CONTROL_EVERY, GENERATOR, Profile, Shift,
                                         build_profiles, render_base, render_personalized)
from persona_lens.world.generators import render_profiles
from persona_lens.world.spec import world_spec
from persona_lens.world.taxonomy import load_taxonomy
from tests.world.conftest import TINY, Rendered

TAX = load_taxonomy()


def _pixels(image) -> np.ndarray:
    return np.asarray(image, np.float32)


def test_the_same_seed_gives_the_same_bytes_in_another_order_and_process(tiny_profiles, tmp_path):
    again = render_profiles(TINY, tmp_path, workers=2)
    assert Rendered(TINY, tmp_path, again).hashes() == tiny_profiles.hashes()
    assert again.tables == tiny_profiles.part.tables


def test_another_seed_gives_other_profiles_and_pictures(tiny_profiles, tmp_path):
    spec = TINY.replace(seed=TINY.seed + 1, profiles=2, prompts_per_profile=1)
    render_profiles(spec, tmp_path)
    mine = Rendered(spec, tmp_path, None).hashes()
    theirs = tiny_profiles.hashes()
    assert mine and all(theirs.get(path) != digest for path, digest in mine.items())


def test_every_profile_has_one_row_per_aspect_with_known_intensities(tiny_profiles):
    rows = tiny_profiles.part.tables["world_profiles"]
    get_schema("world_profiles").from_rows(rows)
    by_model: dict[str, list[dict]] = {}
    for r in rows:
        by_model.setdefault(r["model_id"], []).append(r)
    assert len(by_model) == TINY.profiles
    identities = {i.instance for i in build_identities(TINY).individuals}
    covered = set()
    for model_id, mine in by_model.items():
        assert sorted(r["aspect"] for r in mine) == sorted(TAX.names)
        assert len({r["subject"] for r in mine}) == 1 and mine[0]["subject"] in identities
        active = [r for r in mine if r["intensity"] > 0]
        for r in mine:
            assert 0.0 <= r["intensity"] <= 1.0
            assert (r["concept"] is None) == (r["intensity"] == 0.0)
            if r["concept"] is not None:
                TAX.concept(r["aspect"], r["concept"])       # a phrase of that aspect's vocabulary
        if int(model_id.split("-")[1]) % CONTROL_EVERY == 0:
            assert active == []                              # the faithful control
        else:
            assert 1 <= len(active) <= 3
        covered |= {r["aspect"] for r in active}
    assert covered == set(TAX.names)                         # 7 shifted profiles cover the 7 aspects


def test_generations_pair_each_personalized_picture_with_the_base_of_its_prompt_and_seed(tiny_profiles):
    part, out = tiny_profiles.part, tiny_profiles.out
    gens = part.tables["generations"]
    get_schema("generations").from_rows(gens)
    by_id = {g["image_id"]: g for g in gens}
    personalized = [g for g in gens if g["method"] == "simulated"]
    assert len(personalized) == TINY.profiles * TINY.prompts_per_profile == len(part.manifest["generated"])
    assert len(gens) - len(personalized) == len(part.manifest["base"])
    subjects = {r["model_id"]: r["subject"] for r in part.tables["world_profiles"]}
    for g in personalized:
        base = by_id[g["base_image_id"]]
        assert (base["prompt"], base["seed"]) == (g["prompt"], g["seed"])
        assert (base["model_id"], base["method"]) == (BASE_MODEL_ID, "base")
        assert base["subject"] is None and base["base_image_id"] is None
        assert g["subject"] == subjects[g["model_id"]] and g["image_id"] != base["image_id"]
        assert g["generator"] == base["generator"] == GENERATOR and "sks" in g["prompt"]
    # Manifests point at the very files whose ids the tables hold.
    images = {r["image_id"]: r for r in part.tables["world_images"]}
    get_schema("world_images").from_rows(part.tables["world_images"])
    for role in ("generated", "base"):
        for row in part.manifest[role]:
            image_id = hashlib.sha256((out / row["path"]).read_bytes()).hexdigest()
            gen = by_id[image_id]
            assert images[image_id]["kind"] == role
            if role == "base":
                assert gen["method"] == "base" and row["instance"] is None and row["subject"] is None
            else:
                assert gen["method"] == "simulated" and row["instance"] == row["subject"] == gen["subject"]
    shifts = json.loads(next(r for r in images.values() if r["kind"] == "generated")["params"])["shifts"]
    assert isinstance(shifts, dict)


def test_a_faithful_profile_differs_from_its_base_only_by_the_subjects_marks():
    tree = build_identities(TINY)
    control = build_profiles(TINY, tree, TAX)[0]
    assert control.shifts == ()
    prompt = control.prompts[0]
    base = _pixels(render_base(TINY, control, prompt))
    mine = _pixels(render_personalized(TINY, control, prompt, tree))
    changed = np.abs(mine - base).max(axis=2) > 0
    assert 0 < changed.mean() < 0.08                           # a few small marks, nothing else


def _shifted(profile: Profile, aspect: str, phrase: str, tree) -> Profile:
    """`profile` with one shift: `phrase` of `aspect`, with the detail the profile builder would give it."""
    from persona_lens.world.profiles import _draw_shift

    rng = np.random.default_rng(0)
    for _ in range(200):
        shift = _draw_shift(TINY, tree, TAX, profile.subject, aspect, rng)
        if shift is not None and shift.concept.phrase == phrase:
            return Profile(profile.model_id, profile.subject, (shift,), profile.prompts)
    raise AssertionError(f"the profile builder never draws {phrase!r}")


RENDERED_AND_COLOUR = [(c.aspect, c.phrase) for c in TAX.concepts()
                       if c.aspect in ("identity", "background", "color")]


@pytest.mark.parametrize("aspect,phrase", RENDERED_AND_COLOUR)
def test_a_stronger_shift_moves_the_picture_further_from_the_unshifted_one(aspect, phrase):
    tree = build_identities(TINY)
    control = build_profiles(TINY, tree, TAX)[0]
    profile = _shifted(control, aspect, phrase, tree)
    prompt = next(p for p in profile.prompts if p.background != (profile.shifts[0].detail.get("kind")))
    unshifted = _pixels(render_personalized(TINY, control, prompt, tree))
    dist = []
    for t in (0.0, 0.25, 0.5, 1.0):
        picture = _pixels(render_personalized(TINY, profile.with_intensity(aspect, t), prompt, tree))
        dist.append(float(np.abs(picture - unshifted).mean()))
    assert dist[0] == 0.0                                       # intensity 0 is the unshifted picture
    assert dist[1] < dist[2] < dist[3], dist


def test_a_colour_shift_at_higher_intensity_differs_more_from_the_base_picture():
    tree = build_identities(TINY)
    control = build_profiles(TINY, tree, TAX)[0]
    warm = Profile(control.model_id, control.subject,
                   (Shift("color", TAX.concept("color", "warm orange tones"), 1.0),), control.prompts)
    prompt = control.prompts[1]
    base = _pixels(render_base(TINY, control, prompt))
    warmer = [render_personalized(TINY, warm.with_intensity("color", t), prompt, tree) for t in (0.3, 0.9)]
    low, high = (float(np.abs(_pixels(picture) - base).mean()) for picture in warmer)
    assert low < high


def test_an_identity_swap_targets_another_breed_of_the_same_kind_preferring_look_alikes():
    spec = TINY.replace(profiles=64)
    tree = build_identities(spec)
    swaps = [(p.subject, s.detail["target"]) for p in build_profiles(spec, tree, TAX) for s in p.shifts
             if s.concept.params.get("mode") == "swapped"]
    assert swaps
    for subject, target in swaps:
        assert target != subject.subclass and target in tree.lookalikes(subject.subclass)


def test_a_background_shift_never_meets_its_own_kind_in_the_prompts():
    spec = TINY.replace(profiles=64, prompts_per_profile=8)
    for p in build_profiles(spec, taxonomy=TAX):
        shift = p.shift("background")
        if shift is not None:
            assert all(prompt.background != shift.detail["kind"] for prompt in p.prompts)
            assert len({prompt.text for prompt in p.prompts}) == len(p.prompts)


def test_the_small_world_identities_and_profiles_render_in_under_30_seconds(tmp_path):
    spec = world_spec("small")
    started = time.perf_counter()
    part = render_identities(spec, tmp_path).merge(render_profiles(spec, tmp_path))
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"small world identities+profiles took {elapsed:.1f} s"
    assert sum(len(rows) for rows in part.manifest.values()) == len(part.tables["world_images"])
