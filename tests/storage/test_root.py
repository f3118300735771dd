"""The dataset root: local and s3:// URIs, paths relative to it, clear errors, and secrets kept out."""

from __future__ import annotations

import os

import pytest

from persona_lens.storage import (
    DatasetRoot, Settings, ShardWriter, StorageError, get_settings, open_root, write_marker, write_part,
)
from tests.storage.factory import files_under, image_id, summary_rows

SECRET = "s3cr3t-Pers0na-Lens-do-not-log"


def test_a_local_path_becomes_an_absolute_root_whose_uris_are_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = open_root("data/", Settings())

    assert (root.is_local, root.protocol, root.url) == (True, "file", "data")
    assert root.path() == str(tmp_path / "data")
    assert root.path("tables", "images") == str(tmp_path / "data/tables/images")
    assert root.uri("tables", "images") == root.path("tables", "images")
    assert open_root(f"file://{tmp_path}/data", Settings()).path() == str(tmp_path / "data")


def test_the_root_defaults_to_persona_lens_root_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PERSONA_LENS_ROOT", str(tmp_path / "from-env"))

    assert open_root().path() == str(tmp_path / "from-env")


def test_an_s3_uri_gives_bucket_paths_for_fsspec_and_s3_uris_for_duckdb():
    root = open_root("s3://bucket/some/prefix/", Settings(s3_endpoint_url="http://127.0.0.1:1"))

    assert (root.is_local, root.protocol, root.url) == (False, "s3", "s3://bucket/some/prefix")
    assert root.path("tables", "images") == "bucket/some/prefix/tables/images"
    assert root.uri("tables", "images") == "s3://bucket/some/prefix/tables/images"


@pytest.mark.parametrize("url", ["s3://bucket/prefix", "/srv/data"])
def test_relative_strips_the_root_and_refuses_paths_outside_it(url):
    root = open_root(url, Settings())
    inside = root.path("shards", "gallery", "r1", "shard-000000.tar")

    assert root.relative(inside) == "shards/gallery/r1/shard-000000.tar"
    assert root.relative(root.uri("tables", "images")) == "tables/images"
    for outside in (root.path() + "2/tables/images", "/elsewhere/tables", root.path()):
        with pytest.raises(StorageError, match="is not under the dataset root"):
            root.relative(outside)


def test_ensure_creates_a_missing_local_root(tmp_path):
    root = open_root(str(tmp_path / "a" / "b"), Settings()).ensure()

    assert (tmp_path / "a" / "b").is_dir() and root.path() == str(tmp_path / "a" / "b")


def test_ensure_on_a_file_where_the_local_root_should_be_raises_storage_error(tmp_path):
    (tmp_path / "taken").write_text("not a folder")

    with pytest.raises(StorageError, match="cannot use dataset root"):
        open_root(str(tmp_path / "taken"), Settings()).ensure()


@pytest.mark.s3
def test_ensure_on_a_missing_s3_bucket_names_the_bucket(s3_root):
    root = DatasetRoot("s3://no-such-bucket-here/data", s3_root.settings)

    with pytest.raises(StorageError, match="S3 bucket 'no-such-bucket-here' of root "
                                           "'s3://no-such-bucket-here/data' does not exist"):
        root.ensure()


@pytest.mark.s3
def test_ensure_with_a_wrong_s3_secret_raises_storage_error_without_the_secret(s3_root, s3_server):
    wrong = Settings(s3_endpoint_url=s3_server.endpoint, s3_key=s3_server.key, s3_secret=SECRET)
    root = DatasetRoot(s3_root.url, wrong)

    with pytest.raises(StorageError) as info:
        root.ensure()
    assert SECRET not in str(info.value) and s3_server.secret not in str(info.value)


def test_secrets_never_appear_in_the_repr_of_settings_or_roots(monkeypatch):
    given = Settings(s3_endpoint_url="http://127.0.0.1:1", s3_key="AKIDEXAMPLE", s3_secret=SECRET)
    monkeypatch.setenv("PERSONA_LENS_S3_SECRET", SECRET)
    from_env = get_settings()

    assert from_env.s3_secret.get_secret_value() == given.s3_secret.get_secret_value() == SECRET
    for shown in (repr(given), str(given), given.model_dump_json(), repr(from_env),
                  repr(open_root("s3://bucket/data", given))):
        assert SECRET not in shown
    assert given.s3_options()["secret"] == SECRET  # ...but s3fs still gets it


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def root_and_secret(request, tmp_path):
    """A root whose settings hold a secret: the S3 server's real one, or a made-up one for a local root."""
    if request.param == "s3":
        return request.getfixturevalue("s3_root"), request.getfixturevalue("s3_server").secret
    settings = Settings(s3_endpoint_url="http://127.0.0.1:1", s3_key="AKIDEXAMPLE", s3_secret=SECRET)
    return open_root(str(tmp_path / "data"), settings).ensure(), SECRET


def test_no_file_written_under_the_root_contains_the_s3_secret(root_and_secret):
    root, secret = root_and_secret
    write_part(root, "rank_summary", summary_rows(3), run_id="r1")
    with ShardWriter(root, "gallery", "r1") as writer:
        writer.write(image_id(b"x"), {"jpg": b"x"})
    write_marker(root, "ingest", "batch-0000", {"images": 1})

    written = files_under(root)
    assert len(written) == 3
    for path in written:
        assert secret.encode() not in root.fs.cat_file(path), path
    if root.is_local:
        assert not any(secret in name for _, dirs, files in os.walk(root.path()) for name in dirs + files)
