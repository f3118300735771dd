"""Fitting the explainer on training models (known truth): the form chosen by leave-one-seed-out
accuracy, its calibration, and the baselines' calibrations; predictions of the method and the baselines
in one form (`metrics.Prediction`) for the evaluation.

Only training models ever reach a `fit_*` function here; evaluate.py scores the fits on held-out ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from persona_lens.tasks.finexl.attribution import PairInputs, concept_scores, model_evidence
from persona_lens.tasks.finexl.baselines import (
    RawPrediction, coarse_baseline, random_baseline, raw_decomposition, visdiff_baseline,
)
from persona_lens.tasks.finexl.calibration import Calibration, fit_aspect, fit_calibration
from persona_lens.tasks.finexl.dictionary import fit_concept_dictionary
from persona_lens.tasks.finexl.directions import FORMS, ConceptSpace
from persona_lens.tasks.finexl.explainer import CALIBRATED_BASELINES, Explainer
from persona_lens.tasks.finexl.explanation import explain_model
from persona_lens.tasks.finexl.metrics import Prediction, explanation_accuracy
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.finexl.truth_data import ModelPairs
from persona_lens.world.taxonomy import load_taxonomy

BASELINES = ("coarse", "visdiff", "published_core", "whitened_nnls", "random")
#: Every form the method can take: the two text-only decompositions and the learnt dictionary.
METHOD_FORMS = (*FORMS, "learned")
#: Folds of the out-of-fold dictionary weights the `learned` calibration is fitted on.
DICTIONARY_FOLDS = 5


def inputs_of(m: ModelPairs) -> PairInputs:
    return PairInputs(m.base, m.personalized, m.base_stats, m.personalized_stats, m.identity_base,
                      m.identity_personalized)


def truth_intensities(m: ModelPairs) -> dict[str, float]:
    return {a: t for a, (_, t) in m.truth.items()}


def stat_scale(models: list[ModelPairs]) -> np.ndarray:
    """Typical spread of each image statistic: its standard deviation over the training base pictures."""
    return np.concatenate([m.base_stats for m in models]).std(axis=0)


# --- the method -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FittedMethod:
    form: str
    calibration: Calibration
    complemented: tuple[str, ...]


def concept_targets(m: ModelPairs, space: ConceptSpace) -> np.ndarray:
    """(n_concepts,) the model's known intensity of every vocabulary phrase (by the concept it stands for)."""
    t = np.zeros(len(space.vocabulary))
    for _, (c, v) in m.truth.items():
        if v > 0 and c is not None:
            t[[i for i, x in enumerate(space.vocabulary.concepts) if x == c]] = v
    return t


def fit_method(train: list[ModelPairs], space: ConceptSpace, params: ExplainParams, form: str,
               complemented: tuple[str, ...]) -> FittedMethod:
    """The calibration of the method with `form`, fitted on training models only. `learned`: a concept
    dictionary (dictionary.py) on all training models; its calibration is fitted on out-of-fold
    weights (a model's own pairs would make its in-sample weights optimistic)."""
    aspects = load_taxonomy().names
    scale = stat_scale(train)
    if form == "learned":
        from sklearn.model_selection import KFold

        ins = [inputs_of(m) for m in train]
        targets = np.stack([concept_targets(m, space) for m in train])
        feats: list = [None] * len(train)
        folds = KFold(min(DICTIONARY_FOLDS, len(train)), shuffle=True, random_state=params.seed)
        for tr, te in folds.split(train):
            d = fit_concept_dictionary([ins[i] for i in tr], targets[tr], space.directions, scale)
            for i in te:
                feats[i] = model_evidence(ins[i], space, aspects, dictionary=d).features
        cal = fit_calibration(feats, [truth_intensities(m) for m in train], scale)
        d = fit_concept_dictionary(ins, targets, space.directions, scale)
        return FittedMethod(form, Calibration(cal.aspects, scale, len(train), d), complemented)
    feats = [model_evidence(inputs_of(m), space, aspects, form, complemented, scale, params.ortho_threshold,
                            params.residual_threshold).features for m in train]
    return FittedMethod(form, fit_calibration(feats, [truth_intensities(m) for m in train], scale), complemented)


def cross_validated_accuracy(train: list[ModelPairs], space: ConceptSpace, params: ExplainParams,
                             form: str) -> float:
    """Explanation accuracy of `form` by leave-one-group-out (world seed) on the training models; the
    in-sample accuracy when they form one group (a learnt form would then be flattered)."""
    groups = sorted({m.group for m in train})
    comp = params.complemented_aspects
    if len(groups) < 2:
        f = fit_method(train, space, params, form, comp)
        return float(np.mean([explanation_accuracy(m.truth, method_prediction(m, space, f, params),
                                                   params.level_edges) for m in train]))
    scores = []
    for g in groups:
        f = fit_method([m for m in train if m.group != g], space, params, form, comp)
        scores += [explanation_accuracy(m.truth, method_prediction(m, space, f, params), params.level_edges)
                   for m in train if m.group == g]
    return float(np.mean(scores))


def _taxonomy_scores(space: ConceptSpace, scores: np.ndarray) -> dict[str, float]:
    """Vocabulary scores -> taxonomy concept scores (a concept several phrases stand for: their best)."""
    out: dict[str, float] = {}
    for c, s in zip(space.vocabulary.concepts, scores):
        if c is not None:
            out[c] = max(out.get(c, -np.inf), float(s))
    return out


