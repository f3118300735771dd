"""The command line: bound parameters, output formats, one-line errors."""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from persona_lens.flows.cli import app
from persona_lens.flows.entry import main
from persona_lens.schemas import IMAGES
from persona_lens.storage import write_part

runner = CliRunner()


@pytest.fixture
def filled_root(root):
    rows = [dict(image_id=f"{i:064x}", uri=f"s#{i}.jpg", role="gallery", source=f"{i}.jpg",
                 category="bird" if i < 3 else "cat", labels=[], width=8 + i, height=8, format="JPEG",
                 num_bytes=10, ingested_at=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)) for i in range(5)]
    write_part(root, "images", IMAGES.from_rows(rows), "r1")
    return root


def test_sql_binds_positional_parameters(filled_root):
    res = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM images WHERE category = ? AND width > ?",
                              "-p", "bird", "-p", "8", "--root", filled_root.url, "-f", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == [{"n": 2}]


def test_sql_binds_named_parameters_and_a_quote_in_a_value_is_just_data(filled_root):
    res = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM images WHERE category = $c",
                              "-n", "c=bird' OR '1'='1", "--root", filled_root.url, "-f", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == ['"n"', "0"]


def test_sql_writes_parquet_to_a_file(filled_root, tmp_path):
    out = tmp_path / "r.parquet"
    res = runner.invoke(app, ["sql", "SELECT image_id, run_id FROM images", "--root", filled_root.url,
                              "-f", "parquet", "-o", str(out)])
    assert res.exit_code == 0, res.output
    t = pq.read_table(out)
    assert t.num_rows == 5 and set(t.column("run_id").to_pylist()) == {"r1"}


def test_sql_runs_a_named_query_file(filled_root):
    res = runner.invoke(app, ["sql", "@images_by_label", "--root", filled_root.url, "-f", "json"])
    assert res.exit_code == 0, res.output
    assert {r["category"]: r["images"] for r in json.loads(res.output)} == {"bird": 3, "cat": 2}


