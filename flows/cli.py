"""`persona-lens`: the command line. Each stage command runs the stage's flow with the same parameters.

Errors end as one line on stderr and a non-zero exit; set PERSONA_LENS_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from persona_lens.flows.cli_params import stage_options
from persona_lens.flows.sql_cli import KNOWN_ERRORS, RootOpt, _rich_table, run_guarded, sql
from persona_lens.flows.run_context import configure_environment
from persona_lens.tasks.aligner.params import EvalAlignerParams, TrainAlignerParams
from persona_lens.tasks.deper.params import DescribeParams, EvalDescribeParams, TrainCaptionerParams, TrainDeperParams
from persona_lens.tasks.embed.params import EmbedParams
from persona_lens.tasks.finexl.params import EvalExplainParams, ExplainParams, TrainExplainerParams
from persona_lens.tasks.generate.params import DrawParams, GenerateJobParams, GenerateParams
from persona_lens.tasks.ingest.params import IngestParams
from persona_lens.tasks.rank.params import DriftSweepParams, EvalRankParams, RankParams
from persona_lens.tasks.world.params import WorldLoadParams, WorldMakeParams

configure_environment()  # before Prefect or transformers are imported

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Persona Lens: how a personalized image model is personalized, measured.")


def _print_tables(tables: dict) -> None:
    from rich.console import Console

    console = Console()
    for name, table in tables.items():
        console.print(_rich_table(table, title=name.replace("_", " ")))


@app.command()
def run(root: RootOpt = None,
        config: Annotated[Optional[Path], typer.Option("--config", help="YAML/JSON pipeline config.")] = None) -> None:
    """Run the main job: the whole pipeline (on the embedded default data unless the config names sources)."""
    from persona_lens.flows.config import load_config
    from persona_lens.flows.pipeline import pipeline_flow
    from persona_lens.storage import open_root
    from persona_lens.tasks.summary import dataset_summary

    cfg = load_config(config).model_dump() if config else None
    result = pipeline_flow(root=root, config=cfg)
    data_root = open_root(result["root"])
    _print_tables(dataset_summary(data_root))
    typer.echo(f"\nrun {result['run_id']} finished in {sum(result['seconds'].values()):.1f} s "
               f"({', '.join(f'{k} {v:.1f} s' for k, v in result['seconds'].items())})")
    typer.echo(f"results: {data_root.uri('tables')}  (shards: {data_root.uri('shards')})")
    typer.echo(f"query them: persona-lens sql \"SELECT * FROM images LIMIT 5\" --root {data_root.uri()}")


@app.command()
@stage_options(IngestParams, arguments=("source",))
def ingest(params: IngestParams, root: RootOpt = None) -> None:
    """Ingest images: validate, hash, dedupe, shard; bad items go to the quarantine table."""
    from persona_lens.flows.ingest import ingest_flow

    typer.echo(json.dumps(ingest_flow(params, root=root), indent=2))


@app.command()
@stage_options(EmbedParams)
def embed(params: EmbedParams, root: RootOpt = None) -> None:
    """Embed every image (and caption text) not yet embedded by this encoder."""
    from persona_lens.flows.embed import embed_flow

    typer.echo(json.dumps(embed_flow(params, root=root), indent=2, default=str))


world_app = typer.Typer(no_args_is_help=True, help="The synthetic world: render one, load one into a dataset root.")
app.add_typer(world_app, name="world")


@world_app.command("make")
@stage_options(WorldMakeParams)
def world_make(params: WorldMakeParams) -> None:
    """Render a world: images, role manifests and truth tables in one folder (reused if identical)."""
    from persona_lens.flows.world import world_make_flow

    typer.echo(json.dumps(world_make_flow(params), indent=2))


@world_app.command("load")
@stage_options(WorldLoadParams, arguments=("world",))
def world_load(params: WorldLoadParams, root: RootOpt = None) -> None:
    """Ingest a rendered world's images and write its truth tables into the dataset root."""
    from persona_lens.flows.world import world_load_flow
    from persona_lens.world.make import read_world

    read_world(params.world)  # a folder that is no world fails here, before a flow run starts
    typer.echo(json.dumps(world_load_flow(params, root=root), indent=2))


app.command()(sql)  # flows/sql_cli.py: it imports no stage, so `persona-lens sql` starts fast (flows/entry.py)



