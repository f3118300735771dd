"""Two Prefect process workers of one work pool, two deployment runs at once, one S3 root (SeaweedFS).

What docs/scale.md suggests for more throughput: several workers sharing a pool and a dataset root. Each
worker takes at most one run (`--limit 1`), so the two `ingest` runs, started together over the same
images with different batch sizes, run at the same time in two worker processes; afterwards the
root's views hold each image once and every row's shard member holds its bytes.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.flows.test_concurrent_writers import assert_one_row_per_image, image_folder
from tests.integration.test_deployment import POOL, flow_run_states
from tests.prefect_server import REPO, PrefectServer, PrefectWorker, prefect_cli

# Slow (a server, two workers, two flow runs: ~2-3 min on 2 cores): CI runs it in its slow pass.
pytestmark = [pytest.mark.server, pytest.mark.s3, pytest.mark.slow, pytest.mark.timeout(600)]

RUN_TIMEOUT_S = 300


def test_two_workers_running_two_ingests_at_once_on_one_s3_root_land_each_image_once(tmp_path, s3_root, s3_server):
    expected = image_folder(tmp_path / "images", 40)
    logs = tmp_path / "logs"
    server = PrefectServer(tmp_path / "prefect-home", logs)
    workers = []
    try:
        server.wait_healthy()
        env = server.env(PERSONA_LENS_ROOT=s3_root.url, PERSONA_LENS_S3_ENDPOINT_URL=s3_server.endpoint,
                         PERSONA_LENS_S3_KEY=s3_server.key, PERSONA_LENS_S3_SECRET=s3_server.secret,
                         PREFECT_WORKER_QUERY_SECONDS="2")
        prefect_cli(["work-pool", "create", POOL, "--type", "process"], env)
        prefect_cli(["--no-prompt", "deploy", "--name", "ingest"], env, cwd=REPO, timeout_s=180)
        workers = [PrefectWorker(POOL, env, logs, name=f"worker-{i}", limit=1) for i in range(2)]
        src = str(tmp_path / "images")
        for batch in (40, 3):
            prefect_cli(["deployment", "run", "ingest/ingest", "--params",
                         json.dumps({"params": {"source": src, "batch_size": batch}})], env)

        deadline = time.monotonic() + RUN_TIMEOUT_S
        states = []
        while time.monotonic() < deadline:
            states = flow_run_states(server.api_url, "ingest")
            if len(states) == 2 and all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for _, s in states):
                break
            time.sleep(2)
        assert [s for _, s in states] == ["COMPLETED", "COMPLETED"], states
        ran = [w.name for w in workers if "submitting flow run" in w.tail(400)]
        assert ran == ["worker-0", "worker-1"], "each worker (--limit 1) should have run one of the two runs"

        assert_one_row_per_image(s3_root, expected)
    except BaseException:
        print(server.tail(60))
        for w in workers:
            print(w.tail(120))
        raise
    finally:
        for w in workers:
            w.stop()
        server.stop()
