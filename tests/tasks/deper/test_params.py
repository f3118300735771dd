"""Describe-stage parameters: defaults point at the committed weights; bad values name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from persona_lens.tasks.deper import DescribeParams, EvalDescribeParams, TrainCaptionerParams, TrainDeperParams
from persona_lens.tasks.params import ConfigError


def test_defaults_point_at_the_committed_weights():
    p = EvalDescribeParams()
    assert Path(p.captioner).name == "deper-captioner-small" and p.ks == (1, 3, 5, 10)
    assert Path(TrainDeperParams().deper_out).name == "deper-persona.safetensors"


@pytest.mark.parametrize("cls, field, value", [
    (TrainCaptionerParams, "steps", 0), (TrainCaptionerParams, "inventory_rate", 1.0), (TrainDeperParams, "variant", "mixed"),
    (EvalDescribeParams, "ks", (0, 5)), (DescribeParams, "k", 0), (DescribeParams, "world_size", "huge"),
])
def test_bad_value_raises_config_error_naming_the_field(cls, field, value):
    with pytest.raises(ConfigError, match=field):
        cls.parse({field: value})


def test_world_folder_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert DescribeParams.parse({"world": "w"}).world == str(tmp_path / "w")
