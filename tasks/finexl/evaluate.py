"""Evaluation of the explain stage against known truth: `eval_explain` rows, train/held-out splits,
bootstrap confidence intervals, every baseline in the same code.

    python -m persona_lens.tasks.finexl.evaluate --size medium --train-seeds 1 2 3 4 5 6 --test-seeds 13 14 15

Variants (the decomposition form) and every calibration are fitted on the *training* seeds only; the
numbers reported are on the held-out seeds (whole worlds whose individuals, breeds and prompts were
never seen by any fit, nor by the aligner, which trained on world seed 0). Real photos: calibrated on
views of the aligner's training photos, reported on photos it never trained on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from persona_lens.tasks.finexl.directions import FORMS, ConceptSpace
from persona_lens.tasks.finexl.metrics import (
    Prediction, concept_correct, detection_counts, explanation_accuracy, level_correct, level_rank_error,
    model_selection, spearman_by_aspect, top_aspect_correct,
)
from persona_lens.tasks.finexl.params import ExplainParams
from persona_lens.tasks.finexl.training import (
    BASELINES, METHOD_FORMS, baseline_prediction, cross_validated_accuracy, fit_baseline, fit_method,
    method_prediction,
)
from persona_lens.tasks.finexl.truth_data import ModelPairs
from persona_lens.world.taxonomy import load_taxonomy

STAGE = "explain"
CONCEPT_K = (5, 10, 15)
SELECTION_N = (5, 10)


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
    values = [v for v in sp.values() if np.isfinite(v)]
    out[("spearman", "mean")] = float(np.mean(values)) if values else float("nan")
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
            finite = samples[np.isfinite(samples)]
            lo, hi = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
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
        finite = ratios[np.isfinite(ratios)]
        lo, hi = np.percentile(finite, [2.5, 97.5]) if len(finite) else (np.nan, np.nan)
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
        "accuracy: " + "; ".join(rel) + "\n"


def method_names() -> list[str]:
    """Every method `run_split` scores, in the order the tables show them."""
    return ["finexl", *(f"finexl_{f}" for f in METHOD_FORMS), "finexl_language_only", *BASELINES]


def evaluate_explainer(params, log=print):
    """(`eval_explain` rows as a table, Markdown tables) of the held-out evaluation for
    `EvalExplainParams`: every form and baseline fitted on the training seeds, scored on the test seeds
    (taxonomy and, if asked, paraphrased vocabulary) and on the real-photo split."""
    from persona_lens.models.registry import load_vl_encoder
    from persona_lens.schemas import get_schema
    from persona_lens.tasks.finexl.directions import encode_concept_space
    from persona_lens.tasks.finexl.truth_data import HELDOUT_PHOTOS, cache_folder, photo_models, worlds
    from persona_lens.tasks.finexl.vocabulary import load_vocabulary, paraphrase_vocabulary, shared_phrases

    encoder = load_vl_encoder(params.encoder)
    train = worlds(params.size, params.train_seeds, encoder, params.cache, params.workers)
    test = worlds(params.size, params.test_seeds, encoder, params.cache, params.workers)
    vocabularies = {"": load_vocabulary(params.vocabulary)}
    if params.paraphrased:
        vocabularies["_paraphrased"] = paraphrase_vocabulary()
        leaked = shared_phrases(vocabularies["_paraphrased"])
        if leaked:
            raise ValueError(f"the paraphrased vocabulary shares phrases with the taxonomy: {leaked}")
    rows, md = [], []
    for suffix, vocabulary in vocabularies.items():
        space = encode_concept_space(encoder, vocabulary, params.probe_prompts, params.whiten_components)
        split = f"heldout_world_{params.size}{suffix}"
        r, table, _ = run_split(train, test, space, params, split, params.resamples, log=log)
        rows += r
        md.append(markdown_table(table, split, method_names()))
    if params.photos:
        space = encode_concept_space(encoder, vocabularies[""], params.probe_prompts, params.whiten_components)
        ptrain = photo_models(None, params.photos, 8, 0, encoder, cache_folder(params.cache), "train")
        ptest = photo_models(HELDOUT_PHOTOS, params.photos, 8, 0, encoder, cache_folder(params.cache), "heldout")
        r, table, _ = run_split(ptrain, ptest, space, params, "heldout_photos", params.resamples, log=log)
        rows += r
        md.append(markdown_table(table, "heldout_photos", method_names()))
    return get_schema(f"eval_{STAGE}").from_rows(rows), "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="medium")
    ap.add_argument("--train-seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    ap.add_argument("--test-seeds", type=int, nargs="+", default=[13, 14, 15])
    ap.add_argument("--photos", type=int, default=40, help="photo models per pool (0: no photo evaluation)")
    ap.add_argument("--resamples", type=int, default=500, help="bootstrap resamples of the models (intervals)")
    ap.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the pairs (confidences)")
    ap.add_argument("--cache", default=None, help="rendered, encoded worlds (default: the cache folder)")
    ap.add_argument("--out", default=None, help="write eval_explain rows (Parquet) and the tables (Markdown) here")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)

    from persona_lens.tasks.finexl.params import EvalExplainParams
    from persona_lens.tasks.params import ConfigError

    try:
        params = EvalExplainParams(size=args.size, train_seeds=tuple(args.train_seeds),
                                   test_seeds=tuple(args.test_seeds), photos=args.photos, resamples=args.resamples,
                                   bootstrap=args.bootstrap, cache=args.cache, workers=args.workers)
    except (ConfigError, ValueError) as exc:
        ap.error(str(exc))
    table, md = evaluate_explainer(params)
    print(md, flush=True)
    if args.out:
        import pyarrow.parquet as pq

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out / "eval_explain.parquet")
        (out / "eval_explain.md").write_text(md)
        (out / "command.json").write_text(json.dumps(vars(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
