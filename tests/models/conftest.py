"""Shared by the model tests: one ONNX cache per session, so each model is exported at most once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def onnx_cache_dir(tmp_path_factory):
    """A temporary `Settings().cache_dir` for the whole session (never the user's ~/.cache)."""
    path = tmp_path_factory.mktemp("persona-lens-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERSONA_LENS_CACHE_DIR", str(path))
        yield path
