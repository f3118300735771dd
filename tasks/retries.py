"""When a task is worth retrying: only a storage or OS error (a network blip, an S3 hiccup).

A bad source, a bad parameter or a model error fails the same way on every try; retrying it only
delays the one-line error by the retry delays (12 s for ingest's 2 + 10 s).
"""

from __future__ import annotations

from persona_lens.storage import StorageError


def io_failure(task, task_run, state) -> bool:
    """Prefect's `retry_condition_fn`: retry only storage/OS errors."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return isinstance(exc, (StorageError, OSError))


#: The retry settings of every task that reads or writes the dataset root or a source.
IO_RETRIES = dict(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=io_failure)
