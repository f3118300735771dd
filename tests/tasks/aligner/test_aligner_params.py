"""The aligner flows' parameters: the held-out sets both flows name, and where weights go by default."""

import pytest

from persona_lens.tasks.aligner import EvalAlignerParams, TrainAlignerParams, weights_path
from persona_lens.tasks.params import ConfigError


def test_train_and_eval_with_the_same_seed_name_the_same_held_out_sets():
    train, evaluate = TrainAlignerParams(seed=3), EvalAlignerParams(seed=3)
    held = {k: v for k, v in vars(train.corpus_spec(4000, 3000)).items() if k not in ("photo_train", "world_train")}
    assert held == {k: v for k, v in vars(evaluate.corpus_spec()).items()
                    if k not in ("photo_train", "world_train")}
    assert (evaluate.corpus_spec().photo_train, evaluate.corpus_spec().world_train) == (0, 0)


@pytest.mark.parametrize("fields, message", [
    ({"world_size": "huge"}, "'world_size': unknown world size"), ({"steps": 0}, "'steps'"),
    ({"lr": 0}, "'lr'"), ({"image_tower": "nope"}, "'image_tower': unknown image encoder"),
])
def test_bad_training_parameters_are_refused_up_front(fields, message):
    with pytest.raises(ConfigError, match=message):
        TrainAlignerParams.parse(fields)


def test_weights_go_to_the_cache_unless_out_is_named(tmp_path):
    assert weights_path(TrainAlignerParams(seed=2), tmp_path) == str(tmp_path / "aligner" / "persona-lens-lit-seed2.safetensors")
    assert weights_path(TrainAlignerParams(out="/x/y.safetensors"), tmp_path) == "/x/y.safetensors"
    assert TrainAlignerParams.parse(world_size=None).world_size is None
