"""The world as a stage: where an unnamed world is kept, its parameters, its truth tables loaded once."""

import pytest

from persona_lens.storage import read_table
from persona_lens.tasks.params import ConfigError
from persona_lens.tasks.world import WorldLoadParams, WorldMakeParams, default_world_folder, role_labels
from persona_lens.tasks.world.load import load_world_tables
from persona_lens.world.make import make_world
from persona_lens.world.spec import world_spec
from tests.world.test_make import TINY


def test_an_unnamed_world_goes_to_the_cache_under_a_name_that_carries_its_key(tmp_path):
    a = default_world_folder("small", 0, tmp_path)
    assert a.parent == tmp_path / "worlds" and a.name.startswith("small-seed0-")
    assert default_world_folder("small", 1, tmp_path) != a


def test_parameters_are_checked_when_built():
    with pytest.raises(ConfigError, match="'size': unknown world size"):
        WorldMakeParams.parse(size="huge")
    with pytest.raises(ConfigError, match="'workers'"):
        WorldMakeParams.parse(workers=0)
    with pytest.raises(ConfigError, match="'world'"):
        WorldLoadParams.parse({})
    assert world_spec(WorldMakeParams().size).size == "small"


def test_scenes_carry_no_identity_labels_and_other_roles_carry_all_three():
    assert role_labels("scene") == []
    assert role_labels("gallery") == ["category", "subclass", "instance", "subject"]


def test_truth_tables_are_written_once_per_world(tmp_path, root):
    world = make_world(TINY, tmp_path / "world")
    first = load_world_tables(world, root, "run-1")
    assert first["world_profiles"] > 0 and set(first) == set(world.tables)
    assert load_world_tables(world, root, "run-2") == {}
    assert read_table(root, "world_profiles").num_rows == first["world_profiles"]
