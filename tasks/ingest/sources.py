"""Listing what a source holds, without reading image bytes: folders, manifests, WebDataset shards.

A source is a URL (local path or `s3://…`). Its kind is told by its name: `.csv`/`.parquet` is a
manifest, `.tar` (or a glob / `{000..009}` brace pattern of them) is a set of WebDataset shards, and
anything else is a folder tree whose path levels carry the labels.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath

import braceexpand
import fsspec
import fsspec.implementations.local
import pyarrow as pa
import pyarrow.parquet as pq

from persona_lens.storage import Settings, filesystem_for
from persona_lens.tasks.ingest.items import (IMAGE_SUFFIXES, FileItem, Listing, Rejection, SourceError,
                                             display_path, parse_csv)
from persona_lens.tasks.ingest.layouts import list_layout

__all__ = ["IMAGE_SUFFIXES", "PATH_COLUMNS", "FileItem", "Listing", "Rejection", "SourceError", "display_path",
           "list_source", "source_kind"]

PATH_COLUMNS = ("path", "uri")

log = logging.getLogger("persona_lens.ingest")


def source_kind(source: str) -> str:
    low = source.lower().rstrip("/")
    if low.endswith((".csv", ".parquet")):
        return "manifest"
    if low.endswith(".tar") or (".tar" in low and ("*" in low or "{" in low)):
        return "shards"
    return "folder"


def list_source(source: str, label_levels: list[str] | None = None, settings: Settings | None = None,
                follow_symlinks: bool = False, layout: str = "auto", split: str | None = None) -> Listing:
    """List `source`; raise SourceError if the source itself is unusable (the items are judged later).

    Path policy: a folder's files are read where they are, but a symbolic link that leads outside the
    folder is refused (quarantine `symlink_outside_source`) unless `follow_symlinks`; a manifest's paths
    are relative to the manifest's folder, and absolute paths and `..` are allowed (a manifest is a list
    its author chose, like a command line) — but never another filesystem than the manifest's.
    A `layout` other than auto reads a public dataset's own metadata (tasks/ingest/layouts.py): its
    paths must stay inside the dataset folder, and `split` keeps one of its splits.
    """
    kind = source_kind(source)
    fs, path = filesystem_for(source, settings)
    named = source if layout == "auto" else f"{source}|{layout}|{split}"
    key = hashlib.sha256(named.encode()).hexdigest()[:12]
    if layout != "auto":
        listing = list_layout(layout, fs, path, key, split)
    elif kind == "manifest":
        listing = _list_manifest(fs, path, label_levels, key)
    elif kind == "shards":
        listing = _list_shards(fs, source, path, key)
    else:
        listing = _list_folder(fs, path, label_levels, key, follow_symlinks)
    if not (listing.files or listing.tars or listing.rejected):
        log.warning("source %r lists nothing to ingest (an empty folder, or a manifest with a header only)", source)
    return listing


def _list_folder(fs, base: str, label_levels: list[str] | None, key: str, follow_symlinks: bool = False) -> Listing:
    if not fs.exists(base) or not fs.isdir(base):
        raise SourceError(f"source folder {display_path(fs, base)!r} does not exist")
    listing = Listing("folder", fs, key)
    local = isinstance(fs, fsspec.implementations.local.LocalFileSystem)
    real_base = os.path.realpath(base) if local else None
    for path, info in sorted(fs.find(base, detail=True).items()):
        rel = path[len(base.rstrip("/")) + 1:]
        name = posixpath.basename(rel)
        if name.startswith(".") or not name.lower().endswith(IMAGE_SUFFIXES):
            continue
        dirs = rel.split("/")[:-1]
        shown = display_path(fs, path)
        if local and not follow_symlinks and not _inside(os.path.realpath(path), real_base):
            listing.rejected.append(Rejection(shown, "symlink_outside_source",
                                              "a symbolic link to a file outside the source folder "
                                              "(ingest --follow-symlinks reads it)"))
            continue
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


def _read_manifest(fs, path: str) -> tuple[list[str], dict[str, pa.DataType], list[tuple[int, dict]], list[Rejection]]:
    """The manifest's columns, the types of any Parquet column, its rows (numbered from 1) and the rows
    refused while reading (CSV: one undecodable or ragged row costs that row, not the manifest)."""
    shown = display_path(fs, path)
    try:
        with fs.open(path, "rb") as f:
            if path.lower().endswith(".parquet"):
                table = pq.read_table(f)
                return (table.column_names, {c.name: c.type for c in table.schema},
                        list(enumerate(table.to_pylist(), start=1)), [])
            data = f.read()
    except FileNotFoundError as exc:
        raise SourceError(f"manifest {shown!r} does not exist") from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"manifest {shown!r} cannot be read: {str(exc).splitlines()[0]}") from exc
    return parse_csv(data, shown)


def _inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def _list_manifest(fs, path: str, label_levels: list[str] | None, key: str) -> Listing:
    columns, types, records, refused = _read_manifest(fs, path)
    shown = display_path(fs, path)
    path_col = next((c for c in PATH_COLUMNS if c in columns), None)
    if path_col is None:
        raise SourceError(f"manifest {shown!r} needs a column named one of {list(PATH_COLUMNS)}; "
                          f"it has {columns}")
    levels = label_levels if label_levels is not None else [c for c in columns if c != path_col]
    missing = [lvl for lvl in levels if lvl not in columns]
    if missing:
        raise SourceError(f"manifest {shown!r} lacks label column(s) {missing}; it has {columns}")

    listing = Listing("manifest", fs, key)
    listing.rejected += refused
    base = posixpath.dirname(path)
    bad_types = {c: types[c] for c in [path_col, *levels] if c in types and not _scalar_type(types[c], path_col == c)}
    for i, row in records:
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
