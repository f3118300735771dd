"""The embed stage's parameters: refused up front with the parameter named, names canonical."""

import pytest

from persona_lens.tasks.embed import EmbedParams
from persona_lens.tasks.params import ConfigError


@pytest.mark.parametrize("fields, message", [
    ({"batch_size": 0}, "'batch_size': Input should be greater than or equal to 1 \\(got 0\\)"),
    ({"encoder": "nope"}, "'encoder': unknown image encoder 'nope'"),
    ({"runtime": "gpu"}, "'runtime'.*'gpu'"),
    ({"threads": 0}, "'threads'"),
    ({"text_encoder": "./no-such-folder"}, "'text_encoder': unknown text encoder"),
])
def test_bad_configuration_is_refused_up_front(fields, message):
    with pytest.raises(ConfigError, match=message):
        EmbedParams.parse(fields)


def test_names_are_canonical_and_no_text_encoder_skips_texts(tmp_path, monkeypatch):
    params = EmbedParams.parse(encoder="EfficientNet-Lite0", text_encoder="All-MiniLM-L6-v2")
    assert (params.encoder, params.text_encoder) == ("efficientnet-lite0", "all-minilm-l6-v2")
    (tmp_path / "dino").mkdir()
    monkeypatch.chdir(tmp_path)
    assert EmbedParams.parse(encoder="./dino", text_encoder=None).encoder == str((tmp_path / "dino").resolve())
    assert EmbedParams.parse(text_encoder=None).text_encoder is None
