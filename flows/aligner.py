"""Aligner flow: train the LiT vision-language aligner reproducibly, save its weights, score it held out.

`train-aligner` renders the captioned corpus (packaged photos and world creatures with known edits),
encodes it once with the frozen image tower, trains the two projection heads, writes the safetensors
file and the `eval_aligner` rows (LiT vs linear probe vs chance), and can refresh the model card.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run
from prefect.utilities.annotations import quote

from persona_lens.flows.common import configure_environment, new_run_id, record_run
from persona_lens.models.aligner import ALIGNER_NAME, AlignerConfig, LiTAligner
from persona_lens.storage import get_settings, open_root, write_part
from persona_lens.tasks.aligner.dataset import CorpusSpec
from persona_lens.tasks.aligner.steps import (
    EVAL_TABLE, build_corpus_task, eval_table, evaluate_heldout_task, evaluate_task, results_markdown, save_task,
    train_task,
    training_metadata, update_card,
)
from persona_lens.tasks.aligner.train import TrainSpec
from persona_lens.world.taxonomy import load_taxonomy


@flow(name="train-aligner")
def train_aligner_flow(seed: int = 0, steps: int = 3000, photo_samples: int = 4000, world_samples: int = 3000,
                       world_size: str | None = "medium", heldout_photos: int = 5, heldout_views: int = 3,
                       world_heldout: int = 440, eval_samples: int = 300, batch_size: int = 256, dim: int = 256,
                       hidden: int = 0, lr: float = 1e-3, image_tower: str = "efficientnet-lite0-multilevel",
                       runtime: str = "auto", out: str | None = None, root: str | None = None, card: str | None = None,
                       run_id: str | None = None) -> dict:
    """Train the aligner from `seed`; write it to `out` (default: the cache) and its scores to `root`.

    `photo_samples`/`world_samples`: training images per source (world_size None: photos only).
    Held out: `heldout_photos` whole photo subjects, each seen in `heldout_views` random views with
    every edit concept; `world_heldout` world images of held-out creatures, each with one edit concept
    (in turn); `eval_samples` retrieval images per source.
    `image_tower`: any registry image encoder; `runtime` its runtime ("auto" = ONNX Runtime).
    `card`: a model card whose results block is rewritten with this run's numbers.
    """
    configure_environment()
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    taxonomy = load_taxonomy()
    corpus_spec = CorpusSpec(seed=seed, photo_train=photo_samples, heldout_photos=heldout_photos,
                             photo_zero_shot_views=heldout_views, photo_retrieval=eval_samples,
                             world_size=world_size, world_train=world_samples, world_zero_shot=world_heldout,
                             world_retrieval=eval_samples)
    train_spec = TrainSpec(seed=seed, steps=steps, batch_size=batch_size, lr=lr)
    out = out or str(Path(get_settings().cache_dir) / "aligner" / f"{ALIGNER_NAME}-seed{seed}.safetensors")
    corpus = build_corpus_task(corpus_spec, taxonomy, image_tower, runtime)
    config = AlignerConfig(image_tower=image_tower, image_dim=corpus.dim, dim=dim, hidden=hidden)
    # quote(): Prefect would otherwise walk the thousands of samples looking for futures.
    result = train_task(quote(corpus), config, train_spec)
    path = save_task(result, out, training_metadata(corpus, result, corpus_spec, taxonomy))
    rows = evaluate_task(LiTAligner(result.heads, path), quote(corpus), taxonomy, seed)
    write_part(data_root, EVAL_TABLE, eval_table(rows), run_id, part="aligner")
    markdown = results_markdown(rows, result.loss_curve)
    create_markdown_artifact(key="aligner-results", markdown=markdown, description="Aligner held-out scores")
    if card:
        update_card(card, markdown)
    seconds = {"encode_s": corpus.seconds, "train_s": result.seconds, "seconds": time.perf_counter() - t0}
    counts = {k.replace("/", "_"): v for k, v in corpus.summary()["images"].items()}
    record_run(data_root, "train-aligner", run_id, {**flow_run.parameters, "out": path}, started, seconds,
               counts)
    return {"run_id": run_id, "root": data_root.url, "weights": path, "rows": len(rows),
            "final_loss": result.loss_curve[-1][1], "images": corpus.summary()["images"],
            "seconds": {k: round(v, 1) for k, v in seconds.items()}}


@flow(name="eval-aligner")
def eval_aligner_flow(encoder: str = ALIGNER_NAME, seed: int = 0, heldout_photos: int = 5,
                      heldout_views: int = 3,                      world_size: str | None = "medium", world_heldout: int = 440, eval_samples: int = 300,
                      runtime: str = "auto", root: str | None = None, run_id: str | None = None) -> dict:
    """Score any vision-language encoder (`persona-lens-lit`, an aligner file, a CLIP/SigLIP folder) on
    the held-out sets that `train-aligner` with the same `seed` and counts holds out."""
    configure_environment()
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    run_id = run_id or new_run_id()
    data_root = open_root(root).ensure()
    spec = CorpusSpec(seed=seed, photo_train=0, heldout_photos=heldout_photos,
                      photo_zero_shot_views=heldout_views,                      photo_retrieval=eval_samples, world_size=world_size, world_train=0,
                      world_zero_shot=world_heldout, world_retrieval=eval_samples)
    rows = evaluate_heldout_task(encoder, spec, load_taxonomy(), runtime)
    write_part(data_root, EVAL_TABLE, eval_table(rows), run_id, part="aligner-eval")
    markdown = results_markdown(rows)
    create_markdown_artifact(key="aligner-eval", markdown=markdown, description=f"{encoder} held-out scores")
    record_run(data_root, "eval-aligner", run_id, dict(flow_run.parameters), started,
               {"seconds": time.perf_counter() - t0}, {"rows": len(rows)}, part="eval-aligner")
    return {"run_id": run_id, "root": data_root.url, "encoder": encoder, "rows": len(rows),
            "markdown": markdown}
