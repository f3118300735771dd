"""What a listing of a source is made of: the files to read, the items refused, and the errors; shared
by the source listers (sources.py) and the public-dataset layouts (layouts.py)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import fsspec

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


class SourceError(ValueError):
    """The source as a whole cannot be used (missing, unreadable manifest, missing columns)."""


@dataclass(frozen=True)
class FileItem:
    """One image file to read: `path` inside `fs_url`'s filesystem, with its labels."""

    source: str                    # what the quarantine table and the images table show
    path: str
    labels: dict[str, str]
    size: int | None = None


@dataclass(frozen=True)
class Rejection:
    source: str
    reason: str
    detail: str


@dataclass
class Listing:
    """What a source holds: files to read, whole tar shards to stream, and items refused already."""

    kind: str                      # folder | manifest | shards | a layout's name (layouts.py)
    fs: fsspec.AbstractFileSystem
    key: str                       # short hash of the source URL: names this listing's outputs
    files: list[FileItem] = field(default_factory=list)
    tars: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def display_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if proto in ("file", "local") else f"{proto}://{path}"


def parse_csv(data: bytes, shown: str) -> tuple[list[str], dict, list[tuple[int, dict]], list[Rejection]]:
    # Python's csv module rather than Arrow's reader: Arrow turns a column with one non-UTF-8 byte into
    # binary and stops at the first ragged row, which would cost every row of the manifest.
    # surrogateescape keeps undecodable bytes visible (as lone surrogates) so only their row is refused.
    text = data.decode("utf-8-sig", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceError(f"manifest {shown!r} is empty: it has no header row") from None
    except csv.Error as exc:
        raise SourceError(f"manifest {shown!r} cannot be read: {exc}") from exc
    if any(undecodable(h) for h in header) or len(set(header)) != len(header):
        raise SourceError(f"manifest {shown!r} has an undecodable or repeated column name: {header}")
    rows, rejected = [], []
    for number, row in enumerate(reader, start=1):
        where = f"{shown}:row {number}"
        if any(undecodable(v) for v in row):
            rejected.append(Rejection(where, "bad_manifest_encoding", "the row is not valid UTF-8 text"))
        elif len(row) != len(header):
            rejected.append(Rejection(where, "bad_manifest_row",
                                      f"{len(row)} field(s) where the header has {len(header)}"))
        else:
            rows.append((number, {h: (v if v != "" else None) for h, v in zip(header, row)}))
    return header, {}, rows, rejected


def undecodable(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)
