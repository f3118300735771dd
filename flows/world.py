"""World flows: render a synthetic world (`world-make`) and load one into a dataset root (`world-load`)."""

from __future__ import annotations

from prefect import flow

from persona_lens.flows.ingest import ingest_flow
from persona_lens.flows.run_context import configure_environment, stage_run
from persona_lens.storage import get_settings
from persona_lens.tasks.ingest import IngestParams
from persona_lens.tasks.world import (WorldLoadParams, WorldMakeParams, load_world_tables_task, read_world_task,
                                      render_world_task, role_labels)


@flow(name="world-make")
def world_make_flow(params: WorldMakeParams = WorldMakeParams()) -> dict:
    """Render the world of preset `params.size` from `params.seed` into `params.out` (default: the cache)."""
    configure_environment()
    world = render_world_task(params, get_settings().cache_dir)
    return {"folder": str(world.folder), "key": world.key, "counts": world.counts}


@flow(name="world-load")
def world_load_flow(params: WorldLoadParams, root: str | None = None, run_id: str | None = None) -> dict:
    """Ingest a rendered world's images (one source per role) and write its truth tables into `root`."""
    with stage_run("world-load", params, root, run_id) as run:
        world = read_world_task(params.world)
        run.part = f"world-load-{world.key[:12]}"
        for role in world.roles:
            ingest = IngestParams(source=str(world.manifest(role)), role=role, labels=role_labels(role),
                                  batch_size=params.batch_size)
            run.count(**{f"images.{role}": ingest_flow(ingest, root=run.root.url, run_id=run.run_id)["images"]})
        run.count(**load_world_tables_task(world, run.root, run.run_id))
        return run.result(world=str(world.folder), counts=dict(run.counts))
