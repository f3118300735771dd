"""The identity evidence of a picture: the identity ranker's score for the subject it should show, and
its margin over every other identity.

The ranker is the rank stage's (tasks/rank: shrinkage LDA fitted on the subjects' reference pictures);
a picture's score for identity s is the cosine, in the ranker's space, to the centroid of s's
references. Two columns per picture: the score for its own subject, and the margin of that score over
the best other identity. A personalization that drifts from its subject lowers both; a shift of style,
colour or lighting lowers the score too (the ranker's features are not blind to appearance) but lowers
every identity's score alike, so the margin stays: on the training worlds (seeds 1-3) the score drop
alone never told an identity shift from the others. The drops from base to personalized are what the
explainer reads for the `identity` aspect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persona_lens.tasks.rank.ranker import IdentityRanker, fit_identity_ranker


@dataclass(frozen=True)
class IdentityScorer:
    """The ranker fitted on the reference pictures, and each subject's centroid in its space."""

    ranker: IdentityRanker
    centroids: dict[str, np.ndarray]

    def scores(self, features: np.ndarray, subjects: np.ndarray) -> np.ndarray | None:
        """(n, 2) each picture's [score for its subject, margin over the best other identity]; None when
        a subject has no reference picture."""
        if not set(np.asarray(subjects).tolist()) <= set(self.centroids):
            return None
        names = list(self.centroids)
        all_scores = self.ranker.project(np.asarray(features)) @ np.stack([self.centroids[s] for s in names]).T
        own = np.array([names.index(s) for s in subjects])
        score = all_scores[np.arange(len(own)), own]
        others = all_scores.copy()
        others[np.arange(len(own)), own] = -np.inf
        return np.stack([score, score - others.max(axis=1)], axis=1)


def fit_identity_scorer(reference_features: np.ndarray, reference_labels: np.ndarray) -> IdentityScorer | None:
    """The scorer of the references; None with fewer than two identities (no ranker can be fitted)."""
    labels = np.asarray(reference_labels)
    if len(np.unique(labels)) < 2:
        return None
    ranker = fit_identity_ranker(np.asarray(reference_features), labels)
    projected = ranker.project(np.asarray(reference_features))
    return IdentityScorer(ranker, {s: projected[labels == s].mean(axis=0) for s in np.unique(labels)})


def identity_scores(reference_features: np.ndarray, reference_labels: np.ndarray, features: np.ndarray,
                    subjects: np.ndarray) -> np.ndarray | None:
    """One-off `fit_identity_scorer(...).scores(features, subjects)` ((n, 2)); None where either is None."""
    scorer = fit_identity_scorer(reference_features, reference_labels)
    return None if scorer is None else scorer.scores(features, subjects)
