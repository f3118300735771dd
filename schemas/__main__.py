"""`python -m persona_lens.schemas` prints the table reference (docs/tables.md is made with it)."""

from persona_lens.schemas import TABLES, eval_table

print("# Tables\n\nGenerated from `schemas/` by `python -m persona_lens.schemas > docs/tables.md`; "
      "the schemas are the single source of truth.\n")
print("Layout under the dataset root: `tables/<table>/run_id=<id>/part-<key>.parquet`; DuckDB views carry "
      "the table names (`persona-lens sql`), and the view `eval` holds every `eval_<stage>` table in one "
      "(they share one schema).\n")
print("Every table but the `runs` log is a set by its key: a key may be written more than once (a re-run, "
      "two writers on one root, a retried batch), and every view, like `storage.read_table`, shows one row "
      "per key, the latest written (greatest `run_id`, then part path). Every version stays on disk: the "
      "DuckDB schema `history` has the same views with every row (`SELECT * FROM history.eval_rank`).\n")
for schema in [*TABLES.values(), eval_table("stage")]:
    print(schema.docs_markdown().replace("eval_stage", "eval_<stage>"), end="\n\n")
