"""The train-aligner and eval-aligner flows end to end on a tiny configuration: weights, eval_aligner rows,
the runs rows, the model card block, and the CLI's one-line errors."""

from __future__ import annotations

import pytest

from persona_lens.flows.aligner import eval_aligner_flow, train_aligner_flow
from persona_lens.models.aligner import read_metadata
from persona_lens.models.registry import load_vl_encoder
from persona_lens.schemas import get_schema, validate
from persona_lens.storage import Catalog, read_table
from persona_lens.tasks.aligner import EvalAlignerParams, TrainAlignerParams

pytestmark = pytest.mark.usefixtures("prefect_harness")

TINY = dict(seed=0, steps=12, photo_samples=40, world_samples=24, world_size="small", heldout_photos=2,
            heldout_views=1, world_heldout=22, eval_samples=12, batch_size=16, dim=16, runtime="torch")
CARD = "# card\n\nprose stays\n\n<!-- results:start -->\nold numbers\n<!-- results:end -->\n\nmore prose\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("aligner-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERSONA_LENS_CACHE_DIR", str(path))
        yield path


def test_train_aligner_writes_weights_eval_rows_run_row_and_the_card_block(root, tmp_path, cache_dir):
    card = tmp_path / "aligner.md"
    card.write_text(CARD)
    out = tmp_path / "w" / "lit.safetensors"
    summary = train_aligner_flow(TrainAlignerParams(**TINY, out=str(out), card=str(card)), root=root.url, run_id="lit-1")
    assert summary["weights"] == str(out) and out.is_file()
    config, training = read_metadata(out)
    assert (config.dim, training["seed"], training["steps"]) == (16, 0, 12)
    assert load_vl_encoder(str(out)).encode_texts(["a pencil sketch"]).shape == (1, 16)

    table = read_table(root, "eval_aligner")
    validate(table.drop_columns(["run_id"]), get_schema("eval_aligner"))
    assert table.num_rows == summary["rows"]
    with Catalog(root) as cat:
        methods = {r["method"] for r in cat.query("SELECT DISTINCT method FROM eval_aligner").to_pylist()}
        run = cat.query("SELECT flow, status FROM runs").to_pylist()
    assert methods == {"lit", "linear_probe", "chance", "data"}
    assert run == [{"flow": "train-aligner", "status": "completed"}]

    text = card.read_text()
    assert "old numbers" not in text and "prose stays" in text and "more prose" in text
    assert "heldout_photos" in text and "heldout_world" in text and "Training loss" in text


def test_eval_aligner_scores_a_saved_aligner_file_on_the_same_held_out_sets(root, tmp_path, cache_dir):
    out = tmp_path / "lit.safetensors"
    train_aligner_flow(TrainAlignerParams(**{**TINY, "steps": 4}, out=str(out)), root=root.url, run_id="lit-2")
    params = EvalAlignerParams(encoder=str(out), seed=0, heldout_photos=2, heldout_views=1, world_size="small",
                               world_heldout=22, eval_samples=12, runtime="torch")
    summary = eval_aligner_flow(params, root=root.url, run_id="eval-1")
    with Catalog(root) as cat:
        rows = cat.query("SELECT method, split FROM eval_aligner WHERE run_id = 'eval-1' "
                         "AND metric = 'accuracy' AND detail = 'color'").to_pylist()
    assert {r["method"] for r in rows} == {str(out.resolve()), "chance"}
    assert {r["split"] for r in rows} == {"heldout_photos", "heldout_world"}
    assert "recall" in summary["markdown"]


def test_cli_train_aligner_reports_a_bad_parameter_in_one_line(root, monkeypatch, capsys, cache_dir):
    from persona_lens.flows import cli

    monkeypatch.setattr("sys.argv",
                        ["persona-lens", "train-aligner", "--world-size", "huge", "--root", root.url])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in err and "huge" in err
