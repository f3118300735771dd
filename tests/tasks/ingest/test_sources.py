"""Listing sources: folders (labels from path levels), manifests, WebDataset shards."""

import io
import tarfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from persona_lens.tasks.ingest.sources import SourceError, list_source, source_kind
from tests.images_factory import photo_bytes


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("source, kind", [
    ("/x/manifest.csv", "manifest"), ("s3://b/m.parquet", "manifest"), ("/x/shard-000.tar", "shards"),
    ("s3://b/shards/*.tar", "shards"), ("/x/shard-{000..003}.tar", "shards"), ("/x/photos", "folder"),
    ("s3://bucket/prefix/", "folder"),
])
def test_source_kind_is_told_by_name(source, kind):
    assert source_kind(source) == kind


def test_folder_labels_come_from_path_levels(tmp_path):
    write(tmp_path / "bird/finch/f1/a.jpg", photo_bytes(1))
    write(tmp_path / "bird/finch/f2/b.png", photo_bytes(2, fmt="PNG"))
    write(tmp_path / "bird/finch/f2/notes.txt", b"not an image, ignored")
    write(tmp_path / "bird/finch/f2/.hidden.jpg", photo_bytes(3))
    listing = list_source(str(tmp_path), ["category", "subclass", "instance"])
    assert [(f.labels["instance"], f.path.rsplit("/", 1)[1]) for f in listing.files] == [("f1", "a.jpg"), ("f2", "b.png")]
    assert listing.files[0].labels == {"category": "bird", "subclass": "finch", "instance": "f1"}
    assert listing.files[0].size == len(photo_bytes(1))
    assert listing.rejected == []


def test_folder_file_at_the_wrong_depth_is_rejected_not_mislabelled(tmp_path):
    write(tmp_path / "bird/finch/f1/a.jpg", photo_bytes(1))
    write(tmp_path / "bird/stray.jpg", photo_bytes(2))
    listing = list_source(str(tmp_path), ["category", "subclass", "instance"])
    assert len(listing.files) == 1
    [rej] = listing.rejected
    assert rej.reason == "label_depth" and rej.source.endswith("bird/stray.jpg")


def test_missing_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        list_source(str(tmp_path / "nope"))


def test_csv_manifest_resolves_relative_paths_and_reads_labels(tmp_path):
    write(tmp_path / "imgs/a.jpg", photo_bytes(1))
    (tmp_path / "m.csv").write_text("path,category,instance\nimgs/a.jpg,bird,7\nimgs/missing.jpg,bird,8\n,bird,9\n")
    listing = list_source(str(tmp_path / "m.csv"), ["category", "instance"])
    assert [f.path for f in listing.files] == [str(tmp_path / "imgs/a.jpg"), str(tmp_path / "imgs/missing.jpg")]
    assert listing.files[0].labels == {"category": "bird", "instance": "7"}  # numbers become label text
    [rej] = listing.rejected
    assert rej.reason == "bad_manifest_value" and rej.source.endswith("m.csv:row 3")


def test_manifest_without_a_path_column_is_a_source_error(tmp_path):
    (tmp_path / "m.csv").write_text("file,category\na.jpg,bird\n")
    with pytest.raises(SourceError, match=r"needs a column named one of \['path', 'uri'\]"):
        list_source(str(tmp_path / "m.csv"))


def test_manifest_missing_a_named_label_column_is_a_source_error(tmp_path):
    (tmp_path / "m.csv").write_text("path,category\na.jpg,bird\n")
    with pytest.raises(SourceError, match=r"lacks label column\(s\) \['instance'\]"):
        list_source(str(tmp_path / "m.csv"), ["category", "instance"])


def test_manifest_column_of_the_wrong_type_quarantines_each_row(tmp_path):
    pq.write_table(pa.table({"path": pa.array([1, 2], pa.int64()), "category": ["a", "b"]}), tmp_path / "m.parquet")
    listing = list_source(str(tmp_path / "m.parquet"))
    assert listing.files == []
    assert [r.reason for r in listing.rejected] == ["bad_manifest_type", "bad_manifest_type"]
    assert "column 'path' must hold strings, got int64" in listing.rejected[0].detail


def test_unreadable_manifest_is_a_source_error(tmp_path):
    (tmp_path / "m.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SourceError, match="cannot be read"):
        list_source(str(tmp_path / "m.parquet"))


def test_shard_patterns_expand_braces_and_globs(tmp_path):
    for i in range(3):
        with tarfile.open(tmp_path / f"shard-{i:03d}.tar", "w") as tar:
            info = tarfile.TarInfo("x.jpg")
            data = photo_bytes(i)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert len(list_source(str(tmp_path / "shard-{000..001}.tar")).tars) == 2
    assert len(list_source(str(tmp_path / "*.tar")).tars) == 3
    with pytest.raises(SourceError, match="no WebDataset shard matches"):
        list_source(str(tmp_path / "other-*.tar"))


def test_one_undecodable_or_ragged_csv_row_costs_that_row_only(tmp_path):
    (tmp_path / "m.csv").write_bytes(b"path,category\ng1.png,caf\xe9\ng2.jpg,dog\ng3.jpg,cat,extra\ng4.jpg,\"b,ird\"\n")
    listing = list_source(str(tmp_path / "m.csv"))
    assert [f.path for f in listing.files] == [str(tmp_path / "g2.jpg"), str(tmp_path / "g4.jpg")]
    assert listing.files[1].labels == {"category": "b,ird"}
    assert {(r.source.rsplit(":", 1)[-1], r.reason) for r in listing.rejected} == {
        ("row 1", "bad_manifest_encoding"), ("row 3", "bad_manifest_row")}


def test_a_header_only_manifest_lists_nothing_and_says_so(tmp_path, caplog):
    (tmp_path / "m.csv").write_text("path,category\n")
    with caplog.at_level("WARNING", logger="persona_lens.ingest"):
        listing = list_source(str(tmp_path / "m.csv"))
    assert listing.files == [] and listing.rejected == []
    assert "lists nothing to ingest" in caplog.text
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match="no header row"):
        list_source(str(tmp_path / "empty.csv"))


def test_a_symlink_leading_out_of_the_folder_is_refused_unless_asked(tmp_path):
    write(tmp_path / "outside" / "secret.jpg", photo_bytes(1))
    write(tmp_path / "src" / "a.jpg", photo_bytes(2))
    (tmp_path / "src" / "link.jpg").symlink_to(tmp_path / "outside" / "secret.jpg")
    (tmp_path / "src" / "inner.jpg").symlink_to(tmp_path / "src" / "a.jpg")        # inside: fine
    listing = list_source(str(tmp_path / "src"))
    assert sorted(f.source.rsplit("/", 1)[-1] for f in listing.files) == ["a.jpg", "inner.jpg"]
    [rej] = listing.rejected
    assert rej.reason == "symlink_outside_source" and rej.source.endswith("link.jpg")
    followed = list_source(str(tmp_path / "src"), follow_symlinks=True)
    assert len(followed.files) == 3 and followed.rejected == []
