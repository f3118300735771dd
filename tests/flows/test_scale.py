"""Shard tasks on a Dask cluster (`workers`, `dask_address`): the same tables as one process makes."""

from __future__ import annotations

import numpy as np
import pytest

from persona_lens.flows.embed import embed_flow
from persona_lens.flows.ingest import ingest_flow
from persona_lens.storage import DatasetRoot, read_table
from persona_lens.tasks.embed import EmbedParams
from persona_lens.tasks.ingest import IngestParams
from persona_lens.tasks.params import ConfigError
from tests.images_factory import photo_bytes

pytestmark = pytest.mark.usefixtures("prefect_harness")


def ingest_and_embed(folder, root: DatasetRoot, workers: int) -> tuple[dict, dict]:
    ingested = ingest_flow(IngestParams(source=str(folder), batch_size=3, workers=workers), root=root.url)
    embedded = embed_flow(EmbedParams(text_encoder=None, batch_size=4, workers=workers), root=root.url)
    return ingested, embedded


@pytest.mark.slow  # a Dask cluster's start-up and both configurations: ~1 min
def test_ingest_and_embed_on_a_two_worker_dask_cluster_give_the_tables_of_one_process(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(10):
        (folder / f"img{i:02d}.jpg").write_bytes(photo_bytes(i, size=(96, 72)))
    (folder / "broken.jpg").write_bytes(photo_bytes(99)[:200])   # quarantined on either side

    results, images, vectors, quarantine = {}, {}, {}, {}
    for workers in (1, 2):
        root = DatasetRoot(str(tmp_path / f"data-{workers}")).ensure()
        results[workers] = ingest_and_embed(folder, root, workers)
        rows = read_table(root, "images").to_pylist()
        images[workers] = {r["image_id"]: (r["source"], r["width"], r["height"], r["format"]) for r in rows}
        emb = read_table(root, "embeddings")
        vectors[workers] = dict(zip(emb["image_id"].to_pylist(), np.asarray(emb["vector"].to_pylist())))
        quarantine[workers] = sorted((r["source"].rsplit("/", 1)[-1], r["reason"])
                                     for r in read_table(root, "quarantine").to_pylist())

    ingested, embedded = results[2]
    assert ingested["shards"] == 4 and embedded["shards"] == 4 and embedded["embedded"] == 10
    assert images[2] == images[1] and len(images[2]) == 10
    assert set(vectors[2]) == set(vectors[1])
    assert min(float(vectors[1][k] @ vectors[2][k]) for k in vectors[1]) > 0.9999
    assert quarantine[2] == quarantine[1] and [name for name, _ in quarantine[2]] == ["broken.jpg"]


def test_a_bad_dask_address_is_refused_before_any_data_is_read():
    with pytest.raises(ConfigError, match="dask_address must look like tcp://host:port"):
        EmbedParams.parse({"dask_address": "localhost"})
