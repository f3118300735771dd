"""Shard tasks on a Dask cluster, when asked: prefect-dask's DaskTaskRunner, no scheduler of our own.

A stage's flow hands its independent shard tasks (ingest batches, embed shards) to `map_tasks`. By
default they run as before, in the flow's own process. With `workers > 1` (`--workers N`) they run on a
`distributed.LocalCluster` of N single-threaded worker processes started for the call; with
`dask_address` on the cluster whose scheduler is there (docs/scale.md). Either way they run in a
subflow `<flow>-on-dask` whose task runner is the DaskTaskRunner, so the Prefect UI shows each task run
and its worker. Results come back in the order of `calls`.

The worker processes must report to the same Prefect API as the flow: the API's address is put in the
environment they inherit (a temporary server's address is known only to this process's client).
Concurrent shard tasks write parts with distinct names, and tables are sets by key, so two tasks that
meet the same image (e.g. one file listed twice) leave one row, as with two writers (docs/tables.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prefect import Task, flow
from prefect.utilities.annotations import quote

from persona_lens.tasks.params import ScaleOut


def map_tasks(task: Task, calls: Sequence[dict[str, Any]], scale: ScaleOut, name: str) -> list[Any]:
    """`task(**call)` for every call: here, one at a time, or on Dask (see the module docstring)."""
    if not scale.on_dask or not calls:
        return [task(**call) for call in calls]

    # Prefect's quote() (which spares it walking big inputs for futures) does not survive the trip to a
    # Dask worker (the task would get the wrapper itself), so the values go unwrapped.
    plain = [{k: v.unquote() if isinstance(v, quote) else v for k, v in call.items()} for call in calls]

    @flow(name=f"{name}-on-dask", task_runner=dask_runner(scale), validate_parameters=False)
    def on_dask() -> list[Any]:
        futures = [task.submit(**call) for call in plain]
        return [f.result() for f in futures]

    share_api_url()
    return on_dask()


def dask_runner(scale: ScaleOut):
    from prefect_dask import DaskTaskRunner

    if scale.dask_address:
        return DaskTaskRunner(address=scale.dask_address)
    # One thread per worker: the stages' own numeric work (ONNX Runtime, numpy) uses the cores, and
    # processes sidestep the GIL for decoding and hashing. No dashboard port is opened.
    return DaskTaskRunner(cluster_kwargs={"n_workers": scale.workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


def share_api_url() -> None:
    """Put the current Prefect API address in the environment, for worker processes to inherit.

    The client knows it whether it came from the settings or is Prefect's temporary server (whose address
    the settings do not hold); without it, every worker would start a temporary server of its own."""
    from prefect.client.orchestration import get_client

    if not os.environ.get("PREFECT_API_URL"):
        with get_client(sync_client=True) as client:
            os.environ["PREFECT_API_URL"] = str(client.api_url)
