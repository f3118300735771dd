"""The identity ranker: a projection of frozen image features in which individuals, not looks, are near.

Generic features (ImageNet CNNs, CLIP-like encoders) place a picture near others of the same *kind*:
two cats of one breed in the same pose are closer than one cat in two poses. Finer-Personalization
Rank needs the opposite, so the ranker fits shrinkage Linear Discriminant Analysis (scikit-learn's
projection, computed in one pass: `shrinkage_lda_scalings`) on the
identity-labelled gallery: it whitens the within-individual variation (pose, scale, background, light)
and keeps the directions that separate individuals (their marks). Only gallery labels are used; the
queries (generated images) are never seen by the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse

from persona_lens.models.base import l2_normalize

#: Rows of the gallery centred and multiplied at a time while the within-identity scatter accumulates.
FIT_CHUNK = 4096
#: Solve for the top eigenpairs only when they are at most 1/SUBSET_SHARE of the dimensions.
SUBSET_SHARE = 10


class RankError(ValueError):
    """The rank stage cannot run on these inputs (no gallery, no labels, no queries); the message says what."""


@dataclass(frozen=True)
class IdentityRanker:
    """`project(x)`: L2-normalised ranking space; cosine similarity there ranks the gallery."""

    scalings: np.ndarray | None      # (d, k) LDA directions; None: the encoder's own space (the `raw` ranker)

    @property
    def name(self) -> str:
        return "raw" if self.scalings is None else "lda"

    def project(self, vectors: np.ndarray) -> np.ndarray:
        x = vectors if self.scalings is None else np.asarray(vectors, np.float64) @ self.scalings
        return l2_normalize(np.asarray(x, dtype=np.float32))


def shrinkage_lda_scalings(x: np.ndarray, labels: np.ndarray, shrinkage: float) -> np.ndarray:
    """The projection of scikit-learn's `LinearDiscriminantAnalysis(solver="eigen", shrinkage=α)`
    (its `transform`: x @ scalings, the top n_classes − 1 directions), computed in one pass.

    Written by hand because scikit-learn builds the within-class covariance one class at a time, a d × d
    shrunk covariance per identity (0.2–0.4 s each at 2912-d: 421 s for 2,000 identities), and solves
    for all d eigenvectors where only n_classes − 1 are kept. With the classes' own proportions as
    priors, the weighted sum of shrunk per-class covariances equals the shrunk *pooled* one,
    (1 − α)·S_w + α·(tr S_w / d)·I, because the shrinkage target is linear in the covariance; and the
    total scatter is S_w plus the between-class scatter of the class means. So one pass over the rows
    (centred on their class means, in chunks) and one product of the means give the same matrices
    (`lda_scatter`), and only the top eigenpairs are solved for. Tested against scikit-learn.
    """
    between, within = lda_scatter(x, labels, shrinkage)
    d = len(within)
    k = min(len(np.unique(labels)) - 1, d)
    # LAPACK's subset driver pays per eigenpair: 4x faster than the full solve for 99 of 2912 pairs,
    # 1.8x slower for 499 (benchmarks/ranker_fit.py), so it is used for few directions only.
    subset = [d - k, d - 1] if k <= d // SUBSET_SHARE else None
    evals, evecs = scipy.linalg.eigh(between, within, subset_by_index=subset)
    return evecs[:, np.argsort(evals)[::-1][:k]]


def lda_scatter(x: np.ndarray, labels: np.ndarray, shrinkage: float) -> tuple[np.ndarray, np.ndarray]:
    """(between, within): scikit-learn's eigen-solver matrices S_t − S_w and S_w, both shrunk by α."""
    x = np.asarray(x)
    n, d = x.shape
    classes, y = np.unique(labels, return_inverse=True)
    counts = np.bincount(y).astype(np.float64)
    members = scipy.sparse.csr_matrix((np.ones(n), (y, np.arange(n))), shape=(len(classes), n))
    means = np.asarray(members @ x.astype(np.float64)) / counts[:, None]
    within = np.zeros((d, d))
    for lo in range(0, n, FIT_CHUNK):
        centred = x[lo:lo + FIT_CHUNK].astype(np.float64) - means[y[lo:lo + FIT_CHUNK]]
        within += centred.T @ centred
    within /= n
    spread = (means - counts @ means / n) * np.sqrt(counts / n)[:, None]
    total = within + spread.T @ spread

    def shrunk(c: np.ndarray) -> np.ndarray:
        out = (1.0 - shrinkage) * c
        out[np.diag_indices(d)] += shrinkage * np.trace(c) / d
        return out

    sw = shrunk(within)
    return shrunk(total) - sw, sw


def fit_identity_ranker(gallery: np.ndarray, labels: np.ndarray, method: str = "lda",
                        shrinkage: float = 0.3) -> IdentityRanker:
    """A ranker fitted on `gallery` (n, d) vectors with their finest identity `labels` (n,).

    `method`: "lda" (shrinkage LDA; `shrinkage` in (0, 1] regularises the within-class covariance,
    which matters when there are fewer gallery images than feature dimensions) or "raw" (no fit).
    """
    if method == "raw":
        return IdentityRanker(None)
    if method != "lda":
        raise RankError(f"unknown ranker {method!r}; choose 'lda' or 'raw'")
    if not 0.0 < shrinkage <= 1.0:
        raise RankError(f"shrinkage must be in (0, 1], got {shrinkage}")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2 or counts.max() < 2:
        raise RankError(f"the ranker needs at least 2 gallery identities, one of them with 2+ images; got "
                        f"{len(classes)} identities, at most {counts.max() if len(counts) else 0} images each")
    return IdentityRanker(shrinkage_lda_scalings(gallery, labels, shrinkage))