def run_main(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["persona-lens", *argv])
    monkeypatch.delenv("PERSONA_LENS_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr()


def test_a_bad_query_is_one_line_on_stderr_and_exit_2(filled_root, monkeypatch, capsys):
    code, out = run_main(monkeypatch, capsys, "sql", "SELECT * FROM nosuchtable", "--root", filled_root.url)
    assert code == 2
    assert out.err.count("\n") == 1 and out.err.startswith("error: ") and "nosuchtable" in out.err
    assert "Traceback" not in out.err + out.out


def test_an_unknown_query_file_is_named(filled_root, monkeypatch, capsys):
    code, out = run_main(monkeypatch, capsys, "sql", "@nope", "--root", filled_root.url)
    assert code == 2 and "no query named 'nope'" in out.err


def test_a_missing_config_file_is_one_line(tmp_path, monkeypatch, capsys):
    code, out = run_main(monkeypatch, capsys, "run", "--root", str(tmp_path), "--config", str(tmp_path / "x.yaml"))
    assert code == 2 and out.err.startswith("error: cannot read config file")


def test_a_config_with_an_unknown_field_names_it(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("embed:\n  encoderr: foo\n")
    code, out = run_main(monkeypatch, capsys, "run", "--root", str(tmp_path), "--config", str(cfg))
    assert code == 2 and out.err == "error: unknown parameter 'config.embed.encoderr' (got 'foo')\n"


def test_an_unknown_world_size_is_one_line_naming_the_sizes(tmp_path, monkeypatch, capsys):
    code, out = run_main(monkeypatch, capsys, "world", "make", "--size", "huge", "--out", str(tmp_path / "w"))
    assert code == 2 and out.err.startswith("error: parameter 'size': unknown world size") and "'small'" in out.err
    assert "(got 'huge')" in out.err


def test_loading_a_folder_that_is_no_world_is_one_line(tmp_path, monkeypatch, capsys):
    code, out = run_main(monkeypatch, capsys, "world", "load", str(tmp_path), "--root", str(tmp_path / "r"))
    assert code == 2 and "holds no complete world" in out.err


def test_sql_starts_without_prefect_torch_or_the_stages(filled_root):
    # The console script sends `sql` past the full command line (flows/entry.py): nothing of a flow loads.
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "persona_lens.flows.entry", "sql",
                          "SELECT count(*) AS n FROM images", "--root", filled_root.url, "-f", "json"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout) == [{"n": 5}]
    imported = {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines() if line.startswith("import time")}
    assert {"duckdb", "persona_lens.storage.catalog"} <= imported
    heavy = {m for m in imported if m.split(".")[0] in ("torch", "prefect", "webdataset", "transformers")
             or m.startswith("persona_lens.tasks")}
    assert not heavy, sorted(heavy)[:10]


def test_a_table_too_wide_for_the_terminal_prints_one_block_per_row(filled_root):
    wide = runner.invoke(app, ["sql", "SELECT * FROM images ORDER BY image_id LIMIT 2", "--root", filled_root.url],
                         env={"COLUMNS": "80"})
    assert wide.exit_code == 0, wide.output
    lines = wide.output.splitlines()
    assert lines[0].startswith("-[ row 1 ]") and f"image_id    | {0:064x}" in lines
    assert "labels      | {}" in lines and lines[-1] == "(2 rows, 15 columns)"
    narrow = runner.invoke(app, ["sql", "SELECT category, count(*) AS n FROM images GROUP BY 1 ORDER BY 1",
                                 "--root", filled_root.url], env={"COLUMNS": "80"})
    assert "-[ row" not in narrow.output and "bird" in narrow.output and "category" in narrow.output


def test_csv_output_writes_list_and_map_columns_as_json_cells(filled_root):
    res = runner.invoke(app, ["sql", "SELECT image_id, labels, MAP {'a': 'b'} AS m, [1, 2] AS l FROM images "
                                     "ORDER BY image_id LIMIT 1", "--root", filled_root.url, "-f", "csv"])
    assert res.exit_code == 0, res.output
    header, row = res.output.strip().splitlines()
    assert header == '"image_id","labels","m","l"'
    assert row.endswith('"{}","{""a"": ""b""}","[1, 2]"'), row


def test_sql_is_read_only_and_confined_to_the_root_unless_allowed(filled_root, tmp_path, monkeypatch, capsys):
    outside = tmp_path / "outside.txt"
    outside.write_text("hello")
    code, out = run_main(monkeypatch, capsys, "sql", f"SELECT content FROM read_text('{outside}')",
                         "--root", filled_root.url)
    assert code == 2 and out.err.count("\n") == 1 and "disabled by configuration" in out.err
    code, out = run_main(monkeypatch, capsys, "sql", f"COPY (SELECT 1) TO '{tmp_path / 'x.csv'}'",
                         "--root", filled_root.url)
    assert code == 2 and "only queries that read" in out.err and not (tmp_path / "x.csv").exists()
    res = runner.invoke(app, ["sql", f"SELECT content FROM read_text('{outside}')", "--root", filled_root.url,
                              "--allow-external", "-f", "json"])
    assert res.exit_code == 0 and json.loads(res.output) == [{"content": "hello"}]


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_that_fails_on_bad_input_says_so_once_without_retries_or_tracebacks(tmp_path):
    from prefect.settings import PREFECT_API_URL

    res = subprocess.run([str(Path(sys.executable).with_name("persona-lens")), "ingest", str(tmp_path / "missing"),
                          "--root", str(tmp_path / "data")], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()})
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert res.stderr.splitlines()[-1] == f"error: source folder '{tmp_path / 'missing'}' does not exist"
    # A missing folder fails the same way on every try: not retried, and no traceback wall in the log.
    assert "Retry" not in out and "Traceback" not in out, out
    assert len(out.splitlines()) < 12, out
