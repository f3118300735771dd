"""A world folder: rendered atomically, reused when identical, refused when it is something else."""

import hashlib
import json

import pyarrow.parquet as pq
import pytest

from persona_lens.world import make as make_module
from persona_lens.world.make import ROLES, make_world, read_world, world_key
from persona_lens.world.spec import WorldError, world_spec

# The smallest world that still has every part: tests of the folder contract, not of the renderer.
TINY = world_spec("small", seed=5).replace(
    categories=1, groups_per_category=1, subclasses_per_group=2, instances_per_subclass=2,
    reference_per_instance=2, gallery_per_instance=2, profiles=2, prompts_per_profile=2,
    scenes=4, viewers_train=2, viewers_fewshot=1, scenes_per_viewer=2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(TINY, tmp_path_factory.mktemp("w") / "world")


def test_a_world_folder_has_a_manifest_per_role_tables_and_world_json_last(world):
    assert set(world.roles) == set(ROLES)
    info = json.loads((world.folder / "world.json").read_text())
    assert info["key"] == world_key(TINY) and info["spec"]["seed"] == 5
    for role in world.roles:
        rows = world.manifest(role).read_text().splitlines()
        assert rows[0] == "path,category,subclass,instance,subject"
        assert info["counts"][f"images.{role}"] == len(rows) - 1 > 0
    assert {"world_identities", "world_images", "world_profiles", "world_viewers", "world_objects",
            "generations", "attention", "captions"} <= set(world.tables)


def test_every_manifest_path_exists_and_hashes_to_its_world_images_row(world):
    ids = set(pq.read_table(world.table("world_images"), columns=["image_id"]).column("image_id").to_pylist())
    seen = set()
    for role in world.roles:
        for line in world.manifest(role).read_text().splitlines()[1:]:
            path = (world.manifest(role).parent / line.split(",")[0]).resolve()
            seen.add(hashlib.sha256(path.read_bytes()).hexdigest())
    assert seen == ids


def test_making_the_same_world_again_reuses_the_folder(world, monkeypatch):
    monkeypatch.setattr(make_module, "render_world", lambda *a: pytest.fail("rendered again"))
    assert make_world(TINY, world.folder).key == world.key


def test_another_world_in_the_same_folder_is_refused(world):
    with pytest.raises(WorldError, match="holds another world"):
        make_world(TINY.replace(seed=6), world.folder)


def test_a_folder_with_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(WorldError, match="not an empty folder"):
        make_world(TINY, tmp_path)


def test_a_killed_render_leaves_no_world_behind(tmp_path, monkeypatch):
    def dies(spec, folder, workers):
        (folder / "images").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(make_module, "render_world", dies)
    with pytest.raises(KeyboardInterrupt):
        make_world(TINY, tmp_path / "world")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(WorldError, match="no complete world"):
        read_world(tmp_path / "world")


def test_the_key_changes_with_the_spec_and_the_taxonomy(tmp_path, monkeypatch):
    key = world_key(TINY)
    assert world_key(TINY.replace(seed=6)) != key
    custom = tmp_path / "aspects.yaml"
    custom.write_text(open(make_module.__file__.replace("make.py", "aspects.yaml")).read() + "\n# edited\n")
    monkeypatch.setenv("PERSONA_LENS_TAXONOMY", str(custom))
    assert world_key(TINY) != key
