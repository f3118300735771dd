"""Known-truth rows look like world_profiles plus steps; twins are linked row by row."""

import json

import pytest
from PIL import Image

from persona_lens.tasks.generate.tables import generations_table, truth_table, twin_images
from persona_lens.tasks.generate.truth import TruthError, parse_shift, shifted_references, truth_rows, truth_tag
from persona_lens.world.taxonomy import load_taxonomy


def test_truth_rows_cover_every_aspect_with_the_known_shift():
    shifts = [parse_shift("style:a pencil sketch@0.6"), parse_shift("color:warm orange tones@0.8")]
    rows = truth_rows("m1", "eileen", shifts, steps=15)
    table = truth_table(rows)
    assert table.num_rows == len(load_taxonomy().names)
    by = {r["aspect"]: r for r in rows}
    assert by["style"]["concept"] == "a pencil sketch" and by["style"]["intensity"] == 0.6
    assert by["lighting"]["concept"] is None and by["lighting"]["intensity"] == 0.0
    assert {r["steps"] for r in rows} == {15}
    assert truth_tag(shifts) == "style-a-pencil-sketch-060+color-warm-orange-tones-080"


def test_a_renderer_only_concept_and_a_bad_form_are_refused():
    with pytest.raises(TruthError, match="only by the world's renderer"):
        parse_shift("background:a brick wall@0.5")
    with pytest.raises(TruthError, match="must read"):
        parse_shift("a pencil sketch")


def test_shifted_references_change_the_pixels_at_the_known_intensity():
    im = Image.new("RGB", (64, 64), (90, 140, 200))
    out = shifted_references([im], [parse_shift("color:warm orange tones@1.0")])
    assert out[0].size == (64, 64) and out[0].getpixel((5, 5)) != im.getpixel((5, 5))


def test_twins_share_latent_ids_and_link_to_their_base_image():
    a = [Image.new("RGB", (64, 64), (i, 0, 0)) for i in range(3)]
    b = [Image.new("RGB", (64, 64), (0, i + 1, 0)) for i in range(3)]
    base, pers = twin_images(model_id="m", method="lora", subject="s", generator="g", seed=5, sampler="subj",
                             base_images=a, personalized_images=b, hyperparameters={"steps": 3},
                             adapter_uri="x.safetensors", base_seconds=0.3, personalized_seconds=0.3)
    table = generations_table(base + pers + base)   # a shared base twin is written once
    assert table.num_rows == 6
    rows = {r["image_id"]: r for r in table.to_pylist()}
    for p, q in zip(pers, base):
        assert rows[p.image_id]["base_image_id"] == q.image_id
        assert rows[p.image_id]["latent_id"] == rows[q.image_id]["latent_id"]
        assert json.loads(rows[p.image_id]["hyperparameters"]) == {"steps": 3}
    with pytest.raises(ValueError, match="twins must pair up"):
        twin_images(model_id="m", method="lora", subject="s", generator="g", seed=5, sampler="subj", base_images=a,
                    personalized_images=b[:2], hyperparameters={}, adapter_uri=None, base_seconds=0,
                    personalized_seconds=0)
