"""Handing the generated twins to ingest: PNG files and one manifest per role, in a local staging folder.

Ingest then validates, hashes, dedupes and shards them like any user's images (a base twin shared by
several models is one image), so the generate stage never writes shards or `images` rows itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from persona_lens.tasks.generate.tables import GeneratedImage

#: ingest role of each generations.method: the base model's twins, and everything personalized.
BASE_ROLE, PERSONALIZED_ROLE = "base", "generated"


def stage_images(images: list[GeneratedImage], folder: str | Path) -> dict[str, str]:
    """Write each distinct image once under `folder/<role>/`, with a manifest (path, subject) per role;
    returns role → manifest path (roles without images are left out)."""
    folder = Path(folder)
    rows: dict[str, dict[str, str]] = {}
    for image in images:
        role = BASE_ROLE if image.row["method"] == "base" else PERSONALIZED_ROLE
        path = folder / role / f"{image.image_id}.png"
        if image.image_id not in rows.setdefault(role, {}):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(image.png)
            rows[role][image.image_id] = image.row.get("subject") or ""
    manifests = {}
    for role, by_id in rows.items():
        manifest = folder / f"{role}.csv"
        with manifest.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "subject"])
            for image_id, subject in sorted(by_id.items()):
                w.writerow([str(folder / role / f"{image_id}.png"), subject])
        manifests[role] = str(manifest)
    return manifests


def params_key(params_json: dict) -> str:
    """The marker key of one set of generate parameters: the same parameters make the same images."""
    return hashlib.sha256(json.dumps(params_json, sort_keys=True).encode()).hexdigest()[:16]
