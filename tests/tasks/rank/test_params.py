"""The rank stage's parameters: checked and canonicalised when built, before any data is read."""

import pytest

from persona_lens.tasks.params import ConfigError
from persona_lens.tasks.rank.params import EvalRankParams, RankParams


def test_defaults_rank_multilevel_features_with_the_lda_ranker():
    params = RankParams()
    assert (params.encoder, params.ranker, params.shrinkage, params.ks) == (
        "efficientnet-lite0-multilevel", "lda", 0.3, (1, 5, 10))
    assert params.semantic == {"clip_i": "persona-lens-lit", "dino": "efficientnet-lite0"}


@pytest.mark.parametrize("field, value, message", [
    ("shrinkage", 0, "shrinkage"), ("shrinkage", 1.5, "shrinkage"), ("ks", [0, 5], "ks"), ("ks", [], "ks"),
    ("ranker", "knn", "ranker"), ("encoder", "no-such-encoder", "encoder"), ("clip_encoder", "./missing", "clip_encoder"),
    ("typo", 1, "typo"),
])
def test_a_bad_value_is_refused_naming_the_parameter_and_its_value(field, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        RankParams.parse({field: value})
    assert repr(value) in str(err.value) or str(value) in str(err.value)


def test_encoder_names_are_canonical_so_a_relative_folder_finds_the_vectors_embed_stored(tmp_path, monkeypatch):
    (tmp_path / "clip").mkdir()
    monkeypatch.chdir(tmp_path)
    params = RankParams.parse(encoder="./clip", dino_encoder="EfficientNet-Lite0", clip_encoder=None)
    assert params.encoder == str((tmp_path / "clip").resolve())
    assert params.dino_encoder == "efficientnet-lite0"
    assert params.semantic == {"dino": "efficientnet-lite0"}


def test_ks_are_sorted_and_unique_and_the_ranked_encoder_names_features_and_ranker():
    params = RankParams.parse(ks=[10, 1, 10])
    assert params.ks == (1, 10)
    assert RankParams(ranker="raw").ranked_encoder == "efficientnet-lite0-multilevel+raw"


def test_eval_rank_scores_the_latest_rank_run_by_default():
    assert EvalRankParams().rank_run is None
