"""The synthetic world as a stage: render one (or reuse the identical one), load one into a dataset root.

The entry point of flows/world.py. Its images go through the normal ingest flow; this package adds
what only a world has: the truth tables and the rows whose image ids were known at render time.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.tasks.world.load import load_world_tables, role_labels
from persona_lens.tasks.world.params import WorldLoadParams, WorldMakeParams
from persona_lens.world.make import World, make_world, read_world, world_key
from persona_lens.world.spec import world_spec

__all__ = ["WorldLoadParams", "WorldMakeParams", "default_world_folder", "load_world_tables_task",
           "read_world_task", "render_world_task", "role_labels"]


def default_world_folder(size: str, seed: int, cache_dir: str | Path) -> Path:
    """Where a world is kept when no folder is named: the cache, since it is re-creatable.

    The folder name carries the world's key, so a renderer change renders a fresh world beside the old.
    """
    key = world_key(world_spec(size, seed))[:12]
    return Path(cache_dir) / "worlds" / f"{size}-seed{seed}-{key}"


@task(cache_policy=NO_CACHE)
def render_world_task(params: WorldMakeParams, cache_dir: str | Path) -> World:
    """Render the world (or reuse the identical one already in its folder)."""
    out = params.out or default_world_folder(params.size, params.seed, cache_dir)
    return make_world(world_spec(params.size, params.seed), out, params.workers)


@task(cache_policy=NO_CACHE)
def read_world_task(folder: str) -> World:
    """A rendered world's manifests and tables (WorldError if the folder is no world)."""
    return read_world(folder)


@task(cache_policy=NO_CACHE)
def load_world_tables_task(world: World, root, run_id: str) -> dict[str, int]:
    """Write the world's truth tables into the dataset root."""
    return load_world_tables(world, root, run_id)
