"""The one run context every flow runs in: the environment, the dataset root, the run id, timings, counts,
and the `runs` row, written when the flow ends, on success *and* on failure (with the error).

    @flow(name="rank")
    def rank_flow(params: RankParams = RankParams(), root: str | None = None, run_id: str | None = None):
        with stage_run("rank", params, root, run_id) as run:
            data = load_rank_data_task(run.root, params)
            ...
            run.write("rankings", rankings)
            return run.result()
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from persona_lens.schemas import RUNS
from persona_lens.storage import DatasetRoot, open_root, write_part

#: The environment every process of this project runs with: offline and quiet. Users can still override.
ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def configure_environment() -> None:
    """Set ENVIRONMENT's defaults (no hub downloads, no analytics) without overriding the user's."""
    for key, value in ENVIRONMENT.items():
        os.environ.setdefault(key, value)


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


def config_json(params: BaseModel | dict | None) -> str:
    """A flow's parameters as sorted JSON (parameters never hold secrets: those live in Settings)."""
    data = params.model_dump(mode="json") if isinstance(params, BaseModel) else dict(params or {})
    return json.dumps(data, sort_keys=True, default=str)


@dataclass
class StageRun:
    """What a flow knows about its own run; `write`, `count` and `step` fill the `runs` row."""

    flow: str
    root: DatasetRoot
    run_id: str
    config: str
    part: str
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _t0: float = field(default_factory=time.perf_counter)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a block under `name` (seconds add up if the step runs more than once)."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - t

    def count(self, **counts: int) -> None:
        for name, n in counts.items():
            self.counts[name] = self.counts.get(name, 0) + int(n)

    def write(self, table: str, rows: pa.Table, part: str | None = None) -> int:
        """Commit `rows` as this run's part of `table` (atomic); count them under the table's name."""
        write_part(self.root, table, rows, self.run_id, part=part or self.part)
        self.count(**{table: rows.num_rows})
        return rows.num_rows

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._t0

    def result(self, **extra: Any) -> dict:
        """The flow's return value: run id, root, counts, then `extra`."""
        return {"run_id": self.run_id, "root": self.root.url, **self.counts, **extra}

    def record(self, status: str, error: str | None = None) -> None:
        row = {"flow": self.flow, "status": status, "started_at": self.started_at,
               "finished_at": dt.datetime.now(dt.timezone.utc), "config": self.config,
               "code_version": code_version(), "error": error,
               "timings": list({**self.timings, "seconds": self.seconds}.items()),
               "counts": list(self.counts.items())}
        write_part(self.root, "runs", RUNS.from_rows([row]), self.run_id, part=self.part)


@contextmanager
def stage_run(flow: str, params: BaseModel | dict | None, root: str | None = None, run_id: str | None = None,
              part: str | None = None) -> Iterator[StageRun]:
    """Open the dataset root, pick the run id, and write the `runs` row when the block ends.

    `part` names this run's files when one flow runs several times under one run id (one ingest per
    source, one embed per encoder); it defaults to the flow's name. On an exception the row says
    `failed` with the error's first line, and the exception goes on to the caller.
    """
    configure_environment()
    run = StageRun(flow=flow, root=open_root(root).ensure(), run_id=run_id or new_run_id(),
                   config=config_json(params), part=part or flow)
    try:
        yield run
    except BaseException as exc:
        message = (str(exc).strip().splitlines() or [""])[0]
        try:
            run.record("failed", f"{type(exc).__name__}: {message}"[:2000])
        except Exception:  # a root that cannot take the row must not hide the error that ended the run
            pass
        raise
    run.record("completed")
