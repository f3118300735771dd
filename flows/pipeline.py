"""The main job: every stage in order on one dataset root, then a summary read back through DuckDB."""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from persona_lens.flows.aligner import eval_aligner_flow
from persona_lens.flows.config import PipelineConfig, parse_config
from persona_lens.flows.describe import describe_flow, eval_describe_flow
from persona_lens.flows.embed import embed_flow
from persona_lens.flows.explain import explain_flow
from persona_lens.flows.generate import generate_flow
from persona_lens.flows.ingest import ingest_flow
from persona_lens.flows.rank import drift_sweep_flow, eval_rank_flow, rank_flow
from persona_lens.flows.reuse import StepCache, run_once
from persona_lens.flows.run_context import stage_run
from persona_lens.flows.world import world_load_flow, world_make_flow
from persona_lens.tasks.aligner import EvalAlignerParams
from persona_lens.tasks.markdown import tables_markdown
from persona_lens.tasks.rank import DriftSweepParams, EvalRankParams, has_rank_queries
from persona_lens.tasks.summary import dataset_summary_task
from persona_lens.tasks.world import WorldLoadParams


@flow(name="persona-lens-pipeline")
def pipeline_flow(root: str | None = None, config: dict | None = None, run_id: str | None = None) -> dict:
    """world (the default data) or sources → ingest → generate → embed → rank (when there are generated
    images of gallery subjects) → explain (every personalized model) → describe (the world's held-out
    viewers, from K examples) → summary."""
    cfg: PipelineConfig = parse_config(config)
    with stage_run("pipeline", cfg, root, run_id) as run:
        at = dict(root=run.root.url, run_id=run.run_id)
        world = None
        if cfg.sources is None:
            with run.step("world"):
                world = world_make_flow(cfg.world)
            with run.step("ingest"):
                world_load_flow(WorldLoadParams(world=world["folder"], batch_size=cfg.ingest_batch_size), **at)
        else:
            with run.step("ingest"):
                for source in cfg.ingest_params():
                    ingest_flow(source, **at)
        if cfg.generate.enabled:
            with run.step("generate"):
                generate_flow(cfg.generate_params(), **at)
        embed = cfg.embed
        rank = cfg.rank.stage_params(embed) if cfg.rank.enabled else None

        def embed_images_and_captions() -> None:
            embed_flow(embed.stage_params(), **at)
            if embed.vl_encoder:
                embed_flow(embed.stage_params(embed.vl_encoder, embed.vl_encoder), **at)

        with run.step("embed"):
            # The rank stage's encoder (the multi-level vector) first: the lite0 and LiT vectors are then
            # derived from its rows (tasks/embed: one network pass per image, not three).
            if rank is not None and rank.encoder not in (embed.encoder, embed.vl_encoder):
                embed_flow(embed.stage_params(rank.encoder, None), **at)
            embed_images_and_captions()
        # The steps below are reused when nothing they read has changed (flows/reuse.py).
        cache = StepCache(run, enabled=cfg.reuse)
        if embed.vl_encoder and embed.evaluate_vl:
            with run.step("eval_aligner"):
                # A quick slice of the held-out sets that train-aligner keeps out (same seed): ~30 s on 2
                # cores. `persona-lens eval-aligner` with its defaults scores the full sets.
                aligner = EvalAlignerParams(encoder=embed.vl_encoder, heldout_views=1, world_heldout=70,
                                            eval_samples=100, runtime=embed.runtime)
                run_once(cache, "eval_aligner", (aligner,), lambda: eval_aligner_flow(aligner, **at))
        if rank is not None and has_rank_queries(run.root):
            with run.step("rank"):
                evaluate = cfg.rank.evaluate and cfg.sources is None

                def rank_and_score() -> None:
                    rank_flow(rank, **at)
                    if evaluate:
                        eval_rank_flow(EvalRankParams(rank_run=run.run_id), **at)
                        if cfg.rank.drift_sweep:
                            drift_sweep_flow(DriftSweepParams(), **at)

                run_once(cache, "rank", (rank, cfg.rank, evaluate), rank_and_score)
        explain = cfg.explain.stage_params(embed) if cfg.explain.enabled else None
        if explain is not None:
            with run.step("explain"):
                run_once(cache, "explain", (explain, cfg.explain),
                         lambda: explain_flow(explain, **at, evaluate=cfg.explain.evaluate))
        if cfg.describe.enabled and world is not None:
            with run.step("describe"):
                def describe_and_score() -> None:
                    describe_flow(cfg.describe.stage_params(world["folder"]), **at)
                    if cfg.describe.evaluate:
                        eval_describe_flow(cfg.describe.eval_params(world["folder"]), **at)
                    # Its captions are texts like the viewers': embedded now, so a re-run finds nothing new.
                    embed_images_and_captions()

                run_once(cache, "describe", (cfg.describe, world["key"]), describe_and_score)
        summary = dataset_summary_task(run.root)
        run.count(**{row["table"]: row["rows"] for row in summary["tables"].to_pylist()})
        create_markdown_artifact(key="pipeline-summary", markdown=tables_markdown(summary), description="Dataset summary")
        return {"run_id": run.run_id, "root": run.root.url, "counts": dict(run.counts),
                "seconds": {k: round(v, 2) for k, v in run.timings.items()}}
