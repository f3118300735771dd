"""`python -m persona_lens.schemas` prints the table reference (docs/tables.md is made with it)."""

from persona_lens.schemas import TABLES, eval_table

print("# Tables\n\nGenerated from `schemas/` by `python -m persona_lens.schemas > docs/tables.md`; "
      "the schemas are the single source of truth.\n")
print("Layout under the dataset root: `tables/<table>/run_id=<id>/part-<key>.parquet`; DuckDB views carry "
      "the table names (`persona-lens sql`), and the view `eval` holds every `eval_<stage>` table in one "
      "(they share one schema).\n")
for schema in [*TABLES.values(), eval_table("stage")]:
    print(schema.docs_markdown().replace("eval_stage", "eval_<stage>"), end="\n\n")
