"""The rank stage's tables: `rankings` (per query and granularity), `rank_summary` (per model) and
`rank_scores` (per query and score: what eval-rank reads back instead of ranking again)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from persona_lens.schemas import RANK_SCORES, RANK_SUMMARY, RANKINGS
from persona_lens.tasks.markdown import markdown_table
from persona_lens.tasks.rank.evaluate import QueryIdentity
from persona_lens.tasks.rank.labelled import Labelled
from persona_lens.tasks.rank.metrics import GRANULARITIES, SCORED, QueryScores, summarize
from persona_lens.tasks.rank.params import RankParams
from persona_lens.tasks.rank.ranking import RankResult


def rankings_table(result: RankResult, params: RankParams) -> pa.Table:
    q = result.queries
    rows = []
    for g, s in result.scores.items():
        for i in range(len(q)):
            rows.append({"query_image_id": q.image_ids[i], "model_id": q.model_ids[i],
                         "encoder": params.ranked_encoder, "granularity": g, "target": q.labels[SCORED[g]][i],
                         "average_precision": float(s.average_precision[i]),
                         "first_hit_rank": int(s.first_hit_rank[i]) or None,
                         "num_relevant": int(s.num_relevant[i])})
    return RANKINGS.from_rows(rows)


def real_map_by_subject(references: Labelled, reference_scores: dict[str, QueryScores]) -> dict[str, dict[str, float]]:
    """granularity → subject → mAP of the subject's real reference pictures as queries against the
    gallery (the real-image baseline: what a perfect personalization's pictures could reach)."""
    out: dict[str, dict[str, float]] = {}
    subjects = references.labels["instance"]
    for g, scores in reference_scores.items():
        out[g] = {}
        for subject in sorted(set(subjects.tolist())):
            mean = summarize(scores, subjects == subject).get("mAP")
            if mean is not None:
                out[g][subject] = mean
    return out


def summary_table(result: RankResult, params: RankParams,
                  real_map: dict[str, dict[str, float]] | None = None) -> pa.Table:
    """Per model: mAP, cmc@k, recall@k per granularity, and the mean semantic scores. With `real_map`
    (real_map_by_subject), also the real-image baseline of the model's subjects (`real_mAP`) and the
    identity-preservation ratio (`preservation` = the model's mAP / that baseline, > 1 possible)."""
    q, rows = result.queries, []
    real_map = real_map or {}
    for model in sorted(set(q.model_ids)):
        mask = q.model_ids == model
        subjects = set(np.asarray(q.subjects)[mask].tolist())
        subject = subjects.pop() if len(subjects) == 1 else None
        for g, scores in result.scores.items():
            summary = summarize(scores, mask)
            for metric, value in summary.items():
                name, _, k = metric.partition("@")
                rows.append({"model_id": model, "subject": subject, "encoder": params.ranked_encoder,
                             "granularity": g, "metric": name, "k": int(k) if k else None, "value": value})
            # The baseline over the same queries the model's mAP averages (those with their subject in
            # the gallery), so a model ranked for several subjects weighs each as often as its mAP does.
            counted = mask & (scores.num_relevant > 0)
            baseline = [real_map.get(g, {}).get(s) for s in q.subjects[counted]]
            if summary and baseline and all(b is not None for b in baseline):
                real = float(np.mean(baseline))
                rows.append({"model_id": model, "subject": subject, "encoder": params.ranked_encoder,
                             "granularity": g, "metric": "real_mAP", "k": None, "value": real})
                if real > 0:
                    rows.append({"model_id": model, "subject": subject, "encoder": params.ranked_encoder,
                                 "granularity": g, "metric": "preservation", "k": None,
                                 "value": summary["mAP"] / real})
        for name, values in result.semantic.items():
            if np.isfinite(values[mask]).any():
                rows.append({"model_id": model, "subject": subject, "encoder": params.semantic[name],
                             "granularity": "semantic", "metric": name, "k": None,
                             "value": float(np.nanmean(values[mask]))})
            ranked = summarize(result.semantic_ranked[name], mask) if name in result.semantic_ranked else {}
            if "mAP" in ranked:         # instance mAP in the score's own space (`clip_i_map`, `dino_map`)
                rows.append({"model_id": model, "subject": subject, "encoder": params.semantic[name],
                             "granularity": "semantic", "metric": f"{name}_map", "k": None, "value": ranked["mAP"]})
    return RANK_SUMMARY.from_rows(rows)


def summary_markdown(summary: pa.Table) -> str:
    """One line per model: mAP per granularity (the instance level also within the look-alike group, and
    as a share of the real-image baseline), instance cmc@1, and the semantic scores."""
    columns = [("instance", "mAP", None), ("instance", "preservation", None), ("instance_in_group", "mAP", None),
               ("subclass", "mAP", None), ("category", "mAP", None),
               ("instance", "cmc", 1), ("semantic", "clip_i", None), ("semantic", "clip_i_map", None),
               ("semantic", "dino", None), ("semantic", "dino_map", None)]
    value = {(r["model_id"], r["granularity"], r["metric"], r["k"]): r["value"] for r in summary.to_pylist()}
    header = ["model"] + [f"{g} {m}@{k}" if k else (m if g == "semantic" else f"{g} {m}") for g, m, k in columns]
    rows = [[model] + [value.get((model, g, m, k)) for g, m, k in columns]
            for model in sorted({r[0] for r in value})]
    return markdown_table(header, rows, digits=3)


def _ranked_rows(image_ids, kinds, models, subjects, paired, method: str, encoder: str,
                 scores: dict[str, QueryScores], gallery_size: int) -> list[dict]:
    rows = []
    for g in GRANULARITIES:
        s = scores[g]
        for i in range(len(image_ids)):
            rows.append({"query_image_id": image_ids[i], "kind": kinds[i], "model_id": models[i],
                         "subject": subjects[i], "paired_image_id": paired[i], "method": method,
                         "encoder": encoder, "granularity": g, "score": float(s.average_precision[i]),
                         "first_hit_rank": int(s.first_hit_rank[i]) or None,
                         "num_relevant": int(s.num_relevant[i]), "gallery_size": gallery_size})
    return rows


def rank_scores_table(result: RankResult, references: Labelled, reference_scores: dict[str, dict[str, QueryScores]],
                      params: RankParams) -> pa.Table:
    """Every query's identity scores (fpr per granularity, clip_i, dino) and the references' rankings by
    each ranker: everything eval-rank scores against the truth."""
    q, n = result.queries, result.gallery_size
    rows = _ranked_rows(q.image_ids, q.kinds, q.model_ids, q.subjects, q.paired, "fpr", params.ranked_encoder,
                        result.scores, n)
    for name, values in result.semantic.items():
        for i in range(len(q)):
            if np.isfinite(values[i]):
                rows.append({"query_image_id": q.image_ids[i], "kind": q.kinds[i], "model_id": q.model_ids[i],
                             "subject": q.subjects[i], "paired_image_id": q.paired[i], "method": name,
                             "encoder": params.semantic[name], "granularity": None, "score": float(values[i]),
                             "gallery_size": n})
    m = len(references)
    none = np.array([None] * m, dtype=object)
    for method, scores in reference_scores.items():
        encoder = params.ranked_encoder if method == "fpr" else params.encoder
        rows += _ranked_rows(references.image_ids, np.array(["reference"] * m, dtype=object), none,
                             references.labels["instance"], none, method, encoder, scores, n)
    return RANK_SCORES.from_rows(rows)


def identity_from_table(table: pa.Table) -> QueryIdentity:
    """The personalized and base queries of a `rank_scores` table, with each method's identity score:
    fpr (instance AP), fpr_subclass (subclass AP), clip_i, dino (NaN where a query has none)."""
    rows = [r for r in table.to_pylist() if r["kind"] != "reference"]
    keys = sorted({(r["query_image_id"], r["kind"], r["model_id"], r["paired_image_id"]) for r in rows},
                  key=lambda k: (k[1] != "personalized", str(k[2]), k[0], str(k[3])))
    index = {k: i for i, k in enumerate(keys)}
    names = {("fpr", "instance"): "fpr", ("fpr", "subclass"): "fpr_subclass"}
    scores: dict[str, np.ndarray] = {}
    for r in rows:
        name = names.get((r["method"], r["granularity"]), r["method"] if r["granularity"] is None else None)
        if name is None:
            continue
        values = scores.setdefault(name, np.full(len(keys), np.nan))
        values[index[(r["query_image_id"], r["kind"], r["model_id"], r["paired_image_id"])]] = r["score"]
    column = lambda j: np.array([k[j] for k in keys], dtype=object)  # noqa: E731
    return QueryIdentity(column(0), column(1), column(2), column(3), scores)


def reference_from_table(table: pa.Table) -> tuple[dict[str, dict[str, QueryScores]], int]:
    """The references' rankings per ranker and granularity in a `rank_scores` table, and the gallery size."""
    rows = [r for r in table.to_pylist() if r["kind"] == "reference"]
    by_ranker: dict[str, dict[str, QueryScores]] = {}
    for method in sorted({r["method"] for r in rows}):
        by_ranker[method] = {}
        for g in GRANULARITIES:
            chosen = sorted((r for r in rows if r["method"] == method and r["granularity"] == g),
                            key=lambda r: r["query_image_id"])
            by_ranker[method][g] = QueryScores(
                np.array([r["score"] for r in chosen], np.float32),
                np.array([r["first_hit_rank"] or 0 for r in chosen], np.int32),
                np.array([r["num_relevant"] or 0 for r in chosen], np.int32), {})
    gallery_size = rows[0]["gallery_size"] if rows else 0
    return by_ranker, gallery_size
