"""Images with their identity labels per granularity: the gallery, the references, the queries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from persona_lens.tasks.rank.metrics import GRANULARITIES


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
