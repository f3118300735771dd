"""A tiny `images` table and its shard, written directly with the storage API (no ingest needed)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import numpy as np
from PIL import Image

from persona_lens.schemas import IMAGES
from persona_lens.storage import DatasetRoot, ShardWriter, write_part


def jpeg(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    """A small seeded picture: smooth colour gradients plus noise, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, w)[None, :, None] * rng.integers(-120, 120, 3)
    arr = np.clip(base + ramp + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_images(root: DatasetRoot, files: list[bytes], run_id: str = "ingest-1", role: str = "gallery",
                 maxcount: int = 1000) -> list[str]:
    """Shard `files` and write their `images` rows (no validation: bad bytes stay bad). Returns ids."""
    rows, ids = [], []
    now = dt.datetime.now(dt.timezone.utc)
    with ShardWriter(root, role, run_id, maxcount=maxcount) as writer:
        for data in files:
            image_id = hashlib.sha256(data).hexdigest()
            uri = writer.write(image_id, {"jpg": data})["jpg"]
            ids.append(image_id)
            rows.append({"image_id": image_id, "uri": uri, "role": role, "source": f"test:{image_id[:8]}",
                         "labels": [], "width": 48, "height": 40, "format": "JPEG", "num_bytes": len(data),
                         "ingested_at": now})
    write_part(root, "images", IMAGES.from_rows(rows), run_id, part="images")
    return ids
