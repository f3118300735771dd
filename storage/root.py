"""The dataset root: a local folder or an `s3://bucket/prefix`, reached through fsspec."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property

import fsspec
from fsspec.implementations.local import LocalFileSystem

from persona_lens.storage.settings import Settings, get_settings


class StorageError(RuntimeError):
    """The dataset root or a file in it cannot be read or written."""


def filesystem_for(url: str, settings: Settings | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem for `url` and the path within it (s3:// gets the project's S3 settings)."""
    settings = settings or get_settings()
    if url.startswith("s3://"):
        import s3fs

        fs = s3fs.S3FileSystem(**settings.s3_options())
        return fs, url.removeprefix("s3://").rstrip("/")
    if "://" in url and not url.startswith("file://"):
        fs, path = fsspec.core.url_to_fs(url)
        return fs, path
    path = os.path.abspath(os.path.expanduser(url.removeprefix("file://")))
    return LocalFileSystem(), path


@dataclass
class DatasetRoot:
    """Where every table and shard of a dataset lives.

    Layout: `tables/<table>/run_id=<id>/part-<key>.parquet`, `shards/<role>/<run_id>/shard-[<prefix>-]<n>.tar`,
    `manifests/<stage>/<key>.json` (markers of finished batches, written last), `reports/<stage>/<run_id>/<name>`
    (plots: storage/reports.py).
    """

    url: str
    settings: Settings = field(default_factory=get_settings)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/") or "/"

    @cached_property
    def _fs_and_base(self) -> tuple[fsspec.AbstractFileSystem, str]:
        return filesystem_for(self.url, self.settings)

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        return self._fs_and_base[0]

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    @property
    def protocol(self) -> str:
        return "file" if self.is_local else "s3"

    def path(self, *parts: str) -> str:
        """Path inside `fs` (no protocol): what fsspec and pyarrow calls take."""
        base = self._fs_and_base[1]
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts if p)])

    def uri(self, *parts: str) -> str:
        """Full URI (with `s3://` for S3): what DuckDB and users see."""
        p = self.path(*parts)
        return p if self.is_local else f"s3://{p}"

    def relative(self, full_path: str) -> str:
        base = self.path()
        full_path = full_path.removeprefix("s3://")
        if not full_path.startswith(base + "/"):
            raise StorageError(f"{full_path!r} is not under the dataset root {self.url!r}")
        return full_path[len(base) + 1:]

    def ensure(self) -> "DatasetRoot":
        """Create the root (a local folder, or check an S3 bucket exists); raise a clear error if not."""
        try:
            if self.is_local:
                os.makedirs(self.path(), exist_ok=True)
            else:
                bucket = self.path().split("/", 1)[0]
                if not self.fs.exists(bucket):
                    raise StorageError(f"S3 bucket {bucket!r} of root {self.url!r} does not exist")
        except (OSError, PermissionError) as exc:
            raise StorageError(f"cannot use dataset root {self.url!r}: {exc}") from exc
        return self


def open_root(url: str | None = None, settings: Settings | None = None) -> DatasetRoot:
    """The dataset root `url`, else $PERSONA_LENS_ROOT, else ./data."""
    settings = settings or get_settings()
    return DatasetRoot(url or settings.root, settings)
