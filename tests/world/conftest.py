"""Tiny worlds shared by the world tests: rendered once per session into temp folders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from persona_lens.world.spec import WorldPart, WorldSpec, world_spec

# Two creature kinds, two look-alike groups of two breeds, two individuals each: every level of the
# tree has siblings. Eight profiles: one control and one shifted profile per aspect.
TINY: WorldSpec = world_spec("small", seed=11).replace(
    image_size=128, categories=2, groups_per_category=2, subclasses_per_group=2, instances_per_subclass=2,
    reference_per_instance=2, gallery_per_instance=3, profiles=8, prompts_per_profile=2)


@dataclass
class Rendered:
    spec: WorldSpec
    out: Path
    part: WorldPart

    def hashes(self) -> dict[str, str]:
        """sha256 of every file written, by path relative to the world folder."""
        return {p.relative_to(self.out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def tiny_identities(tmp_path_factory) -> Rendered:
    from persona_lens.world.identities import render_identities

    out = tmp_path_factory.mktemp("identities")
    return Rendered(TINY, out, render_identities(TINY, out))


@pytest.fixture(scope="session")
def tiny_profiles(tmp_path_factory) -> Rendered:
    from persona_lens.world.generators import render_profiles

    out = tmp_path_factory.mktemp("profiles")
    return Rendered(TINY, out, render_profiles(TINY, out))
