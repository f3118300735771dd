"""The whitened-subspace variant: concept directions in a PCA-truncated whitened subspace, weights by
non-negative least squares over the whole vocabulary at once.

Every f(C) shares a large common component (the direction of "appending any phrase"); the PCA is fit
on the *centred* concept directions, so that component is removed, and whitening gives each remaining
principal direction of the vocabulary equal say, so concepts that differ in few text dimensions are
still told apart. The K leading components are kept (K = 18 in the authors' best variant).
Non-negativity is the structure an explanation claims: a model moves *towards* concepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from persona_lens.tasks.finexl.core import Decomposition, ExplainInputError


@dataclass(frozen=True)
class Whitening:
    """x -> (components @ (x)) / scale: a (K, d) basis and its K standard deviations."""

    mean: np.ndarray          # (d,) mean concept direction (removed from the directions only)
    components: np.ndarray    # (K, d)
    scale: np.ndarray         # (K,)

    def directions(self, directions: np.ndarray) -> np.ndarray:
        """Concept directions in the subspace: centred, projected, whitened. (n_concepts, K)."""
        return ((np.asarray(directions, np.float64) - self.mean) @ self.components.T) / self.scale

    def vectors(self, x: np.ndarray) -> np.ndarray:
        """Image-side divergence vectors (..., d) in the subspace (projected and whitened, not centred)."""
        return (np.asarray(x, np.float64) @ self.components.T) / self.scale


def fit_whitening(directions: np.ndarray, components: int = 18) -> Whitening:
    """PCA of the centred concept directions (n_concepts, d), truncated to `components` (at most
    n_concepts - 1 and d: a rank beyond the data would whiten noise)."""
    f = np.asarray(directions, np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ExplainInputError(f"whitening needs at least 2 concept directions, got shape {f.shape}")
    mean = f.mean(axis=0)
    _, s, vt = np.linalg.svd(f - mean, full_matrices=False)
    keep = int(min(components, len(f) - 1, f.shape[1], int((s > s[0] * 1e-8).sum())))
    scale = s[:keep] / np.sqrt(len(f) - 1)
    return Whitening(mean, vt[:keep], scale)


def whitened_nnls(v_div: np.ndarray, directions: np.ndarray, whitening: Whitening) -> Decomposition:
    """Non-negative weights w minimising ||W v_div - W F^T w|| in the whitened subspace."""
    v, f = np.asarray(v_div, np.float64), np.asarray(directions, np.float64)
    if f.ndim != 2 or v.shape != (f.shape[1],):
        raise ExplainInputError(f"v_div {v.shape} and directions {f.shape} do not share a dimension")
    fw, vw = whitening.directions(f), whitening.vectors(v)
    norm = np.linalg.norm(vw)
    if norm == 0:
        return Decomposition(np.zeros(len(f)), (), 1.0)
    w, rnorm = nnls(fw.T, vw, maxiter=50 * len(f))
    kept = tuple(int(j) for j in np.argsort(-w, kind="stable") if w[j] > 0)
    return Decomposition(w, kept, float(rnorm / norm))
