"""CLI options generated from a parameters model: names, defaults, lists, `none`, and the model's checks."""

from typing import Annotated, Literal

import pytest
import typer
from pydantic import Field
from typer.testing import CliRunner

from persona_lens.flows.cli_params import stage_options
from persona_lens.tasks.params import ConfigError, StageParams


class ToyParams(StageParams):
    name: str = Field(description="A required-looking argument with a default.")
    mode: Literal["fast", "exact"] = Field("fast", description="How to run.")
    ks: tuple[int, ...] = Field((1, 5), description="Cut-offs.")
    encoder: str | None = Field("enc", description="Optional, `none` skips.")
    scale: float = Field(1.0, gt=0, description="Positive.")
    evaluate: bool = Field(True, description="A switch.")


app = typer.Typer()
seen = {}


@app.command()
@stage_options(ToyParams, arguments=("name",))
def toy(params: ToyParams, extra: Annotated[int, typer.Option(help="The command's own option.")] = 0) -> None:
    seen.update(params=params, extra=extra)


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_every_field_becomes_an_option_with_the_model_s_default():
    res = invoke("me")
    assert res.exit_code == 0, res.output
    assert seen["params"] == ToyParams(name="me") and seen["extra"] == 0


def test_values_lists_switches_and_none_are_parsed_into_the_model():
    res = invoke("me", "--mode", "exact", "--ks", "3", "--ks", "1", "--encoder", "none", "--scale", "2.5",
                 "--no-evaluate", "--extra", "7")
    assert res.exit_code == 0, res.output
    assert seen["params"] == ToyParams(name="me", mode="exact", ks=(3, 1), encoder=None, scale=2.5, evaluate=False)
    assert seen["extra"] == 7


def test_the_model_s_checks_name_the_parameter():
    res = invoke("me", "--scale", "0")
    assert isinstance(res.exception, ConfigError) and "'scale'" in str(res.exception)
    res = invoke("me", "--mode", "slow")
    assert isinstance(res.exception, ConfigError) and "'mode'" in str(res.exception)


@pytest.mark.parametrize("flag", ["--mode", "--ks", "--encoder", "--scale", "--evaluate", "--extra"])
def test_help_lists_each_option(flag):
    assert flag in invoke("--help").output
