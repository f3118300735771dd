"""A concept dictionary learnt from training profiles: what each concept does to a picture, per unit
of intensity, in the vision-language space *and* in the measured image statistics.

The published decompositions explain V_div with text directions f(C) alone; text reads some aspects
badly (identity has no trained caption; lighting, style and composition are weak) and says nothing
about how far a picture moves at a given intensity. Here each vocabulary concept j gets an atom
a_j = [vision-language shift, image-statistic shift, identity-score drop] per unit of intensity,
fitted by ridge regression of every training pair's feature row on its model's known intensities,
shrunk towards the language prior [gamma * f(C_j)/|f(C_j)|, 0, 0] (few training models see a given
concept; with none the atom *is* the text direction, so a vocabulary still names what it was never
trained on). A model's concept weights are the non-negative least squares of its mean feature row on
the atoms: several aspects at once, each weight on the intensity scale.

Hyper-parameters (block weights, ridge, prior) were chosen by leave-one-seed-out cross-validation on
the training world seeds 1-3 only (docs/explain.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from persona_lens.tasks.finexl.core import ExplainInputError, pair_differences
from persona_lens.tasks.finexl.image_stats import STATISTICS

#: Weights of the feature blocks (vision-language difference, statistic differences in base-spread
#: units, identity-score drop), ridge strength and the language prior's scale: chosen on seeds 1-3.
BLOCK_WEIGHTS = (1.0, 0.1, 2.0)
RIDGE = 1.0
PRIOR = 0.5


@dataclass(frozen=True)
class ConceptDictionary:
    """Atoms (n_concepts, F) over pair feature rows: `dim` vision-language columns, then the
    statistics' columns when `statistics` (in units of `stat_scale`), then `identity` identity
    columns (the drops of identity.py's score and margin; 0: none)."""

    atoms: np.ndarray
    stat_scale: np.ndarray | None
    block_weights: tuple[float, float, float]
    dim: int
    statistics: bool
    identity: int

    def columns(self, inputs) -> np.ndarray:
        """The atom columns a model's feature row fills (the blocks it has and the dictionary has)."""
        cols = list(range(self.dim))
        at = self.dim
        if self.statistics:
            if inputs.base_stats is not None:
                cols += range(at, at + len(STATISTICS))
            at += len(STATISTICS)
        if self.identity and inputs.identity_base is not None:
            cols += range(at, at + self.identity)
        return np.asarray(cols, dtype=int)

    def weights(self, inputs) -> np.ndarray:
        """(n_concepts,) non-negative weights of one model (`PairInputs`), on the intensity scale.

        A block the model lacks (no reference pictures of its subject for the identity score) is left
        out of the fit: NNLS on the columns that were observed, not a zero that would read as "unchanged"."""
        x = pair_features(inputs, self.stat_scale, self.block_weights, self.statistics, self.identity).mean(axis=0)
        cols = self.columns(inputs)
        if x.shape[0] != len(cols):
            raise ExplainInputError(f"the dictionary spans {self.atoms.shape[1]} features, the model gives "
                                    f"{x.shape[0]}: encode it with the encoder the dictionary was fitted with "
                                    f"({self.dim} dimensions)")
        w, _ = nnls(self.atoms[:, cols].T, x)
        return w


def pair_features(inputs, stat_scale: np.ndarray | None,
                  block_weights: tuple[float, float, float] = BLOCK_WEIGHTS, statistics: bool = True,
                  identity: bool | int = True) -> np.ndarray:
    """(n, F) feature rows of a model's pairs: the normalised vision-language difference, then (when
    given and asked for) the statistic differences / `stat_scale`, then the identity-score drop."""
    wv, ws, wi = block_weights
    parts = [pair_differences(inputs.base, inputs.personalized) * wv]
    if statistics and inputs.base_stats is not None:
        scale = np.ones(len(STATISTICS)) if stat_scale is None else np.maximum(stat_scale, 1e-9)
        parts.append((np.asarray(inputs.personalized_stats) - np.asarray(inputs.base_stats)) / scale * ws)
    if identity and inputs.identity_base is not None:
        parts.append(inputs.identity_drop() * wi)
    return np.hstack(parts)


def fit_concept_dictionary(inputs: list, targets: np.ndarray, directions: np.ndarray,
                           stat_scale: np.ndarray | None, ridge: float = RIDGE, prior: float = PRIOR,
                           block_weights: tuple[float, float, float] = BLOCK_WEIGHTS) -> ConceptDictionary:
    """Atoms from training models: `inputs` (PairInputs each), `targets` (models, n_concepts) known
    intensities, `directions` the vocabulary's f(C) (the language prior)."""
    targets = np.asarray(targets, np.float64)
    if not inputs or targets.shape != (len(inputs), len(directions)):
        raise ExplainInputError(f"targets must be (models={len(inputs)}, concepts={len(directions)}), "
                                f"got {targets.shape}")
    kinds = {(m.base_stats is not None, None if m.identity_base is None else m.identity_drop().shape[1])
             for m in inputs}
    if len(kinds) > 1:
        raise ExplainInputError("training models must all give the same kinds of input (statistics, identity)")
    rows = [pair_features(m, stat_scale, block_weights) for m in inputs]
    x = np.vstack(rows)
    t = np.vstack([np.repeat(targets[i][None], len(r), axis=0) for i, r in enumerate(rows)])
    f = np.asarray(directions, np.float64)
    prior_atoms = np.zeros((len(f), x.shape[1]))
    prior_atoms[:, : f.shape[1]] = prior * block_weights[0] * f / np.maximum(np.linalg.norm(f, axis=1,
                                                                                             keepdims=True), 1e-12)
    k = len(f)
    atoms = np.linalg.solve(t.T @ t + ridge * np.eye(k), t.T @ x + ridge * prior_atoms)
    return ConceptDictionary(atoms, stat_scale, block_weights, f.shape[1], inputs[0].base_stats is not None,
                             0 if inputs[0].identity_base is None else inputs[0].identity_drop().shape[1])
