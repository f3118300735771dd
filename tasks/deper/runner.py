"""The describe stage's steps as plain functions of its parameters (what the Prefect tasks wrap)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from persona_lens.models.captioner import PromptBuilder, load_captioner_parts
from persona_lens.models.runtime import default_cache_dir
from persona_lens.schemas import get_schema
from persona_lens.tasks.deper.data import (
    DeperData, few_shot_episodes, inventory_captions, load_jsonl, load_world_folder, render_world_scenes,
)
from persona_lens.tasks.deper.evaluate import caption_queries, evaluate, personalize
from persona_lens.tasks.deper.metrics import caption_scores, object_f1, sss
from persona_lens.tasks.deper.params import (
    DeperDataParams, DescribeParams, EvalDescribeParams, TrainCaptionerParams, TrainDeperParams,
)
from persona_lens.tasks.deper.train import load_persona, patch_table, train_captioner, train_persona
from persona_lens.tasks.quarantine import quarantine_table


#: Image files a `viewer_examples` images folder may hold (the stem is the image_id).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def load_data(params: DeperDataParams) -> DeperData:
    """The stage's data: viewers' examples from JSON lines with their images folder, the given world
    folder, or the preset world's scenes rendered once into the cache."""
    if params.viewer_examples is not None:
        images = {p.stem: p for p in sorted(Path(params.images).iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
        return load_jsonl(params.viewer_examples, images)
    return load_world_folder(world_folder(params))


def frozen_captioner(folder: str) -> PromptBuilder:
    mapping, lm, tok = load_captioner_parts(folder)
    builder = PromptBuilder(lm, tok)
    builder.mapping = mapping
    return builder


def world_folder(params: DeperDataParams) -> Path | None:
    """The world folder the data comes from (None for JSON lines)."""
    if params.viewer_examples is not None:
        return None
    return Path(params.world) if params.world else render_world_scenes(
        params.world_size, params.world_seed, default_cache_dir() / f"world-scenes-{params.world_size}-{params.world_seed}")


def run_train_captioner(params: TrainCaptionerParams) -> dict:
    data = load_data(params)
    folder = world_folder(params) if params.inventory_rate else None       # already rendered by load_data
    inventories = inventory_captions(folder) if folder is not None else {}
    # Viewers' examples from JSON lines name no objects: no grounding task then (the card records 0).
    return train_captioner(data, patch_table(data), Path(params.out), steps=params.steps, batch=params.batch,
                           lr=params.lr, seed=params.seed, inventories=inventories,
                           inventory_rate=params.inventory_rate if inventories else 0.0)


def run_train_deper(params: TrainDeperParams) -> dict:
    data = load_data(params)
    patches, builder = patch_table(data), frozen_captioner(params.captioner)
    todo = {"deper": [True], "style_only": [False], "both": [True, False]}[params.variant]
    return {("deper" if att else "style_only"): train_persona(
        data, patches, builder, Path(params.deper_out if att else params.style_out), attention=att,
        steps=params.steps, batch=params.batch, max_shots=params.max_shots, lr=params.lr, seed=params.seed,
        aux_weight=params.aux_weight) for att in todo}


def run_eval_describe(params: EvalDescribeParams) -> tuple[pa.Table, dict]:
    data = load_data(params)
    methods = {"frozen_captioner": None, "style_only": load_persona(params.style_only),
               "deper": load_persona(params.deper)}
    table, summary = evaluate(frozen_captioner(params.captioner), patch_table(data), data, methods, params.ks,
                              params.seeds, params.max_queries, params.resamples)
    return table, summary


def run_describe(params: DescribeParams) -> dict[str, pa.Table]:
    """personas (mean z_subj over K examples), captions (model 'deper', the viewer's other images) and
    caption_scores against the viewer's own captions; quarantine rows for viewers with too few examples."""
    data = load_data(params)
    builder, model = frozen_captioner(params.captioner), load_persona(params.deper)
    patches = patch_table(data)
    support, queries, bad = few_shot_episodes(data, params.split, params.k, params.seed)
    personas = personalize(model, builder, patches, support)
    preds = caption_queries(builder, patches, queries, model, personas) if queries else []
    persona_rows = [{"viewer_id": v, "method": "deper", "num_shots": params.k, "dim": int(z.numel()),
                     "vector": z.numpy().astype(np.float32).tolist()} for v, z in sorted(personas.items())]
    caption_rows = [{"viewer_id": q.viewer_id, "image_id": q.image_id, "text": p, "model": "deper"}
                    for q, p in zip(queries, preds)]
    score_rows = []
    if queries:
        scores = caption_scores(preds, [[q.caption] for q in queries])
        scores["sss"] = np.array([sss(p, q.caption) for p, q in zip(preds, queries)])
        scores["object_f1"] = np.array([object_f1(p, q.caption) for p, q in zip(preds, queries)])
        for i, q in enumerate(queries):
            score_rows += [{"viewer_id": q.viewer_id, "image_id": q.image_id, "method": "deper", "metric": m,
                            "value": float(v[i])} for m, v in scores.items()]
    dim = persona_rows[0]["dim"] if persona_rows else None
    return {"personas": (get_schema("personas").from_rows(persona_rows, vector_dim=dim) if persona_rows
                         else get_schema("personas").empty()),
            "captions": get_schema("captions").from_rows(caption_rows) if caption_rows else get_schema("captions").empty(),
            "caption_scores": (get_schema("caption_scores").from_rows(score_rows) if score_rows
                               else get_schema("caption_scores").empty()),
            "quarantine": quarantine_table(data.quarantine + bad)}


def summary_markdown(summary: dict) -> str:
    """The evaluation's main numbers as a Markdown table (CIDEr/BLEU-4/ROUGE-L/SSS per method and K)."""
    ks = sorted({key[2] for key in summary if len(key) == 3})
    lines = ["| method | metric | " + " | ".join(f"K={k}" for k in ks) + " |", "|---|---|" + "---|" * len(ks)]
    for name in ("frozen_captioner", "style_only", "deper", "deper_vs_style_only"):
        metrics = sorted({key[1] for key in summary if len(key) == 3 and key[0] == name})
        for metric in metrics:
            cells = []
            for k in ks:
                m, lo, hi = summary.get((name, metric, k), (float("nan"),) * 3)
                cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
            lines.append(f"| {name} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def info_json(info: dict) -> str:
    return json.dumps(info, indent=2, default=str)

