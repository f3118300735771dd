"""`persona-lens`: the command line. Each stage command runs the stage's flow with the same parameters.

Errors end as one line on stderr and a non-zero exit; set PERSONA_LENS_DEBUG=1 for the traceback.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from persona_lens.flows.common import configure_environment

configure_environment()  # before Prefect or transformers are imported

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Persona Lens: how a personalized image model is personalized, measured.")

RootOpt = Annotated[Optional[str], typer.Option("--root", help="Dataset root (path or s3://bucket/prefix); "
                                                "default $PERSONA_LENS_ROOT, else ./data.")]


def _print_tables(tables: dict) -> None:
    from rich.console import Console

    console = Console()
    for name, table in tables.items():
        console.print(_rich_table(table, title=name.replace("_", " ")))


def _rich_table(table, title: str | None = None):
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for col in table.column_names:
        out.add_column(col)
    for row in table.to_pylist():
        out.add_row(*("" if v is None else str(v) for v in row.values()))
    return out


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
def ingest(source: Annotated[str, typer.Argument(help="Folder, manifest (.csv/.parquet), shards (.tar), or s3:// prefix.")],
           root: RootOpt = None,
           role: Annotated[str, typer.Option(help="reference, gallery, generated, scene, …")] = "gallery",
           labels: Annotated[Optional[str], typer.Option(help="Label level names, e.g. category,subclass,instance.")] = None,
           batch_size: Annotated[int, typer.Option(min=1, help="Images per batch (and per shard).")] = 256) -> None:
    """Ingest images: validate, hash, dedupe, shard; bad items go to the quarantine table."""
    from persona_lens.flows.ingest import ingest_flow

    levels = [s.strip() for s in labels.split(",") if s.strip()] if labels else None
    summary = ingest_flow(source, root=root, role=role, labels=levels, batch_size=batch_size)
    typer.echo(json.dumps(summary, indent=2))


@app.command()
def embed(root: RootOpt = None,
          encoder: Annotated[str, typer.Option(help="Image encoder name or local model folder.")] = "efficientnet-lite0",
          text_encoder: Annotated[Optional[str], typer.Option(help="Text encoder name or folder; 'none' to skip.")] = "all-minilm-l6-v2",
          batch_size: Annotated[int, typer.Option(min=1)] = 32,
          runtime: Annotated[str, typer.Option(help="auto, torch or onnxruntime.")] = "auto") -> None:
    """Embed every image (and caption text) not yet embedded by this encoder."""
    from persona_lens.flows.embed import embed_flow

    text = None if text_encoder in (None, "", "none") else text_encoder
    summary = embed_flow(root=root, encoder=encoder, text_encoder=text, batch_size=batch_size, runtime=runtime)
    typer.echo(json.dumps(summary, indent=2, default=str))


world_app = typer.Typer(no_args_is_help=True, help="The synthetic world: render one, load one into a dataset root.")
app.add_typer(world_app, name="world")


@world_app.command("make")
def world_make(size: Annotated[str, typer.Option(help="small (tests, < 1 min), medium or large.")] = "small",
               seed: Annotated[int, typer.Option(help="Everything in the world follows from it.")] = 0,
               out: Annotated[Optional[str], typer.Option(help="Folder to render into (default: the cache).")] = None,
               workers: Annotated[int, typer.Option(min=1, help="Render processes (the bytes do not depend on it).")] = 1) -> None:
    """Render a world: images, role manifests and truth tables in one folder (reused if identical)."""
    from persona_lens.flows.world import world_make_flow
    from persona_lens.world.spec import world_spec

    world_spec(size, seed)  # a bad size fails here, before a flow run starts
    typer.echo(json.dumps(world_make_flow(size=size, seed=seed, out=out, workers=workers), indent=2))


@world_app.command("load")
def world_load(world: Annotated[str, typer.Argument(help="A folder rendered by `persona-lens world make`.")],
               root: RootOpt = None,
               batch_size: Annotated[int, typer.Option(min=1, help="Images per ingest batch.")] = 256) -> None:
    """Ingest a rendered world's images and write its truth tables into the dataset root."""
    from persona_lens.flows.world import world_load_flow
    from persona_lens.world.make import read_world

    read_world(world)  # a folder that is no world fails here, before a flow run starts
    typer.echo(json.dumps(world_load_flow(world, root=root, batch_size=batch_size), indent=2))


