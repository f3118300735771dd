"""DEPER data: world folders and JSON lines load; bad rows become quarantine rows and good rows stay."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from persona_lens.schemas import get_schema
from persona_lens.tasks.deper.data import (
    DeperDataError, check_fixations, few_shot_episodes, inventory_captions, load_jsonl, load_world_folder, validate,
)
from persona_lens.world.scenes import render_scenes
from persona_lens.world.spec import world_spec

TINY = world_spec("small", seed=3).replace(scenes=5, viewers_train=2, viewers_fewshot=1, scenes_per_viewer=4)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenes")
    part = render_scenes(TINY, folder)
    (folder / "tables").mkdir()
    for name, rows in part.tables.items():
        pq.write_table(get_schema(name).from_rows(rows), folder / "tables" / f"{name}.parquet")
    return folder


def test_world_folder_loads_every_viewer_example_with_its_split(world):
    data = load_world_folder(world)
    assert len(data.examples) == 3 * 4 and not data.quarantine
    assert data.viewers("train") == ["viewer-0000", "viewer-0001"] and data.viewers("fewshot") == ["viewer-0002"]
    assert all(p.is_file() for p in data.images.values())
    assert all(((e.fixations[:, :2] >= 0) & (e.fixations[:, :2] <= 1)).all() for e in data.examples)


def test_an_inventory_caption_names_every_object_of_its_scene_left_to_right(world):
    from persona_lens.world.wording import mentioned_kinds

    objects = pq.read_table(world / "tables" / "world_objects.parquet").to_pylist()
    inventories = inventory_captions(world)
    assert set(inventories) == {o["image_id"] for o in objects} == set(load_world_folder(world).images)
    for image_id, text in inventories.items():
        mine = sorted((o for o in objects if o["image_id"] == image_id), key=lambda o: o["x"])
        assert mentioned_kinds(text) == [o["kind"] for o in mine], text
        assert all(json.loads(o["attributes"])["color"] in text for o in mine), text
    assert inventory_captions(world / "nowhere") == {}


def test_an_object_the_world_words_cannot_name_is_a_clear_error(world, tmp_path):
    import shutil

    import pyarrow as pa

    bad = tmp_path / "bad"
    shutil.copytree(world, bad)
    objects = pq.read_table(bad / "tables" / "world_objects.parquet")
    kinds = objects.column("kind").to_pylist()
    objects = objects.set_column(objects.schema.get_field_index("kind"), "kind", pa.array(["spaceship"] + kinds[1:]))
    pq.write_table(objects, bad / "tables" / "world_objects.parquet")
    with pytest.raises(DeperDataError, match="spaceship"):
        inventory_captions(bad)


def test_folder_without_tables_is_a_clear_error(tmp_path):
    with pytest.raises(DeperDataError, match="world_images"):
        load_world_folder(tmp_path)


GOOD = [{"x": 0.5, "y": 0.5, "t": 0.0, "dur": 0.3}]


@pytest.mark.parametrize("fix, reason", [
    ([], "no_fixations"),
    ([{"x": 1.2, "y": 0.5, "t": 0.0, "dur": 0.3}], "fixation_outside_image"),
    ([{"x": 0.2, "y": -0.1, "t": 0.0, "dur": 0.3}], "fixation_outside_image"),
    ([{"x": 0.2, "y": 0.1, "t": 0.0, "dur": -0.3}], "negative_duration"),
    ([{"x": float("nan"), "y": 0.1, "t": 0.0, "dur": 0.3}], "non_finite_fixation"),
    (GOOD, None),
])
def test_check_fixations_names_the_reason(fix, reason):
    assert check_fixations(fix) == reason


def test_bad_rows_are_quarantined_and_good_rows_kept(tmp_path):
    images = {"img-a": tmp_path / "a.png", "img-b": tmp_path / "b.png"}
    attention = [{"viewer_id": "v1", "image_id": "img-a", "fixations": GOOD},
                 {"viewer_id": "v1", "image_id": "img-b", "fixations": [{"x": 2.0, "y": 0.5, "t": 0, "dur": 0.1}]},
                 {"viewer_id": "v2", "image_id": "img-a", "fixations": [{"x": 0.1, "y": 0.5, "t": 0, "dur": -1}]}]
    captions = [{"viewer_id": "v1", "image_id": "img-a", "text": "a cup", "model": "human"},
                {"viewer_id": "v1", "image_id": "img-b", "text": "a cat", "model": "human"},
                {"viewer_id": "v2", "image_id": "img-a", "text": "a lamp", "model": "human"},
                {"viewer_id": "v2", "image_id": "img-zzz", "text": "a hat", "model": "human"}]
    data = validate(images, {"v1": "train", "v2": "fewshot"}, attention, captions, "test")
    assert [(e.viewer_id, e.image_id) for e in data.examples] == [("v1", "img-a")]
    reasons = sorted(q["reason"] for q in data.quarantine)
    assert reasons == ["fixation_outside_image", "negative_duration", "no_attention", "no_attention", "unknown_image"]


def test_jsonl_ingest_quarantines_broken_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps({"viewer_id": "v1", "image_id": "img-a", "split": "train", "fixations": GOOD, "caption": "a cup"}),
             "{not json", json.dumps({"viewer_id": "v1", "image_id": "img-a"}),
             json.dumps({"viewer_id": "v1", "image_id": "nope", "split": "train", "fixations": GOOD, "caption": "x"})]
    path.write_text("\n".join(lines))
    data = load_jsonl(path, {"img-a": tmp_path / "a.png"})
    assert len(data.examples) == 1
    assert sorted(q["reason"] for q in data.quarantine) == ["bad_json_line", "bad_json_line", "unknown_image", "unknown_image"]


def test_viewer_with_fewer_than_k_plus_one_examples_is_quarantined_others_kept(world):
    data = load_world_folder(world)
    support, queries, bad = few_shot_episodes(data, "fewshot", k=3, seed=0)
    assert list(support) == ["viewer-0002"] and len(support["viewer-0002"]) == 3 and len(queries) == 1 and not bad
    support, queries, bad = few_shot_episodes(data, "fewshot", k=4, seed=0)
    assert not support and not queries and [q["reason"] for q in bad] == ["too_few_examples"]
    with pytest.raises(DeperDataError, match="k must be"):
        few_shot_episodes(data, "fewshot", k=0, seed=0)


def test_train_captioner_on_a_world_folder_takes_the_grounding_task_from_its_objects(world, tmp_path):
    from persona_lens.tasks.deper import TrainCaptionerParams
    from persona_lens.tasks.deper.runner import run_train_captioner

    info = run_train_captioner(TrainCaptionerParams(world=str(world), out=str(tmp_path / "cap"), steps=2, batch=4,
                                                    inventory_rate=0.5))
    seen_in_training = {e.image_id for e in load_world_folder(world).split_examples("train")}
    # Only the train viewers' images: a held-out viewer's image unseen in training stays unseen.
    assert info["inventory_rate"] == 0.5 and info["inventory_images"] == len(seen_in_training) > 0
    assert (tmp_path / "cap" / "mapping.safetensors").is_file()
