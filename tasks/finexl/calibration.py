"""Intensity calibration: raw per-aspect evidence -> an intensity in [0, 1], fitted on training profiles.

Per aspect, two questions, each fitted on that aspect's features (language evidence, and for the
complemented aspects the image statistics and identity drop) of the training profiles:
- *is it shifted at all?* a logistic regression, its strength chosen by cross-validated log-loss
  (shifted iff its probability exceeds 1/2);
- *how strongly?* a ridge regression combines the features into one score, and an isotonic regression
  maps the score monotonically onto the known intensities of the shifted training profiles.
Separating the two keeps a weak leak from another aspect from becoming a "slight" shift (one map onto
intensities with zeros averages shifted and unshifted models into small positive values).
Only training models are ever seen by `fit_calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict, cross_val_score

#: Folds of the out-of-fold scores the isotonic map is fitted on.
FOLDS = 5
#: Inverse regularisation strengths the detection regression chooses from, by cross-validated log-loss
#: on the training models. A fixed C = 1 (scikit-learn's default) shrank the one feature of the `learned`
#: form towards the ~20 % prior of a shift and missed a third of the shifts its evidence ranked well
#: (AUC 0.95-0.99), while the several features of the text forms need the shrinkage.
DETECT_CS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


class CalibrationError(ValueError):
    """Calibration cannot be fitted or applied (no training models, feature sizes differ)."""


@dataclass(frozen=True)
class AspectCalibration:
    """The fitted maps as plain arrays (scikit-learn fits them; numpy applies them, ~100x faster for
    the one-row calls of the bootstrap): standardise, ridge score, piecewise-linear isotonic map."""

    mean: np.ndarray
    std: np.ndarray
    coef: np.ndarray | None          # None: nothing learnt, intensity 0
    intercept: float = 0.0
    knots_x: np.ndarray | None = None
    knots_y: np.ndarray | None = None
    detect_coef: np.ndarray | None = None
    detect_intercept: float = 0.0

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(the aspect is shifted) per row."""
        x = np.atleast_2d(np.asarray(features, np.float64))
        if self.detect_coef is None or x.shape[1] == 0:
            return np.zeros(len(x))
        return 1.0 / (1.0 + np.exp(-(((x - self.mean) / self.std) @ self.detect_coef + self.detect_intercept)))

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(features, np.float64))
        if self.coef is None or x.shape[1] == 0:
            return np.zeros(len(x))
        if x.shape[1] != len(self.mean):
            raise CalibrationError(f"calibration expects {len(self.mean)} features, got {x.shape[1]}")
        score = ((x - self.mean) / self.std) @ self.coef + self.intercept
        strength = np.clip(np.interp(score, self.knots_x, self.knots_y), 0.0, 1.0)
        return np.where(self.probability(x) > 0.5, strength, 0.0)


@dataclass(frozen=True)
class Calibration:
    """Per aspect calibration, and the statistic scale the features were computed with."""

    aspects: dict[str, AspectCalibration]
    stat_scale: np.ndarray | None
    models: int
    dictionary: object | None = None     # a learnt ConceptDictionary (form `learned`), else None

    def intensities(self, features: dict[str, np.ndarray]) -> dict[str, float]:
        missing = [a for a in self.aspects if a not in features]
        if missing:
            raise CalibrationError(f"features lack aspect(s) {missing}")
        return {a: float(c.predict(features[a])[0]) for a, c in self.aspects.items()}


def _detection_c(z: np.ndarray, shifted: np.ndarray) -> float:
    """The detection regression's C of `DETECT_CS` with the best cross-validated log-loss (1 when there are
    too few models of a class to cross-validate)."""
    folds = min(FOLDS, int(shifted.sum()), int((~shifted).sum()))
    if folds < 2:
        return 1.0
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    loss = [cross_val_score(LogisticRegression(C=c, max_iter=1000), z, shifted, cv=cv, scoring="neg_log_loss").mean()
            for c in DETECT_CS]
    return DETECT_CS[int(np.argmax(loss))]


def fit_aspect(features: np.ndarray, targets: np.ndarray, alpha: float = 3.0) -> AspectCalibration:
    """Ridge + isotonic on (m, f) features and (m,) known intensities."""
    x, y = np.asarray(features, np.float64), np.asarray(targets, np.float64)
    if x.ndim != 2 or len(x) != len(y):
        raise CalibrationError(f"features {x.shape} and targets {y.shape} do not match")
    if x.shape[1] == 0 or len(y) == 0 or np.ptp(y) == 0:
        # Nothing to read, or nothing to learn (no training model shifts this aspect): intensity 0.
        return AspectCalibration(np.zeros(x.shape[1]), np.ones(x.shape[1]), None)
    mean, std = x.mean(axis=0), x.std(axis=0)
    std = np.where(std > 1e-12, std, 1.0)
    z = (x - mean) / std
    shifted = y > 0
    if shifted.all():
        detect_coef, detect_intercept = np.zeros(x.shape[1]), 10.0     # every training model shifts it
    else:
        lr = LogisticRegression(C=_detection_c(z, shifted), max_iter=1000).fit(z, shifted)
        detect_coef, detect_intercept = np.asarray(lr.coef_[0], np.float64), float(lr.intercept_[0])
    zs, ys = z[shifted], y[shifted]
    ridge = Ridge(alpha=alpha).fit(zs, ys)
    # The isotonic map is fitted on out-of-fold ridge scores: in-sample scores are optimistic.
    folds = min(FOLDS, len(ys))
    scores = cross_val_predict(Ridge(alpha=alpha), zs, ys, cv=KFold(folds, shuffle=True, random_state=0)) \
        if folds >= 2 else ridge.predict(zs)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, ys)
    return AspectCalibration(mean, std, np.asarray(ridge.coef_, np.float64), float(ridge.intercept_),
                             np.asarray(iso.X_thresholds_, np.float64), np.asarray(iso.y_thresholds_, np.float64),
                             detect_coef, detect_intercept)


def fit_calibration(features: list[dict[str, np.ndarray]], truths: list[dict[str, float]],
                    stat_scale: np.ndarray | None = None, alpha: float = 3.0) -> Calibration:
    """One calibration per aspect from training models' `features` and known `truths` (aspect -> intensity)."""
    if not features or len(features) != len(truths):
        raise CalibrationError(f"calibration needs training models: got {len(features)} feature sets "
                               f"and {len(truths)} truths")
    aspects = list(features[0])
    out = {}
    for a in aspects:
        x = np.stack([f[a] for f in features]) if features[0][a].size else np.zeros((len(features), 0))
        out[a] = fit_aspect(x, np.array([t[a] for t in truths]), alpha)
    return Calibration(out, stat_scale, len(features))
