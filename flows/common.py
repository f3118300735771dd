"""What every flow shares: run ids, the `runs` table row, the environment Prefect and HF need."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from persona_lens.schemas import RUNS
from persona_lens.storage import DatasetRoot, write_part


def configure_environment() -> None:
    """Offline and quiet by default: no hub downloads, no analytics. Users can still override."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix, e.g. 20261123T004512Z-3f9a."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def code_version() -> str:
    try:
        v = version("persona-lens")
    except PackageNotFoundError:
        v = "unknown"
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{v}+g{sha}" if sha else v


def record_run(root: DatasetRoot, flow: str, run_id: str, config: dict, started_at: dt.datetime,
               timings: dict[str, float], counts: dict[str, int], status: str = "completed",
               part: str | None = None) -> None:
    """Append this run's row to the `runs` table. `config` must hold no secrets (flow parameters only).

    `part` distinguishes several runs of one flow under one run_id (e.g. one ingest per source).
    """
    row = {
        "flow": flow, "status": status, "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc),
        "config": json.dumps(config, sort_keys=True, default=str),
        "code_version": code_version(),
        "timings": list(timings.items()), "counts": list(counts.items()),
    }
    write_part(root, "runs", RUNS.from_rows([row]), run_id, part=part or flow)
