"""The deployment path end to end: real server, prefect.yaml deployed, a process worker runs the pipeline.

What `make server deploy worker` + `prefect deployment run ... --watch` do, on a free loopback port with a
temp PREFECT_HOME and a temp dataset root handed to the worker as $PERSONA_LENS_ROOT (the deployment
itself has no root baked in). ~1 min on 2 cores, most of it the flow run itself.
"""

from __future__ import annotations

import re

import pytest

from tests.prefect_server import REPO, PrefectServer, PrefectWorker, prefect_cli

# Slow (the whole main job under a real worker, ~3 min): CI runs it in its slow pass (.ci/run).
pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.timeout(600)]

POOL = "persona-lens-pool"
DEPLOYMENT = "persona-lens-pipeline/pipeline"
RUN_TIMEOUT_S = 420
# The deployment path is what is tested here, not the workload: the generate stage (minutes of GAN
# training) is switched off through the run's parameters, which also checks that they reach the flow.
RUN_CONFIG = '{"generate": {"enabled": false}}'


def flow_run_states(api_url: str, deployment_name: str) -> list[tuple[str, str]]:
    """(flow run id, state type) of every run of `deployment_name`, read through the Prefect client."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=[deployment_name])))
    return [(str(r.id), r.state.type.value if r.state else "NONE") for r in runs]


def test_pipeline_deployment_completes_under_a_process_worker_and_its_tables_are_queryable(tmp_path):
    data_root = tmp_path / "data"
    logs = tmp_path / "logs"
    server = PrefectServer(tmp_path / "prefect-home", logs)
    worker = None
    try:
        server.wait_healthy()
        env = server.env(PERSONA_LENS_ROOT=str(data_root), PREFECT_WORKER_QUERY_SECONDS="2")

        prefect_cli(["work-pool", "create", POOL, "--type", "process"], env)
        deployed = prefect_cli(["--no-prompt", "deploy", "--all"], env, cwd=REPO, timeout_s=180)
        for name in ("persona-lens-pipeline/pipeline", "ingest/ingest", "embed/embed", "generate/generate",
                     "rank/rank"):
            assert name in deployed.stdout, deployed.stdout

        worker = PrefectWorker(POOL, env, logs)
        run = prefect_cli(["deployment", "run", DEPLOYMENT, "--param", f"config={RUN_CONFIG}", "--watch", "--watch-interval", "2",
                           "--watch-timeout", str(RUN_TIMEOUT_S)], env, timeout_s=RUN_TIMEOUT_S + 30,
                          check=False)
        assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}\n{worker.tail(80)}"

        run_id = re.search(r"UUID:\s*([0-9a-f-]{36})", run.stdout)
        states = dict(flow_run_states(server.api_url, "pipeline"))
        assert run_id and states.get(run_id.group(1)) == "COMPLETED", (states, run.stdout)

        from persona_lens.storage import Catalog, open_root

        with Catalog(open_root(str(data_root))) as catalog:
            assert {"images", "embeddings"} <= set(catalog.tables), catalog.tables
            assert "generations" in catalog.tables and "adapters" not in catalog.tables   # generate was off
            images = catalog.scalar("SELECT count(*) FROM images")
            embedded = catalog.scalar(
                "SELECT count(DISTINCT image_id) FROM embeddings WHERE encoder = ?", ["efficientnet-lite0"])
        assert images > 0
        assert embedded == images
    except BaseException:
        print(server.tail(60))
        if worker is not None:
            print(worker.tail(120))
        raise
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
        assert not server.running and (worker is None or not worker.running)
