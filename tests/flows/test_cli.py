"""The command line: bound parameters, output formats, one-line errors."""

import datetime as dt
import json
import sys

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from persona_lens.flows.cli import app, main
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
