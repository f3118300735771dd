"""CLI options generated from a stage's parameters model, so a setting is declared once (tasks/params.py).

    @app.command()
    @stage_options(RankParams)
    def rank(params: RankParams, root: RootOpt = None) -> None: ...

gives `persona-lens rank --encoder … --ranker … --shrinkage … --ks 1 --ks 5 …` with the model's
defaults and descriptions; the values are checked by the model itself (one line naming the parameter).
An optional text parameter takes `none` for None (`--clip-encoder none`); a nested list (groups of
shifts) is given as JSON.
"""

from __future__ import annotations

import functools
import inspect
import json
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

import typer

from persona_lens.tasks.params import ConfigError, StageParams

NONE_WORDS = ("none", "null", "")


def _cli_type(annotation: Any) -> Any:
    """The type typer parses for a field: Literal → str (the model checks the choice), tuple → list."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return type(args[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return Optional[_cli_type(inner[0])] if len(inner) == 1 else str
    if origin in (tuple, list):
        return list[args[0]] if args[0] in SCALARS else str    # nested values are given as JSON
    return annotation


SCALARS = (str, int, float, bool)


def _is_json(annotation: Any) -> bool:
    """A field whose CLI value is JSON text: a list of lists (e.g. groups of shifts)."""
    return _cli_type(annotation) is str and get_origin(annotation) in (tuple, list)


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType) and type(None) in get_args(annotation)


def stage_options(model: type[StageParams], arguments: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Decorate a command taking `params: model`: one option per field (the fields named in `arguments`
    become positional arguments, in that order), parsed into `params`."""

    def decorate(command: Callable) -> Callable:
        own = [p for name, p in inspect.signature(command, eval_str=True).parameters.items() if name != "params"]
        taken = {p.name for p in own}
        fields = {name: f for name, f in model.model_fields.items() if name not in taken}
        options = []
        for name in sorted(fields, key=lambda n: n not in arguments):
            field = fields[name]
            default = list(field.default) if isinstance(field.default, tuple) else field.default
            if _is_json(field.annotation):
                default = json.dumps(field.default)
            if name in arguments:
                option = typer.Argument(help=field.description)
                if field.is_required():
                    default = inspect.Parameter.empty
            else:
                flag = "--" + name.replace("_", "-")
                if field.annotation is bool:
                    flag = f"{flag}/--no-{flag[2:]}"
                option = typer.Option(flag, help=field.description)
            options.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                                             annotation=Annotated[_cli_type(field.annotation), option]))

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in fields}
            for name, value in values.items():
                if _is_json(fields[name].annotation) and isinstance(value, str):
                    try:
                        values[name] = json.loads(value)
                    except json.JSONDecodeError as exc:
                        raise ConfigError(f"parameter {name!r} takes JSON, got {value!r}: {exc.msg}") from exc
                elif _is_optional(fields[name].annotation) and isinstance(value, str) and value.lower() in NONE_WORDS:
                    values[name] = None
            return command(params=model.parse(values), **kwargs)

        # Positional arguments first (a required one cannot follow an optional one in a signature).
        params = sorted(options, key=lambda p: p.name not in arguments)
        run.__signature__ = inspect.Signature(
            params[:len(arguments)] + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
            + params[len(arguments):])
        return run

    return decorate