def _concept_of(space: ConceptSpace, scores: np.ndarray, aspect: str) -> str | None:
    idx = space.vocabulary.indices(aspect)
    return space.vocabulary.concepts[idx[int(np.argmax(scores[idx]))]] if len(idx) else None


def method_prediction(m: ModelPairs, space: ConceptSpace, fitted: FittedMethod, params: ExplainParams,
                      full: bool = False) -> Prediction:
    """The method's prediction; `full` runs `explain_model` (bootstrap, sentences) instead of the fast path."""
    aspects = load_taxonomy().names
    if full:
        e = explain_model(m.model_id, inputs_of(m), space, fitted.calibration, aspects, fitted.form,
                          fitted.complemented, params.level_edges, params.bootstrap, params.seed,
                          params.ortho_threshold, params.residual_threshold)
        lookup = dict(zip(space.vocabulary.phrases, space.vocabulary.concepts))
        scores = np.array([s for a in e.aspects for s in a.concept_scores.values()])
        order = [p for a in e.aspects for p in a.concept_scores]
        score_by_phrase = dict(zip(order, scores))
        vec = np.array([score_by_phrase.get(p, -np.inf) for p in space.vocabulary.phrases])
        return Prediction({a.aspect: a.intensity for a in e.aspects},
                          {a.aspect: lookup.get(a.concept_to) if a.concept_to else
                           _concept_of(space, vec, a.aspect) for a in e.aspects},
                          _taxonomy_scores(space, vec))
    ev = model_evidence(inputs_of(m), space, aspects, fitted.form, fitted.complemented,
                        fitted.calibration.stat_scale, params.ortho_threshold, params.residual_threshold,
                        dictionary=fitted.calibration.dictionary)
    s = concept_scores(ev)
    return Prediction(fitted.calibration.intensities(ev.features), {a: _concept_of(space, s, a) for a in aspects},
                      _taxonomy_scores(space, s))


# --- baselines ------------------------------------------------------------------------------------

def baseline_raw(name: str, m: ModelPairs, space: ConceptSpace, params: ExplainParams) -> RawPrediction:
    aspects = load_taxonomy().names
    if name == "coarse":
        return coarse_baseline(inputs_of(m), space, aspects)
    if name == "visdiff":
        return visdiff_baseline(inputs_of(m), space, aspects)
    if name == "published_core":
        return raw_decomposition(inputs_of(m), space, aspects, "core", params.ortho_threshold,
                                 params.residual_threshold)
    if name == "whitened_nnls":
        return raw_decomposition(inputs_of(m), space, aspects, "whitened")
    if name == "random":
        return random_baseline(m.model_id, space, aspects, params.seed)
    raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")


def fit_baseline(name: str, train: list[ModelPairs], space: ConceptSpace, params: ExplainParams):
    """Coarse and VisDiff give strengths, not intensities: an isotonic map per aspect fitted on the
    training models turns them into intensities (generous to them). The raw decompositions and random
    are used as published: weights as intensities, clipped to [0, 1]."""
    if name not in ("coarse", "visdiff"):
        return None
    aspects = load_taxonomy().names
    raws = [baseline_raw(name, m, space, params) for m in train]
    return {a: fit_aspect(np.array([[r.strength[a]] for r in raws]), np.array([m.truth[a][1] for m in train]))
            for a in aspects}


def baseline_prediction(name: str, m: ModelPairs, space: ConceptSpace, params: ExplainParams, fitted) -> Prediction:
    raw = baseline_raw(name, m, space, params)
    aspects = load_taxonomy().names
    if fitted is None:
        intensity = {a: float(np.clip(raw.strength[a], 0.0, 1.0)) for a in aspects}
    else:
        intensity = {a: float(fitted[a].predict(np.array([[raw.strength[a]]]))[0]) if raw.strength[a] > 0 else 0.0
                     for a in aspects}
    return Prediction(intensity, {a: _concept_of(space, raw.concept_scores, a) for a in aspects},
                      _taxonomy_scores(space, raw.concept_scores))


# --- the explainer --------------------------------------------------------------------------------

def fit_explainer(train: list[ModelPairs], space: ConceptSpace, params: ExplainParams, encoder: str,
                  forms: tuple[str, ...] = METHOD_FORMS, log=print) -> Explainer:
    """The explainer fitted on `train`: each of `forms` scored by leave-one-seed-out explanation
    accuracy, the best one (ties: `params.form`) calibrated on all of `train`, and the coarse and
    VisDiff baselines' intensity maps fitted on the same models."""
    if not train:
        raise ValueError("fit_explainer needs training models")
    accuracy = {form: cross_validated_accuracy(train, space, params, form) for form in forms}
    chosen = max(forms, key=lambda f: (accuracy[f], f == params.form))
    log(f"training (leave-one-seed-out) explanation accuracy by form: "
        f"{ {f: round(a, 4) for f, a in accuracy.items()} } -> {chosen!r}")
    fitted = fit_method(train, space, params, chosen, params.complemented_aspects)
    return Explainer(chosen, fitted.calibration, space.vocabulary, params.probe_prompts, params.whiten_components,
                     fitted.complemented, encoder, space.dim,
                     {b: fit_baseline(b, train, space, params) for b in CALIBRATED_BASELINES},
                     {"groups": sorted({m.group for m in train}), "models": len(train),
                      "cross_validated_accuracy": accuracy})
