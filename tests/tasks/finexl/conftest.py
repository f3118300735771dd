import numpy as np
import pytest

from persona_lens.tasks.finexl.directions import ConceptSpace
from persona_lens.tasks.finexl.vocabulary import Vocabulary
from persona_lens.tasks.finexl.whitened import fit_whitening
from persona_lens.world.taxonomy import load_taxonomy


@pytest.fixture(scope="session")
def toy_space() -> ConceptSpace:
    """Two concepts per taxonomy aspect, each an orthonormal direction of a 32-d space (its own
    phrase vector too): the right answer of any shift along one of them is known."""
    names = load_taxonomy().names
    aspects = tuple(a for a in names for _ in range(2))
    phrases = tuple(f"{a} concept {k}" for a in names for k in range(2))
    vocab = Vocabulary(aspects, phrases, phrases, "toy")
    basis = np.eye(32)[: len(phrases)]
    return ConceptSpace(vocab, basis, basis.copy(), fit_whitening(basis, 18))


def toy_pairs(space: ConceptSpace, shifts: dict[int, float], n: int = 8, noise: float = 0.01, seed: int = 0):
    """(base, personalized) of n pairs: personalized = base + sum of intensity * concept direction."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, space.dim))
    base[:, : len(space.vocabulary)] *= 0.05        # the base pictures show no concept strongly
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    pers = base.copy()
    for j, t in shifts.items():
        pers = pers + t * space.directions[j]
    pers = pers + noise * rng.normal(size=pers.shape)
    return base, pers
