"""Shared fixtures: an offline environment, one Prefect test server per session, temp dataset roots."""

from __future__ import annotations

import os
import tempfile

import pytest

# Before Prefect is imported anywhere: never touch the user's ~/.prefect from tests.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="persona-lens-prefect-")

from persona_lens.flows.run_context import configure_environment  # noqa: E402 (imports no Prefect)

configure_environment()


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API for flow tests (started once; ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture
def root(tmp_path):
    """An empty local dataset root."""
    from persona_lens.storage import open_root

    return open_root(str(tmp_path / "data")).ensure()


@pytest.fixture(scope="session")
def s3_server():
    """A real SeaweedFS S3 server on 127.0.0.1 for the session (~5 s to start): endpoint, key, secret."""
    from tests.s3_server import start_seaweedfs

    with pytest.MonkeyPatch.context() as mp:
        # s3fs needs a region, but passing region_name breaks bucket creation (STACK.md).
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("NO_PROXY", ",".join(filter(None, ["127.0.0.1", os.environ.get("NO_PROXY")])))
        server = start_seaweedfs()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def s3_root(s3_server):
    """An empty dataset root `s3://<fresh bucket>/data` on the session's S3 server; the bucket goes after.

    Removing matters: SeaweedFS gives every bucket its own volumes, and a server has a fixed number.
    """
    import secrets

    from persona_lens.storage import Settings, open_root

    settings = Settings(s3_endpoint_url=s3_server.endpoint, s3_key=s3_server.key, s3_secret=s3_server.secret)
    bucket = f"test-{secrets.token_hex(6)}"
    data_root = open_root(f"s3://{bucket}/data", settings)
    data_root.fs.mkdir(bucket)
    yield data_root.ensure()
    data_root.fs.rm(bucket, recursive=True)
