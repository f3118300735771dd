"""The generate stage: personalize a real generator on a subject, draw base/personalized twins, score them.

Entry points: `run_generate(GenerateParams, out_dir)` (the main job's default work), `run_job(job, out_dir)`
for one YAML personalization job (`load_job(path)`), `draw(DrawParams)` to draw a generator and an
existing adapter without training, and `python -m persona_lens.tasks.generate.job JOB OUT`
to run one job in its own process (resumable from its checkpoints).
"""

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.storage import Catalog, DatasetRoot, read_marker, read_members, write_marker
from persona_lens.tasks.images import decode_rgb
from persona_lens.tasks.generate.checkpoints import CheckpointError
from persona_lens.tasks.generate.params import (DrawParams, GenerateJobParams, GenerateParams, PersonalizationJob,
                                                load_job)
from persona_lens.tasks.generate.personalize import TrainConfig, personalize
from persona_lens.tasks.generate.runner import GenerateResult, run_generate, run_job
from persona_lens.tasks.generate.staging import params_key, stage_images
from persona_lens.tasks.generate.subjects import Subject, SubjectError, images_subject

__all__ = ["CheckpointError", "DrawParams", "GenerateJobParams", "GenerateParams", "GenerateResult", "PersonalizationJob", "SubjectError",
           "TrainConfig", "draw_task", "generate_task", "is_generated", "load_job", "mark_generated", "personalize",
           "run_generate", "run_job", "run_job_task", "stage_images_task"]

STAGE = "generate"


def _key(params: GenerateParams | GenerateJobParams | DrawParams) -> str:
    # A job is known by what its file says, not by the file's name.
    spec = params.load() if isinstance(params, GenerateJobParams) else params
    return params_key(spec.model_dump(mode="json"))


def is_generated(root: DatasetRoot, params: GenerateParams | GenerateJobParams | DrawParams) -> bool:
    """Whether these exact parameters already generated into `root` (their marker is there)."""
    return read_marker(root, STAGE, _key(params)) is not None


def mark_generated(root: DatasetRoot, params: GenerateParams | GenerateJobParams | DrawParams, run_id: str,
                   counts: dict) -> None:
    """Written last, after every table: its presence means the run's rows are all committed."""
    write_marker(root, STAGE, _key(params), {"run_id": run_id, "counts": counts})


def ingested_subject(root: DatasetRoot, job: PersonalizationJob) -> Subject:
    """The reference images of an ingested subject (`images.subject`, role reference, else any role)."""
    with Catalog(root) as catalog:
        rows = catalog.query("SELECT image_id, uri, role FROM images WHERE subject = ? ORDER BY role <> 'reference', "
                             "uri", [job.subject.name]).to_pylist()
    rows = [r for r in rows if r["role"] == "reference"] or rows
    if not rows:
        raise SubjectError(f"subject {job.subject.name!r} has no ingested images: ingest its references with "
                           f"`persona-lens ingest FOLDER --role reference` and a subject label first")
    data = read_members(root, [r["uri"] for r in rows])
    images = [decode_rgb(data[r["uri"]]) for r in rows]
    return images_subject(job.subject.name, images, f"{root.url}#subject={job.subject.name}", job.num_references,
                          job.training.seed)


@task(name="personalize-and-generate", cache_policy=NO_CACHE)
def generate_task(params: GenerateParams, adapters_uri: str) -> GenerateResult:
    """Personalize on every subject by every method, draw the twins, score their identity."""
    return run_generate(params, adapters_uri)


@task(name="personalization-job", cache_policy=NO_CACHE)
def run_job_task(params: GenerateJobParams, root: DatasetRoot, adapters_uri: str) -> GenerateResult:
    """One job file: its subject (from the root when ingested), training with checkpoints, the twins."""
    from persona_lens.tasks.generate.job import run  # the backend dispatch: DCGAN or diffusers folder

    job = params.load()
    subject = ingested_subject(root, job) if job.subject.ingested else None
    return run(job, job.output or adapters_uri, subject=subject)


@task(name="draw-twins", cache_policy=NO_CACHE)
def draw_task(params: DrawParams) -> GenerateResult:
    """A generator's outputs for prompts × seeds, and an adapter's twins of them (no training)."""
    from persona_lens.tasks.generate.draw import draw

    return draw(params)


@task(name="stage-generated-images", cache_policy=NO_CACHE)
def stage_images_task(result: GenerateResult, cache_dir: str | Path, run_id: str) -> dict[str, str]:
    """The twins as PNG files and a manifest per role, for the ingest flow."""
    return stage_images(result.images, Path(cache_dir) / "generate-staging" / run_id)
