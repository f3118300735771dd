"""The one markdown-table writer behind every artifact and model card."""

import pyarrow as pa

from persona_lens.tasks.markdown import arrow_markdown, facts_markdown, markdown_table, tables_markdown


def test_a_table_has_a_header_a_rule_and_a_row_per_row_with_empty_cells_for_none():
    assert markdown_table(["a", "b"], [[1, None], ["x", 0.12345]], digits=2).splitlines() == [
        "| a | b |", "|---|---|", "| 1 |  |", "| x | 0.12 |"]


def test_arrow_tables_and_headings():
    table = pa.table({"stage": ["rank"], "value": [0.5]})
    assert arrow_markdown(table) == "| stage | value |\n|---|---|\n| rank | 0.5 |"
    assert arrow_markdown(table.slice(0, 0)) == "_(no rows)_"
    assert tables_markdown({"eval_rank": table}).startswith("#### eval rank\n| stage | value |")
    assert facts_markdown("Embed", {"images": 3}) == "### Embed\n- **images**: 3"
