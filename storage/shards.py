"""WebDataset shards under the dataset root: `shards/<role>/<run_id>/shard-[<prefix>-]<000000>.tar`.

Shards are plain POSIX tar files (readable by `tar` and the `webdataset` library); members are named
`<key>.<ext>` with `key` = image_id. A shard is written under a temporary name and renamed when closed
(local disk), or uploaded in one piece (S3), so a killed run never leaves a half shard behind.
"""

from __future__ import annotations

import io
import re
import tarfile
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator

from persona_lens.storage.root import DatasetRoot, StorageError


def shard_dir(root: DatasetRoot, role: str, run_id: str) -> str:
    return root.path("shards", role, run_id)


class ShardWriter:
    """Writes samples into numbered shards, starting a new one past `maxcount` samples or `maxsize` bytes.

    `write(key, {ext: bytes})` returns the sample's member URIs (`<shard path>#<key>.<ext>`, relative to
    the root). `close()` commits the open shard. Use as a context manager; an exception discards the
    open shard instead of committing it.

    Numbering starts after the last shard already committed in the folder (or at `start`), so a resumed
    or repeated run under the same run_id never overwrites a shard that committed rows point into.
    Writers that run at once in one folder (a run's batches on several workers) each need their own
    `prefix` (`shard-<prefix>-<n>.tar`): the numbering alone cannot see shards not yet committed.
    """

    def __init__(self, root: DatasetRoot, role: str, run_id: str, *, start: int | None = None,
                 maxcount: int = 1000, maxsize: int = 1 << 30, prefix: str | None = None) -> None:
        if maxcount < 1 or maxsize < 1:
            raise ValueError(f"maxcount and maxsize must be positive, got {maxcount} and {maxsize}")
        if prefix is not None and not re.fullmatch(r"[A-Za-z0-9_]+", prefix):
            raise ValueError(f"shard prefix must be letters, digits or _, got {prefix!r}")
        self.root, self.folder = root, shard_dir(root, role, run_id)
        self.stem = f"shard-{prefix}-" if prefix else "shard-"
        self.index = next_shard_index(root, self.folder, self.stem) if start is None else start
        self.maxcount, self.maxsize = maxcount, maxsize
        self.shards: list[str] = []
        self._buf: io.BytesIO | None = None
        self._tar = None  # a webdataset.TarWriter while a shard is open
        self._count = self._size = 0

    def _open(self) -> None:
        self._buf = io.BytesIO()
        # webdataset's TarWriter enforces the sample contract (__key__, bytes values); we give it a
        # buffer so that the commit to the final name is one atomic step (its own writer is not atomic).
        import webdataset as wds  # here, not at the top: it imports torch, which readers never need

        self._tar = wds.TarWriter(self._buf, encoder=False, mtime=0)
        self._count = self._size = 0

    def write(self, key: str, sample: dict[str, bytes]) -> dict[str, str]:
        if not key or "/" in key or key.startswith(".") or "." in key:
            raise ValueError(f"shard key must be a plain name without '.' or '/', got {key!r}")
        size = sum(len(v) for v in sample.values())
        if self._tar is not None and (self._count >= self.maxcount or self._size + size > self.maxsize):
            self._commit()
        if self._tar is None:
            self._open()
        self._tar.write({"__key__": key, **sample})
        self._count += 1
        self._size += size
        rel = self.root.relative(self._current_path())
        return {ext: f"{rel}#{key}.{ext}" for ext in sample}

    def _current_path(self) -> str:
        return f"{self.folder}/{self.stem}{self.index:06d}.tar"

    def _commit(self) -> None:
        assert self._tar is not None and self._buf is not None
        self._tar.close()
        data, final = self._buf.getvalue(), self._current_path()
        fs = self.root.fs
        try:
            fs.makedirs(self.folder, exist_ok=True)
            if self.root.is_local:
                tmp = f"{self.folder}/.{self.stem}{self.index:06d}.{uuid.uuid4().hex[:8]}.tmp"
                fs.pipe_file(tmp, data)
                fs.mv(tmp, final)
            else:
                fs.pipe_file(final, data)
        except OSError as exc:
            raise StorageError(f"cannot write shard {final!r}: {exc}") from exc
        self.shards.append(final)
        self.index += 1
        self._tar = self._buf = None

    def close(self) -> list[str]:
        if self._tar is not None and self._count:
            self._commit()
        return self.shards

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._tar = self._buf = None


def next_shard_index(root: DatasetRoot, folder: str, stem: str = "shard-") -> int:
    """One past the highest committed `<stem><n>.tar` in `folder` (0 when there is none)."""
    if not root.fs.exists(folder):
        return 0
    names = [p.rsplit("/", 1)[-1] for p in root.fs.glob(f"{folder}/{stem}*.tar")]
    numbers = [int(n[len(stem):-4]) for n in names if n[len(stem):-4].isdigit()]
    return max(numbers, default=-1) + 1


def split_uri(uri: str) -> tuple[str, str]:
    """`<shard>#<member>` → (shard, member)."""
    shard, sep, member = uri.partition("#")
    if not sep or not member:
        raise ValueError(f"not a shard member URI (expected '<shard>#<member>'): {uri!r}")
    return shard, member


#: What `iter_tar_members` yields instead of the bytes of a member over its `max_bytes`.
TOO_LARGE = b""


def iter_tar_members(fileobj, max_bytes: int | None = None) -> Iterator[tuple[tarfile.TarInfo, bytes | None]]:
    """Stream a tar's members in order: (info, bytes) for regular files, (info, None) for the rest.

    A regular member whose header declares more than `max_bytes` comes as (info, TOO_LARGE) and is
    never read into memory (the header is checked first: a 20 KB archive can declare a sparse 3 GiB
    member). Written with `tarfile` rather than `webdataset` because callers must see every raw member
    name (to refuse `..` and absolute names) instead of having the library group or skip them.
    """
    with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
        for info in tar:
            if info.isfile() and max_bytes is not None and info.size > max_bytes:
                yield info, TOO_LARGE
            elif info.isfile():
                f = tar.extractfile(info)
                yield info, (f.read() if f is not None else None)
            else:
                yield info, None


def read_members(root: DatasetRoot, uris: Iterable[str]) -> dict[str, bytes]:
    """The bytes of shard members `<shard>#<member>` (relative to the root), reading each shard once."""
    by_shard: dict[str, set[str]] = defaultdict(set)
    for uri in uris:
        shard, member = split_uri(uri)
        by_shard[shard].add(member)
    out: dict[str, bytes] = {}
    for shard, members in by_shard.items():
        path = root.path(shard)
        try:
            with root.fs.open(path, "rb") as f:
                for info, data in iter_tar_members(f):
                    if info.name in members and data is not None:
                        out[f"{shard}#{info.name}"] = data
        except (OSError, tarfile.TarError) as exc:
            raise StorageError(f"cannot read shard {path!r}: {exc}") from exc
        missing = members - {u.split("#", 1)[1] for u in out if u.startswith(shard + "#")}
        if missing:
            raise StorageError(f"shard {path!r} lacks member(s) {sorted(missing)[:5]}")
    return out


def list_shards(root: DatasetRoot, role: str | None = None) -> list[str]:
    pattern = root.path("shards", role or "*", "*", "shard-*.tar")
    return sorted(root.fs.glob(pattern))
