"""Scenes and viewers of the synthetic world (world/scenes.py, world/viewers.py): DEPER's ground truth."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from persona_lens.schemas.tables import ATTENTION, CAPTIONS
from persona_lens.schemas.world import WORLD_IMAGES, WORLD_OBJECTS, WORLD_VIEWERS
from persona_lens.world.scenes import (MAX_OVERLAP, paint_scene, render_scene, render_scene_pool, render_scenes,
                                        scene_layout)
from persona_lens.world.spec import WorldError, WorldPart, rng_for, world_spec
from persona_lens.world.viewers import simulate_viewers
from persona_lens.world.wording import mentioned_kinds

TINY = world_spec("small", seed=3).replace(image_size=128, scenes=10, viewers_train=4, viewers_fewshot=2,
                                           scenes_per_viewer=6)


def build(spec, out: Path) -> tuple[WorldPart, WorldPart]:
    """The scene pool and its viewers, apart (render_scenes returns them merged)."""
    scenes = render_scene_pool(spec, out)
    return scenes, simulate_viewers(spec, scenes)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    scenes, viewers = build(TINY, out)
    return out, scenes, viewers


def objects_by_image(scenes: WorldPart) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in scenes.tables["world_objects"]:
        out.setdefault(row["image_id"], []).append(row)
    return out


def fixated_object(fix: dict, objects: list[dict]) -> dict | None:
    """The object whose box holds the fixation (nearest centre, in box units, if boxes overlap)."""
    inside = [(max(abs(fix["x"] - o["x"]) / (o["w"] / 2), abs(fix["y"] - o["y"]) / (o["h"] / 2)), o)
              for o in objects]
    inside = [(d, o) for d, o in inside if d <= 1.0]
    return min(inside, key=lambda p: p[0])[1] if inside else None


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def jaccard(a: str, b: str) -> float:
    return len(tokens(a) & tokens(b)) / len(tokens(a) | tokens(b))


# -- determinism ------------------------------------------------------------------------------------

def test_same_spec_gives_same_bytes_and_rows(world, tmp_path):
    out, scenes, viewers = world
    scenes2, viewers2 = build(TINY, tmp_path)
    assert scenes2.manifest == scenes.manifest and scenes2.tables == scenes.tables
    assert viewers2.tables == viewers.tables
    for row in scenes.manifest["scene"]:
        assert (tmp_path / row["path"]).read_bytes() == (out / row["path"]).read_bytes()


def test_scenes_and_viewers_do_not_depend_on_render_order(world, tmp_path):
    _, scenes, viewers = world
    reversed_part = WorldPart()
    for index in reversed(range(TINY.scenes)):
        reversed_part.merge(render_scene(TINY, index, tmp_path))
    assert sorted(map(json.dumps, reversed_part.tables["world_objects"])) == \
        sorted(map(json.dumps, scenes.tables["world_objects"]))
    assert simulate_viewers(TINY, reversed_part).tables == viewers.tables


def test_render_scenes_is_the_pool_and_its_viewers(world, tmp_path):
    _, scenes, viewers = world
    part = render_scenes(TINY, tmp_path)
    assert part.manifest == scenes.manifest
    assert part.tables == {**scenes.tables, **viewers.tables}


def test_different_seed_gives_different_scenes_and_captions(world, tmp_path):
    _, scenes, viewers = world
    scenes2, viewers2 = build(TINY.replace(seed=4), tmp_path)
    ids = {r["image_id"] for r in scenes.tables["world_images"]}
    assert ids.isdisjoint(r["image_id"] for r in scenes2.tables["world_images"])
    assert [r["text"] for r in viewers.tables["captions"]] != [r["text"] for r in viewers2.tables["captions"]]


# -- scenes -----------------------------------------------------------------------------------------

def test_image_ids_are_sha256_of_square_pngs_at_relative_paths(world):
    out, scenes, _ = world
    assert len(scenes.manifest["scene"]) == TINY.scenes
    for row, image in zip(scenes.manifest["scene"], scenes.tables["world_images"]):
        assert not Path(row["path"]).is_absolute() and row["path"].startswith("images/scenes/")
        data = (out / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == image["image_id"]
        assert Image.open(out / row["path"]).size == (TINY.image_size, TINY.image_size)
        assert image["kind"] == "scene"


def test_scene_objects_have_distinct_kinds_and_boxes_that_barely_overlap(world):
    _, scenes, _ = world
    lo, hi = TINY.objects_per_scene
    for objects in objects_by_image(scenes).values():
        assert lo <= len(objects) <= hi
        assert len({o["kind"] for o in objects}) == len(objects)
        for o in objects:
            assert 0 <= o["x"] - o["w"] / 2 and o["x"] + o["w"] / 2 <= 1
            assert 0 <= o["y"] - o["h"] / 2 and o["y"] + o["h"] / 2 <= 1
            assert {"color", "size", "texture"} <= set(json.loads(o["attributes"]))
        for a, b in itertools.combinations(objects, 2):
            overlap = min(a["x"] + a["w"] / 2, b["x"] + b["w"] / 2) - max(a["x"] - a["w"] / 2, b["x"] - b["w"] / 2)
            assert overlap <= MAX_OVERLAP * min(a["w"], b["w"]) + 1e-3


def test_objects_are_painted_inside_their_boxes():
    """Painting a scene with and without its objects differs inside the boxes, and hardly elsewhere."""
    for index in range(6):
        layout = scene_layout(TINY, index)
        full = np.asarray(paint_scene(layout, 128, rng_for(0, index)), dtype=np.float32) / 255
        empty = np.asarray(paint_scene(replace(layout, objects=()), 128, rng_for(0, index)), dtype=np.float32) / 255
        changed = np.abs(full - empty).max(axis=-1) > 0.12
        boxes = np.zeros_like(changed)
        for o in layout.objects:
            # grown by 15% for outlines and contact shadows
            x0, x1 = int((o.x - 0.58 * o.w) * 128), int(np.ceil((o.x + 0.58 * o.w) * 128))
            y0, y1 = int((o.y - 0.58 * o.h) * 128), int(np.ceil((o.y + 0.65 * o.h) * 128))
            boxes[max(0, y0):y1, max(0, x0):x1] = True
            core = changed[int((o.y - o.h / 2) * 128):int((o.y + o.h / 2) * 128),
                           int((o.x - o.w / 2) * 128):int((o.x + o.w / 2) * 128)]
            assert core.mean() > 0.3, (index, o.kind)
        assert changed[~boxes].mean() < 0.01


# -- viewers ----------------------------------------------------------------------------------------

def test_fixations_lie_in_the_image_and_move_forward_in_time(world):
    _, _, viewers = world
    for row in viewers.tables["attention"]:
        fix = row["fixations"]
        assert fix
        for f in fix:
            assert 0 <= f["x"] <= 1 and 0 <= f["y"] <= 1 and f["dur"] > 0
        for a, b in zip(fix, fix[1:]):
            assert b["t"] >= a["t"] + a["dur"]


def test_captions_name_scene_objects_in_the_order_they_were_fixated(world):
    _, scenes, viewers = world
    objects = objects_by_image(scenes)
    attention = {(r["viewer_id"], r["image_id"]): r["fixations"] for r in viewers.tables["attention"]}
    for cap in viewers.tables["captions"]:
        scene = objects[cap["image_id"]]
        kinds = mentioned_kinds(cap["text"])
        assert kinds and len(set(kinds)) == len(kinds), cap["text"]
        assert set(kinds) <= {o["kind"] for o in scene}, cap["text"]
        first_seen: dict[str, float] = {}
        for f in attention[(cap["viewer_id"], cap["image_id"])]:
            o = fixated_object(f, scene)
            if o is not None:
                first_seen.setdefault(o["kind"], f["t"])
        assert all(k in first_seen for k in kinds), cap["text"]
        times = [first_seen[k] for k in kinds]
        assert times == sorted(times), (cap["text"], first_seen)


def test_truth_is_consistent(world):
    _, scenes, viewers = world
    scene_ids = {r["image_id"] for r in scenes.tables["world_images"]}
    assert {r["image_id"] for r in scenes.tables["world_objects"]} == scene_ids
    pairs = [(r["viewer_id"], r["image_id"]) for r in viewers.tables["attention"]]
    assert pairs == [(r["viewer_id"], r["image_id"]) for r in viewers.tables["captions"]]
    assert len(set(pairs)) == len(pairs) and {i for _, i in pairs} <= scene_ids
    splits = {r["viewer_id"]: r["split"] for r in viewers.tables["world_viewers"]}
    assert list(splits.values()).count("train") == TINY.viewers_train
    assert list(splits.values()).count("fewshot") == TINY.viewers_fewshot
    assert len(splits) == TINY.viewers_train + TINY.viewers_fewshot
    for viewer in splits:
        assert sum(v == viewer for v, _ in pairs) == TINY.scenes_per_viewer
    assert all(r["model"] == "human" for r in viewers.tables["captions"])


@pytest.mark.parametrize("seed", [0, 1])
def test_a_viewers_captions_resemble_its_own_more_than_others_of_the_same_scene(seed, tmp_path):
    _, viewers = build(TINY.replace(seed=seed), tmp_path)
    by_viewer: dict[str, dict[str, str]] = {}
    for r in viewers.tables["captions"]:
        by_viewer.setdefault(r["viewer_id"], {})[r["image_id"]] = r["text"]
    own = [jaccard(a, b) for caps in by_viewer.values() for a, b in itertools.combinations(caps.values(), 2)]
    other = [jaccard(by_viewer[v][i], by_viewer[w][i]) for v, w in itertools.combinations(by_viewer, 2)
             for i in set(by_viewer[v]) & set(by_viewer[w])]
    assert len(other) >= 20
    assert np.mean(own) > np.mean(other) + 0.15, (np.mean(own), np.mean(other))


def test_rows_validate_against_their_schemas(world):
    _, scenes, viewers = world
    assert WORLD_IMAGES.from_rows(scenes.tables["world_images"]).num_rows == TINY.scenes
    assert WORLD_OBJECTS.from_rows(scenes.tables["world_objects"]).num_rows == len(scenes.tables["world_objects"])
    assert WORLD_VIEWERS.from_rows(viewers.tables["world_viewers"]).num_rows == 6
    assert ATTENTION.from_rows(viewers.tables["attention"]).num_rows == 36
    assert CAPTIONS.from_rows(viewers.tables["captions"]).num_rows == 36
    assert set(scenes.tables) == {"world_images", "world_objects"}
    assert set(viewers.tables) == {"world_viewers", "attention", "captions"}


# -- configuration errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [(0, 3), (4, 2), (3, 13)])
def test_impossible_objects_per_scene_raises_naming_the_field(bad, tmp_path):
    with pytest.raises(WorldError, match="objects_per_scene"):
        render_scene_pool(TINY.replace(objects_per_scene=bad), tmp_path)


def test_more_scenes_per_viewer_than_scenes_raises_naming_the_field(world):
    _, scenes, _ = world
    with pytest.raises(WorldError, match="scenes_per_viewer"):
        simulate_viewers(TINY.replace(scenes_per_viewer=11), scenes)


def test_viewers_of_a_scene_pool_that_lacks_their_scenes_raise(world):
    _, scenes, _ = world
    with pytest.raises(WorldError, match="not in the scene pool"):
        simulate_viewers(TINY.replace(scenes=40, scenes_per_viewer=30), scenes)
