"""Aligner flows: train the LiT vision-language aligner reproducibly, save its weights, score it held out.

`train-aligner` renders the captioned corpus (packaged photos and world creatures with known edits),
encodes it once with the frozen image tower, trains the two projection heads, writes the safetensors
file and the `eval_aligner` rows (LiT vs linear probe vs chance), and can refresh the model card.
`eval-aligner` scores any vision-language encoder on the same held-out sets.
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.utilities.annotations import quote

from persona_lens.flows.run_context import stage_run
from persona_lens.tasks.aligner import (EVAL_TABLE, EvalAlignerParams, TrainAlignerParams, build_corpus_task,
                                        evaluate_heldout_task, evaluate_trained_task, results_markdown, save_task,
                                        train_task, update_card, weights_path)


@flow(name="train-aligner")
def train_aligner_flow(params: TrainAlignerParams = TrainAlignerParams(), root: str | None = None,
                       run_id: str | None = None) -> dict:
    """Train the aligner from `params.seed`; write it to `params.out` (default: the cache), its scores to `root`."""
    with stage_run("train-aligner", params, root, run_id) as run:
        cache = run.root.settings.cache_dir
        with run.step("encode_s"):
            corpus = build_corpus_task(params, cache)
        with run.step("train_s"):
            # quote(): Prefect would otherwise walk the thousands of samples looking for futures.
            result = train_task(quote(corpus), params, cache)
        path = save_task(quote(result), quote(corpus), params, weights_path(params, cache))
        table = evaluate_trained_task(quote(result), path, quote(corpus), params, cache)
        run.write(EVAL_TABLE, table, part="aligner")
        markdown = results_markdown(table.to_pylist(), result.loss_curve)
        create_markdown_artifact(key="aligner-results", markdown=markdown, description="Aligner held-out scores")
        if params.card:
            update_card(params.card, markdown)
        images = corpus.summary()["images"]
        run.count(**{k.replace("/", "_"): v for k, v in images.items()})
        return run.result(weights=path, rows=table.num_rows, final_loss=result.loss_curve[-1][1], images=images,
                          seconds={k: round(v, 1) for k, v in {**run.timings, "seconds": run.seconds}.items()})


@flow(name="eval-aligner")
def eval_aligner_flow(params: EvalAlignerParams = EvalAlignerParams(), root: str | None = None,
                      run_id: str | None = None) -> dict:
    """Score any vision-language encoder (`persona-lens-lit`, an aligner file, a CLIP/SigLIP folder) on
    the held-out sets that `train-aligner` with the same seed and counts holds out."""
    with stage_run("eval-aligner", params, root, run_id) as run:
        table = evaluate_heldout_task(params, run.root.settings.cache_dir)
        run.write(EVAL_TABLE, table, part="aligner-eval")
        markdown = results_markdown(table.to_pylist())
        create_markdown_artifact(key="aligner-eval", markdown=markdown, description=f"{params.encoder} held-out scores")
        return run.result(encoder=params.encoder, rows=table.num_rows, markdown=markdown)
