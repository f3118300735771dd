"""The embed stage's logic without Prefect: planning, skipping, quarantine, tables, idempotent writes."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from persona_lens.models.base import ModelError, l2_normalize
from persona_lens.schemas import CAPTIONS, SchemaError
from persona_lens.storage import list_parts, read_table, write_part
from persona_lens.tasks.embed import EmbedParams, embed_shard_task, embed_texts_task
from persona_lens.tasks.embed.encode import (
    EmbedPlan, embed_images, embed_texts, embeddings_table, part_key, plan_images, plan_texts, text_id_of,
    write_shard,
)
from tests.embed_data import jpeg, write_images


class ColourEncoder:
    """A test double: the mean colour and its spread, as a 6-d unit vector. Pure red images give NaN."""

    name, dim, runtime = "colour-test", 6, "numpy"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        self.batches.append(len(images))
        rows = []
        for im in images:
            a = np.asarray(im, np.float32) / 255
            rows.append(np.full(6, np.nan) if (a[..., 0] > 0.9).all() and (a[..., 1:] < 0.1).all()
                        else np.concatenate([a.mean((0, 1)), a.std((0, 1))]) + 0.01)
        return l2_normalize(np.array(rows))


class WordEncoder:
    """A text test double: letter counts of a few letters; the word 'nan' gives a NaN vector."""

    name, dim = "words-test", 4

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        rows = [np.full(4, np.nan) if t == "nan" else [t.count(c) + 1.0 for c in "aeio"] for t in texts]
        return l2_normalize(np.array(rows))


def red_png() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("RGB", (30, 30), (255, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def test_plan_groups_unembedded_images_by_shard_and_skips_embedded_pairs(root):
    ids = write_images(root, [jpeg(i) for i in range(5)], maxcount=2)
    plan = plan_images(root, "colour-test")
    assert plan.num_images == 5 and plan.already_embedded == 0 and len(plan.shards) == 3
    assert all(shard.endswith(".tar") for shard in plan.shards)
    # Two images embedded by this encoder, one by another: only the first two are skipped.
    vecs = l2_normalize(np.ones((3, 6)))
    write_part(root, "embeddings", embeddings_table(ids[:2], "colour-test", vecs[:2], "numpy"), "r0",
               part="a")
    write_part(root, "embeddings", embeddings_table(ids[2:3], "other", vecs[:1], "numpy"), "r0", part="b")
    plan = plan_images(root, "colour-test")
    assert plan.already_embedded == 2
    assert sorted(r.image_id for refs in plan.shards.values() for r in refs) == sorted(ids[2:])
    assert plan_images(root, "other").num_images == 4


def test_an_image_ingested_twice_is_planned_once(root):
    write_images(root, [jpeg(1), jpeg(2)], run_id="a")
    write_images(root, [jpeg(1)], run_id="b")
    assert plan_images(root, "colour-test").num_images == 2


def test_bad_bytes_are_quarantined_and_the_good_rows_still_land(root):
    truncated = jpeg(2, size=(120, 100))
    ids = write_images(root, [jpeg(0), b"definitely not an image", jpeg(1), truncated[: len(truncated) // 2]])
    plan = plan_images(root, "colour-test")
    (shard, refs), = plan.shards.items()
    enc = ColourEncoder()
    result = embed_images(root, refs, enc, batch_size=3)
    assert sorted(result.embeddings["image_id"].to_pylist()) == sorted([ids[0], ids[2]])
    q = result.quarantine.to_pylist()
    assert {(r["source"], r["reason"], r["stage"]) for r in q} == {
        (ids[1], "not_an_image", "embed"), (ids[3], "truncated_or_corrupt", "embed")}
    assert all(shard in r["detail"] for r in q)
    assert sum(enc.batches) == 2  # bad images never reach the encoder


def test_a_nan_vector_is_quarantined_not_stored(root):
    ids = write_images(root, [jpeg(0), red_png(), jpeg(1)])
    (refs,) = plan_images(root, "colour-test").shards.values()
    result = embed_images(root, refs, ColourEncoder(), batch_size=8)
    assert result.embeddings.num_rows == 2 and ids[1] not in result.embeddings["image_id"].to_pylist()
    (row,) = result.quarantine.to_pylist()
    assert (row["source"], row["reason"]) == (ids[1], "non_finite_vector")


def test_embeddings_table_has_fixed_size_float32_unit_vectors(root):
    write_images(root, [jpeg(i) for i in range(4)])
    (refs,) = plan_images(root, "colour-test").shards.values()
    table = embed_images(root, refs, ColourEncoder(), batch_size=3).embeddings
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 6)
    assert table["dim"].to_pylist() == [6] * 4 and set(table["encoder"].to_pylist()) == {"colour-test"}
    vecs = np.array(table["vector"].to_pylist())
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    with pytest.raises(SchemaError, match="NaN"):
        embeddings_table(["x"], "e", np.full((1, 3), np.nan, np.float32), "torch")


def test_batches_respect_batch_size(root):
    write_images(root, [jpeg(i) for i in range(7)])
    (refs,) = plan_images(root, "colour-test").shards.values()
    enc = ColourEncoder()
    embed_images(root, refs, enc, batch_size=3)
    assert enc.batches == [3, 3, 1]


def test_a_wrongly_shaped_encoder_output_is_a_model_error(root):
    write_images(root, [jpeg(0)])
    (refs,) = plan_images(root, "colour-test").shards.values()
    enc = ColourEncoder()
    enc.dim = 5
    with pytest.raises(ModelError, match=r"returned shape \(1, 6\)"):
        embed_images(root, refs, enc, batch_size=2)


def test_rewriting_the_same_shard_work_overwrites_and_new_work_does_not(root):
    write_images(root, [jpeg(i) for i in range(3)])
    (shard, refs), = plan_images(root, "colour-test").shards.items()
    result = embed_images(root, refs, ColourEncoder(), batch_size=4)
    key = part_key("colour-test", shard, refs)
    assert key == part_key("colour-test", shard, list(reversed(refs)))
    assert "/" not in key and "=" not in key and not key.startswith(".")
    write_shard(root, result, "run-1", key)
    write_shard(root, result, "run-1", key)
    assert len(list_parts(root, "embeddings")) == 1 and read_table(root, "embeddings").num_rows == 3
    # A different subset of the same shard under the same run id must not replace the first part.
    assert part_key("colour-test", shard, refs[:1]) != key
    assert part_key("other-encoder", shard, refs) != key


def test_shard_task_skips_everything_on_a_rerun(root, monkeypatch):
    from persona_lens.tasks import embed as embed_module

    write_images(root, [jpeg(i) for i in range(3)] + [b"junk"])
    monkeypatch.setattr(embed_module, "load_image_encoder", lambda *a, **k: ColourEncoder())
    plan = plan_images(root, "colour-test")
    (shard, refs), = plan.shards.items()
    # A test double is no registry name, so its parameters skip the name checks (model_construct).
    params = EmbedParams.model_construct(encoder="colour-test", text_encoder=None, batch_size=2, runtime="auto",
                                         threads=None)
    stats = embed_shard_task.fn(root, shard, refs, params, "run-1")
    assert (stats["embedded"], stats["quarantined"], stats["runtime"]) == (3, 1, "numpy")
    again = plan_images(root, "colour-test")
    assert again.already_embedded == 3 and again.num_images == 1  # only the bad one is retried
    q = read_table(root, "quarantine")
    assert q["reason"].to_pylist() == ["not_an_image"] and q["stage"].to_pylist() == ["embed"]


def test_caption_texts_are_embedded_once_per_distinct_text(root, monkeypatch):
    from persona_lens.tasks import embed as embed_module

    assert plan_texts(root, "words-test") == []  # no captions table yet
    captions = CAPTIONS.from_rows([
        {"viewer_id": "v1", "image_id": "i1", "text": "a red bird", "model": "human"},
        {"viewer_id": "v2", "image_id": "i1", "text": "a red bird", "model": "human"},
        {"viewer_id": None, "image_id": "i2", "text": "café ☕", "model": "human"},
        {"viewer_id": None, "image_id": "i3", "text": "nan", "model": "human"},
    ])
    write_part(root, "captions", captions, "cap-1", part="c")
    assert plan_texts(root, "words-test") == sorted(["a red bird", "café ☕", "nan"])
    monkeypatch.setattr(embed_module, "load_text_encoder", lambda *a, **k: WordEncoder())
    stats = embed_texts_task.fn(root, "words-test", "run-1")
    assert stats == {"texts_embedded": 2, "texts_quarantined": 1}
    table = read_table(root, "text_embeddings")
    by_text = dict(zip(table["text"].to_pylist(), table["text_id"].to_pylist()))
    expected = hashlib.sha256("café ☕".encode("utf-8")).hexdigest()
    assert by_text["café ☕"] == expected == text_id_of("café ☕")
    assert table["dim"].to_pylist() == [4, 4]
    assert plan_texts(root, "words-test") == ["nan"]  # embedded texts are skipped next time
    assert embed_texts_task.fn(root, "words-test", "run-2")["texts_embedded"] == 0


def test_embed_texts_keeps_order_and_shapes():
    table, bad = embed_texts(["aaa", "eee", "nan"], WordEncoder())
    assert table["text"].to_pylist() == ["aaa", "eee"] and bad.num_rows == 1
    assert table.schema.field("vector").type == pa.list_(pa.float32(), 4)


def test_plan_of_an_empty_root_is_empty(root):
    plan = plan_images(root, "colour-test")
    assert plan == EmbedPlan("colour-test", {}, 0) and plan.num_images == 0
