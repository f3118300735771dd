"""The embed flow end to end on real weights: vectors, quarantine, captions, the runs row, re-runs."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.flows.embed import embed_flow
from persona_lens.models.registry import load_image_encoder
from persona_lens.schemas import CAPTIONS
from persona_lens.storage import Catalog, read_table, write_part
from persona_lens.tasks.embed import EmbedParams
from persona_lens.tasks.images import decode_rgb
from tests.embed_data import jpeg, write_images

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def dataset(root):
    files = [jpeg(i, size=(64, 48)) for i in range(4)] + [b"GIF89a but not really"]
    ids = write_images(root, files, maxcount=3)
    write_part(root, "captions", CAPTIONS.from_rows([
        {"viewer_id": "v1", "image_id": ids[0], "text": "a blurry orange gradient", "model": "human"},
        {"viewer_id": "v2", "image_id": ids[1], "text": "a blurry orange gradient", "model": "human"},
        {"viewer_id": "v1", "image_id": ids[2], "text": "noise over a blue ramp", "model": "human"},
    ]), "captions-1", part="c")
    return root, dict(zip(ids, files))


def test_embed_flow_stores_eager_equal_vectors_quarantines_bad_bytes_and_records_the_run(dataset):
    root, files = dataset
    summary = embed_flow(EmbedParams(runtime="torch", batch_size=2), root=root.url, run_id="embed-1")
    keys = ("embedded", "quarantined", "shards", "already_embedded", "texts_embedded")
    assert {k: summary[k] for k in keys} == {"embedded": 4, "quarantined": 1, "shards": 2,
                                             "already_embedded": 0, "texts_embedded": 2}
    emb = read_table(root, "embeddings")
    assert set(emb["encoder"].to_pylist()) == {"efficientnet-lite0"} and set(emb["dim"].to_pylist()) == {1280}
    vecs = np.array(emb["vector"].to_pylist(), np.float32)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    # The stored vectors are the encoder's own, each on its own image (not shifted within a batch).
    ref = load_image_encoder("efficientnet-lite0", runtime="torch").encode_images(
        [decode_rgb(files[i]) for i in emb["image_id"].to_pylist()])
    assert float(np.min(np.sum(ref * vecs, axis=1))) > 0.9999
    with Catalog(root) as cat:
        assert cat.scalar("SELECT reason FROM quarantine WHERE stage = 'embed'") == "not_an_image"
        assert cat.scalar("SELECT count(*) FROM text_embeddings WHERE dim = 384") == 2
        run = cat.query("SELECT flow, status, counts FROM runs").to_pylist()[0]
    assert (run["flow"], run["status"], dict(run["counts"])["embedded"]) == ("embed", "completed", 4)


def test_a_rerun_embeds_nothing_new_and_duplicates_nothing(dataset):
    root, _ = dataset
    embed_flow(EmbedParams(runtime="torch", text_encoder=None), root=root.url, run_id="embed-1")
    again = embed_flow(EmbedParams(runtime="torch", text_encoder=None), root=root.url, run_id="embed-2")
    assert (again["embedded"], again["already_embedded"], again["images_planned"]) == (0, 4, 1)
    emb = read_table(root, "embeddings")
    assert emb.num_rows == 4 and len(set(emb["image_id"].to_pylist())) == 4


def test_a_relative_encoder_folder_is_stored_under_its_absolute_name(root, tmp_path, monkeypatch):
    # embed and rank canonicalise names the same way (tasks/<stage>/params.py), so `--encoder ./x` in
    # one and `--encoder ./x` (or the absolute path) in the other meet in the `encoder` column.
    from persona_lens.tasks.rank import RankParams

    monkeypatch.chdir(tmp_path)
    (tmp_path / "dino").mkdir()
    assert EmbedParams.parse(encoder="./dino").encoder == RankParams.parse(encoder="./dino").encoder \
        == RankParams.parse(encoder=str(tmp_path / "dino")).encoder == str((tmp_path / "dino").resolve())
