"""Several writers on one dataset root at once: real processes, no key ever seen twice, nothing lost.

Each writer is a `persona-lens` command in its own process (not a thread), all started together against
one root, with different batch sizes so that their batches overlap differently (the race that doubled
`images` before tables were read as sets: in a run of the first test below, 305 rows were written for
300 images). Afterwards every view holds each key once, every image is there, and the shard location
each row points to holds that image's bytes. Whether a given run races is up to the scheduler, so the
tests assert the guarantee, not the race.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from persona_lens.storage import Catalog, DatasetRoot, read_members
from tests.images_factory import photo_bytes

# Slow (real processes, ~1.5 min for the three): CI runs them in its slow pass (.ci/run).
pytestmark = [pytest.mark.usefixtures("prefect_harness"), pytest.mark.slow]

CLI = str(Path(sys.executable).with_name("persona-lens"))


def image_folder(folder: Path, n: int) -> set[str]:
    """`n` distinct JPEGs, half under a/ and half under b/; returns their image ids."""
    ids = set()
    for i in range(n):
        data = photo_bytes(i)
        sub = folder / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"img{i:03d}.jpg").write_bytes(data)
        ids.add(hashlib.sha256(data).hexdigest())
    return ids


def run_at_once(commands: list[list[str]], env: dict[str, str], timeout: float = 300) -> None:
    procs = [subprocess.Popen([CLI, *c], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for c in commands]
    outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    for c, p, out in zip(commands, procs, outputs):
        assert p.returncode == 0, f"{' '.join(c)} exited {p.returncode}:\n{out[-3000:]}"


def writer_env(**extra: str) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **extra}


def assert_one_row_per_image(root: DatasetRoot, expected: set[str]) -> None:
    with Catalog(root) as cat:
        rows = cat.query("SELECT image_id, uri FROM images").to_pylist()
        written = cat.scalar("SELECT count(*) FROM history.images")
    ids = [r["image_id"] for r in rows]
    assert len(ids) == len(set(ids)), "a key is seen twice"
    assert set(ids) == expected, "an image is lost"
    assert written >= len(expected)
    # The shard member each row points to holds that image's bytes.
    data = read_members(root, [r["uri"] for r in rows])
    assert all(hashlib.sha256(data[r["uri"]]).hexdigest() == r["image_id"] for r in rows)


def test_three_ingests_of_overlapping_sources_at_once_land_each_image_once(tmp_path):
    expected = image_folder(tmp_path / "images", 300)
    root = str(tmp_path / "data")
    src = str(tmp_path / "images")
    run_at_once([["ingest", src, "--root", root, "--batch-size", "300"],
                 ["ingest", f"{src}/a", "--root", root, "--batch-size", "3"],
                 ["ingest", src, "--root", root, "--batch-size", "7"]], writer_env())

    assert_one_row_per_image(DatasetRoot(root), expected)


def test_two_embeds_at_once_leave_one_vector_per_image_and_encoder(tmp_path):
    expected = image_folder(tmp_path / "images", 12)
    root = str(tmp_path / "data")
    env = writer_env()
    run_at_once([["ingest", str(tmp_path / "images"), "--root", root]], env)
    run_at_once([["embed", "--root", root, "--text-encoder", "none", "--batch-size", b] for b in ("3", "5")], env)

    with Catalog(DatasetRoot(root)) as cat:
        keys = cat.query("SELECT image_id, encoder FROM embeddings").to_pylist()
    assert len(keys) == len({(k["image_id"], k["encoder"]) for k in keys}) == len(expected)
    assert {k["image_id"] for k in keys} == expected


@pytest.mark.s3
def test_two_ingests_at_once_on_one_s3_root_land_each_image_once(tmp_path, s3_root, s3_server):
    expected = image_folder(tmp_path / "images", 24)
    env = writer_env(PERSONA_LENS_S3_ENDPOINT_URL=s3_server.endpoint, PERSONA_LENS_S3_KEY=s3_server.key,
                     PERSONA_LENS_S3_SECRET=s3_server.secret)
    src = str(tmp_path / "images")
    run_at_once([["ingest", src, "--root", s3_root.url, "--batch-size", "24"],
                 ["ingest", src, "--root", s3_root.url, "--batch-size", "5"]], env)

    assert_one_row_per_image(s3_root, expected)
