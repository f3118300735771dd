"""Ingest work in batches: plan them from a listing, then validate, hash, dedupe and shard each batch.

A batch is the unit of work, of resume and of output: it becomes whole shards, one `images` part and one
`quarantine` part, then a marker. A batch whose marker exists is skipped on a re-run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field

import fsspec
import fsspec.implementations.local

from persona_lens.schemas import IMAGES
from persona_lens.storage import DatasetRoot, ShardWriter, iter_tar_members, write_part
from persona_lens.storage.shards import TOO_LARGE
from persona_lens.tasks.images import MAX_BYTES, BadImage, check_image
from persona_lens.tasks.ingest.items import IMAGE_SUFFIXES, FileItem, Listing, Rejection, display_path
from persona_lens.tasks.quarantine import quarantine_row, quarantine_table

STAGE = "ingest"

#: Bump when the meaning of a batch's output changes, so old markers no longer skip new work.
INGEST_VERSION = 1
HIERARCHY_LEVELS = ("category", "subclass", "instance", "subject")


@dataclass(frozen=True)
class Batch:
    key: str                       # deterministic: what is read and how (see `plan_batches`)
    index: int
    files: tuple[FileItem, ...] = ()
    tar: str | None = None         # a whole WebDataset shard to stream instead of files


@dataclass
class BatchResult:
    key: str
    images: list[dict] = field(default_factory=list)
    quarantine: list[dict] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)
    duplicates: int = 0

    @property
    def stats(self) -> dict:
        return {"images": len(self.images), "quarantined": len(self.quarantine),
                "duplicates": self.duplicates, "shards": len(self.shards)}


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


def plan_batches(listing: Listing, role: str, label_levels: list[str] | None, batch_size: int) -> list[Batch]:
    """Split a listing into batches of at most `batch_size` files; each tar shard is a batch of its own.

    Keys hash the role, label levels, the ingest version and the batch's items (path, size, labels), so
    the same input planned again gets the same keys and a re-run skips finished batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    common = (INGEST_VERSION, role, label_levels)
    batches: list[Batch] = []
    for start in range(0, len(listing.files), batch_size):
        chunk = tuple(listing.files[start:start + batch_size])
        key = _key(common, [(f.source, f.size, f.labels) for f in chunk])
        batches.append(Batch(key, len(batches), files=chunk))
    for tar in listing.tars:
        info = listing.fs.info(tar)
        batches.append(Batch(_key(common, tar, info.get("size"), str(info.get("mtime", info.get("ETag")))),
                             len(batches), tar=tar))
    return batches


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rejected_row(rejection: Rejection) -> dict:
    """The quarantine row of an item ingest refused."""
    return quarantine_row(STAGE, rejection.source, rejection.reason, rejection.detail)


def _read_files(fs: fsspec.AbstractFileSystem, files: tuple[FileItem, ...]) -> Iterator[tuple[FileItem, bytes | Exception]]:
    # One `cat` call for the batch: s3fs fetches the objects concurrently; a missing file comes back as
    # an exception for that path only.
    # Sizes first: a file over the limit is refused without being read (memory stays bounded).
    sizes = {f.path: _listed_size(fs, f) for f in files}
    too_large = {p for p, size in sizes.items() if (size or 0) > MAX_BYTES}
    wanted = [f.path for f in files if f.path not in too_large]
    got = fs.cat(wanted, on_error="return") if wanted else {}
    for f in files:
        if f.path in too_large:
            yield f, BadImage("file_too_large", f"{sizes[f.path]} bytes > limit {MAX_BYTES} (not read)")
            continue
        data = got.get(f.path, FileNotFoundError(f.path))
        if not isinstance(data, (bytes, Exception)):
            data = bytes(data)
        yield f, data


def _listed_size(fs: fsspec.AbstractFileSystem, item: FileItem) -> int | None:
    """The size the listing saw, else (local files, e.g. a manifest's) the file system's; None if unknown."""
    if item.size is not None:
        return int(item.size)
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        try:
            return int(fs.size(item.path))
        except OSError:
            return None     # missing: the read reports it
    return None


