"""Report files (plots) under the dataset root: `reports/<stage>/<run_id>/<name>`, written atomically."""

from __future__ import annotations

import uuid

from persona_lens.storage.parquet import _check_name
from persona_lens.storage.root import DatasetRoot


def write_report(root: DatasetRoot, stage: str, run_id: str, name: str, data: bytes) -> str:
    """Write one report file; its URI (a local path or s3://…). A re-run of the same run replaces it."""
    for kind, value in (("stage", stage), ("run_id", run_id), ("name", name)):
        _check_name(kind, value)
    path = root.path("reports", stage, run_id, name)
    root.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    if root.is_local:       # rename into place: a reader never sees half a file
        tmp = f"{path.rsplit('/', 1)[0]}/.{uuid.uuid4().hex[:8]}.tmp"
        with root.fs.open(tmp, "wb") as f:
            f.write(data)
        root.fs.mv(tmp, path)
    else:                   # an S3 object appears only when its upload completes
        with root.fs.open(path, "wb") as f:
            f.write(data)
    return root.uri("reports", stage, run_id, name)
