"""The aligner's scores as `eval_aligner` rows, and their report (markdown, model card).

The evaluation works on shared-space vectors, so the same code scores the trained aligner (from its
cached tower vectors) and any `VisionLanguageEncoder` such as a CLIP folder (from the images themselves).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from persona_lens.models.aligner import LiTAligner
from persona_lens.models.base import VisionLanguageEncoder
from persona_lens.schemas import get_schema
from persona_lens.tasks.aligner.corpus import Sample
from persona_lens.tasks.aligner.dataset import CaptionSource, Corpus, encode_pairs
from persona_lens.tasks.aligner.evaluate import (
    KS, LinearProbe, accuracy_by_aspect, accuracy_over_all, concept_text_vectors, fit_linear_probe,
    recall_at_k,
)
from persona_lens.tasks.markdown import markdown_table
from persona_lens.world.taxonomy import Taxonomy

STAGE = "aligner"
EVAL_TABLE = "eval_aligner"
#: eval_aligner `split` per source.
SPLITS = {"photo": "heldout_photos", "world": "heldout_world"}


def _row(method: str, metric: str, value: float, split: str, detail: str | None) -> dict:
    return {"stage": STAGE, "method": method, "metric": metric, "value": float(value), "split": split,
            "detail": detail}


def score_source(method: str, image_vectors: dict[str, np.ndarray], samples: dict[str, list[Sample]],
                 concept_vectors: np.ndarray, query_vectors: np.ndarray, taxonomy: Taxonomy, split: str,
                 with_chance: bool = True) -> list[dict]:
    """eval rows of one vision-language method on one source's held-out sets.

    `image_vectors`/`samples` per purpose ("zero_shot", "retrieval"); `concept_vectors` the taxonomy's
    concepts in file order; `query_vectors` the retrieval samples' captions.
    """
    rows = _accuracy_rows(method, image_vectors["zero_shot"] @ concept_vectors.T, samples["zero_shot"],
                          taxonomy.concepts(), taxonomy, split, with_chance)
    keys = [s.key for s in samples["retrieval"]]
    return rows + _recall_rows(method, query_vectors @ image_vectors["retrieval"].T, keys, split, with_chance)


def _accuracy_rows(method: str, scores: np.ndarray, samples: list[Sample], concepts, taxonomy: Taxonomy,
                   split: str, with_chance: bool) -> list[dict]:
    rows = []
    for aspect, (acc, n, chance) in accuracy_by_aspect(scores, samples, concepts, taxonomy.names).items():
        rows.append(_row(method, "accuracy", acc, split, aspect))
        if with_chance:
            rows += [_row("chance", "accuracy", chance, split, aspect),
                     _row("data", "images", n, split, aspect)]
    acc, n, chance = accuracy_over_all(scores, samples, concepts)
    if n:
        rows.append(_row(method, "accuracy", acc, split, "all_edits"))
        if with_chance:
            rows += [_row("chance", "accuracy", chance, split, "all_edits"),
                     _row("data", "images", n, split, "all_edits")]
    return rows


def _recall_rows(method: str, scores: np.ndarray, keys: list[str], split: str,
                 with_chance: bool) -> list[dict]:
    rows = []
    for k, (recall, chance) in recall_at_k(scores, keys, keys, KS).items():
        rows.append(_row(method, f"recall@{k}", recall, split, "text_to_image"))
        if with_chance:
            rows.append(_row("chance", f"recall@{k}", chance, split, "text_to_image"))
    if with_chance:
        rows.append(_row("data", "images", len(keys), split, "text_to_image"))
    return rows


def evaluate_encoder(encoder: VisionLanguageEncoder, image_vectors: dict[str, dict[str, np.ndarray]],
                     samples: dict[str, dict[str, list[Sample]]], taxonomy: Taxonomy, method: str,
                     with_chance: bool = True) -> list[dict]:
    """eval rows for `encoder` on every source: `image_vectors[source][purpose]` are its image vectors."""
    concept_vectors = concept_text_vectors(encoder, taxonomy, taxonomy.concepts())
    rows = []
    for source, by_purpose in samples.items():
        queries = encoder.encode_texts([s.caption for s in by_purpose["retrieval"]])
        rows += score_source(method, image_vectors[source], by_purpose, concept_vectors, queries, taxonomy,
                             SPLITS.get(source, f"heldout_{source}"), with_chance)
    return rows


def evaluate_heldout(encoder: VisionLanguageEncoder, sources: list[CaptionSource], taxonomy: Taxonomy,
                     method: str, batch_size: int = 32) -> list[dict]:
    """eval rows for any `encoder` (a CLIP folder, a saved aligner) on the sources' held-out sets,
    encoding the images themselves; with chance levels, without the linear probe (it needs training)."""
    samples, vectors = {}, {}
    for source in sources:
        samples[source.name], vectors[source.name] = {}, {}
        for purpose, pairs in (("zero_shot", source.zero_shot()), ("retrieval", source.retrieval())):
            picked, vecs = encode_pairs(pairs, encoder, batch_size)
            samples[source.name][purpose], vectors[source.name][purpose] = picked, vecs
    return evaluate_encoder(encoder, vectors, samples, taxonomy, method)


def evaluate_probe(probe: LinearProbe, corpus: Corpus, taxonomy: Taxonomy) -> list[dict]:
    """The linear-probe reference on the same held-out sets (retrieval ranks by label likelihood)."""
    rows, concepts = [], taxonomy.concepts()
    for source in sorted({s.source for s in corpus.samples}):
        split = SPLITS.get(source, f"heldout_{source}")
        zs, x_zs = corpus.select(source, "zero_shot")
        rows += _accuracy_rows("linear_probe", probe.concept_scores(x_zs, concepts), zs, concepts, taxonomy,
                               split, with_chance=False)
        ret, x_ret = corpus.select(source, "retrieval")
        rows += _recall_rows("linear_probe", probe.key_scores(x_ret, ret), [s.key for s in ret], split, False)
    return rows


def evaluate_aligner(aligner: LiTAligner, corpus: Corpus, taxonomy: Taxonomy, seed: int) -> list[dict]:
    """eval rows of the trained aligner (from cached tower vectors), the linear probe and chance."""
    sources = sorted({s.source for s in corpus.samples})
    samples, vectors = {}, {}
    for source in sources:
        samples[source], vectors[source] = {}, {}
        for purpose in ("zero_shot", "retrieval"):
            picked, features = corpus.select(source, purpose)
            samples[source][purpose] = picked
            vectors[source][purpose] = aligner.embed_image_features(features)
    rows = evaluate_encoder(aligner, vectors, samples, taxonomy, "lit")
    train, x_train = corpus.select(purpose="train")
    probe = fit_linear_probe(x_train, train, taxonomy, taxonomy.names, seed=seed)
    return rows + evaluate_probe(probe, corpus, taxonomy)


def eval_table(rows: list[dict]) -> pa.Table:
    """The rows as a validated `eval_aligner` table."""
    return get_schema(EVAL_TABLE).from_rows(rows)


def results_markdown(rows: list[dict], loss_curve: Sequence[Sequence[float]] = ()) -> str:
    """Held-out accuracies per aspect and recall@k, one column per method (LiT, linear probe, any
    encoder scored) beside chance, then the loss curve."""
    value = {(r["method"], r["metric"], r["split"], r["detail"]): r["value"] for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows if r["method"] not in ("chance", "data")))
    names = {"lit": "LiT zero-shot", "linear_probe": "linear probe"}
    header = [names.get(m, m) for m in methods]
    lines = []
    for split in sorted({r["split"] for r in rows}):
        details = list(dict.fromkeys(r["detail"] for r in rows
                                     if r["split"] == split and r["metric"] == "accuracy"))
        table = []
        for d in details:
            n = value.get(("data", "images", split, d))
            table.append([d, int(n) if n is not None else None]
                         + [_fmt(value.get((m, "accuracy", split, d))) for m in methods]
                         + [_fmt(value.get(("chance", "accuracy", split, d)))])
        lines += [f"**{split}** — concept classification accuracy per aspect", "",
                  markdown_table(["aspect", "images", *header, "chance"], table)]
        n = value.get(("data", "images", split, "text_to_image"))
        recall = [[k] + [_fmt(value.get((m, f"recall@{k}", split, "text_to_image"))) for m in methods]
                  + [_fmt(value.get(("chance", f"recall@{k}", split, "text_to_image")))] for k in KS]
        lines += ["", f"**{split}** — text→image retrieval among {int(n or 0)} images (recall@k)", "",
                  markdown_table(["k", *header, "chance"], recall), ""]
    if loss_curve:
        stride = max(1, len(loss_curve) // 12)
        picked = list(loss_curve[::stride]) + ([loss_curve[-1]] if (len(loss_curve) - 1) % stride else [])
        lines += ["**Training loss** (symmetric multi-positive InfoNCE, mean over the steps since the row above)",
                  "", markdown_table(["step", "loss"], [[int(s), f"{v:.4f}"] for s, v in picked])]
    return "\n".join(lines) + "\n"


def _fmt(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def update_card(card: str | Path, markdown: str) -> Path:
    """Replace the generated block of the model card (between the results markers) with `markdown`."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    path = Path(card)
    text = path.read_text()
    if start not in text or end not in text:
        raise ValueError(f"model card {str(path)!r} has no {start} … {end} block to update")
    head, rest = text.split(start, 1)
    path.write_text(f"{head}{start}\n{markdown}{end}{rest.split(end, 1)[1]}")
    return path
