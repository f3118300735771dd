"""Render a whole world into a folder that the normal ingest path reads.

Layout of a world folder (what `persona-lens world make --out DIR` writes):

    DIR/world.json                    spec, key, counts: written last, so its presence means complete
    DIR/images/...                    PNG files
    DIR/manifests/<role>.csv          path (relative to the manifest) + category, subclass, instance, subject
    DIR/tables/<table>.parquet        truth tables (world_*) and the rows whose image ids are known at
                                      render time (generations, attention, captions)

A world is rendered into a temporary sibling folder and renamed into place, so a killed render leaves
no half world that a later run could mistake for a finished one.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from persona_lens.schemas import get_schema
from persona_lens.world.spec import WorldError, WorldPart, WorldSpec
from persona_lens.world.taxonomy import load_taxonomy

FORMAT_VERSION = 1
ROLES = ("reference", "gallery", "base", "generated", "scene")
LABEL_COLUMNS = ("category", "subclass", "instance", "subject")


@dataclass(frozen=True)
class World:
    """A rendered world folder: where its manifests and tables are, and what it holds."""

    folder: Path
    spec: WorldSpec
    key: str
    counts: dict[str, int]

    def manifest(self, role: str) -> Path:
        return self.folder / "manifests" / f"{role}.csv"

    @property
    def roles(self) -> list[str]:
        return [r for r in ROLES if self.manifest(r).is_file()]

    def table(self, name: str) -> Path:
        return self.folder / "tables" / f"{name}.parquet"

    @property
    def tables(self) -> list[str]:
        return sorted(p.stem for p in (self.folder / "tables").glob("*.parquet"))


def world_key(spec: WorldSpec) -> str:
    """What the world's bytes depend on: the spec, the taxonomy and the renderer's source code.

    Hashing the renderer's own files means a cached world is never reused after the code that drew it
    changed (a version constant would rely on someone remembering to bump it).
    """
    h = hashlib.sha256()
    h.update(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    h.update(load_taxonomy().digest.encode())
    h.update(str(FORMAT_VERSION).encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def render_world(spec: WorldSpec, folder: Path, workers: int = 1) -> WorldPart:
    """Render every part of the world into `folder`; return the manifests' and tables' rows.

    `workers` processes share the creature renders (the bulk of a large world); the bytes do not
    depend on it.
    """
    from persona_lens.world.identities import render_identities
    from persona_lens.world.generators import render_profiles
    from persona_lens.world.scenes import render_scenes

    part = render_identities(spec, folder, workers=workers)
    part.merge(render_profiles(spec, folder, workers=workers))
    part.merge(render_scenes(spec, folder))
    return part


def make_world(spec: WorldSpec, out: str | Path, workers: int = 1) -> World:
    """Render `spec` into the folder `out`, or reuse it if it already holds this very world.

    Raises WorldError if `out` holds something else (another world, or files that are not a world).
    """
    out = Path(out).expanduser().resolve()
    key = world_key(spec)
    if (out / "world.json").is_file():
        existing = read_world(out)
        if existing.key == key:
            return existing
        raise WorldError(f"{str(out)!r} holds another world (size {existing.spec.size!r}, seed "
                         f"{existing.spec.seed}, or older renderer code); choose another --out or delete it")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WorldError(f"{str(out)!r} exists and is not an empty folder; a world needs a folder of its own")

    tmp = out.parent / f".{out.name}.rendering-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        started = time.perf_counter()
        part = render_world(spec, tmp, workers)
        counts = _write_manifests(part, tmp) | _write_tables(part, tmp)
        info = {"format_version": FORMAT_VERSION, "key": key, "spec": dataclasses.asdict(spec),
                "taxonomy": load_taxonomy().digest, "counts": counts,
                "render_seconds": round(time.perf_counter() - started, 2)}
        (tmp / "world.json").write_text(json.dumps(info, indent=2, sort_keys=True))
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_world(out)


def read_world(folder: str | Path) -> World:
    """The world rendered in `folder`. Raises WorldError if the folder holds no complete world."""
    folder = Path(folder).expanduser().resolve()
    try:
        info = json.loads((folder / "world.json").read_text())
        spec = WorldSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in info["spec"].items()})
        return World(folder, spec, info["key"], dict(info["counts"]))
    except FileNotFoundError as exc:
        raise WorldError(f"{str(folder)!r} holds no complete world (no world.json); render one with "
                         f"`persona-lens world make --out {folder}`") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise WorldError(f"{str(folder / 'world.json')!r} is not a valid world description: {exc}") from exc


def _write_manifests(part: WorldPart, folder: Path) -> dict[str, int]:
    unknown = set(part.manifest) - set(ROLES)
    if unknown:
        raise WorldError(f"world parts produced images of unknown role(s) {sorted(unknown)}; known: {ROLES}")
    (folder / "manifests").mkdir()
    counts = {}
    for role, rows in part.manifest.items():
        with (folder / "manifests" / f"{role}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["path", *LABEL_COLUMNS], extrasaction="raise")
            writer.writeheader()
            # Ingest resolves a manifest's relative paths against the manifest's own folder.
            writer.writerows({"path": f"../{row['path']}", **{k: row.get(k) for k in LABEL_COLUMNS}}
                             for row in rows)
        counts[f"images.{role}"] = len(rows)
    return counts


def _write_tables(part: WorldPart, folder: Path) -> dict[str, int]:
    (folder / "tables").mkdir()
    counts = {}
    for name, rows in sorted(part.tables.items()):
        # from_rows validates against the table's schema: a renderer bug fails the render, not a query.
        pq.write_table(get_schema(name).from_rows(rows), folder / "tables" / f"{name}.parquet")
        counts[name] = len(rows)
    return counts
