"""Generate flows: personalize a real generator on subjects' reference images, draw base/personalized twins.

`generate` runs the stage's default set (subjects × methods, plus known-truth snapshots); `generate-job`
runs one personalization job from a YAML file (resumable from its checkpoints); `generate-draw` trains
nothing: it draws a generator's outputs for prompts and seeds, and an existing adapter's twins of them. The twins' images go
through the normal ingest flow (roles `generated` and `base`), like a user's images; `generations`,
`adapters`, `generate_truth` and `eval_generate` (identity gain by the face encoder, personalized vs
base) are written beside them. The same parameters on the same root run once: a re-run adds nothing.
"""

from __future__ import annotations

from prefect import flow

from persona_lens.flows.ingest import ingest_flow
from persona_lens.flows.run_context import StageRun, stage_run
from persona_lens.tasks.generate import (DrawParams, GenerateJobParams, GenerateParams, GenerateResult, draw_task,
                                         generate_task, is_generated, mark_generated, run_job_task,
                                         stage_images_task)
from persona_lens.tasks.ingest import IngestParams


def _write(run: StageRun, params: GenerateParams | GenerateJobParams | DrawParams, result: GenerateResult) -> dict:
    """Ingest the twins, write the stage's tables, and mark these parameters done (last)."""
    for role, manifest in stage_images_task(result, run.root.settings.cache_dir, run.run_id).items():
        ingest = IngestParams(source=manifest, role=role, labels=["subject"])
        run.count(**{f"images.{role}": ingest_flow(ingest, root=run.root.url, run_id=run.run_id)["images"]})
    for name, table in result.tables().items():
        run.write(name, table)
    mark_generated(run.root, params, run.run_id, run.counts)
    return run.result(seconds={k: round(v, 1) for k, v in result.seconds.items()})


@flow(name="generate")
def generate_flow(params: GenerateParams = GenerateParams(), root: str | None = None,
                  run_id: str | None = None) -> dict:
    """Personalize `params.generator` on each subject by each method (plus known-truth snapshots)."""
    with stage_run("generate", params, root, run_id) as run:
        if is_generated(run.root, params):
            return run.result(skipped=1)
        with run.step("personalize"):
            result = generate_task(params, run.root.uri("adapters", run.run_id))
        return _write(run, params, result)


@flow(name="generate-job")
def generate_job_flow(params: GenerateJobParams, root: str | None = None, run_id: str | None = None) -> dict:
    """Run one personalization job file; its checkpoints let a killed run resume where it stopped."""
    with stage_run("generate-job", params, root, run_id) as run:
        if is_generated(run.root, params):
            return run.result(skipped=1)
        with run.step("personalize"):
            result = run_job_task(params, run.root, run.root.uri("adapters", "jobs"))
        return _write(run, params, result)


@flow(name="generate-draw")
def generate_draw_flow(params: DrawParams = DrawParams(), root: str | None = None, run_id: str | None = None) -> dict:
    """Draw `params.model` over prompts × seeds (no training); with `params.adapter`, its twins too."""
    with stage_run("generate-draw", params, root, run_id) as run:
        if is_generated(run.root, params):
            return run.result(skipped=1)
        with run.step("draw"):
            result = draw_task(params)
        return _write(run, params, result)