def _iter_tar_items(fs: fsspec.AbstractFileSystem, tar: str, shown: str,
                    label_levels: list[str] | None) -> Iterator[tuple[FileItem, bytes] | Rejection]:
    """Samples of a WebDataset shard: image members, labelled by the sample's `.json`/`.cls` members.

    Member names with `..` or an absolute path are refused (path traversal); nothing is ever extracted
    to disk, but such names are still a sign of a hostile or broken archive.
    """
    samples: dict[str, dict[str, bytes]] = {}
    order: list[str] = []
    try:
        with fs.open(tar, "rb") as fobj:
            for info, data in iter_tar_members(fobj, max_bytes=MAX_BYTES):
                name = info.name
                where = f"{shown}#{name}"
                if name.startswith("/") or ".." in name.split("/") or posixpath.isabs(name):
                    yield Rejection(where, "path_traversal", f"tar member name {name!r} escapes the archive")
                    continue
                if data is TOO_LARGE:
                    yield Rejection(where, "file_too_large", f"{info.size} bytes > limit {MAX_BYTES} (not read)")
                    continue
                if data is None:
                    continue  # folders, links: not samples
                base = posixpath.basename(name)
                if "." not in base:
                    continue
                stem, ext = base.split(".", 1)
                key = posixpath.join(posixpath.dirname(name), stem)
                if key not in samples:
                    samples[key], _ = {}, order.append(key)
                samples[key][ext.lower()] = data
    except (OSError, EOFError, tarfile.TarError) as exc:
        # A corrupt or truncated archive: the samples read before the damage still land.
        yield Rejection(shown, "unreadable_shard", f"{exc.__class__.__name__}: {exc}")
    for key in order:
        members = samples[key]
        image_exts = [e for e in members if f".{e}" in IMAGE_SUFFIXES]
        where = f"{shown}#{key}"
        if not image_exts:
            continue
        labels: dict[str, str] = {}
        if "json" in members:
            try:
                meta = json.loads(members["json"])
                if not isinstance(meta, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                yield Rejection(where, "bad_sample_metadata", f"{key}.json: {exc}")
                continue
            wanted = label_levels if label_levels is not None else [k for k, v in meta.items()
                                                                    if isinstance(v, (str, int))]
            labels = {k: str(meta[k]) for k in wanted if k in meta and meta[k] is not None}
        elif "cls" in members and label_levels:
            labels = {label_levels[0]: members["cls"].decode("utf-8", "replace").strip()}
        for ext in image_exts:
            yield FileItem(f"{where}.{ext}", f"{tar}#{key}.{ext}", labels), members[ext]


def images_row(item: FileItem, checked, uri: str, role: str) -> dict:
    labels = dict(item.labels)
    return {
        "image_id": checked.image_id, "uri": uri, "role": role, "source": item.source,
        **{lvl: labels.get(lvl) for lvl in HIERARCHY_LEVELS},
        "labels": sorted(labels.items()),
        "width": checked.width, "height": checked.height, "format": checked.format,
        "num_bytes": checked.num_bytes, "ingested_at": _now(),
    }


def process_batch(batch: Batch, fs: fsspec.AbstractFileSystem, root: DatasetRoot, *, role: str, run_id: str,
                  label_levels: list[str] | None, seen: set[str],
                  shard_maxcount: int = 1000, shard_maxsize: int = 1 << 30) -> BatchResult:
    """Validate, hash, dedupe and shard one batch; write its shards, `images` and `quarantine` parts.

    `seen` holds the image_ids already in the dataset (and earlier batches of this run); it is updated.
    Bad items become quarantine rows; they never stop the good items of the batch from landing.
    """
    result = BatchResult(batch.key)
    if batch.tar is not None:
        items = _iter_tar_items(fs, batch.tar, display_path(fs, batch.tar), label_levels)
    else:
        items = _read_files(fs, batch.files)
    # A prefix per batch: the run's batches may write shards at once (workers; flows/scale.py).
    with ShardWriter(root, role, run_id, maxcount=shard_maxcount, maxsize=shard_maxsize,
                     prefix=f"b{batch.index:05d}") as writer:
        for entry in items:
            if isinstance(entry, Rejection):
                result.quarantine.append(rejected_row(entry))
                continue
            item, data = entry
            if isinstance(data, BadImage):
                result.quarantine.append(quarantine_row(STAGE, item.source, data.reason, data.detail))
                continue
            if isinstance(data, Exception):
                reason = "missing_file" if isinstance(data, FileNotFoundError) else "unreadable_file"
                result.quarantine.append(quarantine_row(STAGE, item.source, reason, str(data) or reason))
                continue
            try:
                checked, _ = check_image(data)
            except BadImage as exc:
                result.quarantine.append(quarantine_row(STAGE, item.source, exc.reason, exc.detail))
                continue
            if checked.image_id in seen:
                result.duplicates += 1
                continue
            seen.add(checked.image_id)
            uris = writer.write(checked.image_id, {checked.ext: data})
            result.images.append(images_row(item, checked, uris[checked.ext], role))
        result.shards = writer.close()
    # Shards first, then the rows that point into them, then the marker (written by the caller).
    write_part(root, "images", IMAGES.from_rows(result.images), run_id, part=batch.key)
    write_part(root, "quarantine", quarantine_table(result.quarantine), run_id, part=f"ingest-{batch.key}")
    return result

