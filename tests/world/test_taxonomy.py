"""The aspect taxonomy: one file, seven aspects, concepts that the effects and the renderer can realise."""

from pathlib import Path

import pytest

from persona_lens.world.effects import OPS
from persona_lens.world.taxonomy import ASPECTS, TaxonomyError, load_taxonomy


def test_default_taxonomy_has_the_seven_aspects_in_order():
    assert load_taxonomy().names[: len(ASPECTS)] == list(ASPECTS)


def test_every_image_op_concept_names_an_existing_effect():
    for concept in load_taxonomy().concepts(image_ops_only=True):
        assert concept.op in OPS, concept


def test_render_only_concepts_are_identity_and_background():
    render = {c.aspect for c in load_taxonomy().concepts() if c.render}
    assert render == {"identity", "background"}


def test_captions_put_the_phrase_into_every_template():
    tax = load_taxonomy()
    concept = tax.concept("color", "warm orange tones")
    captions = tax.captions(concept)
    assert len(captions) == len(tax.aspects["color"].templates)
    assert all("warm orange tones" in c for c in captions)


def test_unknown_concept_names_the_known_ones():
    with pytest.raises(KeyError, match="warm orange tones"):
        load_taxonomy().concept("color", "purple haze")


def test_a_vocabulary_is_extended_by_configuration(tmp_path: Path, monkeypatch):
    text = Path(load_taxonomy().source).read_text().replace(
        "      - phrase: a green tint\n",
        "      - phrase: a magenta tint\n        effect: {op: color_cast, rgb: [230, 40, 200], strength: 0.5}\n"
        "      - phrase: a green tint\n")
    path = tmp_path / "aspects.yaml"
    path.write_text(text)
    monkeypatch.setenv("PERSONA_LENS_TAXONOMY", str(path))
    tax = load_taxonomy()
    assert tax.concept("color", "a magenta tint").params["rgb"] == [230, 40, 200]
    assert tax.digest != load_taxonomy(Path(__file__).parents[2] / "world" / "aspects.yaml").digest


@pytest.mark.parametrize("text, message", [
    ("aspects: []", "non-empty mapping 'aspects'"),
    ("aspects: {style: {concepts: [{phrase: x, effect: {op: blur}}]}}", "lacks the aspect"),
    ("version: 1\naspects: {color: {concepts: [{phrase: x}]}}", "needs an 'effect'"),
    ("aspects: {color: {templates: [no placeholder], concepts: [{phrase: x, effect: {op: blur}}]}}",
     "must be a string containing"),
    ("aspects: [unclosed", "not valid YAML"),
])
def test_invalid_taxonomy_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(path)
