"""The explain flows and command: every personalized model of a root explained (every aspect listed,
intensity 0 when unchanged), known-truth models scored beside the coarse baseline, bad input a
quarantine row or a one-line error, and two folders explained by the command without any root."""

import json

import numpy as np
import pytest
from PIL import Image, ImageOps
from typer.testing import CliRunner

from persona_lens.flows.cli import app
from persona_lens.flows.explain import explain_flow
from persona_lens.flows.world import world_load_flow
from persona_lens.schemas import GENERATIONS
from persona_lens.storage import Catalog, read_table, write_part
from persona_lens.tasks.finexl import ExplainParams
from persona_lens.tasks.params import ConfigError
from persona_lens.tasks.world import WorldLoadParams
from persona_lens.world.taxonomy import load_taxonomy

pytestmark = pytest.mark.usefixtures("prefect_harness")
ASPECTS = load_taxonomy().names


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from persona_lens.world.make import make_world
    from tests.world.test_make import TINY

    return make_world(TINY, tmp_path_factory.mktemp("w") / "world")


def test_every_personalized_model_is_explained_and_the_known_truth_scored(root, tiny_world):
    world_load_flow(WorldLoadParams(world=str(tiny_world.folder)), root=root.url)
    with Catalog(root) as cat:
        # An ingested picture no model generated (generations is keyed by image_id: one image, one model).
        image_id = cat.scalar("SELECT image_id FROM images WHERE image_id NOT IN (SELECT image_id FROM generations) "
                              "AND image_id NOT IN (SELECT base_image_id FROM generations "
                              "WHERE base_image_id IS NOT NULL) ORDER BY image_id LIMIT 1")
    # A model whose base twin was never ingested: quarantined, not explained, the others still are.
    orphan = GENERATIONS.from_rows([{"image_id": image_id, "model_id": "orphan", "method": "lora", "prompt": "",
                                     "seed": 0, "base_image_id": "0" * 64, "generator": "g"}])
    write_part(root, "generations", orphan, "extra", part="orphan")

    result = explain_flow(ExplainParams(bootstrap=20), root=root.url, run_id="x1")
    assert result["models"] == 2 and result["explanations"] == 2 * (len(ASPECTS) + 1)
    with Catalog(root) as cat:
        rows = cat.query("SELECT model_id, aspect, level, intensity, confidence FROM explanations").to_pylist()
        models = cat.query("SELECT DISTINCT model_id FROM generations WHERE method = 'simulated'").column(0).to_pylist()
        q = cat.query("SELECT source, reason FROM quarantine WHERE stage = 'explain'").to_pylist()
        ev = {(r["method"], r["metric"]) for r in cat.query(
            "SELECT method, metric FROM eval_explain WHERE split = 'root'").to_pylist()}
    assert sorted({r["model_id"] for r in rows}) == sorted(models)
    for m in models:
        assert sorted(r["aspect"] for r in rows if r["model_id"] == m) == sorted([*ASPECTS, "summary"])
    assert all(0 <= r["intensity"] <= 1 and 0 <= r["confidence"] <= 1 for r in rows)
    assert q == [{"source": image_id, "reason": "missing_base_twin"}]
    assert {("finexl", "explanation_accuracy"), ("coarse", "explanation_accuracy"),
            ("random", "explanation_accuracy"), ("finexl", "relative_improvement")} <= ev


def test_a_setting_fixed_by_the_explainer_is_refused_before_any_data_is_read(root):
    with pytest.raises(ConfigError, match="fixed when an explainer is fitted"):
        explain_flow(ExplainParams(form="core"), root=root.url)
    assert read_table(root, "runs").to_pylist()[0]["status"] == "failed"


def _folders(tmp_path):
    from skimage import data

    base, pers = tmp_path / "base", tmp_path / "pers"
    base.mkdir(), pers.mkdir()
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        img = Image.fromarray(getattr(data, name)()).convert("RGB").resize((224, 224))
        img.save(base / f"{name}.png")
        ImageOps.grayscale(img).convert("RGB").save(pers / f"{name}.png")
    return base, pers


def test_the_command_explains_two_folders_paired_by_name(tmp_path):
    base, pers = _folders(tmp_path)
    (pers / "only-here.png").write_bytes(b"not a picture")
    res = CliRunner().invoke(app, ["explain", "--base", str(base), "--personalized", str(pers), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout[res.stdout.index("{"):])
    assert set(out) == {"aspects", "summary"}
    by_aspect = {a["aspect"]: a for a in out["aspects"]}
    assert sorted(by_aspect) == sorted(ASPECTS)
    for a in out["aspects"]:
        assert {"aspect", "intensity", "confidence", "concept_from", "concept_to", "text"} <= set(a)
    # Grayscale copies of colour photos: a colour shift toward black and white, the strongest aspect.
    assert by_aspect["color"]["concept_to"] == "black and white" and by_aspect["color"]["level"] != "none"
    assert max(out["aspects"], key=lambda a: a["intensity"])["aspect"] == "color"
    assert "language alone" in by_aspect["identity"]["text"]        # no references: said, not hidden
    assert "only-here.png" in res.stderr and "unpaired_image" in res.stderr


def test_the_command_fails_in_one_line_on_bad_folders(tmp_path):
    base, _ = _folders(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    res = runner.invoke(app, ["explain", "--base", str(base), "--personalized", str(empty)])
    assert res.exit_code != 0 and "holds no image files" in str(res.exception)
    res = runner.invoke(app, ["explain", "--base", str(base)])
    assert res.exit_code != 0 and "go together" in res.output
    res = runner.invoke(app, ["explain", "--base", str(base), "--personalized", str(base), "--format", "xml"])
    assert res.exit_code != 0 and "json or text" in res.output


def test_an_unchanged_model_is_explained_as_faithful(tmp_path):
    base, _ = _folders(tmp_path)
    res = CliRunner().invoke(app, ["explain", "--base", str(base), "--personalized", str(base), "--format", "text",
                                   "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    assert "No aspect of this model departs measurably" in res.stdout
    assert np.all(["none" in line for line in res.stdout.splitlines()[2:] if line.strip()])


def test_a_model_with_too_few_pairs_is_quarantined_and_nothing_is_made_up(root, tiny_world):
    world_load_flow(WorldLoadParams(world=str(tiny_world.folder)), root=root.url)
    result = explain_flow(ExplainParams(bootstrap=10, min_pairs=5), root=root.url)   # the tiny world has 2
    assert result["models"] == 0
    with Catalog(root) as cat:
        reasons = cat.query("SELECT reason FROM quarantine WHERE stage = 'explain'").column(0).to_pylist()
        assert cat.scalar("SELECT count(*) FROM explanations") == 0
    assert reasons and set(reasons) == {"too_few_pairs"}
