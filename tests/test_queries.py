"""Every shipped query (queries/*.sql) runs on a root that has no tables yet: the catalog's typed empty
views make a fresh dataset answer with empty results, never with an error."""

import re
from importlib.resources import files

import numpy as np
import pytest

from persona_lens.queries import load
from persona_lens.storage import Catalog

NAMES = sorted(p.name.removesuffix(".sql") for p in files("persona_lens.queries").iterdir() if p.name.endswith(".sql"))


@pytest.mark.parametrize("name", NAMES)
def test_a_shipped_query_runs_on_an_empty_root(root, name):
    with Catalog(root) as cat:
        sql = load(name)
        code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
        code = re.sub(r"'[^']*'", "''", code)            # string literals ('$.k' is a JSON path)
        if "?" in code or re.search(r"\$[A-Za-z_]", code):
            pytest.skip("takes parameters")
        assert cat.query(sql).num_rows == 0


def _embedded_root(root, vectors: np.ndarray, encoder: str = "enc") -> list[str]:
    """Images img-0…img-(n-1) with `vectors` (rows L2-normalised) under `encoder`; returns the image ids."""
    from datetime import datetime, timezone

    import pyarrow as pa

    from persona_lens.schemas import get_schema
    from persona_lens.storage.parquet import write_part

    n, dim = vectors.shape
    ids = [f"{i:064x}" for i in range(n)]
    write_part(root, "images", get_schema("images").from_rows([
        {"image_id": iid, "uri": f"shards/s.tar#{iid}.png", "role": "gallery", "source": "test",
         "instance": f"img-{i}", "labels": [], "width": 8, "height": 8, "format": "PNG", "num_bytes": 1,
         "ingested_at": datetime.now(timezone.utc)} for i, iid in enumerate(ids)]), "r1")
    write_part(root, "embeddings", pa.table({
        "image_id": ids, "encoder": [encoder] * n, "dim": pa.array([dim] * n, pa.int32()),
        "vector": pa.FixedSizeListArray.from_arrays(vectors.astype(np.float32).ravel(), dim),
        "runtime": ["test"] * n}).cast(get_schema("embeddings").arrow(dim)), "r1")
    return ids


def test_nearest_neighbours_are_the_k_most_similar_images_by_cosine(root):
    rng = np.random.default_rng(0)
    v = rng.standard_normal((60, 16))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    ids = _embedded_root(root, v)
    expected = [f"img-{i}" for i in np.argsort(-(v @ v[7]))[1:6]]      # itself excluded

    with Catalog(root) as cat:
        by_name = cat.query(load("nearest_neighbours"), {"encoder": "enc", "image": "img-7", "k": 5})
        by_id = cat.query(load("nearest_neighbours"), {"encoder": "enc", "image": ids[7], "k": 5})
        other = cat.query(load("nearest_neighbours"), {"encoder": "other", "image": "img-7", "k": 5})

    assert by_name.column("image").to_pylist() == expected
    assert by_id.column("image").to_pylist() == expected
    np.testing.assert_allclose(by_name.column("cosine").to_numpy(), np.sort(v @ v[7])[::-1][1:6], atol=1e-4)
    assert other.num_rows == 0                                          # no vectors under that encoder
