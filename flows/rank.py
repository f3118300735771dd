"""Rank flow (Finer-Personalization Rank): generated images against the identity-labelled gallery.

`rank` fits the identity ranker on the gallery, ranks every personalized image and its base twin, and
writes `rankings` (per query and granularity) and `rank_summary` (per model: mAP, cmc@k, recall@k,
beside CLIP-I and DINO). `eval-rank` scores FPR and the semantic scores against the world's known
identity drift (`eval_rank`). Both read the embeddings of `encoder` and of the semantic encoders: run
the embed stage with them first (the main job does).
"""

from __future__ import annotations

import datetime as dt
import time

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from persona_lens.flows.common import configure_environment, new_run_id, record_run
from persona_lens.storage import open_root, write_part
from persona_lens.tasks.rank.stage import RankParams, rankings_table, summary_markdown, summary_table
from persona_lens.tasks.rank.steps import (EVAL_TABLE, eval_table, evaluate_task, fit_ranker_task,
                                           load_identity_truth, load_rank_data_task, rank_task)
from persona_lens.tasks.summary import to_markdown


def _params(encoder: str, ranker: str, shrinkage: float, ks: list[int], clip_encoder: str | None,
            dino_encoder: str | None) -> RankParams:
    semantic = {name: enc for name, enc in (("clip_i", clip_encoder), ("dino", dino_encoder)) if enc}
    return RankParams(encoder=encoder, ranker=ranker, shrinkage=shrinkage, ks=tuple(ks), semantic=semantic)


@flow(name="rank")
def rank_flow(root: str | None = None, run_id: str | None = None, encoder: str = "efficientnet-lite0-multilevel",
              ranker: str = "lda", shrinkage: float = 0.3, ks: list[int] = [1, 5, 10],  # noqa: B006 (Prefect parameter)
              clip_encoder: str | None = "persona-lens-lit", dino_encoder: str | None = "efficientnet-lite0") -> dict:
    """Rank each generated image (and its base twin) against the gallery at every granularity.

    `encoder`: image features the ranker is fitted on; `ranker`: lda (fitted on gallery identities) or
    raw (the encoder's own cosine); `clip_encoder`/`dino_encoder`: encoders of the semantic scores
    (None skips one).
    """
    configure_environment()
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    params = _params(encoder, ranker, shrinkage, ks, clip_encoder, dino_encoder)
    data = load_rank_data_task(data_root, params)
    fitted = fit_ranker_task(quote(data), params)
    result = rank_task(quote(data), fitted, params)
    rankings, summary = rankings_table(result, params), summary_table(result, params)
    write_part(data_root, "rankings", rankings, run_id, part="rank")
    write_part(data_root, "rank_summary", summary, run_id, part="rank")
    create_markdown_artifact(key="rank-summary", description="Finer-Personalization Rank per model",
                             markdown=summary_markdown(summary))
    counts = {"queries": len(data.queries), "gallery": len(data.gallery), "rankings": rankings.num_rows,
              "rank_summary": summary.num_rows}
    record_run(data_root, "rank", run_id, dict(flow_run.parameters), started,
               {"seconds": time.perf_counter() - t0}, counts, part="rank")
    return {"run_id": run_id, "root": data_root.url, **counts}


@flow(name="eval-rank")
def eval_rank_flow(root: str | None = None, run_id: str | None = None,
                   encoder: str = "efficientnet-lite0-multilevel", ranker: str = "lda", shrinkage: float = 0.3,
                   clip_encoder: str | None = "persona-lens-lit",
                   dino_encoder: str | None = "efficientnet-lite0") -> dict:
    """Score FPR and the semantic scores against the world's known identity drift (eval_rank)."""
    configure_environment()
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    params = _params(encoder, ranker, shrinkage, [1], clip_encoder, dino_encoder)
    truth = load_identity_truth(data_root)
    data = load_rank_data_task(data_root, params)
    fitted = fit_ranker_task(quote(data), params)
    result = rank_task(quote(data), fitted, params)
    rows = evaluate_task(quote(data), fitted, quote(result), truth)
    table = eval_table(rows)
    write_part(data_root, EVAL_TABLE, table, run_id, part="rank-eval")
    create_markdown_artifact(key="rank-eval", markdown=to_markdown({EVAL_TABLE: table}),
                             description="FPR vs CLIP-I vs DINO against the known identity drift")
    record_run(data_root, "eval-rank", run_id, dict(flow_run.parameters), started,
               {"seconds": time.perf_counter() - t0}, {"rows": len(rows)}, part="eval-rank")
    return {"run_id": run_id, "root": data_root.url, "rows": len(rows)}
