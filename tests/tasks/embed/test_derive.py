"""One network pass per image: lite0 and the LiT aligner are derived from stored multi-level vectors.

The multi-level encoder reads EfficientNet-Lite0 at every stage and ends with the very 1280-d average
that is the lite0 vector; the LiT aligner's image tower *is* the multi-level encoder. So once an image
has a multi-level row, its lite0 and LiT vectors are functions of it, and the embed stage computes them
without decoding a pixel. The derived vectors are those the pixels give, to float rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.models.base import DerivedImageEncoder, ModelError
from persona_lens.models.registry import load_image_encoder
from persona_lens.storage import read_table
from persona_lens.tasks.embed import EmbedParams, embed_shard_task
from persona_lens.tasks.embed.encode import plan_images
from tests.embed_data import jpeg, write_images

MULTI = "efficientnet-lite0-multilevel"


def embed_all(root, encoder: str, derive: bool = True) -> list[dict]:
    params = EmbedParams(encoder=encoder, text_encoder=None, derive=derive)
    stats = []
    for shard, refs in plan_images(root, params.encoder).shards.items():
        stats.append(embed_shard_task.fn(root, shard, refs, params, f"run-{encoder}-{derive}"))
    return stats


def vectors(root, encoder: str) -> dict[str, np.ndarray]:
    t = read_table(root, "embeddings")
    return {i: np.asarray(v, np.float32) for i, e, v in zip(t["image_id"].to_pylist(), t["encoder"].to_pylist(),
                                                           t["vector"].to_pylist()) if e == encoder}


@pytest.mark.parametrize("encoder", ["efficientnet-lite0", "persona-lens-lit"])
def test_an_encoder_of_the_multilevel_vector_is_derived_from_its_rows_to_float_rounding(root, tmp_path, encoder):
    ids = write_images(root, [jpeg(i, (64, 56)) for i in range(5)])
    model = load_image_encoder(encoder)
    assert isinstance(model, DerivedImageEncoder) and model.source_encoder == MULTI

    embed_all(root, MULTI)
    stats = embed_all(root, encoder)
    assert sum(s["derived"] for s in stats) == 5 and sum(s["decode_s"] for s in stats) == 0
    derived = vectors(root, encoder)

    other = type(root)(str(tmp_path / "pixels"))
    write_images(other, [jpeg(i, (64, 56)) for i in range(5)])
    assert sum(s["derived"] for s in embed_all(other, encoder, derive=False)) == 0
    from_pixels = vectors(other, encoder)
    assert set(derived) == set(from_pixels) == set(ids)
    for i in ids:
        assert float(derived[i] @ from_pixels[i]) > 0.99999
        assert abs(float(np.linalg.norm(derived[i])) - 1) < 1e-5


def test_images_without_a_multilevel_row_are_encoded_from_their_pixels(root):
    write_images(root, [jpeg(i) for i in range(3)], run_id="a")
    embed_all(root, MULTI)
    write_images(root, [jpeg(i) for i in range(3, 5)], run_id="b")
    stats = embed_all(root, "efficientnet-lite0")
    assert sum(s["derived"] for s in stats) == 3 and sum(s["embedded"] for s in stats) == 5
    assert len(vectors(root, "efficientnet-lite0")) == 5


def test_a_source_vector_of_the_wrong_size_is_refused():
    with pytest.raises(ModelError, match=r"multi-level vectors must have shape \(n, > 1280\)"):
        load_image_encoder("efficientnet-lite0").from_source_vectors(np.ones((2, 1280), np.float32))
