"""Batches: bad items are quarantined with a reason, good items of the same batch land, nothing twice."""

import io
import json
import re
import tarfile

import pytest

from persona_lens.storage import Catalog, list_shards, read_members, read_table
from persona_lens.tasks.images import image_id_of
from persona_lens.tasks.ingest import list_source, plan_batches, process_batch
from tests.images_factory import exif_rotated_jpeg, photo_bytes, sixteen_bit_png, truncated_jpeg

LEVELS = ["category", "subclass", "instance"]


def ingest_all(source, root, labels=LEVELS, batch_size=100, role="gallery", run_id="r1"):
    listing = list_source(str(source), labels)
    results = []
    for batch in plan_batches(listing, role, labels, batch_size):
        seen = set(read_table(root, "images", ["image_id"]).column("image_id").to_pylist())
        results.append(process_batch(batch, listing.fs, root, role=role, run_id=run_id, label_levels=labels,
                                     seen=seen))
    return listing, results


@pytest.fixture
def messy_folder(tmp_path):
    """Three good images (one EXIF-rotated, one exact duplicate) and four bad files, in one batch."""
    base = tmp_path / "src"
    files = {
        "bird/finch/f1/good.jpg": photo_bytes(1),
        "bird/finch/f1/rotated.jpg": exif_rotated_jpeg((80, 40)),
        "bird/finch/f2/good.png": photo_bytes(2, fmt="PNG"),
        "bird/finch/f2/copy-of-good.jpg": photo_bytes(1),
        "bird/finch/f2/empty.jpg": b"",
        "bird/finch/f2/text.jpg": b"just some text\n",
        "bird/finch/f2/truncated.jpg": truncated_jpeg(),
        "bird/finch/f2/deep.png": sixteen_bit_png(),
    }
    for rel, data in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return base


def test_good_images_land_and_bad_ones_are_quarantined_with_reasons(messy_folder, root):
    _, [result] = ingest_all(messy_folder, root)
    assert result.stats == {"images": 3, "quarantined": 4, "duplicates": 1, "shards": 1}
    with Catalog(root) as cat:
        reasons = {r["f"]: r["reason"] for r in cat.query(
            "SELECT regexp_extract(source, '[^/]+$') AS f, reason FROM quarantine").to_pylist()}
        images = cat.query("SELECT instance, width, height, format, uri, labels FROM images ORDER BY source").to_pylist()
    assert reasons == {"empty.jpg": "empty_file", "text.jpg": "not_an_image",
                       "truncated.jpg": "truncated_or_corrupt", "deep.png": "unsupported_mode"}
    rotated = next(i for i in images if i["width"] == 40)
    assert (rotated["height"], rotated["instance"]) == (80, "f1")
    assert dict(images[0]["labels"]) == {"category": "bird", "subclass": "finch", "instance": images[0]["instance"]}


def test_shard_holds_the_original_bytes_under_the_image_id(messy_folder, root):
    ingest_all(messy_folder, root)
    rows = read_table(root, "images").to_pylist()
    got = read_members(root, [r["uri"] for r in rows])
    for r in rows:
        data = got[r["uri"]]
        assert image_id_of(data) == r["image_id"] and r["uri"].endswith(f"#{r['image_id']}.{'png' if r['format'] == 'PNG' else 'jpg'}")
    assert [p.rsplit("/", 1)[1] for p in list_shards(root, "gallery")] == ["shard-b00000-000000.tar"]


def test_reingesting_the_same_source_adds_no_rows(messy_folder, root):
    ingest_all(messy_folder, root, run_id="r1")
    _, results = ingest_all(messy_folder, root, run_id="r2")
    assert sum(r.stats["images"] for r in results) == 0
    assert read_table(root, "images").num_rows == 3


