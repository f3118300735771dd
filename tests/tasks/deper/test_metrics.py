"""DEPER metrics: pycocoevalcap scorers on simple tokens, SSS, attention error, discrimination, bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.tasks.deper.metrics import (
    attention_error, bootstrap_ci, caption_scores, object_f1, paired_bootstrap_ci, sss, subject_discrimination, tokenize,
)


def test_tokenize_drops_punctuation_and_case():
    assert tokenize("Well, a Polka-dot CUP; that's it.") == "well a polka-dot cup that's it"


def test_identical_caption_scores_top_and_unrelated_scores_zero():
    s = caption_scores(["a red cup and a cat", "a blue lamp"], [["a red cup and a cat"], ["two hats here now"]])
    assert s["bleu4"][0] == pytest.approx(1.0) and s["rouge_l"][0] == pytest.approx(1.0)
    assert s["cider"][0] > s["cider"][1] == 0.0 and s["rouge_l"][1] == 0.0


def test_caption_scores_need_matching_lengths():
    with pytest.raises(ValueError, match="reference lists"):
        caption_scores(["a"], [])


@pytest.mark.parametrize("pred, ref, value", [
    ("a cup then a cat", "a cup then a cat", 1.0),
    ("a mug then a cat", "a cup then a cat", 0.85),        # synonym 0.7 + exact 1.0 over 2
    ("two cats", "a cat", 0.8),                              # stem
    ("a cat then a cup", "a cup then a cat", 0.5),          # order matters: one of two aligned
    ("a lamp", "a cup and a cat", 0.0),
])
def test_sss_aligns_nouns_in_order(pred, ref, value):
    assert sss(pred, ref) == pytest.approx(value)


@pytest.mark.parametrize("pred, ref, value", [
    ("a cat then a cup", "a cup then a cat", 1.0),           # which things, not their order
    ("a mug next to a red cat", "I see a cup, a lamp and a kitten", 0.8),   # synonyms count: 2·2 / (2 + 3)
    ("well, nothing", "that's it", 1.0),                     # neither names a thing
    ("a lamp", "a cup and a cat", 0.0),
    ("a lamp", "nothing here", 0.0),
])
def test_object_f1_compares_the_kinds_of_thing_named(pred, ref, value):
    assert object_f1(pred, ref) == pytest.approx(value)


def test_attention_error_is_zero_for_the_true_path():
    true = np.array([[0.2, 0.3, 0.0, 0.2], [0.6, 0.5, 0.3, 0.4]], np.float32)
    pred = np.zeros((5, 2)); pred[:2] = true[:, :2]
    e = attention_error(pred, np.array([1, 1, 0, 0, 0.0]), true)
    assert e["fixation_distance"] == pytest.approx(0.0, abs=1e-6) and e["validity_accuracy"] == 1.0
    e = attention_error(pred + 0.1, np.ones(5), true)
    assert e["fixation_distance"] == pytest.approx(np.hypot(0.1, 0.1)) and e["validity_accuracy"] == 0.4


def test_subject_discrimination_finds_nearest_prototype():
    protos = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = subject_discrimination(protos, ["a", "b"], np.array([[0.9, 0.1], [0.9, 0.2]]), ["a", "b"])
    assert got.tolist() == [1.0, 0.0]


def test_bootstrap_interval_contains_the_mean_and_gain_is_relative():
    v = np.random.default_rng(0).normal(1.0, 0.2, 200)
    mean, lo, hi = bootstrap_ci(v)
    assert lo < mean < hi and hi - lo < 0.1
    gain, lo, hi = paired_bootstrap_ci(v * 1.5, v)
    assert gain == pytest.approx(0.5) and lo == pytest.approx(0.5) and hi == pytest.approx(0.5)
