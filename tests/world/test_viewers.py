"""Viewing policies and wording styles of simulated viewers (world/viewers.py, world/wording.py)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from persona_lens.world.scene_objects import COLORS, KINDS, SceneObject
from persona_lens.world.spec import rng_for
from persona_lens.world.viewers import Fixation, Viewing, make_policy, select_mentions, view_scene
from persona_lens.world.wording import (CLOSERS, COLOR_WORDS, CONNECTIVES, KIND_WORDS, OPENERS, SIZE_WORDS,
                                        STYLES, TEXTURE_WORDS, Mention, describe, make_wording,
                                        mentioned_kinds)

# Four same-sized plain objects in a row; only the blue one (third from the left) stands out by colour.
ROW = [SceneObject(f"o{i}", kind, color, "medium", "plain", x=0.15 + 0.23 * i, y=0.7, w=0.16, h=0.25, depth=i)
       for i, (kind, color) in enumerate([("cup", "red"), ("ball", "green"), ("lamp", "blue"), ("book", "white")])]


def neutral_policy(**changes):
    """A policy with no likes at all, then `changes` applied."""
    policy = make_policy(rng_for(0, "test-policy"))
    policy = replace(policy, kind_weights={k: 0.0 for k in KINDS}, color_weights={c: 0.0 for c in COLORS},
                     size_weight=0.0, centrality_weight=0.0, texture_weight=0.0, skip=0.0, revisit=0.0,
                     background_rate=0.0)
    return replace(policy, **changes)


def test_a_salience_first_viewer_looks_first_and_longest_at_the_colour_it_likes():
    policy = neutral_policy(scan="salience", order_noise=0.2, dwell_pref=0.8,
                            color_weights={**{c: 0.0 for c in COLORS}, "blue": 2.0})
    firsts, share = [], []
    for k in range(40):
        viewing = view_scene(policy, ROW, rng_for(0, "look", k))
        firsts.append(viewing.first_order()[0])
        dwell = viewing.dwell()
        share.append(dwell.get(2, 0.0) / sum(dwell.values()))
    assert np.mean(np.array(firsts) == 2) > 0.9
    assert np.mean(share) > 0.4          # four objects: 0.25 would mean no preference


@pytest.mark.parametrize("scan, expected", [("left_to_right", [0, 1, 2, 3]), ("right_to_left", [3, 2, 1, 0])])
def test_a_sweeping_viewer_visits_objects_in_sweep_order(scan, expected):
    policy = neutral_policy(scan=scan, order_noise=0.1)
    orders = [view_scene(policy, ROW, rng_for(0, "sweep", k)).first_order() for k in range(20)]
    assert sum(o == expected for o in orders) >= 18


def test_a_caption_names_the_longest_dwelt_objects_in_first_fixation_order():
    fix = [Fixation(0.1, 0.5, 0.0, 0.2, 3), Fixation(0.5, 0.5, 0.3, 0.9, 1), Fixation(0.1, 0.5, 1.3, 0.3, 0),
           Fixation(0.2, 0.5, 1.7, 0.5, 3), Fixation(0.9, 0.1, 2.3, 0.1, None), Fixation(0.7, 0.5, 2.5, 0.1, 2)]
    viewing = Viewing(tuple(fix))
    assert viewing.first_order() == [3, 1, 0, 2]
    assert select_mentions(viewing, 2) == [3, 1]       # dwell: 3 → 0.7 s, 1 → 0.9 s, 0 → 0.3 s
    assert select_mentions(viewing, 3) == [3, 1, 0]
    assert select_mentions(viewing, 9) == [3, 1, 0, 2]


@pytest.mark.parametrize("style", STYLES)
def test_every_style_names_the_mentions_in_order(style):
    mentions = [Mention("cat", "red", "large", "striped"), Mention("bottle", "blue", "small", "plain"),
                Mention("hat", "black", "medium", "dotted")]
    for k in range(20):
        wording = replace(make_wording(rng_for(0, "wording", k)), style=style, omission=0.0)
        text = describe(wording, mentions, rng_for(0, "text", k))
        assert mentioned_kinds(text) == ["cat", "bottle", "hat"], text


def test_a_viewer_uses_its_own_words():
    wording = replace(make_wording(rng_for(0, "own-words")), synonym_swap=0.0, mention_color=1.0, omission=0.0,
                      kind_words={**{k: w[0] for k, w in KIND_WORDS.items()}, "cup": "mug"},
                      color_words={**{c: w[0] for c, w in COLOR_WORDS.items()}, "red": "crimson"})
    text = describe(wording, [Mention("cup", "red", "medium", "plain")], rng_for(0, "t"))
    assert "crimson mug" in text.lower()


def test_kind_words_are_unambiguous_and_no_other_caption_word_names_a_kind():
    assert set(KIND_WORDS) == set(KINDS) and set(COLOR_WORDS) == set(COLORS)
    for kind, words in KIND_WORDS.items():
        for word in words:
            assert mentioned_kinds(f"I saw a {word} there.") == [kind]
    others = [w for table in (COLOR_WORDS, SIZE_WORDS, TEXTURE_WORDS, CONNECTIVES) for ws in table.values() for w in ws]
    assert mentioned_kinds(" ".join(others + list(OPENERS) + list(CLOSERS))) == []


def test_policy_and_wording_serialise_to_json():
    policy = json.loads(make_policy(rng_for(0, "p")).to_json())
    wording = json.loads(make_wording(rng_for(0, "w")).to_json())
    assert {"scan", "dwell_mean", "kind_weights", "color_weights"} <= set(policy)
    assert {"style", "kind_words", "max_objects", "order"} <= set(wording)
