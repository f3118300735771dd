"""The identity ranker: a projection of frozen image features in which individuals, not looks, are near.

Generic features (ImageNet CNNs, CLIP-like encoders) place a picture near others of the same *kind*:
two cats of one breed in the same pose are closer than one cat in two poses. Finer-Personalization
Rank needs the opposite, so the ranker fits Linear Discriminant Analysis (scikit-learn) on the
identity-labelled gallery: it whitens the within-individual variation (pose, scale, background, light)
and keeps the directions that separate individuals (their marks). Only gallery labels are used; the
queries (generated images) are never seen by the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from persona_lens.models.base import l2_normalize


class RankError(ValueError):
    """The rank stage cannot run on these inputs (no gallery, no labels, no queries); the message says what."""


@dataclass(frozen=True)
class IdentityRanker:
    """`project(x)`: L2-normalised ranking space; cosine similarity there ranks the gallery."""

    lda: LinearDiscriminantAnalysis | None      # None: the encoder's own space (the `raw` ranker)

    @property
    def name(self) -> str:
        return "raw" if self.lda is None else "lda"

    def project(self, vectors: np.ndarray) -> np.ndarray:
        x = vectors if self.lda is None else self.lda.transform(vectors)
        return l2_normalize(np.asarray(x, dtype=np.float32))


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
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage=shrinkage).fit(gallery, labels)
    return IdentityRanker(lda)
