"""Drift sweeps: per subject, the same prompts and drift details at every level; only the intensity moves."""

import pytest

from persona_lens.world.identities import build_identities
from persona_lens.world.spec import WorldError
from persona_lens.world.sweeps import MODES, drift_sweep, sweep_subjects
from tests.world.conftest import TINY

LEVELS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def models():
    return drift_sweep(TINY, subjects=2, levels=LEVELS)


def test_subjects_x_modes_x_levels_x_other_shift(models):
    assert len(models) == 2 * len(MODES) * len(LEVELS) * 2
    subjects = {m.profile.subject.instance for m in models}
    assert len(subjects) == 2 and len({m.profile.subject.subclass for m in models}) == 2
    assert {m.fidelity for m in models} == {1.0, 0.5, 0.0}


def test_only_the_intensity_changes_from_level_to_level(models):
    for subject in {m.profile.subject.instance for m in models}:
        for mode in MODES:
            series = [m for m in models if m.profile.subject.instance == subject and m.mode == mode and m.other is None]
            assert [m.level for m in series] == list(LEVELS)
            assert len({m.profile.prompts for m in series}) == 1              # same prompts and seeds
            details = [s.detail for m in series for s in m.profile.shifts if s.aspect == "identity"]
            assert details and all(d == details[0] for d in details)         # same marks' places / look-alike
            assert series[0].profile.shifts == ()                              # level 0: the faithful model


def test_the_other_shift_is_one_fixed_concept_of_another_aspect(models):
    shifted = [m for m in models if m.other is not None]
    assert len(shifted) == len(models) // 2
    for m in shifted:
        (other,) = [s for s in m.profile.shifts if s.aspect != "identity"]
        assert other.concept.phrase == m.other and other.intensity == 0.6


def test_asking_for_more_subjects_than_breeds_is_refused():
    with pytest.raises(WorldError, match="breeds with a look-alike"):
        sweep_subjects(TINY, build_identities(TINY), 99)
    with pytest.raises(WorldError, match="levels in"):
        drift_sweep(TINY, levels=(0.0, 1.5))
