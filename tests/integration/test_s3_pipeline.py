"""Ingest from an s3:// folder tree into an s3:// dataset root on a real S3 server, then query with DuckDB.

The source is a category/subclass/instance tree of real photos (scikit-image's bundled samples, saved
small as JPEG and PNG) plus one exact duplicate and one truncated JPEG. The S3 settings reach the flow
only through the PERSONA_LENS_S3_* environment variables, as in a deployment.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from persona_lens.flows.ingest import ingest_flow
from persona_lens.storage import Catalog, open_root, read_members
from persona_lens.tasks.ingest import IngestParams

pytestmark = [pytest.mark.s3, pytest.mark.usefixtures("prefect_harness"), pytest.mark.timeout(300)]

LEVELS = ["category", "subclass", "instance"]


def encoded(pixels: np.ndarray, fmt: str, size: int = 96) -> bytes:
    img = Image.fromarray(pixels).convert("RGB")
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture
def photo_tree() -> dict[str, bytes]:
    """Relative path → bytes: 6 distinct photos, 1 duplicate of one of them, 1 truncated JPEG."""
    chelsea, coffee = skdata.chelsea(), skdata.coffee()
    tree = {
        "animal/cat/chelsea/front.jpg": encoded(chelsea, "JPEG"),
        "animal/cat/chelsea/mirrored.png": encoded(chelsea[:, ::-1], "PNG"),
        "object/cup/coffee/top.jpg": encoded(coffee, "JPEG"),
        "object/vehicle/rocket/launch.jpg": encoded(skdata.rocket(), "JPEG"),
        "object/vehicle/motorcycle/left.png": encoded(skdata.stereo_motorcycle()[0], "PNG"),
        "person/astronaut/eileen/portrait.jpg": encoded(skdata.astronaut(), "JPEG"),
    }
    tree["object/cup/coffee/copy.jpg"] = tree["object/cup/coffee/top.jpg"]
    whole = encoded(coffee, "JPEG", size=256)
    tree["object/cup/coffee/broken.jpg"] = whole[: len(whole) // 2]
    return tree


def test_ingest_from_s3_into_an_s3_root_is_queryable_with_duckdb(s3_server, s3_root, photo_tree, monkeypatch):
    bucket = s3_root.path().split("/", 1)[0]
    source = f"s3://{bucket}/incoming"
    s3_root.fs.pipe({f"{bucket}/incoming/{rel}": data for rel, data in photo_tree.items()})
    monkeypatch.setenv("PERSONA_LENS_S3_ENDPOINT_URL", s3_server.endpoint)
    monkeypatch.setenv("PERSONA_LENS_S3_KEY", s3_server.key)
    monkeypatch.setenv("PERSONA_LENS_S3_SECRET", s3_server.secret)

    summary = ingest_flow(IngestParams(source=source, labels=LEVELS, batch_size=3), root=s3_root.url)

    assert {k: summary[k] for k in ("images", "quarantined", "duplicates")} == {
        "images": 6, "quarantined": 1, "duplicates": 1}
    root = open_root(s3_root.url)  # settings from the environment, like the flow's
    with Catalog(root) as cat:
        assert cat.tables == ["images", "quarantine", "runs"]
        per_category = cat.query(
            "SELECT category, count(*) AS n, count(DISTINCT instance) AS instances FROM images "
            "WHERE run_id = ? GROUP BY 1 ORDER BY 1", [summary["run_id"]]).to_pylist()
        assert per_category == [{"category": "animal", "n": 2, "instances": 1},
                                {"category": "object", "n": 3, "instances": 3},
                                {"category": "person", "n": 1, "instances": 1}]
        cat_rows = cat.query(
            "SELECT source, labels, format FROM images WHERE subclass = $s ORDER BY source",
            {"s": "cat"}).to_pylist()
        assert [(r["source"], r["format"]) for r in cat_rows] == [
            (f"{source}/animal/cat/chelsea/front.jpg", "JPEG"),
            (f"{source}/animal/cat/chelsea/mirrored.png", "PNG")]
        assert dict(cat_rows[0]["labels"]) == {"category": "animal", "subclass": "cat", "instance": "chelsea"}
        assert cat.query("SELECT source, reason FROM quarantine").to_pylist() == [
            {"source": f"{source}/object/cup/coffee/broken.jpg", "reason": "truncated_or_corrupt"}]
        assert cat.query("SELECT flow, status, typeof(run_id) AS t FROM runs").to_pylist() == [
            {"flow": "ingest", "status": "completed", "t": "VARCHAR"}]
        stored = cat.query("SELECT image_id, uri, source FROM images").to_pylist()

    # Every row points at the exact bytes it was ingested from, in a shard on S3.
    got = read_members(root, [r["uri"] for r in stored])
    for r in stored:
        assert hashlib.sha256(got[r["uri"]]).hexdigest() == r["image_id"]
        assert got[r["uri"]] == photo_tree[r["source"].removeprefix(f"{source}/")]
    # Nothing the flow wrote (tables, shards, markers, the runs row's config) holds the secret.
    for path in root.fs.find(root.path()):
        assert s3_server.secret.encode() not in root.fs.cat_file(path), path
