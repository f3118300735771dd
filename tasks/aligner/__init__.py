"""The aligner stage: captioned corpus (photos and world, with known edits), contrastive training of the
LiT heads on cached tower vectors, held-out evaluation against a linear probe (docs/models/aligner.md).

The entry point of flows/aligner.py: the tasks below load the frozen towers through the registry and
call the plain functions of train.py, scoring.py and dataset.py.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from persona_lens.models.aligner import ALIGNER_NAME, AlignerConfig, save_aligner
from persona_lens.models.registry import aligner_from_heads, load_image_encoder, load_text_encoder, load_vl_encoder
from persona_lens.tasks.aligner.dataset import Corpus, build_corpus
from persona_lens.tasks.aligner.params import EvalAlignerParams, TrainAlignerParams
from persona_lens.tasks.aligner.scoring import (EVAL_TABLE, eval_table, evaluate_aligner, evaluate_heldout,
                                                results_markdown, update_card)
from persona_lens.tasks.aligner.train import TrainResult, TrainSpec, train_on_corpus, training_metadata
from persona_lens.tasks.aligner.world_source import make_sources
from persona_lens.world.taxonomy import load_taxonomy

__all__ = ["EVAL_TABLE", "EvalAlignerParams", "TrainAlignerParams", "build_corpus_task", "eval_table", "weights_path",
           "evaluate_heldout_task", "evaluate_trained_task", "results_markdown", "save_task", "train_task",
           "update_card"]


def weights_path(params: TrainAlignerParams, cache_dir: str | Path) -> str:
    """Where the trained heads go: `params.out`, else the cache (the committed file is never overwritten)."""
    return params.out or str(Path(cache_dir) / "aligner" / f"{ALIGNER_NAME}-seed{params.seed}.safetensors")


@task(cache_policy=NO_CACHE)
def build_corpus_task(params: TrainAlignerParams, cache_dir: str | Path) -> Corpus:
    """Render every captioned image once and encode it with the frozen image tower."""
    spec = params.corpus_spec(params.photo_samples, params.world_samples)
    tower = load_image_encoder(params.image_tower, runtime=params.runtime, cache_dir=cache_dir)
    return build_corpus(make_sources(spec, load_taxonomy()), tower)


@task(cache_policy=NO_CACHE)
def train_task(corpus: Corpus, params: TrainAlignerParams, cache_dir: str | Path) -> TrainResult:
    """Train the projection heads contrastively on the cached tower vectors."""
    config = AlignerConfig(image_tower=params.image_tower, image_dim=corpus.dim, dim=params.dim, hidden=params.hidden)
    spec = TrainSpec(seed=params.seed, steps=params.steps, batch_size=params.batch_size, lr=params.lr)
    return train_on_corpus(corpus, load_text_encoder(config.text_tower, cache_dir=cache_dir), config, spec)


@task(cache_policy=NO_CACHE)
def save_task(result: TrainResult, corpus: Corpus, params: TrainAlignerParams, out: str) -> str:
    """Write the heads and their training description as one safetensors file."""
    spec = params.corpus_spec(params.photo_samples, params.world_samples)
    return str(save_aligner(result.heads, out, training_metadata(corpus, result, spec, load_taxonomy())))


@task(cache_policy=NO_CACHE)
def evaluate_trained_task(result: TrainResult, weights: str, corpus: Corpus, params: TrainAlignerParams,
                          cache_dir: str | Path) -> pa.Table:
    """Score the trained aligner, the linear probe and chance on the held-out sets (eval_aligner rows)."""
    aligner = aligner_from_heads(result.heads, weights, runtime=params.runtime, cache_dir=cache_dir)
    return eval_table(evaluate_aligner(aligner, corpus, load_taxonomy(), params.seed))


@task(cache_policy=NO_CACHE)
def evaluate_heldout_task(params: EvalAlignerParams, cache_dir: str | Path) -> pa.Table:
    """Score the vision-language encoder `params.encoder` on the held-out sets (eval_aligner rows)."""
    model = load_vl_encoder(params.encoder, runtime=params.runtime, cache_dir=cache_dir)
    taxonomy = load_taxonomy()
    return eval_table(evaluate_heldout(model, make_sources(params.corpus_spec(), taxonomy), taxonomy, model.name))