@app.command()
@stage_options(GenerateParams)
def generate(params: GenerateParams, root: RootOpt = None,
             job: Annotated[Optional[Path], typer.Option("--job", help="A personalization job YAML file: run it "
                                                           "instead of the default set (resumes from its checkpoints).")] = None,
             model: Annotated[Optional[str], typer.Option("--model", help="The generator folder (a diffusers pipeline "
                                                          "or a DCGAN weights folder); without --job: draw it, train nothing.")] = None,
             prompts: Annotated[Optional[Path], typer.Option("--prompts", help="A prompts YAML file (replaces a job's "
                                                             "prompts; without --job: the prompts to draw).")] = None,
             adapter: Annotated[Optional[Path], typer.Option("--adapter", help="Without --job: a trained adapter of "
                                                             "--model; its twins are drawn beside the base outputs.")] = None,
             seeds: Annotated[Optional[str], typer.Option("--seeds", help="Without --job: seeds to draw, comma-separated "
                                                          "(every prompt with every seed).")] = None) -> None:
    """Personalize a generator on subjects' references; draw base/personalized twins (generations, adapters).

    With --model/--prompts/--adapter and no --job, nothing is trained: the model's outputs (and the
    adapter's twins) for those prompts and seeds go into the tables like any generated images.
    """
    from persona_lens.flows.generate import generate_draw_flow, generate_flow, generate_job_flow

    if job is not None:
        if adapter or seeds:
            raise typer.BadParameter("--adapter and --seeds draw without training: drop --job, or set them in the job")
        params_ = GenerateJobParams.parse(job=str(job), model=model, prompts=str(prompts) if prompts else None)
        result = generate_job_flow(params_, root=root)
    elif model or prompts or adapter or seeds:
        fields = {"model": model, "prompts": str(prompts) if prompts else None,
                  "adapter": str(adapter) if adapter else None,
                  "seeds": _int_list("--seeds", seeds) if seeds else None}
        result = generate_draw_flow(DrawParams.parse(**{k: v for k, v in fields.items() if v is not None}), root=root)
    else:
        result = generate_flow(params, root=root)
    typer.echo(json.dumps(result, indent=2, default=str))


