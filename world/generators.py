"""The world's simulated generators behind the `Generator` interface (models/base.py).

Each profile is a personalized generator and has a base twin; both draw from prompts and seeds like a
text-to-image model, so code written against `Generator` (the generate stage's drawing, a benchmark,
a user's script) treats a simulated model and a trained one alike. A prompt must name one of the
world's backgrounds (its taxonomy phrase, e.g. "a brick wall", or "a <kind> background"); the layout
(pose, framing, light) follows from prompt + seed, so base and personalized twins of one prompt and
seed share it, and the profile's own prompts draw exactly the pictures `render_profiles` writes —
the truth in `world_profiles` stays the truth of these generators.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from persona_lens.world.backgrounds import BACKGROUND_KINDS
from persona_lens.world.identities import IdentityTree, build_identities, parallel_map
from persona_lens.world.profiles import (BASE_MODEL_ID, GENERATOR, Profile, Prompt, build_profiles, generation_params,
                                         render_base, render_personalized)
from persona_lens.world.spec import WorldError, WorldPart, WorldSpec, save_png
from persona_lens.world.taxonomy import Taxonomy, load_taxonomy


def background_phrases(taxonomy: Taxonomy | None = None) -> dict[str, str]:
    """Background kind → the phrase prompts use for it."""
    tax = taxonomy or load_taxonomy()
    named = {c.params.get("kind"): c.phrase for c in tax.concepts() if c.op == "background"}
    return {kind: named.get(kind, f"a {kind} background") for kind in BACKGROUND_KINDS}


def prompt_background(text: str, phrases: dict[str, str]) -> str:
    """The background kind a prompt names (the longest phrase found); ValueError naming them all."""
    found = [kind for kind, phrase in phrases.items() if phrase in text]
    if not found:
        raise ValueError(f"prompt {text!r} names none of the world's backgrounds: {sorted(phrases.values())}")
    return max(found, key=lambda kind: len(phrases[kind]))


@dataclass
class SimulatedGenerator:
    """One profile's personalized generator (`personalized=True`), or the base model drawing its subject's
    breed without the subject's marks."""

    spec: WorldSpec
    profile: Profile
    personalized: bool
    tree: IdentityTree
    phrases: dict[str, str]
    name: str = GENERATOR

    @property
    def model_id(self) -> str:
        return self.profile.model_id if self.personalized else BASE_MODEL_ID

    def draw(self, seeds: list[int], prompts: list[str] | None = None) -> list[Image.Image]:
        """One picture per (seed, prompt)."""
        if prompts is None or len(prompts) != len(seeds):
            raise ValueError(f"{self.model_id} is text-to-image: give one prompt per seed "
                             f"({len(seeds)} seeds, {None if prompts is None else len(prompts)} prompts)")
        out = []
        for seed, text in zip(seeds, prompts):
            prompt = Prompt(text, int(seed), prompt_background(text, self.phrases))
            out.append(render_personalized(self.spec, self.profile, prompt, self.tree) if self.personalized
                       else render_base(self.spec, self.profile, prompt))
        return out


def world_generators(spec: WorldSpec, tree: IdentityTree | None = None,
                     taxonomy: Taxonomy | None = None) -> dict[str, tuple[SimulatedGenerator, SimulatedGenerator]]:
    """model_id → (base, personalized) generators of every profile of `spec`."""
    tree = tree or build_identities(spec)
    tax = taxonomy or load_taxonomy()
    phrases = background_phrases(tax)
    return {p.model_id: (SimulatedGenerator(spec, p, False, tree, phrases), SimulatedGenerator(spec, p, True, tree, phrases))
            for p in build_profiles(spec, tree, tax)}


def render_profiles(spec: WorldSpec, out: Path, tree: IdentityTree | None = None,
                    taxonomy: Taxonomy | None = None, workers: int = 1) -> WorldPart:
    """Render every profile's base and personalized pictures under `out`/images/profiles.

    Returns manifest rows (roles generated and base; paths relative to `out`) and the rows of
    generations, world_profiles (one per profile and taxonomy aspect) and world_images.
    """
    tree = tree or build_identities(spec)
    tax = taxonomy or load_taxonomy()
    generators = world_generators(spec, tree, tax)
    profiles = [personalized.profile for _, personalized in generators.values()]
    jobs = [(Path(out), generators[p.model_id], k) for p in profiles for k in range(len(p.prompts))]
    part = WorldPart()
    for rows in parallel_map(_render_job, jobs, workers):
        for role, manifest_row in rows["manifest"]:
            part.add_image(role, manifest_row)
        for table, row in rows["tables"]:
            part.add_row(table, row)
    for profile in profiles:
        for aspect in tax.names:
            s = profile.shift(aspect)
            part.add_row("world_profiles", {
                "model_id": profile.model_id, "subject": profile.subject.instance, "aspect": aspect,
                "concept": s.concept.phrase if s else None, "intensity": float(s.intensity) if s else 0.0})
    return part


def _render_job(job: tuple[Path, tuple[SimulatedGenerator, SimulatedGenerator], int]) -> dict[str, list]:
    out, (base, personalized), k = job
    spec, profile = personalized.spec, personalized.profile
    prompt = profile.prompts[k]
    subject = profile.subject
    folder = f"images/profiles/{profile.model_id}"
    base_rel, gen_rel = f"{folder}/base-{k:02d}.png", f"{folder}/generated-{k:02d}.png"
    (base_img,), (gen_img,) = base.draw([prompt.seed], [prompt.text]), personalized.draw([prompt.seed], [prompt.text])
    base_id, gen_id = save_png(base_img, out / base_rel), save_png(gen_img, out / gen_rel)
    if base_id == gen_id:
        # One image_id cannot be two rows; and a personalization that shows no subject is a renderer bug.
        raise WorldError(f"{profile.model_id} prompt {k}: the personalized picture equals the base picture; "
                         f"the subject's marks must stay visible")
    render_json = generation_params(spec, subject, prompt).to_json()
    common = {"prompt": prompt.text, "seed": prompt.seed, "generator": GENERATOR}
    shifts = {s.aspect: s.to_json() for s in profile.shifts}
    return {
        "manifest": [
            # The base picture shows a generic member of the breed: no instance, no subject.
            ("base", {"path": base_rel, "category": subject.category, "subclass": subject.subclass,
                      "instance": None, "subject": None}),
            # The personalized picture is labelled with what the model was personalized on; whether it
            # still shows that individual is the truth in world_profiles.
            ("generated", {"path": gen_rel, **subject.labels(), "subject": subject.instance}),
        ],
        "tables": [
            ("generations", {"image_id": base_id, "model_id": BASE_MODEL_ID, "method": "base",
                             "subject": None, "base_image_id": None, **common}),
            ("generations", {"image_id": gen_id, "model_id": profile.model_id, "method": "simulated",
                             "subject": subject.instance, "base_image_id": base_id, **common}),
            ("world_images", {"image_id": base_id, "kind": "base", "instance": None, "seed": prompt.seed,
                              "params": json.dumps({"prompt": prompt.text, "subclass": subject.subclass,
                                                    "render": render_json}, sort_keys=True)}),
            ("world_images", {"image_id": gen_id, "kind": "generated", "instance": subject.instance,
                              "seed": prompt.seed,
                              "params": json.dumps({"prompt": prompt.text, "model_id": profile.model_id,
                                                    "render": render_json, "shifts": shifts},
                                                   sort_keys=True)}),
        ],
    }
