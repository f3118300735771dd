"""Identity-drift sweeps: for a few subjects, one simulated model per drift mode × drift level × other
shift, so an identity score can be checked against a known, graded loss of identity *within* a subject
(the difficulty of the subject cancels out).

Every model of a sweep shares its subject's prompts and seeds, and the drift's details (the marks' new
places, the look-alike breed) are drawn once per subject and mode: from level to level only the
intensity changes. "Other" is either nothing or one image-operation concept of another aspect (a
style, colour, lighting… shift) at a fixed intensity, so a style-only change can be told from drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from persona_lens.world.identities import IdentityTree, Individual, build_identities
from persona_lens.world.profiles import Profile, Shift, concept_shift, profile_prompts
from persona_lens.world.spec import WorldError, WorldSpec, rng_for
from persona_lens.world.taxonomy import Taxonomy, load_taxonomy

MODES = ("lost", "moved", "swapped")


@dataclass(frozen=True)
class SweepModel:
    """One model of a sweep and its known truth: the drift mode and level, and the other shift."""

    profile: Profile
    mode: str
    level: float                 # identity-drift intensity; fidelity = 1 - level
    other: str | None            # the other aspect's concept phrase, None for none

    @property
    def fidelity(self) -> float:
        return 1.0 - self.level


def sweep_subjects(spec: WorldSpec, tree: IdentityTree, count: int) -> list[Individual]:
    """`count` individuals of different breeds (seeded), each with another breed of its kind to swap to."""
    order = rng_for(spec.seed, "drift-sweep-subjects").permutation(len(tree.individuals))
    chosen, breeds = [], set()
    for i in order:
        ind = tree.individuals[int(i)]
        if ind.subclass not in breeds and tree.same_category(ind.subclass):
            chosen.append(ind)
            breeds.add(ind.subclass)
        if len(chosen) == count:
            return chosen
    raise WorldError(f"the world has only {len(chosen)} breeds with a look-alike to sweep; {count} asked")


def drift_sweep(spec: WorldSpec, subjects: int = 4, levels: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0),
                modes: tuple[str, ...] = MODES, other_intensity: float = 0.6, tree: IdentityTree | None = None,
                taxonomy: Taxonomy | None = None) -> list[SweepModel]:
    """The sweep's models: subjects × modes × levels × (no other shift, one other shift)."""
    unknown = set(modes) - set(MODES)
    if unknown or not levels or any(not 0.0 <= t <= 1.0 for t in levels):
        raise WorldError(f"modes must be among {list(MODES)} and levels in [0, 1]; got {list(modes)}, {list(levels)}")
    tree = tree or build_identities(spec)
    tax = taxonomy or load_taxonomy()
    by_mode = {c.params["mode"]: c for c in tax.aspects["identity"].concepts if c.op == "identity_drift"}
    others = [c for c in tax.concepts(image_ops_only=True) if c.aspect != "identity"]
    models = []
    for subject in sweep_subjects(spec, tree, subjects):
        rng = rng_for(spec.seed, "drift-sweep", subject.instance)
        other = others[int(rng.integers(len(others)))]
        other_shift = Shift(other.aspect, other, other_intensity)
        prompts = profile_prompts(spec, tax, f"sweep-{subject.instance}", subject, [])
        for mode in modes:
            # Drawn once per subject and mode: the levels differ in intensity only.
            drift = concept_shift(tree, subject, by_mode[mode], 1.0, rng_for(spec.seed, "drift-sweep", subject.instance, mode))
            for level in levels:
                shift = Shift("identity", drift.concept, float(level), drift.detail)
                for extra in (None, other_shift):
                    shifts = tuple(s for s in (shift, extra) if s is not None and s.intensity > 0)
                    name = f"sweep-{subject.instance}-{mode}-{level:.2f}" + (f"-{other.aspect}" if extra else "")
                    models.append(SweepModel(Profile(name, subject, shifts, prompts), mode, float(level),
                                             other.phrase if extra else None))
    return models
