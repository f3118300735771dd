"""What the rank stage reads from the tables: the gallery, the queries (generated images and their
paired base images, each claiming its subject's identity), and vectors of any encoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from persona_lens.storage import Catalog
from persona_lens.tasks.rank.metrics import GRANULARITIES
from persona_lens.tasks.rank.ranker import RankError

# The subject's labels come from its own reference/gallery pictures, so a generated image ingested
# without labels is still ranked for the identity its model was personalized on. A base image is the
# base model's answer to the same prompt and seed: it is ranked for the same subject, which the base
# model never saw (the natural "no personalization" reference point).
_QUERIES_SQL = """
WITH subject_labels AS (
    SELECT instance AS subject, any_value(category) AS category, any_value(subclass) AS subclass
    FROM images WHERE role IN ('reference', 'gallery') AND instance IS NOT NULL GROUP BY instance
), personalized AS (
    SELECT DISTINCT g.image_id, g.model_id, g.subject, g.base_image_id
    FROM generations g JOIN images i ON i.image_id = g.image_id
    WHERE g.method <> 'base' AND g.subject IS NOT NULL
)
SELECT p.image_id AS query_image_id, p.model_id, p.subject, 'personalized' AS kind,
       p.base_image_id AS paired_image_id,
       coalesce(s.category, i.category) AS category, coalesce(s.subclass, i.subclass) AS subclass,
       p.subject AS instance
FROM personalized p JOIN images i ON i.image_id = p.image_id LEFT JOIN subject_labels s ON s.subject = p.subject
UNION ALL
SELECT p.base_image_id, coalesce(b.model_id, 'base'), p.subject, 'base', p.image_id,
       coalesce(s.category, i.category), coalesce(s.subclass, i.subclass), p.subject
FROM personalized p JOIN images i ON i.image_id = p.image_id LEFT JOIN subject_labels s ON s.subject = p.subject
     LEFT JOIN (SELECT DISTINCT image_id, model_id FROM generations) b ON b.image_id = p.base_image_id
WHERE p.base_image_id IS NOT NULL AND EXISTS (SELECT 1 FROM images x WHERE x.image_id = p.base_image_id)
ORDER BY kind DESC, model_id, query_image_id
"""

_ROLE_SQL = """
SELECT image_id, category, subclass, instance FROM images
WHERE role = ? AND instance IS NOT NULL ORDER BY instance, image_id
"""

_VECTORS_SQL = """
SELECT image_id, any_value(vector) AS vector FROM embeddings
WHERE encoder = ? AND image_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY image_id
"""


@dataclass(frozen=True)
class Labelled:
    """Images with their identity labels per granularity (arrays aligned with `image_ids`)."""

    image_ids: np.ndarray
    labels: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.image_ids)

    @classmethod
    def from_table(cls, table: pa.Table) -> "Labelled":
        cols = table.to_pydict()
        return cls(np.array(cols["image_id"] if "image_id" in cols else cols["query_image_id"], dtype=object),
                   {g: np.array(cols[g], dtype=object) for g in GRANULARITIES})


@dataclass(frozen=True)
class Queries(Labelled):
    """Generated images (`kind` personalized) and their paired base images (`kind` base), each ranked
    for `subject`; `paired` holds the other image of the pair."""

    model_ids: np.ndarray = None
    subjects: np.ndarray = None
    kinds: np.ndarray = None
    paired: np.ndarray = None

    @classmethod
    def from_table(cls, table: pa.Table) -> "Queries":
        base = Labelled.from_table(table)
        cols = table.to_pydict()
        return cls(base.image_ids, base.labels, *(np.array(cols[c], dtype=object)
                                                  for c in ("model_id", "subject", "kind", "paired_image_id")))


def load_gallery(catalog: Catalog, role: str = "gallery") -> Labelled:
    """Images of `role` that carry an instance label (the identity-labelled gallery, or the references)."""
    return Labelled.from_table(catalog.query(_ROLE_SQL, [role]))


def load_queries(catalog: Catalog) -> Queries:
    """Every personalized generation with a subject, and its base image when there is one."""
    return Queries.from_table(catalog.query(_QUERIES_SQL))


def load_vectors(catalog: Catalog, encoder: str, image_ids: np.ndarray) -> np.ndarray:
    """(n, d) float32 vectors of `encoder` for `image_ids`, in that order.

    Raises RankError naming the encoder and how many images lack a vector (embed them first).
    """
    table = catalog.query(_VECTORS_SQL, [encoder, [str(i) for i in image_ids]])
    index = {k: i for i, k in enumerate(table.column("image_id").to_pylist())}
    missing = [i for i in image_ids if i not in index]
    if missing:
        raise RankError(f"{len(missing)} of {len(image_ids)} images have no {encoder!r} embedding (e.g. "
                        f"{missing[0][:16]}…); run `persona-lens embed --encoder {encoder}` first")
    if not len(image_ids):
        return np.zeros((0, 0), dtype=np.float32)
    vectors = table.column("vector").combine_chunks()
    flat = np.asarray(vectors.flatten(), dtype=np.float32).reshape(len(vectors), -1)
    return flat[[index[i] for i in image_ids]]
