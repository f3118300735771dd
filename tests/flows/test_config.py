"""The main job's configuration: each section is its stage's parameters model, checked up front."""

import pytest

from persona_lens.flows.config import ConfigError, load_config, parse_config
from persona_lens.tasks.embed import EmbedParams
from persona_lens.tasks.rank import RankParams


def test_the_default_configuration_uses_every_stage_s_own_defaults():
    cfg = parse_config(None)
    assert cfg.sources is None and cfg.world.size == "small"
    assert cfg.embed.stage_params() == EmbedParams()
    assert cfg.rank.stage_params(cfg.embed) == RankParams()


@pytest.mark.parametrize("data, message", [
    ({"rank": {"shrinkage": 0}}, "parameter 'config.rank.shrinkage': Input should be greater than 0 \\(got 0\\)"),
    ({"embed": {"encoder": "nope"}}, "'config.embed.encoder': unknown image encoder 'nope'"),
    ({"world": {"size": "huge"}}, "'config.world.size': unknown world size"),
    ({"sources": [{"role": "gallery"}]}, "'config.sources.0.source'"),
    ({"rnak": {}}, "unknown parameter 'config.rnak'"),
])
def test_a_bad_field_is_named_with_its_value(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(data)


def test_the_semantic_scores_follow_the_embed_section_unless_rank_sets_them():
    cfg = parse_config({"embed": {"vl_encoder": None, "encoder": "efficientnet-lite0-multilevel"}})
    assert cfg.rank.stage_params(cfg.embed).semantic == {"dino": "efficientnet-lite0-multilevel"}
    cfg = parse_config({"embed": {"vl_encoder": None}, "rank": {"clip_encoder": "persona-lens-lit"}})
    assert cfg.rank.stage_params(cfg.embed).clip_encoder == "persona-lens-lit"


def test_sources_take_the_pipeline_batch_size_unless_they_set_their_own():
    cfg = parse_config({"ingest_batch_size": 32, "sources": [{"source": "/a"}, {"source": "/b", "batch_size": 8}]})
    assert [s.batch_size for s in cfg.ingest_params()] == [32, 8]


def test_the_world_folder_keeps_its_old_name():
    assert parse_config({"world": {"folder": "/tmp/w"}}).world.out == "/tmp/w"


def test_load_config_reads_yaml_and_json_and_refuses_what_is_neither(tmp_path):
    (tmp_path / "c.yaml").write_text("rank: {ks: [1, 3]}\n")
    assert load_config(tmp_path / "c.yaml").rank.ks == (1, 3)
    (tmp_path / "c.json").write_text('{"embed": {"batch_size": 4}}')
    assert load_config(tmp_path / "c.json").embed.batch_size == 4
    (tmp_path / "bad.yaml").write_text("rank: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_config(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ConfigError, match="must hold a mapping, got list"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")
