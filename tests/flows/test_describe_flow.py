"""The describe flows with the committed DEPER weights: held-out viewers personalized from K examples,
their other images captioned and scored, a viewer with fewer than K examples quarantined, and the
quick score beside both baselines that the main job writes."""

import pytest

from persona_lens.flows.describe import describe_flow, eval_describe_flow
from persona_lens.storage import Catalog
from persona_lens.tasks.deper.params import CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS, DescribeParams, EvalDescribeParams

pytestmark = [pytest.mark.usefixtures("prefect_harness"),
              pytest.mark.skipif(not all(p.exists() for p in (CAPTIONER, DEPER_WEIGHTS, STYLE_WEIGHTS)),
                                 reason="the describe weights are not in this checkout")]


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from persona_lens.world.make import make_world
    from tests.world.test_make import TINY

    return make_world(TINY.replace(scenes_per_viewer=4), tmp_path_factory.mktemp("w") / "world")


def test_held_out_viewers_are_personalized_captioned_and_scored(root, tiny_world):
    describe_flow(DescribeParams(world=str(tiny_world.folder), k=2), root=root.url, run_id="d1")
    with Catalog(root) as cat:
        personas = cat.query("SELECT viewer_id, num_shots, dim FROM personas").to_pylist()
        captions = cat.query("SELECT viewer_id, text, model FROM captions WHERE model = 'deper'").to_pylist()
        metrics = set(cat.query("SELECT DISTINCT metric FROM caption_scores").column(0).to_pylist())
    assert len(personas) == 1 and personas[0]["num_shots"] == 2 and personas[0]["dim"] > 0
    assert captions and all(c["viewer_id"] == personas[0]["viewer_id"] and c["text"].strip() for c in captions)
    assert {"cider", "rouge_l", "sss", "object_f1"} <= metrics


def test_a_viewer_with_fewer_than_k_examples_is_quarantined_not_dropped_silently(root, tiny_world):
    describe_flow(DescribeParams(world=str(tiny_world.folder), k=10), root=root.url)
    with Catalog(root) as cat:
        reasons = cat.query("SELECT reason FROM quarantine").column(0).to_pylist()
        assert cat.scalar("SELECT count(*) FROM personas") == 0
    assert reasons and all("example" in r for r in reasons), reasons


def test_the_quick_score_sets_deper_beside_both_baselines(root, tiny_world):
    params = EvalDescribeParams(world=str(tiny_world.folder), ks=(2,), seeds=(0,), max_queries=2, resamples=100)
    eval_describe_flow(params, root=root.url)
    with Catalog(root) as cat:
        methods = set(cat.query("SELECT DISTINCT method FROM eval_describe WHERE metric = 'cider'").column(0).to_pylist())
    assert methods == {"frozen_captioner", "style_only", "deper"}


def test_new_viewers_from_json_lines_and_an_images_folder(root, tiny_world, tmp_path):
    import json
    import shutil

    from persona_lens.tasks.deper.data import load_world_folder

    data = load_world_folder(tiny_world.folder)
    images = tmp_path / "images"
    images.mkdir()
    lines = []
    for e in data.examples:
        shutil.copy(data.images[e.image_id], images / f"{e.image_id}.png")
        fixations = [{"x": float(x), "y": float(y), "t": float(t), "dur": float(d)} for x, y, t, d in e.fixations]
        lines.append(json.dumps({"viewer_id": e.viewer_id, "image_id": e.image_id, "split": data.splits[e.viewer_id],
                                 "fixations": fixations, "caption": e.caption}))
    lines.append("{not json")
    examples = tmp_path / "viewers.jsonl"
    examples.write_text("\n".join(lines))
    describe_flow(DescribeParams(viewer_examples=str(examples), images=str(images), k=2), root=root.url)
    with Catalog(root) as cat:
        assert cat.scalar("SELECT count(*) FROM personas") == len(data.viewers("fewshot"))
        assert cat.scalar("SELECT count(*) FROM captions WHERE model = 'deper'") > 0
        assert cat.query("SELECT reason FROM quarantine").column(0).to_pylist() == ["bad_json_line"]


def test_viewer_examples_need_their_images_folder(tmp_path):
    from persona_lens.tasks.params import ConfigError

    (tmp_path / "v.jsonl").write_text("")
    with pytest.raises(ConfigError, match="go together"):
        DescribeParams.parse(viewer_examples=str(tmp_path / "v.jsonl"))
