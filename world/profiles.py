"""Simulated personalized generators with known shifts: the ground truth of FineXL and of identity drift.

Each profile (`sim-0003`) is a "model" personalized on one individual of the world. It answers a
set of prompts ("a photo of sks cat-g0-s1 cat in front of a brick wall"), each with a seed. For every
prompt and seed there are two pictures:

- the **base** generator's: the breed named in the prompt, in front of the prompt's background, but
  *without* the individual's marks. A base model never saw the subject, so "sks" means nothing to
  it and the best it can draw is a generic member of the breed; with the same prompt and seed it
  lays the picture out the same way (pose, framing, light come from prompt + seed).
- the **personalized** generator's: the same layout with the subject itself (breed + marks), then
  the profile's shifts. A profile shifts 1–3 aspects of the taxonomy, each by one concept at a known
  intensity in (0, 1]; every other aspect stays at intensity 0. Every eighth profile (sim-0000,
  sim-0008, …) shifts nothing: a faithful personalization, the control.

How each aspect is realised, always continuous in the intensity t (t = 0 draws the unshifted image):
- identity (renderer): `moved` cross-fades the individual's spot/stripe marks to other places by t;
  `lost` fades its marks to (1 - t); `swapped` morphs the breed into a look-alike breed by t.
- background (renderer): the prompt's background cross-fades into the concept's kind by t.
- style, color, texture, composition, lighting: `apply_concept(image, concept, t)` (world/effects.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from persona_lens.world.backgrounds import BACKGROUND_KINDS, draw_background
from persona_lens.world.creatures import MARK_REGION, POSITIONAL_MARKS, Mark, RenderParams, sample_params
from persona_lens.world.render import render
from persona_lens.world.effects import apply_concepts
from persona_lens.world.identities import IdentityTree, Individual, build_identities, check_spec
from persona_lens.world.spec import WorldError, WorldSpec, rng_for
from persona_lens.world.taxonomy import Concept, Taxonomy, load_taxonomy

GENERATOR = "persona-lens-world"
BASE_MODEL_ID = "sim-base"
CONTROL_EVERY = 8                 # profiles 0, 8, 16, … are faithful personalizations (no shift)
RENDER_OPS = ("identity_drift", "background")
TEMPLATES = (
    "a photo of sks {noun} in front of {background}",
    "a picture of sks {noun} with {background} behind",
    "sks {noun} in front of {background}, high quality",
    "a close photo of sks {noun} in front of {background}",
)
# At t = 1 a `lost` shift alone would draw the base image byte for byte (one image_id, two roles), so
# its intensity stays below 1: the marks keep a trace at 10 % opacity.
MAX_LOST = 0.9


@dataclass(frozen=True)
class Shift:
    """One known shift of a profile: a concept of an aspect at an intensity, plus what the renderer
    needs to realise it (`detail`: the target breed, the marks' new places, the background kind)."""

    aspect: str
    concept: Concept
    intensity: float
    detail: dict = field(default_factory=dict, hash=False, compare=False)

    def to_json(self) -> dict:
        return {"concept": self.concept.phrase, "intensity": self.intensity, **self.detail}


@dataclass(frozen=True)
class Prompt:
    text: str
    seed: int
    background: str


@dataclass(frozen=True)
class Profile:
    """A simulated personalized model: its subject, its shifts and the prompts it answers."""

    model_id: str
    subject: Individual
    shifts: tuple[Shift, ...]
    prompts: tuple[Prompt, ...]

    def shift(self, aspect: str) -> Shift | None:
        return next((s for s in self.shifts if s.aspect == aspect), None)

    def with_intensity(self, aspect: str, intensity: float) -> Profile:
        """The same profile with `aspect`'s shift at another intensity (for monotonicity checks)."""
        shifts = tuple(Shift(s.aspect, s.concept, intensity, s.detail) if s.aspect == aspect else s
                       for s in self.shifts)
        return Profile(self.model_id, self.subject, shifts, self.prompts)


def build_profiles(spec: WorldSpec, tree: IdentityTree | None = None,
                   taxonomy: Taxonomy | None = None) -> list[Profile]:
    """The profiles of `spec`, deterministic in its seed.

    Subjects cycle through all individuals in a seeded order before any repeats; the shifted
    profiles' first aspect cycles through the realisable aspects, so every aspect is covered as
    soon as there are enough profiles, and 0–2 further aspects join at random.
    """
    check_spec(spec)
    tree = tree or build_identities(spec)
    tax = taxonomy or load_taxonomy()
    order = rng_for(spec.seed, "profile-subjects").permutation(len(tree.individuals))
    aspects = [a for a in tax.names if _realisable(tax, a)]
    profiles, shifted = [], 0
    for p in range(spec.profiles):
        model_id = f"sim-{p:04d}"
        subject = tree.individuals[int(order[p % len(order)])]
        rng = rng_for(spec.seed, "profile", model_id)
        shifts: list[Shift] = []
        if p % CONTROL_EVERY != 0 and aspects:
            first = aspects[shifted % len(aspects)]
            shifted += 1
            rest = [a for a in aspects if a != first]
            extra = int(rng.choice([0, 1, 2], p=[0.5, 0.3, 0.2]))
            chosen = [first, *(str(a) for a in rng.choice(rest, size=min(extra, len(rest)), replace=False))]
            for aspect in sorted(chosen, key=tax.names.index):
                shift = _draw_shift(spec, tree, tax, subject, aspect, rng)
                if shift is not None:
                    shifts.append(shift)
        prompts = profile_prompts(spec, tax, model_id, subject, shifts)
        profiles.append(Profile(model_id, subject, tuple(shifts), prompts))
    return profiles


def _realisable(tax: Taxonomy, aspect: str) -> bool:
    return any(not c.render or c.op in RENDER_OPS for c in tax.aspects[aspect].concepts)


def _draw_shift(spec: WorldSpec, tree: IdentityTree, tax: Taxonomy, subject: Individual, aspect: str,
                rng: np.random.Generator) -> Shift | None:
    concepts = [c for c in tax.aspects[aspect].concepts if not c.render or c.op in RENDER_OPS]
    if not tree.same_category(subject.subclass):
        # A breed can only be swapped for another breed of the same kind of creature.
        concepts = [c for c in concepts if c.params.get("mode") != "swapped"]
    if not concepts:
        return None
    concept = concepts[int(rng.integers(len(concepts)))]
    return concept_shift(tree, subject, concept, round(float(rng.uniform(0.2, 1.0)), 2), rng)


def concept_shift(tree: IdentityTree, subject: Individual, concept: Concept, intensity: float,
                  rng: np.random.Generator) -> Shift:
    """`subject`'s shift towards `concept` at `intensity`, with what the renderer needs (the marks' new
    places, the look-alike breed, the background kind) drawn from `rng`."""
    detail: dict = {}
    if concept.op == "identity_drift":
        mode = concept.params.get("mode")
        if mode == "lost":
            intensity = min(intensity, MAX_LOST)
        elif mode == "swapped":
            # Prefer a look-alike of the same group: the drift real fine-tuning most often makes.
            pool = tree.lookalikes(subject.subclass) or tree.same_category(subject.subclass)
            if not pool:
                raise WorldError(f"{subject.instance}: no other breed of its kind to swap to")
            detail = {"target": str(pool[int(rng.integers(len(pool)))])}
        elif mode == "moved":
            detail = {"positions": [_far_position(subject.category, m, rng) for m in subject.marks
                                    if m.kind in POSITIONAL_MARKS]}
        else:
            raise WorldError(f"concept {concept.phrase!r}: unknown identity_drift mode {mode!r}")
    elif concept.op == "background":
        kind = concept.params.get("kind")
        if kind not in BACKGROUND_KINDS:
            raise WorldError(f"concept {concept.phrase!r}: unknown background kind {kind!r}; "
                             f"the renderer draws {list(BACKGROUND_KINDS)}")
        detail = {"kind": kind}
    return Shift(concept.aspect, concept, intensity, detail)


def _far_position(category: str, mark: Mark, rng: np.random.Generator) -> list[float]:
    """A new place for a positional mark, well away from the old one (the farthest of a few draws)."""
    u0, u1, v0, v1 = MARK_REGION[category]
    cands = np.column_stack([rng.uniform(u0, u1, 8), rng.uniform(v0, v1, 8)])
    best = cands[np.argmax(np.hypot(cands[:, 0] - mark.u, cands[:, 1] - mark.v))]
    return [round(float(best[0]), 4), round(float(best[1]), 4)]


def profile_prompts(spec: WorldSpec, tax: Taxonomy, model_id: str, subject: Individual,
             shifts: list[Shift]) -> tuple[Prompt, ...]:
    """The profile's prompts: backgrounds × templates in a seeded order, each with its own seed.

    A background shift's target kind never appears in the prompts: shifting a meadow prompt "towards
    a meadow" would show nothing.
    """
    target = next((s.detail["kind"] for s in shifts if s.concept.op == "background"), None)
    kinds = [k for k in BACKGROUND_KINDS if k != target]
    rng = rng_for(spec.seed, "prompts", model_id)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    phrases = {c.params.get("kind"): c.phrase for c in tax.concepts() if c.op == "background"}
    noun = f"{subject.subclass} {subject.category}"
    out = []
    for k in range(spec.prompts_per_profile):
        kind = kinds[k % len(kinds)]
        template = TEMPLATES[(k // len(kinds)) % len(TEMPLATES)]
        text = template.format(noun=noun, background=phrases.get(kind, f"a {kind} background"))
        seed = int(rng_for(spec.seed, "prompt-seed", model_id, k).integers(0, 2**31 - 1))
        out.append(Prompt(text, seed, kind))
    return tuple(out)


def generation_params(spec: WorldSpec, subject: Individual, prompt: Prompt) -> RenderParams:
    """Layout of a prompt + seed (pose, framing, light): shared by the base and personalized pictures."""
    rng = rng_for(spec.seed, "generation", prompt.text, prompt.seed)
    return sample_params(subject.category, rng, prompt.background)


def render_base(spec: WorldSpec, profile: Profile, prompt: Prompt) -> Image.Image:
    """The base generator's picture: the prompt's breed without the subject's marks."""
    params = generation_params(spec, profile.subject, prompt)
    return render(profile.subject.breed, (), params, spec.image_size)


def render_personalized(spec: WorldSpec, profile: Profile, prompt: Prompt,
                        tree: IdentityTree | None = None) -> Image.Image:
    """The personalized generator's picture: the subject, with the profile's shifts at their intensities."""
    subject = profile.subject
    params = generation_params(spec, subject, prompt)
    breed, marks = subject.breed, subject.marks
    background = None
    image_shifts: list[tuple[Concept, float]] = []
    for s in profile.shifts:
        t = float(s.intensity)
        if t == 0.0:
            continue
        if s.concept.op == "identity_drift":
            mode = s.concept.params["mode"]
            if mode == "swapped":
                other = (tree or build_identities(spec)).breeds[s.detail["target"]]
                breed = breed.blend(other, t)
            elif mode == "lost":
                marks = tuple(Mark(m.kind, m.u, m.v, m.size, m.colour, m.opacity * (1.0 - t)) for m in marks)
            elif mode == "moved":
                marks = _moved(marks, s.detail["positions"], t)
        elif s.concept.op == "background":
            noise = np.random.default_rng([params.noise_seed, 1])   # as render() draws the prompt's own
            own = draw_background(params.background, spec.image_size, noise)
            new = draw_background(s.detail["kind"], spec.image_size,
                                  np.random.default_rng([params.noise_seed, 3]))
            background = Image.blend(own, new, t)
        else:
            image_shifts.append((s.concept, t))
    image = render(breed, marks, params, spec.image_size, background=background)
    if image_shifts:
        # One generator per picture, so that e.g. the direction of an off-centre shift is the same at
        # every intensity (and the intensity alone decides how far it goes).
        rng = rng_for(spec.seed, "effects", profile.model_id, prompt.seed)
        image = apply_concepts(image, image_shifts, rng)
    return image


def _moved(marks: tuple[Mark, ...], positions: list[list[float]], t: float) -> tuple[Mark, ...]:
    """Positional marks fade out at their own place and in at the new one, by t.

    A cross-fade rather than a slide: sliding a small spot stops changing the picture once it has
    cleared its old place (at t ≈ 0.2), and the intensity must stay visible up to t = 1.
    """
    out, targets = [], iter(positions)
    for m in marks:
        if m.kind in POSITIONAL_MARKS:
            u, v = next(targets)
            out.append(Mark(m.kind, m.u, m.v, m.size, m.colour, m.opacity * (1.0 - t)))
            m = Mark(m.kind, u, v, m.size, m.colour, m.opacity * t)
        out.append(m)
    return tuple(out)
