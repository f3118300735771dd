"""Loading a rendered world into a dataset root: its images through ingest, its truth tables as tables.

The images go through the normal ingest flow (one source per role manifest), exactly like a user's
data; this module adds what only a world has: the truth tables and the rows whose image ids were
known at render time (generations, attention, captions).
"""

from __future__ import annotations

import pyarrow.parquet as pq

from persona_lens.schemas import get_schema, validate
from persona_lens.schemas.base import conform
from persona_lens.storage import DatasetRoot, read_marker, write_marker, write_part
from persona_lens.world.make import LABEL_COLUMNS, World

# Label columns each role's manifest carries into the images table (scenes have no identity).
ROLE_LABELS: dict[str, list[str]] = {"scene": []}


def role_labels(role: str) -> list[str]:
    return ROLE_LABELS.get(role, list(LABEL_COLUMNS))


def load_world_tables(world: World, root: DatasetRoot, run_id: str) -> dict[str, int]:
    """Write the world's tables into `root` once; a re-load of the same world writes nothing.

    Returns rows written per table ({} when this world was loaded before, by any run).
    """
    key = world.key[:16]
    if read_marker(root, "world", key) is not None:
        return {}
    written = {}
    for name in world.tables:
        # Conform first: the world's render-time `generations` predates the schema's optional columns.
        table = validate(conform(pq.read_table(world.table(name)), get_schema(name)), get_schema(name))
        write_part(root, name, table, run_id, part=f"world-{key}")
        written[name] = table.num_rows
    write_marker(root, "world", key, {"run_id": run_id, "size": world.spec.size, "seed": world.spec.seed,
                                      "tables": written})
    return written