def test_small_batches_make_one_shard_each_and_dedupe_across_batches(messy_folder, root):
    _, results = ingest_all(messy_folder, root, batch_size=2)
    assert len(results) == 4
    assert sum(r.stats["images"] for r in results) == 3
    assert sum(r.stats["duplicates"] for r in results) == 1
    shards = [p.rsplit("/", 1)[1] for p in list_shards(root, "gallery")]
    # One shard per batch that kept an image, named by its batch (batches may write at once on workers).
    assert shards and all(re.fullmatch(r"shard-b\d{5}-000000\.tar", s) for s in shards)
    assert len({s[:12] for s in shards}) == len(shards)


def make_tar(path, members: list[tuple[str, bytes]]):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_webdataset_shard_with_traversal_names_keeps_its_good_samples(tmp_path, root):
    meta = json.dumps({"category": "cat", "subclass": "tabby", "instance": "tom"}).encode()
    src = make_tar(tmp_path / "in-000000.tar", [
        ("s1.jpg", photo_bytes(1)), ("s1.json", meta),
        ("../evil.jpg", photo_bytes(2)),
        ("/etc/passwd.jpg", photo_bytes(3)),
        ("s2.jpg", b"garbage"),
        ("s3.png", photo_bytes(4, fmt="PNG")), ("s3.json", b"{not json"),
    ])
    ingest_all(src, root)
    with Catalog(root) as cat:
        images = cat.query("SELECT category, subclass, instance, source FROM images").to_pylist()
        quarantined = cat.query("SELECT source, reason FROM quarantine ORDER BY source").to_pylist()
    assert images == [{"category": "cat", "subclass": "tabby", "instance": "tom", "source": f"{src}#s1.jpg"}]
    assert sorted(q["reason"] for q in quarantined) == ["bad_sample_metadata", "not_an_image",
                                                        "path_traversal", "path_traversal"]


def test_truncated_tar_keeps_the_samples_before_the_damage(tmp_path, root):
    src = make_tar(tmp_path / "in.tar", [(f"s{i}.jpg", photo_bytes(i, size=(64, 64))) for i in range(4)])
    data = src.read_bytes()
    src.write_bytes(data[: int(len(data) * 0.7)])
    ingest_all(src, root)
    assert 1 <= read_table(root, "images").num_rows < 4
    reasons = read_table(root, "quarantine").column("reason").to_pylist()
    assert reasons == ["unreadable_shard"]


def test_missing_manifest_file_is_quarantined(tmp_path, root):
    (tmp_path / "a.jpg").write_bytes(photo_bytes(1))
    (tmp_path / "m.csv").write_text("path,category\na.jpg,bird\ngone.jpg,bird\n")
    ingest_all(tmp_path / "m.csv", root, labels=["category"])
    assert read_table(root, "images").column("category").to_pylist() == ["bird"]
    [q] = read_table(root, "quarantine").to_pylist()
    assert q["reason"] == "missing_file" and q["source"].endswith("gone.jpg")


def test_a_file_over_the_size_limit_is_quarantined_without_being_read(tmp_path, root):
    import resource

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "good.jpg").write_bytes(photo_bytes(1))
    with open(tmp_path / "src" / "huge.jpg", "wb") as f:
        f.truncate(3 << 30)                      # sparse: 3 GiB listed, nothing on disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ingest_all(tmp_path / "src", root, labels=None)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    [q] = read_table(root, "quarantine").to_pylist()
    assert q["reason"] == "file_too_large" and "not read" in q["detail"] and q["source"].endswith("huge.jpg")
    assert read_table(root, "images").num_rows == 1 and grown_mib < 500


def test_a_tar_member_declaring_more_than_the_limit_is_refused_from_its_header(tmp_path, root):
    src = tmp_path / "in.tar"
    good = tarfile.TarInfo("s1.jpg")
    data = photo_bytes(1)
    good.size = len(data)
    big = tarfile.TarInfo("s2.jpg")
    big.size = 80 << 20                          # declared in the header; the archive is a few KB
    with open(src, "wb") as f:
        f.write(good.tobuf() + data + b"\0" * (-len(data) % 512) + big.tobuf() + b"\0" * 1024)
    ingest_all(src, root, labels=None)
    reasons = sorted(read_table(root, "quarantine").column("reason").to_pylist())
    assert "file_too_large" in reasons and read_table(root, "images").num_rows == 1
