"""Shared fixtures: an offline environment, one Prefect test server per session, temp dataset roots."""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Before Prefect is imported anywhere: never touch the user's ~/.prefect from tests.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="persona-lens-prefect-")


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
