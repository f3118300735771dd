"""The main job's step cache: a step whose inputs have not changed since it last ran is not run again.

A step's *key* is a hash of what its results depend on: the step's name and parameters, the code
version, and a fingerprint of each input table — every committed part's path, size and write time
(storage.written_parts), so any new or rewritten part changes it. A finished step leaves a marker
`manifests/reuse/<step>-<key>.json` naming the run that computed it; a later main job that computes
the same key skips the step, and the tables keep that run's rows (they are sets by key: nothing is
lost, nothing doubled). So a re-run with nothing changed writes no new evaluation and takes seconds.

The key is taken *before* the step runs, over tables the step reads and never writes, so the step's own
outputs never change its key. `reuse: false` in the pipeline config recomputes every step. The code
version is the package version and git commit (flows/run_context.code_version): uncommitted edits to
the code do not change it, so a developer measuring a change sets `reuse: false`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass

from persona_lens.flows.run_context import StageRun, code_version, config_json
from persona_lens.storage import read_marker, write_marker
from persona_lens.storage.parquet import part_details

log = logging.getLogger("persona_lens.pipeline")

#: What each reusable step reads from the dataset root (and never writes).
STEP_INPUTS: dict[str, tuple[str, ...]] = {
    "eval_aligner": (),   # renders its held-out sets from the packaged photos and a world seed
    "rank": ("images", "embeddings", "generations", "generate_truth", "world_identities", "world_images",
             "world_profiles"),
    "explain": ("images", "embeddings", "generations", "generate_truth", "world_identities", "world_images",
                "world_profiles"),
    "describe": ("images", "attention", "world_viewers", "world_objects", "world_images"),
}


@dataclass
class StepCache:
    """Keys and markers of the main job's reusable steps for one run."""

    run: StageRun
    enabled: bool = True

    def key(self, step: str, *settings: object) -> str:
        """The step's key over `settings` (parameters models, dicts, strings, file paths) and its inputs."""
        root = self.run.root
        tables = {t: sorted((root.relative(p), *details) for p, details in part_details(root, t).items())
                  for t in STEP_INPUTS[step]}
        payload = json.dumps({"step": step, "code": code_version(), "tables": tables,
                              "settings": [_setting(s) for s in settings]}, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def reused(self, step: str, key: str) -> bool:
        """True (and logged) if a run already finished `step` with this key."""
        if not self.enabled:
            return False
        marker = read_marker(self.run.root, "reuse", f"{step}-{key}")
        if marker is None:
            return False
        _logger().info("%s: inputs, settings and code unchanged since run %s; its results stand "
                       "(reuse: false recomputes)", step, marker["run_id"])
        self.run.count(**{f"reused_{step}": 1})
        return True

    def finished(self, step: str, key: str) -> None:
        write_marker(self.run.root, "reuse", f"{step}-{key}", {"run_id": self.run.run_id, "step": step})


def _logger():
    """The flow run's logger (shown on the console and in the UI), or the module's outside a flow run."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


def _setting(value: object):
    """A setting as JSON; an existing local file also by its size and time (weights a user points at)."""
    if hasattr(value, "model_dump"):
        return json.loads(config_json(value))
    if isinstance(value, str) and os.path.isfile(value):
        st = os.stat(value)
        return {"file": os.path.abspath(value), "size": st.st_size, "mtime": st.st_mtime}
    return value


def run_once(cache: StepCache, step: str, settings: tuple, work) -> None:
    """Run `work()` unless `step` already finished with the same key; record it when it finishes."""
    key = cache.key(step, *settings)
    if cache.reused(step, key):
        return
    work()
    cache.finished(step, key)
