"""Fixtures of the storage tests: every contract runs once per kind of dataset root."""

import pytest


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def any_root(request):
    """An empty dataset root: a temp folder, or a fresh bucket on the session's S3 server."""
    return request.getfixturevalue("root" if request.param == "local" else "s3_root")