def _param_value(text: str):
    """Bound parameters arrive as text; numbers are bound as numbers so comparisons type-check."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


@app.command()
def sql(query: Annotated[str, typer.Argument(help="SQL over the table views, or @name for queries/<name>.sql.")],
        root: RootOpt = None,
        param: Annotated[Optional[list[str]], typer.Option("--param", "-p", help="Value for a `?` placeholder (repeat in order).")] = None,
        named: Annotated[Optional[list[str]], typer.Option("--named", "-n", help="NAME=VALUE for a `$NAME` placeholder.")] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")] = "table",
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None) -> None:
    """Query the dataset with DuckDB; parameters are bound, never pasted into the SQL."""
    from persona_lens.queries import load
    from persona_lens.storage import Catalog, open_root

    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter(f"--format must be table, csv, json or parquet, got {fmt!r}")
    if param and named:
        raise typer.BadParameter("use either --param (for ?) or --named (for $name), not both")
    if fmt == "parquet" and output is None:
        raise typer.BadParameter("--format parquet needs --output FILE")
    params: list | dict | None = [_param_value(p) for p in param] if param else None
    if named:
        pairs = [n.split("=", 1) for n in named]
        if any(len(p) != 2 or not p[0] for p in pairs):
            raise typer.BadParameter(f"--named takes NAME=VALUE, got {named!r}")
        params = {k: _param_value(v) for k, v in pairs}
    text = load(query[1:]) if query.startswith("@") else query
    with Catalog(open_root(root)) as catalog:
        table = catalog.query(text, params)
    _write_result(table, fmt, output)


def _write_result(table, fmt: str, output: Path | None) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if fmt == "parquet":
        pq.write_table(table, output)
        return
    if fmt == "csv":
        if output:
            pacsv.write_csv(table, output)
        else:
            pacsv.write_csv(table, sys.stdout.buffer)
        return
    if fmt == "json":
        text = json.dumps(table.to_pylist(), indent=2, default=str)
    else:
        from rich.console import Console

        if output is None:
            Console().print(_rich_table(table))
            return
        with output.open("w") as f:
            Console(file=f, width=200).print(_rich_table(table))
        return
    if output:
        output.write_text(text + "\n")
    else:
        typer.echo(text)


@app.command("train-aligner")
def train_aligner(seed: Annotated[int, typer.Option(help="Everything (data, held-out split, weights) follows from it.")] = 0,
                  steps: Annotated[int, typer.Option(min=1, help="Optimisation steps.")] = 3000,
                  photo_samples: Annotated[int, typer.Option(min=0, help="Training images from packaged photos.")] = 4000,
                  world_samples: Annotated[int, typer.Option(min=0, help="Training images from the world.")] = 3000,
                  world_size: Annotated[str, typer.Option(help="World preset (small, medium, large), or none.")] = "medium",
                  image_tower: Annotated[str, typer.Option(help="Frozen image tower: a registry image encoder.")] = "efficientnet-lite0-multilevel",
                  out: Annotated[Optional[str], typer.Option(help="Weights file to write (default: the cache).")] = None,
                  root: RootOpt = None,
                  card: Annotated[Optional[str], typer.Option(help="Model card whose results block to rewrite.")] = None) -> None:
    """Train the LiT vision-language aligner (frozen towers, trained heads); write weights and eval_aligner."""
    from persona_lens.flows.aligner import train_aligner_flow

    result = train_aligner_flow(seed=seed, steps=steps, photo_samples=photo_samples, world_samples=world_samples,
                                world_size=None if world_size == "none" else world_size, image_tower=image_tower,
                                out=out, root=root, card=card)
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command("eval-aligner")
def eval_aligner(encoder: Annotated[str, typer.Argument(help="persona-lens-lit, an aligner .safetensors file, or a CLIP/SigLIP folder.")] = "persona-lens-lit",
                 seed: Annotated[int, typer.Option(help="The training seed whose held-out split to score on.")] = 0,
                 world_size: Annotated[str, typer.Option(help="World preset (small, medium, large), or none.")] = "medium",
                 root: RootOpt = None) -> None:
    """Score a vision-language encoder on the aligner's held-out photos and world images."""
    from persona_lens.flows.aligner import eval_aligner_flow

    result = eval_aligner_flow(encoder=encoder, seed=seed, world_size=None if world_size == "none" else world_size,
                               root=root)
    typer.echo(result.pop("markdown"))
    typer.echo(json.dumps(result, indent=2, default=str))


@app.command()
def rank(root: RootOpt = None,
         encoder: Annotated[str, typer.Option(help="Image features the identity ranker is fitted on (embed them first).")] = "efficientnet-lite0-multilevel",
         ranker: Annotated[str, typer.Option(help="lda (fitted on the gallery's identities) or raw (the encoder's cosine).")] = "lda",
         shrinkage: Annotated[float, typer.Option(min=0.0, max=1.0, help="LDA covariance shrinkage in (0, 1].")] = 0.3,
         clip_encoder: Annotated[str, typer.Option(help="Encoder of the CLIP-I score, or none.")] = "persona-lens-lit",
         dino_encoder: Annotated[str, typer.Option(help="Encoder of the DINO-style score, or none.")] = "efficientnet-lite0",
         evaluate: Annotated[bool, typer.Option(help="Also score it against the world's known identity drift.")] = False) -> None:
    """Finer-Personalization Rank: generated images against the identity-labelled gallery (rankings, rank_summary)."""
    from persona_lens.flows.rank import eval_rank_flow, rank_flow

    features = dict(root=root, encoder=encoder, ranker=ranker, shrinkage=shrinkage,
                    clip_encoder=None if clip_encoder == "none" else clip_encoder,
                    dino_encoder=None if dino_encoder == "none" else dino_encoder)
    result = rank_flow(**features)
    if evaluate:
        result["eval"] = eval_rank_flow(run_id=result["run_id"], **features)
    typer.echo(json.dumps(result, indent=2, default=str))


def main() -> None:
    """Console-script entry point: one clear line for every error, never a traceback by default."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # the CLI's last line of defence: everything becomes one line
        if os.environ.get("PERSONA_LENS_DEBUG"):
            raise
        typer.echo(f"error: {_one_line(exc)}", err=True)
        sys.exit(2)


def _one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    known = ("SchemaError", "SourceError", "StorageError", "QueryError", "ModelError", "ConfigError", "BadImage",
             "WorldError", "TaxonomyError", "RankError")
    return msg if exc.__class__.__name__ in known else f"{exc.__class__.__name__}: {msg}"


if __name__ == "__main__":
    main()
