"""The published FineXL core (Algorithm 1 of the paper), written from its description.

V_div = mean over probe pairs (same prompt and seed) of the L2-normalised embedding of the
personalized output minus that of the base output. Each concept C has a direction
f(C) = mean_t enc("t, C") - enc(t) (vocabulary.concept_directions). Candidates are taken in order of
|cos(f(C), V_div)|; one is kept only if the magnitude of its summed cosines with the concepts already
kept is below `ortho_threshold` (0.03 in the paper); after each kept concept the weights are refit by
least squares, and the loop stops once the relative residual ||V - F w|| / ||V|| falls below
`residual_threshold` (0.2 in the authors' code). The weights are the intensities, unnormalised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persona_lens.models.base import l2_normalize


class ExplainInputError(ValueError):
    """The vectors of a model cannot be explained (shapes, too few pairs, non-finite); the message says why."""


@dataclass(frozen=True)
class Decomposition:
    """Weights over the whole vocabulary (0 for concepts not kept), the kept order and the residual."""

    weights: np.ndarray          # (n_concepts,)
    kept: tuple[int, ...]
    residual: float              # relative: ||V - F w|| / ||V||


def check_pairs(base: np.ndarray, personalized: np.ndarray, min_pairs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 (n, d), validated: same shape, at least `min_pairs` rows, finite."""
    b, p = np.asarray(base, np.float64), np.asarray(personalized, np.float64)
    if b.ndim != 2 or p.ndim != 2:
        raise ExplainInputError(f"base and personalized vectors must be 2-d (pairs, dim), got {b.shape} and {p.shape}")
    if b.shape != p.shape:
        raise ExplainInputError(f"base {b.shape} and personalized {p.shape} vectors must pair row by row")
    if b.shape[0] < min_pairs:
        raise ExplainInputError(f"{b.shape[0]} pair(s): at least {min_pairs} needed")
    if not (np.isfinite(b).all() and np.isfinite(p).all()):
        raise ExplainInputError("base or personalized vectors hold NaN or infinite values")
    return b, p


def pair_differences(base: np.ndarray, personalized: np.ndarray) -> np.ndarray:
    """(n, d): normalised personalized minus normalised base, one row per probe pair."""
    b, p = check_pairs(base, personalized)
    return l2_normalize(p).astype(np.float64) - l2_normalize(b).astype(np.float64)


def divergence_vector(base: np.ndarray, personalized: np.ndarray) -> np.ndarray:
    """V_div: the mean of `pair_differences`."""
    return pair_differences(base, personalized).mean(axis=0)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b), 1e-12)


def published_core(v_div: np.ndarray, directions: np.ndarray, ortho_threshold: float = 0.03,
                   residual_threshold: float = 0.2) -> Decomposition:
    """The greedy orthogonal decomposition of `v_div` (d,) over `directions` (n_concepts, d)."""
    v, f = np.asarray(v_div, np.float64), np.asarray(directions, np.float64)
    if f.ndim != 2 or v.shape != (f.shape[1],):
        raise ExplainInputError(f"v_div {v.shape} and directions {f.shape} do not share a dimension")
    weights = np.zeros(len(f))
    norm = np.linalg.norm(v)
    if norm == 0 or len(f) == 0:
        return Decomposition(weights, (), 1.0)
    order = np.argsort(-np.abs(_cos(f, v)), kind="stable")
    unit = l2_normalize(f).astype(np.float64)
    kept: list[int] = []
    residual = 1.0
    for j in order:
        if kept and abs(float((unit[kept] @ unit[j]).sum())) >= ortho_threshold:
            continue
        kept.append(int(j))
        w, *_ = np.linalg.lstsq(f[kept].T, v, rcond=None)
        residual = float(np.linalg.norm(v - f[kept].T @ w) / norm)
        weights[:] = 0.0
        weights[kept] = w
        if residual < residual_threshold:
            break
    return Decomposition(weights, tuple(kept), residual)
