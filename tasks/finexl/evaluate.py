"""Evaluation of the explain stage against known truth: `eval_explain` rows, train/held-out splits,
bootstrap confidence intervals, every baseline in the same code.

    python -m persona_lens.tasks.finexl.evaluate --size medium --train-seeds 1 2 3 --test-seeds 4 5 6 7 8

Variants (the decomposition form) and every calibration are fitted on the *training* seeds only; the
numbers reported are on the held-out seeds (whole worlds whose individuals, breeds and prompts were
never seen by any fit, nor by the aligner, which trained on world seed 0). Real photos: calibrated on
views of the aligner's training photos, reported on photos it never trained on.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from persona_lens.tasks.finexl.attribution import PairInputs, concept_scores, model_evidence
from persona_lens.tasks.finexl.baselines import (
    RawPrediction, coarse_baseline, random_baseline, raw_decomposition, visdiff_baseline,
)
from persona_lens.tasks.finexl.calibration import Calibration, fit_aspect, fit_calibration
from persona_lens.tasks.finexl.dictionary import fit_concept_dictionary
from persona_lens.tasks.finexl.directions import FORMS, ConceptSpace, encode_concept_space
from persona_lens.tasks.finexl.explanation import explain_model, level_of
from persona_lens.tasks.finexl.metrics import (
    Prediction, concept_correct, detection_counts, explanation_accuracy, level_correct, level_rank_error,
    model_selection, spearman_by_aspect, top_aspect_correct,
)
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.finexl.truth_data import HELDOUT_PHOTOS, ModelPairs, photo_models, world_models
from persona_lens.tasks.finexl.vocabulary import Vocabulary, paraphrase_vocabulary, shared_phrases, \
    taxonomy_vocabulary
from persona_lens.world.taxonomy import load_taxonomy

STAGE = "explain"
BASELINES = ("coarse", "visdiff", "published_core", "whitened_nnls", "random")
#: Every form the method can take: the two text-only decompositions and the learnt dictionary.
METHOD_FORMS = (*FORMS, "learned")
#: Folds of the out-of-fold dictionary weights the `learned` calibration is fitted on.
DICTIONARY_FOLDS = 5
CONCEPT_K = (5, 10, 15)
SELECTION_N = (5, 10)


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


# --- scoring --------------------------------------------------------------------------------------

def score(models: list[ModelPairs], preds: list[Prediction], params: ExplainParams) -> dict[tuple[str, str], float]:
    """Every metric on one set of models: (metric, detail) -> value."""
    edges = params.level_edges
    truths = [m.truth for m in models]
    ids = [m.model_id for m in models]
    pool = [c.phrase for c in load_taxonomy().concepts()]
    out: dict[tuple[str, str], float] = {}
    acc = [explanation_accuracy(t, p, edges) for t, p in zip(truths, preds)]
    out[("explanation_accuracy", "")] = float(np.mean(acc))
    # The same measure on the models that shift two or more aspects: where one sentence cannot suffice.
    multi = [x for x, t in zip(acc, truths) if sum(v > 0 for _, v in t.values()) >= 2]
    out[("explanation_accuracy", "multi-aspect")] = float(np.mean(multi)) if multi else float("nan")
    tops = [x for x in (top_aspect_correct(t, p) for t, p in zip(truths, preds)) if x is not None]
    out[("top_aspect_accuracy", "")] = float(np.mean(tops)) if tops else float("nan")
    tp, fp, fn = np.sum([detection_counts(t, p, edges) for t, p in zip(truths, preds)], axis=0)
    out[("detection_f1", "")] = float(2 * tp / max(2 * tp + fp + fn, 1))
    for k in CONCEPT_K:
        hits = [x for t, p, i in zip(truths, preds, ids) for x in concept_correct(t, p, i, k, pool, params.seed)]
        out[("concept_accuracy", f"k={k}")] = float(np.mean(hits)) if hits else float("nan")
    sp = spearman_by_aspect(truths, preds)
    for a, v in sp.items():
        out[("spearman", a)] = v
    out[("spearman", "mean")] = float(np.nanmean(list(sp.values())))
    out[("level_rank_error", "")] = level_rank_error(truths, preds)
    out[("level_accuracy", "")] = float(np.mean([x for t, p in zip(truths, preds) for x in level_correct(t, p, edges)]))
    for n in SELECTION_N:
        out[("model_selection", f"n={n}")] = float(np.mean(model_selection(truths, preds, ids, n, pool, edges,
                                                                           params.seed)))
    return out


def bootstrap_scores(models, preds_by_method: dict[str, list[Prediction]], params: ExplainParams,
                     resamples: int = 500, seed: int = 0):
    """Percentile 95 % intervals of every metric (models resampled with replacement, the same
    resamples for every method so that ratios are paired)."""
    rng = np.random.default_rng(seed)
    n = len(models)
    draws = {name: [] for name in preds_by_method}
    for _ in range(resamples):
        rows = rng.integers(0, n, n)
        sub = [models[i] for i in rows]
        # A resample may hold one model twice: keep ids unique for the seeded candidate draws.
        sub = [ModelPairs(f"{m.model_id}#{j}", m.group, m.base, m.personalized, m.base_stats, m.personalized_stats,
                          m.identity_base, m.identity_personalized, m.truth) for j, m in enumerate(sub)]
        for name, preds in preds_by_method.items():
            draws[name].append(score(sub, [preds[i] for i in rows], params))
    return draws


def _row(method, metric, value, split, detail):
    return {"stage": STAGE, "method": method, "metric": metric, "value": float(value), "split": split,
            "detail": detail or None}


def evaluation_rows(models, preds_by_method, params, split: str, resamples: int = 500,
                    reference: str = "coarse", default: str = "finexl") -> tuple[list[dict], dict]:
    """Rows of `eval_explain` for one split: each metric with its 95 % interval, and the relative
    improvement of `default` over every other method on explanation accuracy (paired bootstrap)."""
    points = {name: score(models, preds, params) for name, preds in preds_by_method.items()}
    draws = bootstrap_scores(models, preds_by_method, params, resamples)
    rows, table = [], {}
    for name, pt in points.items():
        for (metric, detail), v in pt.items():
            samples = np.array([d[(metric, detail)] for d in draws[name]], dtype=float)
            lo, hi = np.nanpercentile(samples, [2.5, 97.5]) if np.isfinite(samples).any() else (np.nan, np.nan)
            rows += [_row(name, metric, v, split, detail), _row(name, f"{metric}_ci_low", lo, split, detail),
                     _row(name, f"{metric}_ci_high", hi, split, detail)]
            table[(name, metric, detail)] = (v, lo, hi)
    key = ("explanation_accuracy", "")
    for name in points:
        if name == default:
            continue
        base = points[name][key]
        rel = (points[default][key] - base) / base if base > 0 else float("inf")
        ratios = np.array([(d[key] - b[key]) / b[key] if b[key] > 0 else np.nan
                           for d, b in zip(draws[default], draws[name])])
        lo, hi = np.nanpercentile(ratios, [2.5, 97.5])
        detail = f"explanation_accuracy vs {name}"
        rows += [_row(default, "relative_improvement", rel, split, detail),
                 _row(default, "relative_improvement_ci_low", lo, split, detail),
                 _row(default, "relative_improvement_ci_high", hi, split, detail)]
        table[(default, "relative_improvement", name)] = (rel, lo, hi)
    rows.append(_row("data", "models", len(models), split, None))
    return rows, table


# --- the whole evaluation -------------------------------------------------------------------------

def run_split(train: list[ModelPairs], test: list[ModelPairs], space: ConceptSpace, params: ExplainParams,
              split: str, resamples: int, log=print) -> tuple[list[dict], dict, str]:
    """Choose the form on `train` (leave-one-seed-out), calibrate on `train`, score every method on `test`."""
    comp = params.complemented_aspects
    fitted = {form: fit_method(train, space, params, form, comp) for form in METHOD_FORMS}
    train_acc = {form: cross_validated_accuracy(train, space, params, form) for form in METHOD_FORMS}
    chosen = max(METHOD_FORMS, key=lambda f: (train_acc[f], f == params.form))
    log(f"[{split}] training (cross-validated) explanation accuracy by form: {train_acc} -> default form {chosen!r}")
    rows = [_row(f"finexl_{form}", "explanation_accuracy", acc, f"train:{split}", "form selection")
            for form, acc in train_acc.items()]
    preds = {"finexl": [method_prediction(m, space, fitted[chosen], params, full=True) for m in test]}
    for form in METHOD_FORMS:
        preds[f"finexl_{form}"] = [method_prediction(m, space, fitted[form], params) for m in test]
    text_form = max(FORMS, key=lambda f: train_acc[f])
    preds["finexl_language_only"] = [method_prediction(m, space, fit_method(train, space, params, text_form, ()),
                                                       params) for m in test] if comp else []
    if not preds["finexl_language_only"]:
        del preds["finexl_language_only"]
    for name in BASELINES:
        fb = fit_baseline(name, train, space, params)
        preds[name] = [baseline_prediction(name, m, space, params, fb) for m in test]
    r, table = evaluation_rows(test, preds, params, split, resamples)
    return rows + r, table, chosen


def markdown_table(table: dict, split: str, methods: list[str]) -> str:
    metrics = [("explanation_accuracy", ""), ("explanation_accuracy", "multi-aspect"), ("top_aspect_accuracy", ""), ("detection_f1", ""),
               ("concept_accuracy", "k=5"), ("concept_accuracy", "k=10"), ("concept_accuracy", "k=15"),
               ("spearman", "mean"), ("level_rank_error", ""), ("level_accuracy", ""),
               ("model_selection", "n=5"), ("model_selection", "n=10")]
    head = "| metric | " + " | ".join(methods) + " |\n|---|" + "---|" * len(methods) + "\n"
    lines = []
    for metric, detail in metrics:
        cells = []
        for m in methods:
            v, lo, hi = table.get((m, metric, detail), (np.nan, np.nan, np.nan))
            cells.append(f"{v:.3f} [{lo:.2f}, {hi:.2f}]")
        lines.append(f"| {metric}{' ' + detail if detail else ''} | " + " | ".join(cells) + " |")
    rel = [f"{name}: {v * 100:+.0f}% [{lo * 100:+.0f}%, {hi * 100:+.0f}%]"
           for (d, metric, name), (v, lo, hi) in table.items() if metric == "relative_improvement"]
    return f"**{split}**\n\n" + head + "\n".join(lines) + "\n\nRelative improvement of finexl in explanation " \
        f"accuracy: " + "; ".join(rel) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="medium")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--test-seeds", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    ap.add_argument("--photos", type=int, default=40, help="photo models per pool (0: no photo evaluation)")
    ap.add_argument("--resamples", type=int, default=500, help="bootstrap resamples of the models (intervals)")
    ap.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the pairs (confidences)")
    ap.add_argument("--cache", default="/tmp/finexl-cache")
    ap.add_argument("--out", default=None, help="write eval_explain rows (Parquet) and the tables (Markdown) here")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    if set(args.train_seeds) & set(args.test_seeds):
        ap.error(f"train and test seeds overlap: {sorted(set(args.train_seeds) & set(args.test_seeds))}")

    from persona_lens.models.registry import load_vl_encoder
    from persona_lens.schemas import get_schema

    params = ExplainParams(bootstrap=args.bootstrap)
    encoder = load_vl_encoder(params.encoder)
    cache = Path(args.cache)
    train = [m for s in args.train_seeds for m in world_models(args.size, s, encoder, cache, args.workers)]
    test = [m for s in args.test_seeds for m in world_models(args.size, s, encoder, cache, args.workers)]
    vocabularies: dict[str, Vocabulary] = {"taxonomy": taxonomy_vocabulary(), "paraphrased": paraphrase_vocabulary()}
    leaked = shared_phrases(vocabularies["paraphrased"])
    if leaked:
        raise SystemExit(f"the paraphrased vocabulary shares phrases with the taxonomy: {leaked}")
    rows, md = [], []
    methods = ["finexl", *(f"finexl_{f}" for f in METHOD_FORMS), "finexl_language_only", *BASELINES]
    for vname, vocab in vocabularies.items():
        space = encode_concept_space(encoder, vocab, params.probe_prompts, params.whiten_components)
        split = f"heldout_world_{args.size}" + ("" if vname == "taxonomy" else "_paraphrased")
        r, table, _ = run_split(train, test, space, params, split, args.resamples)
        rows += r
        md.append(markdown_table(table, split, methods))
        print(md[-1], flush=True)
    if args.photos:
        space = encode_concept_space(encoder, vocabularies["taxonomy"], params.probe_prompts, params.whiten_components)
        ptrain = photo_models(None, args.photos, 8, 0, encoder, cache, "train")
        ptest = photo_models(HELDOUT_PHOTOS, args.photos, 8, 0, encoder, cache, "heldout")
        r, table, _ = run_split(ptrain, ptest, space, params, "heldout_photos", args.resamples)
        rows += r
        md.append(markdown_table(table, "heldout_photos", methods))
        print(md[-1], flush=True)
    if args.out:
        import pyarrow.parquet as pq

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(get_schema("eval_explain").from_rows(rows), out / "eval_explain.parquet")
        (out / "eval_explain.md").write_text("\n".join(md))
        (out / "command.json").write_text(json.dumps(vars(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
