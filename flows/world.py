"""World flows: render a synthetic world (`world-make`) and load one into a dataset root (`world-load`)."""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from persona_lens.flows.common import new_run_id, record_run
from persona_lens.flows.ingest import ingest_flow
from persona_lens.storage import get_settings, open_root
from persona_lens.tasks.world import load_world_tables_task, role_labels
from persona_lens.world.make import World, make_world, read_world, world_key
from persona_lens.world.spec import world_spec


@task(cache_policy=NO_CACHE)
def render_world_task(size: str, seed: int, out: str, workers: int) -> World:
    """Render the world (or reuse the identical one already in `out`)."""
    return make_world(world_spec(size, seed), out, workers)


def default_world_folder(size: str, seed: int) -> str:
    """Where a world is kept when no folder is named: the cache, since it is re-creatable.

    The folder name carries the world's key, so a renderer change renders a fresh world beside the old.
    """
    key = world_key(world_spec(size, seed))[:12]
    return str(get_settings().cache_dir / "worlds" / f"{size}-seed{seed}-{key}")


@flow(name="world-make")
def world_make_flow(size: str = "small", seed: int = 0, out: str | None = None, workers: int = 1) -> dict:
    """Render the world of preset `size` from `seed` into the folder `out` (default: the cache)."""
    world = render_world_task(size, seed, out or default_world_folder(size, seed), workers)
    return {"folder": str(world.folder), "key": world.key, "counts": world.counts}


@flow(name="world-load")
def world_load_flow(world: str, root: str | None = None, run_id: str | None = None,
                    batch_size: int = 256) -> dict:
    """Ingest a rendered world's images (one source per role) and write its truth tables into `root`."""
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    rendered = read_world(world)
    images = {}
    for role in rendered.roles:
        summary = ingest_flow(str(rendered.manifest(role)), root=data_root.url, role=role,
                              labels=role_labels(role), batch_size=batch_size, run_id=run_id)
        images[role] = summary["images"]
    tables = load_world_tables_task(rendered, data_root, run_id)
    counts = {**{f"images.{r}": n for r, n in images.items()}, **tables}
    record_run(data_root, "world-load", run_id, {"world": str(rendered.folder), "batch_size": batch_size},
               started, {"total": time.perf_counter() - t0}, counts, part=f"world-load-{rendered.key[:12]}")
    return {"run_id": run_id, "root": data_root.url, "world": str(rendered.folder), "counts": counts}
