import numpy as np
import pytest

from persona_lens.tasks.finexl.vocabulary import (
    VocabularyError, concept_directions, load_vocabulary, paraphrase_vocabulary, probe_texts, shared_phrases,
    taxonomy_vocabulary,
)
from persona_lens.world.taxonomy import load_taxonomy


def test_taxonomy_vocabulary_holds_every_concept_standing_for_itself():
    v = taxonomy_vocabulary()
    assert len(v) == len(load_taxonomy().concepts())
    assert v.phrases == v.concepts


def test_paraphrases_cover_every_concept_and_share_no_phrase_with_the_taxonomy():
    v = paraphrase_vocabulary()
    tax = load_taxonomy()
    assert shared_phrases(v) == []
    assert set(v.concepts) == {c.phrase for c in tax.concepts()}
    assert set(v.aspects) == set(tax.names)


def test_shared_phrases_finds_a_leaked_phrase():
    assert shared_phrases(taxonomy_vocabulary())


@pytest.mark.parametrize("text, match", [
    ("aspects:\n  mood:\n    - {phrase: gloomy}\n", "unknown aspect 'mood'"),
    ("aspects:\n  style:\n    - {phrase: ''}\n", "non-empty string 'phrase'"),
    ("aspects:\n  style:\n    - a\n    - a\n", "appears twice"),
    ("aspects:\n  style:\n    - {phrase: inky, concept: a watercolour}\n", "is not a concept"),
    ("nothing: here\n", "non-empty mapping 'aspects'"),
    ("aspects: [unclosed\n", "not valid YAML"),
])
def test_bad_vocabulary_files_raise_naming_the_file_and_entry(tmp_path, text, match):
    path = tmp_path / "vocab.yaml"
    path.write_text(text)
    with pytest.raises(VocabularyError, match=match):
        load_vocabulary(path)


def test_missing_vocabulary_file_raises():
    with pytest.raises(VocabularyError, match="cannot read"):
        load_vocabulary("/nonexistent/vocab.yaml")


def test_a_vocabulary_file_may_use_plain_strings(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("aspects:\n  color:\n    - {phrase: sepia, concept: warm orange tones}\n    - teal\n")
    v = load_vocabulary(path)
    assert v.phrases == ("sepia", "teal") and v.concepts == ("warm orange tones", None)


def test_concept_directions_average_the_probe_differences():
    v = taxonomy_vocabulary()
    probes, joined = probe_texts(v, ("a", "b"))
    assert joined[0] == f"a, {v.phrases[0]}" and len(joined) == 2 * len(v)
    p = np.array([[1.0, 0.0], [0.0, 1.0]])
    j = np.array([[2.0, 0.0], [0.0, 3.0]])
    assert np.allclose(concept_directions(p, j), [[0.5, 1.0]])
    with pytest.raises(ValueError, match="do not match"):
        concept_directions(p, np.zeros((3, 2)))
