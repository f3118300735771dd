"""Report files (plots) under the dataset root: `reports/<stage>/<run_id>/<name>`, written atomically."""

from __future__ import annotations

from persona_lens.storage.parquet import _check_name, write_bytes
from persona_lens.storage.root import DatasetRoot


def write_report(root: DatasetRoot, stage: str, run_id: str, name: str, data: bytes) -> str:
    """Write one report file; its URI (a local path or s3://…). A re-run of the same run replaces it."""
    for kind, value in (("stage", stage), ("run_id", run_id), ("name", name)):
        _check_name(kind, value)
    write_bytes(root, root.path("reports", stage, run_id, name), data)
    return root.uri("reports", stage, run_id, name)
