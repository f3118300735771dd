"""Listing what a source holds, without reading image bytes: folders, manifests, WebDataset shards.

A source is a URL (local path or `s3://…`). Its kind is told by its name: `.csv`/`.parquet` is a
manifest, `.tar` (or a glob / `{000..009}` brace pattern of them) is a set of WebDataset shards, and
anything else is a folder tree whose path levels carry the labels.
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field

import braceexpand
import fsspec
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from persona_lens.storage import Settings, filesystem_for

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
PATH_COLUMNS = ("path", "uri")


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

    kind: str                      # folder | manifest | shards
    fs: fsspec.AbstractFileSystem
    key: str                       # short hash of the source URL: names this listing's outputs
    files: list[FileItem] = field(default_factory=list)
    tars: list[str] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def display_path(fs: fsspec.AbstractFileSystem, path: str) -> str:
    proto = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return path if proto in ("file", "local") else f"{proto}://{path}"


def source_kind(source: str) -> str:
    low = source.lower().rstrip("/")
    if low.endswith((".csv", ".parquet")):
        return "manifest"
    if low.endswith(".tar") or (".tar" in low and ("*" in low or "{" in low)):
        return "shards"
    return "folder"


def list_source(source: str, label_levels: list[str] | None = None, settings: Settings | None = None) -> Listing:
    """List `source`; raise SourceError if the source itself is unusable (the items are judged later)."""
    kind = source_kind(source)
    fs, path = filesystem_for(source, settings)
    key = hashlib.sha256(source.encode()).hexdigest()[:12]
    if kind == "manifest":
        return _list_manifest(fs, path, label_levels, key)
    if kind == "shards":
        return _list_shards(fs, source, path, key)
    return _list_folder(fs, path, label_levels, key)


def _list_folder(fs, base: str, label_levels: list[str] | None, key: str) -> Listing:
    if not fs.exists(base) or not fs.isdir(base):
        raise SourceError(f"source folder {display_path(fs, base)!r} does not exist")
    listing = Listing("folder", fs, key)
    for path, info in sorted(fs.find(base, detail=True).items()):
        rel = path[len(base.rstrip("/")) + 1:]
        name = posixpath.basename(rel)
        if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
            continue
        dirs = rel.split("/")[:-1]
        shown = display_path(fs, path)
        if label_levels is None:
            labels = {}
        elif len(dirs) != len(label_levels):
            listing.rejected.append(Rejection(
                shown, "label_depth",
                f"path has {len(dirs)} folder level(s) {dirs}, expected {len(label_levels)}: {label_levels}"))
            continue
        else:
            labels = dict(zip(label_levels, dirs))
        listing.files.append(FileItem(shown, path, labels, info.get("size")))
    return listing


def _read_manifest(fs, path: str) -> pa.Table:
    try:
        with fs.open(path, "rb") as f:
            if path.lower().endswith(".parquet"):
                return pq.read_table(f)
            # Everything as strings first: types are checked per row below, so that one bad value
            # quarantines one row instead of failing the whole manifest.
            return pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
                column_types=None, strings_can_be_null=True))
    except FileNotFoundError as exc:
        raise SourceError(f"manifest {display_path(fs, path)!r} does not exist") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"manifest {display_path(fs, path)!r} cannot be read: {str(exc).splitlines()[0]}") from exc


def _list_manifest(fs, path: str, label_levels: list[str] | None, key: str) -> Listing:
    table = _read_manifest(fs, path)
    shown = display_path(fs, path)
    path_col = next((c for c in PATH_COLUMNS if c in table.column_names), None)
    if path_col is None:
        raise SourceError(f"manifest {shown!r} needs a column named one of {list(PATH_COLUMNS)}; "
                          f"it has {table.column_names}")
    levels = label_levels if label_levels is not None else [c for c in table.column_names if c != path_col]
    missing = [lvl for lvl in levels if lvl not in table.column_names]
    if missing:
        raise SourceError(f"manifest {shown!r} lacks label column(s) {missing}; it has {table.column_names}")

    listing = Listing("manifest", fs, key)
    base = posixpath.dirname(path)
    bad_types = {c: table.schema.field(c).type for c in [path_col, *levels]
                 if not _scalar_type(table.schema.field(c).type, path_col == c)}
    rows = table.select([path_col, *levels]).to_pylist()
    for i, row in enumerate(rows, start=1):
        where = f"{shown}:row {i}"
        if bad_types:
            col, typ = next(iter(bad_types.items()))
            listing.rejected.append(Rejection(where, "bad_manifest_type",
                                              f"column {col!r} must hold {'strings' if col == path_col else 'scalars'}, got {typ}"))
            continue
        value = row[path_col]
        if not isinstance(value, str) or not value.strip():
            listing.rejected.append(Rejection(where, "bad_manifest_value", f"{path_col!r} is empty"))
            continue
        labels = {lvl: str(row[lvl]) for lvl in levels if row[lvl] is not None and str(row[lvl]) != ""}
        if "://" in value:
            item_fs, item_path = filesystem_for(value)
            if type(item_fs) is not type(fs):
                listing.rejected.append(Rejection(where, "bad_manifest_value",
                                                  f"{value!r} is on another filesystem than the manifest"))
                continue
        else:
            item_path = value if value.startswith("/") else posixpath.normpath(posixpath.join(base, value))
        listing.files.append(FileItem(display_path(fs, item_path), item_path, labels))
    return listing


def _scalar_type(typ: pa.DataType, must_be_string: bool) -> bool:
    if must_be_string:
        return pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ)
    return not (pa.types.is_nested(typ) or pa.types.is_binary(typ) or pa.types.is_large_binary(typ))


def _list_shards(fs, source: str, path: str, key: str) -> Listing:
    listing = Listing("shards", fs, key)
    prefix = source[: len(source) - len(path)] if source.endswith(path) else ""
    patterns = list(braceexpand.braceexpand(path))
    for pattern in patterns:
        matches = sorted(fs.glob(pattern)) if any(ch in pattern for ch in "*?[") else (
            [pattern] if fs.exists(pattern) else [])
        listing.tars.extend(matches)
    if not listing.tars:
        raise SourceError(f"no WebDataset shard matches {prefix}{path!r}")
    return listing
