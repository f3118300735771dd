"""Drawing without training: a generator (and optionally one trained adapter) over prompts and seeds.

`draw(params)` loads the base generator through the registry, draws every prompt × seed (a diffusers
pipeline) or every seed's latent code (the DCGAN), and, given an adapter file, draws the same inputs
with the personalized model, so the rows come out as linked base/personalized twins ready for embed,
explain and rank. This is how a user brings a LoRA trained elsewhere by this project's generate stage
— or a base model alone — into the pipeline.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from persona_lens.models.base import Generator, ModelError
from persona_lens.models.gan import DCGANFaces, state_digest
from persona_lens.tasks.generate.checkpoints import CheckpointError, read_adapter
from persona_lens.tasks.generate.fidelity import fidelity_rows, scoring_text
from persona_lens.tasks.generate.params import DrawParams
from persona_lens.tasks.generate.personalize import merged_generator
from persona_lens.tasks.generate.runner import GenerateResult
from persona_lens.tasks.generate.tables import prompt_twins

log = logging.getLogger("persona_lens.generate")


def load_base(params: DrawParams) -> Generator:
    from persona_lens.models.registry import load_generator

    return load_generator(params.model, device=params.device, dtype=params.dtype, steps=params.sample_steps,
                          guidance_scale=params.guidance_scale, resolution=params.resolution)


def with_adapter(base: Generator, uri: str) -> tuple[Generator, dict]:
    """The base with the adapter in `uri` applied, and the adapter's provenance (method, model_id, …).

    Refuses (ModelError naming both) an adapter trained from another base model, or of the other backend.
    """
    if isinstance(base, DCGANFaces):
        try:
            tensors, meta = read_adapter(uri)
        except CheckpointError as exc:
            raise ModelError(f"{exc} (the DCGAN {base.name!r} takes the adapters its generate stage writes)") from exc
        digest = state_digest(base.net.state_dict())
        if meta.get("base_digest") != digest:
            raise ModelError(f"adapter {uri!r} was trained from another base model (sha256 "
                             f"{str(meta.get('base_digest'))[:12]}…), not from {base.name!r} (sha256 {digest[:12]}…)")
        hp = meta.get("hyperparameters", {})
        net = merged_generator(base.net, meta["method"], tensors, hp.get("rank", 8), hp.get("alpha", 8.0))
        return DCGANFaces(net, base.name), meta
    from persona_lens.models.diffusion import read_adapter as read_diffusion_adapter

    personalized = base.with_adapter(uri)
    return personalized, read_diffusion_adapter(uri)[1]


def draw(params: DrawParams, base: Generator | None = None, vl_encoder=None) -> GenerateResult:
    """The base outputs of every input, and the adapter's twins of them when `params.adapter` is set.

    `base`: an already loaded base generator (it must be `params.model`). `vl_encoder`: scores prompt
    fidelity of text-to-image twins (else `params.vl_encoder` is loaded; None there: not scored).
    """
    base = base or load_base(params)
    prompts = [p for p in params.prompts for _ in params.seeds] if params.prompts else [""] * len(params.seeds)
    seeds = [s for _ in (params.prompts or [""]) for s in params.seeds]
    takes_text = bool(params.prompts)
    t0 = time.perf_counter()
    base_images = base.draw(seeds, prompts if takes_text else None)
    tb = time.perf_counter() - t0
    result = GenerateResult()
    result.seconds["base_generation"] = tb
    latent_ids = None if takes_text else [f"seed:{s}:0" for s in seeds]
    if params.adapter is None:
        base_rows, _ = prompt_twins(model_id="", method="", subject=None, generator=base.name, prompts=prompts,
                                    seeds=seeds, base_images=base_images, personalized_images=None,
                                    hyperparameters={}, adapter_uri=None, base_seconds=tb, personalized_seconds=0.0,
                                    latent_ids=latent_ids)
        result.images += base_rows
        log.info("drew %d images with %s in %.1f s", len(base_images), base.name, tb)
        return result
    personalized, meta = with_adapter(base, params.adapter)
    model_id = params.model_id or meta.get("model_id") or Path(params.adapter).stem
    subject = params.subject or meta.get("subject")
    t1 = time.perf_counter()
    pers_images = personalized.draw(seeds, prompts if takes_text else None)
    tp = time.perf_counter() - t1
    b, p = prompt_twins(model_id=model_id, method=meta["method"], subject=subject, generator=base.name,
                        prompts=prompts, seeds=seeds, base_images=base_images, personalized_images=pers_images,
                        hyperparameters=meta.get("hyperparameters", {}), adapter_uri=str(params.adapter),
                        base_seconds=tb, personalized_seconds=tp, latent_ids=latent_ids)
    result.images += b + p
    result.seconds["personalized_generation"] = tp
    log.info("drew %d twins of %s with %s in %.1f s", len(seeds), model_id, base.name, tb + tp)
    if takes_text and (vl_encoder is not None or params.vl_encoder):
        if vl_encoder is None:
            from persona_lens.models.registry import load_vl_encoder

            vl_encoder = load_vl_encoder(params.vl_encoder)
        token = meta.get("token") or ""
        texts = [scoring_text(pr, token) if token else pr for pr in prompts]
        result.evaluation += fidelity_rows(vl_encoder, model_id, meta["method"], texts, base_images, pers_images)
    return result

