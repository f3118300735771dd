"""Running personalizations: train, save the adapter, draw and score the twins, record the known truth.

`run_job` runs one validated PersonalizationJob; `run_generate` runs the main job's default set
(subjects × methods, plus known-truth snapshots). Both return tables for the flow to write and the
generated images' PNG bytes for its shards; adapters are written under `out_dir` (path or URL).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from persona_lens.models.gan import NAME as DCGAN_NAME
from persona_lens.models.gan import from_pil, generate, latents, load_dcgan, state_digest, to_pil
import persona_lens.tasks.generate.evaluate as evaluate
import persona_lens.tasks.generate.tables as tables
from persona_lens.tasks.generate.checkpoints import save_adapter
from persona_lens.tasks.generate.inversion import invert, subject_latents
from persona_lens.tasks.generate.params import GenerateParams, PersonalizationJob
from persona_lens.tasks.generate.personalize import TrainConfig, merged_generator, personalize, torch_threads
from persona_lens.tasks.generate.subjects import (Subject, folder_subject, manifest_subject, packaged_photos,
                                                  packaged_subject)
from persona_lens.tasks.generate.truth import parse_shift, shifted_references, truth_rows, truth_tag

log = logging.getLogger("persona_lens.generate")


@dataclass
class GenerateResult:
    images: list[tables.GeneratedImage] = field(default_factory=list)
    adapters: list[dict] = field(default_factory=list)
    truth: list[dict] = field(default_factory=list)
    evaluation: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return {"generations": tables.generations_table(self.images),
                "adapters": tables.adapters_table(self.adapters),
                "generate_truth": tables.truth_table(self.truth),
                "eval_generate": tables.eval_table_of(self.evaluation)}


def load_subject(source: str, n: int, seed: int) -> Subject:
    if source in packaged_photos():
        return packaged_subject(source, n, seed)
    return folder_subject(Path(source).name, source, n, seed)


def _base(generator: str):
    return load_dcgan() if generator == DCGAN_NAME else load_dcgan(Path(generator) / "weights.tar")


def _model(generator: str, base, subject: Subject, pivots, cfg: TrainConfig, model_id: str, out_dir: str,
           result: GenerateResult, samples: int, latent_seed: int, noise: float, locality_samples: int,
           checkpoint_dir: str | None = None, snapshot_steps: tuple[int, ...] = ()):
    """Train one personalization, save its adapter, draw and score its twins; returns it."""
    refs = from_pil(subject.references)
    p = personalize(refs, cfg, base=base, pivots=pivots, checkpoint_dir=checkpoint_dir,
                    snapshot_steps=snapshot_steps)
    digest = state_digest(base.state_dict())
    uri = save_adapter(f"{out_dir.rstrip('/')}/{model_id}.safetensors", p.adapter,
                       {"base_digest": digest, "model_id": model_id, "method": cfg.method, "subject": subject.name,
                        "hyperparameters": cfg.hyperparameters()})
    result.adapters.append(tables.adapter_row(model_id=model_id, base_model=generator, base_digest=digest,
                                              method=cfg.method, subject=subject.name, steps=p.steps,
                                              final_loss=p.final_loss, checkpoint_uri=uri, seconds=p.seconds,
                                              hyperparameters=cfg.hyperparameters()))
    _twins(generator, base, p.model, subject, p.pivots, cfg, model_id, uri, result, samples, latent_seed, noise,
           locality_samples)
    return p


def _twins(generator, base, model, subject, pivots, cfg, model_id, uri, result, samples, latent_seed, noise,
           locality_samples):
    from persona_lens.models.face import load_face_encoder

    z = subject_latents(pivots, latent_seed, samples, noise)
    t = time.perf_counter()
    base_imgs = to_pil(generate(base, z))
    tb = time.perf_counter() - t
    pers_imgs = to_pil(generate(model, z))
    tp = time.perf_counter() - t - tb
    b, pz = tables.twin_images(model_id=model_id, method=cfg.method, subject=subject.name, generator=generator,
                               seed=latent_seed, sampler=f"subject-{subject.name}", base_images=base_imgs,
                               personalized_images=pers_imgs, hyperparameters=cfg.hyperparameters(),
                               adapter_uri=uri, base_seconds=tb, personalized_seconds=tp)
    result.images += b + pz
    enc = load_face_encoder()
    gain = evaluate.identity_gain(enc, subject.references, base_imgs, pers_imgs)
    loc = None
    if locality_samples:
        zr = latents(latent_seed + 1, locality_samples)
        loc = evaluate.locality(enc, to_pil(generate(base, zr)), to_pil(generate(model, zr)))
    result.evaluation += evaluate.eval_rows(model_id, cfg.method, gain, loc)


def run_generate(params: GenerateParams, out_dir: str) -> GenerateResult:
    """The default generate work of the main job."""
    result = GenerateResult()
    base = _base(params.generator)
    t0 = time.perf_counter()
    with torch_threads(params.threads):
        for source in params.subjects:
            subject = load_subject(source, params.num_references, params.seed)
            refs = from_pil(subject.references)
            cfg0 = TrainConfig("lora", steps=params.steps, seed=params.seed, inversion_steps=params.inversion_steps,
                               threads=params.threads)
            pivots = invert(base, refs, steps=cfg0.inversion_steps, candidates=cfg0.inversion_candidates,
                            seed=params.seed).latents
            for method in params.methods:
                cfg = TrainConfig(method, steps=params.steps, rank=params.rank,
                                  locality_weight=params.locality_weight, inversion_steps=params.inversion_steps,
                                  seed=params.seed, threads=params.threads)
                model_id = f"{DCGAN_NAME}-{method}-{subject.name}"
                _model(params.generator, base, subject, pivots, cfg, model_id, out_dir, result, params.samples,
                       1000 + params.seed, params.latent_noise, params.locality_samples)
                log.info("%s done (%.1f s so far)", model_id, time.perf_counter() - t0)
        result.seconds["personalize"] = time.perf_counter() - t0
        if params.truth:
            _truth(params, base, out_dir, result)
        result.seconds["total"] = time.perf_counter() - t0
    return result


def _truth(params: GenerateParams, base, out_dir: str, result: GenerateResult) -> None:
    t0 = time.perf_counter()
    subject = load_subject(params.truth_subject, params.num_references, params.seed)
    steps = max(params.truth_steps)
    for group in params.truth_shifts:
        shifts = [parse_shift(s) for s in group]
        shifted = Subject(subject.name, shifted_references(subject.references, shifts, params.seed), subject.source)
        cfg = TrainConfig(params.truth_method, steps=steps, rank=params.rank, locality_weight=params.locality_weight,
                          inversion_steps=params.inversion_steps, seed=params.seed, threads=params.threads)
        tag = truth_tag(shifts)
        p = personalize(from_pil(shifted.references), cfg, base=base, snapshot_steps=tuple(params.truth_steps))
        digest = state_digest(base.state_dict())
        for s, adapter in sorted(p.snapshots.items()):
            model_id = f"{DCGAN_NAME}-{cfg.method}-{subject.name}-{tag}-s{s:04d}"
            uri = save_adapter(f"{out_dir.rstrip('/')}/{model_id}.safetensors", adapter,
                               {"base_digest": digest, "model_id": model_id, "method": cfg.method, "steps": s,
                                "subject": subject.name, "hyperparameters": cfg.hyperparameters()})
            model = merged_generator(base, cfg.method, adapter, cfg.rank, cfg.alpha)
            result.adapters.append(tables.adapter_row(
                model_id=model_id, base_model=params.generator, base_digest=digest, method=cfg.method,
                subject=subject.name, steps=s, final_loss=p.losses[s - 1], checkpoint_uri=uri, seconds=p.seconds,
                hyperparameters={**cfg.hyperparameters(), "steps": s, "shifts": group}))
            result.truth += truth_rows(model_id, subject.name, shifts, s)
            _twins(params.generator, base, model, shifted, p.pivots, cfg, model_id, uri, result, params.samples,
                   2000 + params.seed, params.latent_noise, 0)
    result.seconds["truth"] = time.perf_counter() - t0


def job_subject(job: PersonalizationJob) -> Subject:
    s, n, seed = job.subject, job.num_references, job.training.seed
    if s.packaged:
        sub = packaged_subject(s.packaged, n, seed)
        return Subject(s.name, sub.references, sub.source, sub.skipped)
    if s.folder:
        return folder_subject(s.name, s.folder, n, seed)
    if s.manifest:
        return manifest_subject(s.name, s.manifest, n, seed)
    raise ValueError(f"subject {s.name!r} is an ingested subject: resolve its images from the dataset root "
                     f"and call run_job(job, out_dir, subject=images_subject(...))")


def run_job(job: PersonalizationJob, out_dir: str, subject: Subject | None = None) -> GenerateResult:
    """One personalization job; checkpoints go to `<out_dir>/checkpoints/<model_id>` (resumable)."""
    subject = subject or job_subject(job)
    shifts = [parse_shift(s) for s in job.shifts]
    if shifts:
        subject = Subject(subject.name, shifted_references(subject.references, shifts, job.training.seed),
                          subject.source)
    t = job.training
    cfg = TrainConfig(job.method, steps=t.steps, lr=t.lr, rank=t.rank, alpha=t.alpha,
                      locality_weight=t.locality_weight, inversion_steps=t.inversion_steps,
                      inversion_candidates=t.inversion_candidates, seed=t.seed,
                      checkpoint_every=t.checkpoint_every, threads=t.threads)
    model_id = job.model_id or f"{DCGAN_NAME}-{job.method}-{subject.name}"
    result = GenerateResult()
    base = _base(job.generator)
    with torch_threads(t.threads):
        _model(job.generator, base, subject, None, cfg, model_id, out_dir, result, job.latents.count,
               job.latents.seed, job.latents.noise, 0, checkpoint_dir=f"{out_dir.rstrip('/')}/checkpoints/{model_id}",
               snapshot_steps=tuple(job.snapshot_steps))
    if shifts:
        result.truth += truth_rows(model_id, subject.name, shifts, t.steps)
    return result
