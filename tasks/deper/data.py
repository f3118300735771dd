"""DEPER's data: viewers, the images they looked at, their attention sequences and captions, validated.

Sources:
- a world folder (`world/make.py`'s layout, or any folder holding `tables/{world_images,world_viewers,
  attention,captions}.parquet` beside `images/scenes/…`): `load_world_folder(folder)`;
- JSON lines (docs/describe.md): one object per line `{"viewer_id", "image_id", "split", "fixations":
  [{"x", "y", "t", "dur"}…], "caption"}`, with the known images as `image_id → path`: `load_jsonl`.

Every row is checked (`validate`): fixations inside [0, 1], finite, durations ≥ 0, at most
`MAX_FIXATIONS` kept (the first ones), an image that was ingested, a non-empty caption, an attention
row with its caption. A bad row becomes a `quarantine` row with a reason code; good rows are kept.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from persona_lens.tasks.quarantine import quarantine_row
from persona_lens.world.scenes import scene_path

STAGE = "describe"
MAX_FIXATIONS = 30
SPLITS = ("train", "fewshot")


class DeperDataError(ValueError):
    """The data cannot be used as asked (a missing table, too few viewers); the message says what."""


@dataclass(frozen=True)
class Example:
    """One viewer's look at one image: fixations (n, 4) = x, y, t, dur, and the caption it wrote."""

    viewer_id: str
    image_id: str
    fixations: np.ndarray
    caption: str


@dataclass
class DeperData:
    images: dict[str, Path]                         # image_id → image file
    splits: dict[str, str]                          # viewer_id → train | fewshot
    examples: list[Example]
    quarantine: list[dict] = field(default_factory=list)

    def viewers(self, split: str) -> list[str]:
        return sorted(v for v, s in self.splits.items() if s == split and self.by_viewer().get(v))

    def by_viewer(self) -> dict[str, list[Example]]:
        out: dict[str, list[Example]] = defaultdict(list)
        for e in self.examples:
            out[e.viewer_id].append(e)
        return dict(out)

    def split_examples(self, split: str) -> list[Example]:
        return [e for e in self.examples if self.splits.get(e.viewer_id) == split]


def check_fixations(fixations: list[dict]) -> str | None:
    """None if the fixations are usable, else the reason code ('no_fixations', 'fixation_outside_image',
    'negative_duration', 'non_finite_fixation')."""
    if not fixations:
        return "no_fixations"
    for f in fixations:
        vals = [f.get(k) for k in ("x", "y", "t", "dur")]
        if any(v is None or not math.isfinite(float(v)) for v in vals):
            return "non_finite_fixation"
        if not (0.0 <= f["x"] <= 1.0 and 0.0 <= f["y"] <= 1.0):
            return "fixation_outside_image"
        if f["dur"] < 0:
            return "negative_duration"
    return None


def validate(images: dict[str, Path], viewers: dict[str, str], attention: list[dict], captions: list[dict],
             source: str) -> DeperData:
    """Pair attention and caption rows by (viewer, image); every bad row becomes a quarantine row."""
    bad: list[dict] = []

    def refuse(row: dict, reason: str, detail: str) -> None:
        bad.append(quarantine_row(STAGE, f"{source}:{row.get('viewer_id')}/{row.get('image_id')}", reason, detail))

    splits = {}
    for v, s in viewers.items():
        if s not in SPLITS:
            bad.append(quarantine_row(STAGE, f"{source}:{v}", "unknown_split", f"split {s!r} not in {SPLITS}"))
        else:
            splits[v] = s
    fix: dict[tuple[str, str], np.ndarray] = {}
    for row in attention:
        key = (row.get("viewer_id"), row.get("image_id"))
        fx = list(row.get("fixations") or [])
        reason = check_fixations(fx)
        if key[1] not in images:
            refuse(row, "unknown_image", "attention for an image that was not ingested")
        elif key[0] not in splits:
            refuse(row, "unknown_viewer", "attention by a viewer with no split")
        elif reason:
            refuse(row, reason, json.dumps(fx[:MAX_FIXATIONS])[:300])
        else:
            fix[key] = np.array([[f["x"], f["y"], f["t"], f["dur"]] for f in fx[:MAX_FIXATIONS]], np.float32)
    examples, seen = [], set()
    for row in captions:
        key = (row.get("viewer_id"), row.get("image_id"))
        text = (row.get("text") or "").strip()
        if row.get("model", "human") != "human":
            continue                                   # generated captions are outputs, not data
        if key[1] not in images:
            refuse(row, "unknown_image", "caption for an image that was not ingested")
        elif not text:
            refuse(row, "empty_caption", "caption text is empty")
        elif key in seen:
            refuse(row, "duplicate_caption", "a second caption by the same viewer for the same image")
        elif key not in fix:
            if key[0] in splits:
                refuse(row, "no_attention", "caption without a valid attention row")
        else:
            seen.add(key)
            examples.append(Example(key[0], key[1], fix[key], text))
    examples.sort(key=lambda e: (e.viewer_id, e.image_id))
    return DeperData(images=images, splits=splits, examples=examples, quarantine=bad)


