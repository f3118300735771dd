"""A world loaded into a dataset root: images through ingest, truth tables beside them, joinable in SQL."""

import pytest

from persona_lens.flows.world import world_load_flow, world_make_flow
from persona_lens.storage import Catalog
from persona_lens.tasks.world import WorldLoadParams, WorldMakeParams
from tests.world.test_make import TINY

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory):
    from persona_lens.world.make import make_world

    return str(make_world(TINY, tmp_path_factory.mktemp("w") / "world").folder)


def test_world_make_flow_renders_a_preset_into_a_folder(tmp_path):
    out = world_make_flow(WorldMakeParams(size="small", seed=1, out=str(tmp_path / "w")))
    assert out["folder"] == str(tmp_path / "w") and out["counts"]["images.gallery"] > 0


def test_loading_a_world_ingests_every_role_and_writes_joinable_truth(world_folder, root):
    summary = world_load_flow(WorldLoadParams(world=world_folder), root=root.url)
    with Catalog(root) as cat:
        roles = {r["role"]: r["n"] for r in cat.query(
            "SELECT role, count(*) AS n FROM images GROUP BY role").to_pylist()}
        assert {r: summary["counts"][f"images.{r}"] for r in roles} == roles
        assert cat.scalar("SELECT count(*) FROM quarantine") == 0
        # Every reference/gallery image's identity is a world individual with the same subclass.
        assert cat.scalar("""
            SELECT count(*) FROM images i LEFT JOIN world_identities w USING (instance)
            WHERE i.role IN ('reference', 'gallery') AND (w.instance IS NULL OR w.subclass <> i.subclass)""") == 0
        # Every generated image is in images, and its base partner too.
        assert cat.scalar("""
            SELECT count(*) FROM generations g LEFT JOIN images i USING (image_id)
            LEFT JOIN images b ON b.image_id = g.base_image_id
            WHERE i.image_id IS NULL OR (g.base_image_id IS NOT NULL AND b.image_id IS NULL)""") == 0
        assert cat.scalar("""
            SELECT count(*) FROM attention a LEFT JOIN images i USING (image_id)
            WHERE i.role IS DISTINCT FROM 'scene'""") == 0
        assert cat.scalar("SELECT count(*) FROM world_viewers") == TINY.viewers_train + TINY.viewers_fewshot


def test_loading_the_same_world_twice_adds_no_rows(world_folder, root):
    world_load_flow(WorldLoadParams(world=world_folder), root=root.url)
    with Catalog(root) as cat:
        before = {t: cat.scalar(f"SELECT count(*) FROM {t}") for t in ("images", "world_profiles", "captions")}
    again = world_load_flow(WorldLoadParams(world=world_folder), root=root.url)
    with Catalog(root) as cat:
        after = {t: cat.scalar(f"SELECT count(*) FROM {t}") for t in before}
    assert after == before
    assert all(v == 0 for k, v in again["counts"].items() if k.startswith("images."))
