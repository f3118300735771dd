"""Evaluation on held-out (fewshot) viewers: the frozen captioner alone, the style-only persona, DEPER.

For each K and seed, each held-out viewer's K support examples (seeded draw) give its persona (the mean
z_subj; nothing is trained), and every other example of the viewer is a query: the query image alone
is captioned and scored against that viewer's own caption of it. Per-query scores are pooled over
seeds; intervals are percentile bootstraps over queries; the DEPER-vs-style-only gain has a paired one.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import torch

from persona_lens.models.captioner import PromptBuilder
from persona_lens.schemas import get_schema
from persona_lens.tasks.deper.data import DeperData, Example, few_shot_episodes
from persona_lens.tasks.deper.metrics import (
    attention_error, bootstrap_ci, caption_scores, object_f1, paired_bootstrap_ci, sss, subject_discrimination,
)
from persona_lens.tasks.deper.model import Deper
from persona_lens.tasks.deper.train import builder_prefix, encode_examples

CAPTION_METRICS = ("cider", "bleu4", "rouge_l", "sss", "object_f1")


#: A relative gain is reported only over a baseline mean at least this large.
MIN_GAIN_BASE = 1e-3


@torch.no_grad()
def personalize(model: Deper, builder: PromptBuilder, patches, support: dict[str, list[Example]]
                ) -> dict[str, torch.Tensor]:
    """Viewer → its persona z_subj: the mean over its support examples."""
    return {v: encode_examples(model, builder, patches, exs).mean(0) for v, exs in support.items()}


@torch.no_grad()
def caption_queries(builder: PromptBuilder, patches, queries: list[Example], model: Deper | None,
                    personas: dict[str, torch.Tensor] | None, batch: int = 32, max_new_tokens: int = 40) -> list[str]:
    out: list[str] = []
    for i in range(0, len(queries), batch):
        qs = queries[i:i + batch]
        pe = None if model is None else model.adapter(torch.stack([personas[q.viewer_id] for q in qs]))
        out += builder.generate(builder_prefix(builder, patches, qs), pe, max_new_tokens)
    return out


@torch.no_grad()
def score_run(builder, patches, data: DeperData, methods: dict[str, Deper | None], k: int, seed: int,
              max_queries: int) -> dict[str, dict[str, np.ndarray]]:
    """Per method: per-query metric arrays for one (K, seed) episode draw over the fewshot viewers."""
    support, queries, _ = few_shot_episodes(data, "fewshot", k, seed, max_queries)
    refs = [[q.caption] for q in queries]
    out = {}
    for name, model in methods.items():
        personas = personalize(model, builder, patches, support) if model is not None else None
        preds = caption_queries(builder, patches, queries, model, personas)
        scores = caption_scores(preds, refs)
        scores["sss"] = np.array([sss(p, r[0]) for p, r in zip(preds, refs)])
        scores["object_f1"] = np.array([object_f1(p, r[0]) for p, r in zip(preds, refs)])
        if model is not None:
            vids = sorted(personas)
            z_q = encode_examples(model, builder, patches, queries).numpy()
            scores["subject_discrimination"] = subject_discrimination(
                torch.stack([personas[v] for v in vids]).numpy(), vids, z_q, [q.viewer_id for q in queries])
            if model.decoder is not None:
                p = torch.stack([patches[q.image_id] for q in queries])
                z = torch.stack([personas[q.viewer_id] for q in queries])
                xy, valid = model.trajectory(p, z)
                errs = [attention_error(xy[i, :, :2].numpy(), torch.sigmoid(valid[i]).numpy(), q.fixations)
                        for i, q in enumerate(queries)]
                scores["attention_distance"] = np.array([e["fixation_distance"] for e in errs])
                scores["attention_validity_accuracy"] = np.array([e["validity_accuracy"] for e in errs])
        out[name] = scores
        out[name]["_preds"] = np.array(preds, dtype=object)
    return out


def evaluate(builder, patches, data: DeperData, methods: dict[str, Deper | None], ks=(1, 3, 5, 10),
             seeds=(0, 1), max_queries: int = 10, resamples: int = 1000) -> tuple[pa.Table, dict]:
    """eval_describe rows (one per method, metric, K; seeds pooled) and a summary dict."""
    rows, summary = [], {}
    for k in ks:
        runs = [score_run(builder, patches, data, methods, k, s, max_queries) for s in seeds]
        for name in methods:
            metrics = [m for m in runs[0][name] if not m.startswith("_")]
            for metric in metrics:
                values = np.concatenate([r[name][metric] for r in runs])
                mean, lo, hi = bootstrap_ci(values, resamples, seed=k)
                summary[(name, metric, k)] = (mean, lo, hi)
                rows.append({"stage": "describe", "method": name, "metric": metric, "value": mean, "split": "fewshot",
                             "detail": json.dumps({"k": k, "seeds": list(seeds), "n": len(values),
                                                   "ci95": [round(lo, 4), round(hi, 4)]})})
        if "deper" in methods and "style_only" in methods:
            for metric in CAPTION_METRICS:
                a = np.concatenate([r["deper"][metric] for r in runs])
                b = np.concatenate([r["style_only"][metric] for r in runs])
                if b.mean() < MIN_GAIN_BASE:
                    continue      # a relative gain over a score of ~0 (BLEU-4 here) says nothing
                gain, lo, hi = paired_bootstrap_ci(a, b, resamples, seed=k)
                summary[("deper_vs_style_only", metric, k)] = (gain, lo, hi)
                rows.append({"stage": "describe", "method": "deper_vs_style_only", "metric": f"{metric}_gain",
                             "value": gain, "split": "fewshot",
                             "detail": json.dumps({"k": k, "seeds": list(seeds), "ci95": [round(lo, 4), round(hi, 4)]})})
        summary[("examples", k)] = {n: list(runs[0][n]["_preds"][:3]) for n in methods}
    return get_schema("eval_describe").from_rows(rows), summary
