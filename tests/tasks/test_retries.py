"""Tasks retry storage and OS errors only: a bad source, parameter or model fails the same way again."""

import pytest
from prefect.states import Failed

from persona_lens.models.base import ModelError
from persona_lens.storage import StorageError
from persona_lens.tasks.ingest.sources import SourceError
from persona_lens.tasks.retries import io_failure


@pytest.mark.parametrize("exc, retried", [(StorageError("shard unreadable"), True), (OSError("reset"), True),
                                          (ModelError("bad model"), False), (ValueError("bad"), False),
                                          (SourceError("source folder 'x' does not exist"), False)])
def test_only_io_failures_are_retried(exc, retried):
    assert io_failure(None, None, Failed(data=exc)) is retried
