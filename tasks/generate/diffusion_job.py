"""One personalization job on a diffusers pipeline folder: references → adapter → paired images → rows.

`run_diffusion_job(job, out_dir)` loads the base pipeline, trains the job's method (resuming from
`<out_dir>/checkpoints/<model_id>`), writes the adapter to `<out_dir>/<model_id>.safetensors`, loads
it back onto a fresh copy of the base, draws every prompt × seed with both models (same prompt, same
seed, linked row by row by `base_image_id`) and scores prompt fidelity. Everything that can be
refused (method, folder, device/dtype, prompts, checkpoints of another base) is refused before the
first training step, so a bad job leaves no adapter and no checkpoint behind.
"""

from __future__ import annotations

import csv
from pathlib import Path

from PIL import Image

from persona_lens.models.diffusion import DiffusionGenerator, load_diffusion_generator, save_adapter
from persona_lens.tasks.generate.tables import adapter_row, prompt_twins
from persona_lens.tasks.generate.diffusion import DiffusionTrainConfig, personalize_diffusion
from persona_lens.tasks.generate.fidelity import fidelity_rows, scoring_text
from persona_lens.tasks.generate.params import PersonalizationJob
from persona_lens.tasks.generate.subjects import IMAGE_SUFFIXES, SubjectError, open_rgb, packaged_photos



def reference_images(job: PersonalizationJob) -> list[Image.Image]:
    """The subject's reference images, whole (the pipeline's transform crops them): at most
    `num_references`, in file order. SubjectError when none is readable."""
    s = job.subject
    if s.packaged:
        paths = [packaged_photos()[s.packaged]]
    elif s.folder:
        paths = sorted(p for p in Path(s.folder).expanduser().iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    elif s.manifest:
        manifest = Path(s.manifest).expanduser()
        with open(manifest, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise SubjectError(f"subject {s.name!r}: manifest {str(manifest)!r} needs a 'path' column")
            paths = [manifest.parent / row["path"] for row in reader if row.get("path")]
    else:
        raise SubjectError(f"subject {s.name!r} is an ingested subject: pass its decoded images as "
                           f"run_diffusion_job(job, out_dir, references=...)")
    images = [im for im in (open_rgb(p) for p in paths) if im is not None]
    if not images:
        raise SubjectError(f"subject {s.name!r}: no readable reference image among {len(paths)} file(s)")
    return images[:job.num_references]


def train_config(job: PersonalizationJob) -> DiffusionTrainConfig:
    t, d = job.training, job.diffusion
    return DiffusionTrainConfig(job.method, steps=t.steps, lr=t.lr, rank=t.rank, alpha=t.alpha,
                                batch_size=d.batch_size, resolution=d.resolution, token=job.token,
                                class_word=d.class_word, instance_prompt=d.instance_prompt,
                                class_prompt=d.class_prompt, prior_loss_weight=d.prior_loss_weight,
                                num_class_images=d.num_class_images, seed=t.seed,
                                checkpoint_every=t.checkpoint_every)


def prompt_pairs(job: PersonalizationJob, config: DiffusionTrainConfig) -> tuple[list[str], list[int]]:
    """Every prompt (placeholders filled) with every seed, prompt-major."""
    prompts = [config.prompt(p) for p in job.prompts]
    return [p for p in prompts for _ in job.seeds], [s for _ in prompts for s in job.seeds]


def load_base(job: PersonalizationJob) -> DiffusionGenerator:
    d = job.diffusion
    return load_diffusion_generator(job.generator, device=d.device, dtype=d.dtype, steps=d.sample_steps,
                                    guidance_scale=d.guidance_scale, resolution=d.resolution)


def run_diffusion_job(job: PersonalizationJob, out_dir: str, references: list[Image.Image] | None = None,
                      base: DiffusionGenerator | None = None, vl_encoder=None):
    """Run one diffusers job; returns the stage's GenerateResult (tables + PNG bytes for the shards).

    `references`: decoded images of an ingested subject. `base`: an already loaded base pipeline (it
    must be `job.generator`). `vl_encoder`: a loaded vision-language encoder, else
    `job.diffusion.vl_encoder` is loaded through the registry (None there: no fidelity rows).
    """
    from persona_lens.tasks.generate.runner import GenerateResult

    if not job.is_diffusers:
        raise ValueError(f"generator {job.generator!r} is not a diffusers pipeline folder")
    base = base or load_base(job)
    if base.name != job.generator:
        raise ValueError(f"base pipeline {base.name!r} is not the job's generator {job.generator!r}")
    refs = references if references is not None else reference_images(job)
    config = train_config(job)
    model_id = job.model_id or f"{Path(job.generator).name}-{job.method}-{job.subject.name}"
    out = out_dir.rstrip("/")
    p = personalize_diffusion(base, refs, config, checkpoint_dir=f"{out}/checkpoints/{model_id}")
    hp = config.hyperparameters()
    uri = save_adapter(f"{out}/{model_id}.safetensors", job.method, p.adapter,
                       {"base_digest": base.digest, "base_model": base.name, "model_id": model_id,
                        "token": config.token, "subject": job.subject.name, "hyperparameters": hp}, p.lora_config)
    result = GenerateResult()
    result.adapters.append(adapter_row(model_id=model_id, base_model=base.name, base_digest=base.digest,
                                              method=job.method, subject=job.subject.name, steps=p.steps,
                                              final_loss=p.final_loss, checkpoint_uri=uri, seconds=p.seconds,
                                              hyperparameters=hp))
    personalized = base.with_adapter(uri)
    prompts, seeds = prompt_pairs(job, config)
    base_images, tb = base.generate(prompts, seeds)
    pers_images, tp = personalized.generate(prompts, seeds)
    b, pz = prompt_twins(model_id=model_id, method=job.method, subject=job.subject.name, generator=base.name,
                         prompts=prompts, seeds=seeds, base_images=base_images, personalized_images=pers_images,
                         hyperparameters=hp, adapter_uri=uri, base_seconds=tb, personalized_seconds=tp)
    result.images += b + pz
    result.seconds.update(personalize=p.seconds, base_generation=tb, personalized_generation=tp)
    if vl_encoder is None and job.diffusion.vl_encoder:
        from persona_lens.models.registry import load_vl_encoder

        vl_encoder = load_vl_encoder(job.diffusion.vl_encoder)
    if vl_encoder is not None:
        texts = [scoring_text(pr, config.token) for pr in prompts]
        result.evaluation += fidelity_rows(vl_encoder, model_id, job.method, texts, base_images, pers_images,
                                           job.training.seed)
    return result
