"""Table schemas: the single source of truth for every table's columns (ARCHITECTURE.md §5)."""

from persona_lens.schemas.base import PARTITION_COLUMN, Column, SchemaError, TableSchema, validate
from persona_lens.schemas.tables import (
    ADAPTERS, ATTENTION, CAPTION_SCORES, CAPTIONS, EMBEDDINGS, EXPLANATIONS, GENERATE_TRUTH, GENERATIONS, IMAGES, PERSONAS,
    QUARANTINE, RANK_SCORES, RANK_SUMMARY, RANKINGS, RUNS, TEXT_EMBEDDINGS, eval_table,
)
from persona_lens.schemas.world import (
    WORLD_IDENTITIES, WORLD_IMAGES, WORLD_OBJECTS, WORLD_PROFILES, WORLD_TABLES, WORLD_VIEWERS,
)

TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (IMAGES, QUARANTINE, GENERATIONS, EMBEDDINGS, TEXT_EMBEDDINGS, ATTENTION, CAPTIONS,
              EXPLANATIONS, RANKINGS, RANK_SUMMARY, RANK_SCORES, PERSONAS, CAPTION_SCORES, RUNS, ADAPTERS,
              GENERATE_TRUTH, *WORLD_TABLES)
}


#: The view over every `eval_<stage>` table found under a root (they share one schema, `eval_table`).
EVAL_VIEW = "eval"


def get_schema(name: str) -> TableSchema:
    """The schema of table `name`; `eval_<stage>` tables share one schema."""
    if name in TABLES:
        return TABLES[name]
    if name.startswith("eval_"):
        return eval_table(name.removeprefix("eval_"))
    raise KeyError(f"unknown table {name!r}; known: {sorted(TABLES)} and eval_<stage>")


__all__ = ["EVAL_VIEW", "PARTITION_COLUMN", "Column", "SchemaError", "TableSchema", "TABLES", "get_schema", "validate",
           "eval_table", "WORLD_IDENTITIES", "WORLD_IMAGES", "WORLD_OBJECTS", "WORLD_PROFILES", "WORLD_TABLES",
           "WORLD_VIEWERS", *(t.name.upper() for t in TABLES.values() if not t.name.startswith("world_"))]