def _int_list(option: str, text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError as exc:
        raise typer.BadParameter(f"{option} takes comma-separated integers, got {text!r}") from exc


@app.command()
@stage_options(DescribeParams)
def describe(params: DescribeParams, root: RootOpt = None) -> None:
    """DEPER: personalize held-out viewers from K examples each; personas, captions and caption_scores."""
    from persona_lens.flows.describe import describe_flow

    typer.echo(json.dumps(describe_flow(params, root=root), indent=2, default=str))


@app.command("train-captioner")
@stage_options(TrainCaptionerParams)
def train_captioner(params: TrainCaptionerParams, root: RootOpt = None) -> None:
    """Train the frozen captioner DEPER personalizes (its mapping network and small language model)."""
    from persona_lens.flows.describe import train_captioner_flow

    typer.echo(json.dumps(train_captioner_flow(params, root=root), indent=2, default=str))


@app.command("train-deper")
@stage_options(TrainDeperParams)
def train_deper(params: TrainDeperParams, root: RootOpt = None) -> None:
    """Train DEPER's persona encoder, trajectory decoder and adapter (and the style-only baseline)."""
    from persona_lens.flows.describe import train_deper_flow

    typer.echo(json.dumps(train_deper_flow(params, root=root), indent=2, default=str))


@app.command("eval-describe")
@stage_options(EvalDescribeParams)
def eval_describe(params: EvalDescribeParams, root: RootOpt = None) -> None:
    """Frozen captioner vs style-only persona vs DEPER on held-out viewers (eval_describe)."""
    from persona_lens.flows.describe import eval_describe_flow

    typer.echo(json.dumps(eval_describe_flow(params, root=root), indent=2, default=str))


@app.command("train-aligner")
@stage_options(TrainAlignerParams)
def train_aligner(params: TrainAlignerParams, root: RootOpt = None) -> None:
    """Train the LiT vision-language aligner (frozen towers, trained heads); write weights and eval_aligner."""
    from persona_lens.flows.aligner import train_aligner_flow

    typer.echo(json.dumps(train_aligner_flow(params, root=root), indent=2, default=str))


@app.command("eval-aligner")
@stage_options(EvalAlignerParams, arguments=("encoder",))
def eval_aligner(params: EvalAlignerParams, root: RootOpt = None) -> None:
    """Score a vision-language encoder on the aligner's held-out photos and world images."""
    from persona_lens.flows.aligner import eval_aligner_flow

    result = eval_aligner_flow(params, root=root)
    typer.echo(result.pop("markdown"))
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
@stage_options(RankParams)
def rank(params: RankParams, root: RootOpt = None,
         evaluate: Annotated[bool, typer.Option(help="Also score it against the world's known identity drift.")] = False) -> None:
    """Finer-Personalization Rank: generated images against the identity-labelled gallery (rankings, rank_summary)."""
    from persona_lens.flows.rank import eval_rank_flow, rank_flow

    result = rank_flow(params, root=root)
    if evaluate:
        result["eval"] = eval_rank_flow(EvalRankParams(rank_run=result["run_id"]), root=root, run_id=result["run_id"])
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command("drift-sweep")
@stage_options(DriftSweepParams)
def drift_sweep(params: DriftSweepParams, root: RootOpt = None) -> None:
    """Graded identity drift per subject: within-subject Spearman of FPR, CLIP-I and DINO (eval_rank)."""
    from persona_lens.flows.rank import drift_sweep_flow

    typer.echo(json.dumps(drift_sweep_flow(params, root=root), indent=2, default=str))


@app.command()
@stage_options(ExplainParams)
def explain(params: ExplainParams, root: RootOpt = None,
            base: Annotated[Optional[Path], typer.Option("--base", help="A folder of the base model's pictures: "
                                                         "explain it against --personalized, paired by file name "
                                                         "(no dataset root is read or written).")] = None,
            personalized: Annotated[Optional[Path], typer.Option("--personalized", help="The personalized "
                                                                 "model's pictures for --base.")] = None,
            fmt: Annotated[str, typer.Option("--format", help="json or text.")] = "json",
            evaluate: Annotated[bool, typer.Option(help="Score models with a known truth (eval_explain).")] = True) -> None:
    """FineXL: each aspect of a personalization named, with its intensity (explanations, or --base/--personalized)."""
    if fmt not in ("json", "text"):
        raise typer.BadParameter(f"--format must be json or text, got {fmt!r}")
    if (base is None) != (personalized is None):
        raise typer.BadParameter("--base and --personalized go together")
    if base is not None:
        from persona_lens.tasks.finexl import explain_folders
        from persona_lens.tasks.finexl.report import explanation_text

        explanation, quarantined = explain_folders(base, personalized, params)
        for row in quarantined:
            typer.echo(f"skipped {row['source']}: {row['reason']} ({row['detail']})", err=True)
        out = explanation.to_json()
        typer.echo(json.dumps({"aspects": out["aspects"], "summary": out["summary"]}, indent=2)
                   if fmt == "json" else explanation_text(explanation))
        return
    from persona_lens.flows.explain import explain_flow

    result = explain_flow(params, root=root, evaluate=evaluate)
    if fmt == "text":
        from persona_lens.storage import Catalog, open_root

        with Catalog(open_root(result["root"])) as catalog:
            rows = catalog.query("SELECT model_id, text FROM explanations WHERE run_id = ? AND aspect = 'summary' "
                                 "ORDER BY model_id", [result["run_id"]]).to_pylist()
        for r in rows:
            typer.echo(f"{r['model_id']}: {r['text']}")
    else:
        typer.echo(json.dumps(result, indent=2, default=str))


@app.command("train-explainer")
@stage_options(TrainExplainerParams)
def train_explainer(params: TrainExplainerParams, root: RootOpt = None) -> None:
    """Fit a FineXL explainer on the synthetic world's training profiles (safetensors file for explain)."""
    from persona_lens.flows.explain import train_explainer_flow

    typer.echo(json.dumps(train_explainer_flow(params, root=root), indent=2, default=str))


@app.command("eval-explain")
@stage_options(EvalExplainParams)
def eval_explain(params: EvalExplainParams, root: RootOpt = None) -> None:
    """FineXL and its baselines fitted on training worlds, scored on held-out worlds and photos (eval_explain)."""
    from persona_lens.flows.explain import eval_explain_flow

    typer.echo(json.dumps(eval_explain_flow(params, root=root), indent=2, default=str))


def _with_temporary_api(command):
    """`command` run inside one temporary Prefect server (unless PREFECT_API_URL names one), stopped when
    it ends and gone even after a kill -9 (flows/api_server.py). Wrapping the command's body, not the
    group, means `--help` and bad options start nothing."""

    @functools.wraps(command)
    def run_with_api(*args, **kwargs):
        from persona_lens.flows.api_server import temporary_api

        with temporary_api():
            return command(*args, **kwargs)

    return run_with_api


#: Commands that run no flow, so need no Prefect API.
NO_FLOW_COMMANDS = (sql,)
# Last, once every command is registered.
for _info in [*app.registered_commands, *world_app.registered_commands]:
    if _info.callback not in NO_FLOW_COMMANDS:
        _info.callback = _with_temporary_api(_info.callback)


class _NoKnownTracebacks(logging.Filter):
    """Drops the traceback from Prefect's log record of a task or flow that failed with one of our own
    errors: its message already names the problem in one line, and the CLI ends with that line again
    (`error: …`). Other exceptions keep their traceback; PERSONA_LENS_DEBUG=1 keeps every one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in KNOWN_ERRORS and not os.environ.get("PERSONA_LENS_DEBUG"):
            record.exc_info, record.exc_text = None, None
        return True


def quiet_known_tracebacks() -> None:
    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoKnownTracebacks) for f in logger.filters):
            logger.addFilter(_NoKnownTracebacks())


def main() -> None:
    """Console-script entry point (flows/entry.py sends `sql` to flows/sql_cli.py without this module)."""
    quiet_known_tracebacks()
    run_guarded(app)


if __name__ == "__main__":
    main()