def load_world_folder(folder: str | Path) -> DeperData:
    """The scenes, viewers, attention and captions of a rendered world folder, validated."""
    folder = Path(folder)
    need = ("world_images", "world_viewers", "attention", "captions")
    missing = [n for n in need if not (folder / "tables" / f"{n}.parquet").is_file()]
    if missing:
        raise DeperDataError(f"{str(folder)!r} lacks the world tables {missing}: render it with "
                             f"`persona-lens world make --out {folder}`")
    table = {n: pq.read_table(folder / "tables" / f"{n}.parquet").to_pylist() for n in need}
    images = {r["image_id"]: folder / scene_path(json.loads(r["params"])["scene"])
              for r in table["world_images"] if r["kind"] == "scene"}
    viewers = {r["viewer_id"]: r["split"] for r in table["world_viewers"]}
    return validate(images, viewers, table["attention"], table["captions"], source=str(folder))


def inventory_captions(folder: str | Path) -> dict[str, str]:
    """Scene image_id → a caption naming every object of the scene, left to right, in plain words
    ("a big red striped cup, a small blue lamp and a cat."), from a world folder's `world_objects`;
    empty when the folder has none. The captioner's grounding task (train-captioner `inventory_rate`):
    what a pretrained captioner has learned from generic captions before any persona meets it."""
    from persona_lens.world.wording import COLOR_WORDS, KIND_WORDS, SIZE_WORDS, TEXTURE_WORDS

    path = Path(folder) / "tables" / "world_objects.parquet"
    if not path.is_file():
        return {}
    by_image: dict[str, list[dict]] = defaultdict(list)
    for row in pq.read_table(path).to_pylist():
        by_image[row["image_id"]].append(row)
    out = {}
    for image_id, objects in by_image.items():
        phrases = []
        for o in sorted(objects, key=lambda o: (o["x"], o["object_id"])):
            try:
                a = json.loads(o["attributes"])
                words = [SIZE_WORDS[a["size"]][0]] if a.get("size") in SIZE_WORDS else []
                words.append(COLOR_WORDS[a["color"]][0])
                words += [TEXTURE_WORDS[a["texture"]][0]] if a.get("texture") in TEXTURE_WORDS else []
                words.append(KIND_WORDS[o["kind"]][0])
            except (ValueError, KeyError, TypeError) as exc:
                raise DeperDataError(f"{str(path)!r}: object {o['object_id']!r} of image {image_id!r} cannot be "
                                     f"named (kind {o['kind']!r}, attributes {o['attributes'][:120]!r}): {exc!r}") from exc
            phrases.append(("an " if words[0][0] in "aeiou" else "a ") + " ".join(words))
        out[image_id] = (phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]) + "."
    return out


def load_jsonl(path: str | Path, images: dict[str, Path]) -> DeperData:
    """Attention + captions from JSON lines (one example per line), against the known `images`.

    A line that is not a JSON object with the fields viewer_id, image_id, split, fixations, caption
    becomes a quarantine row ('bad_json_line'); a viewer's split is its first line's.
    """
    bad, viewers, attention, captions = [], {}, [], []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            vid, iid, split, fx, cap = (rec[k] for k in ("viewer_id", "image_id", "split", "fixations", "caption"))
            if not (isinstance(fx, list) and all(isinstance(f, dict) for f in fx) and isinstance(cap, str)):
                raise TypeError("fixations must be a list of objects and caption a string")
        except (ValueError, KeyError, TypeError) as exc:
            bad.append(quarantine_row(STAGE, f"{path}:{n}", "bad_json_line", str(exc)[:300]))
            continue
        viewers.setdefault(vid, split)
        attention.append({"viewer_id": vid, "image_id": iid, "fixations": fx})
        captions.append({"viewer_id": vid, "image_id": iid, "text": cap, "model": "human"})
    data = validate(images, viewers, attention, captions, source=str(path))
    data.quarantine = bad + data.quarantine
    return data


def few_shot_episodes(data: DeperData, split: str, k: int, seed: int, max_queries: int | None = None
                      ) -> tuple[dict[str, list[Example]], list[Example], list[dict]]:
    """Per viewer of `split`: K support examples (seeded draw) and the rest as queries.

    A viewer with fewer than K + 1 examples cannot be scored: it becomes a quarantine row
    ('too_few_examples') and is left out. Returns (support by viewer, queries, quarantine rows).
    """
    if k < 1:
        raise DeperDataError(f"k must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    support, queries, bad = {}, [], []
    for vid, exs in sorted(data.by_viewer().items()):
        if data.splits.get(vid) != split:
            continue
        if len(exs) < k + 1:
            bad.append(quarantine_row(STAGE, vid, "too_few_examples",
                                      f"{len(exs)} examples; K={k} shots need at least {k + 1}"))
            continue
        order = rng.permutation(len(exs))
        support[vid] = [exs[i] for i in order[:k]]
        rest = [exs[i] for i in order[k:]]
        queries += rest[:max_queries] if max_queries else rest
    return support, queries, bad


def render_world_scenes(size: str, seed: int, folder: str | Path) -> Path:
    """The world's scenes and viewers alone (no creatures or profiles) in a world-folder layout:
    `folder/tables/*.parquet` + `folder/images/scenes/`; reused when `folder/tables/captions.parquet`
    exists (written last, after a temporary folder is renamed into place)."""
    import os
    import shutil

    from persona_lens.schemas import get_schema
    from persona_lens.world.scenes import render_scenes
    from persona_lens.world.spec import world_spec

    folder = Path(folder)
    if (folder / "tables" / "captions.parquet").is_file():
        return folder
    tmp = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tables").mkdir(parents=True)
    part = render_scenes(world_spec(size, seed), tmp)
    for name in sorted(part.tables, key=lambda n: n == "captions"):
        pq.write_table(get_schema(name).from_rows(part.tables[name]), tmp / "tables" / f"{name}.parquet")
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, folder)
    return folder
