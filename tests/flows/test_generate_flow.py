"""The generate flows end to end on the real DCGAN: twins ingested like any images, the stage's tables,
identity scored, a re-run that adds nothing, and a job file whose subject was ingested earlier."""

from __future__ import annotations

import pytest
import yaml

from persona_lens.flows.generate import generate_flow, generate_job_flow
from persona_lens.storage import Catalog, read_table
from persona_lens.tasks.generate import GenerateJobParams, GenerateParams, SubjectError

pytestmark = pytest.mark.usefixtures("prefect_harness")

TINY = GenerateParams(subjects=["astronaut"], methods=["full"], num_references=3, steps=4, inversion_steps=2,
                      samples=3, locality_samples=0, truth=True, truth_steps=[2], truth_shifts=[["style:a pencil sketch@1.0"]])


def test_generate_ingests_the_twins_and_writes_generations_adapters_truth_and_identity_scores(root):
    result = generate_flow(TINY, root=root.url, run_id="g1")
    assert result["images.generated"] == 6 and result["images.base"] == 6     # 3 twins × (model + snapshot)
    with Catalog(root) as cat:
        roles = {r["role"]: r["n"] for r in cat.query("SELECT role, count(*) AS n FROM images GROUP BY 1").to_pylist()}
        assert roles == {"generated": 6, "base": 6}
        # Every personalized image is in `images`, labelled with its subject, and so is its base twin.
        assert cat.scalar("""
            SELECT count(*) FROM generations g JOIN images i USING (image_id)
            JOIN images b ON b.image_id = g.base_image_id
            WHERE g.method <> 'base' AND i.subject = 'astronaut' AND b.role = 'base'""") == 6
        assert cat.scalar("SELECT count(*) FROM adapters") == 2
        assert cat.scalar("SELECT count(*) FROM generate_truth WHERE intensity > 0") == 1
        metrics = {r["metric"] for r in cat.query("SELECT DISTINCT metric FROM eval_generate").to_pylist()}
        assert "identity_gain" in metrics
        (run,) = cat.query("SELECT flow, status FROM runs WHERE flow = 'generate'").to_pylist()
    assert run == {"flow": "generate", "status": "completed"}


def test_the_same_parameters_again_add_nothing(root):
    generate_flow(TINY, root=root.url, run_id="g1")
    before = read_table(root, "generations").num_rows
    again = generate_flow(TINY, root=root.url, run_id="g2")
    assert again["skipped"] == 1 and read_table(root, "generations").num_rows == before


def test_a_job_file_personalizes_a_subject_ingested_before(root, tmp_path):
    from persona_lens.flows.ingest import ingest_flow
    from persona_lens.tasks.ingest import IngestParams
    from persona_lens.tasks.photos import photo_path

    folder = tmp_path / "refs" / "eileen"
    folder.mkdir(parents=True)
    (folder / "a.png").write_bytes(photo_path("skimage", "data/astronaut.png").read_bytes())
    ingest_flow(IngestParams(source=str(tmp_path / "refs"), role="reference", labels=["subject"]), root=root.url)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"subject": {"name": "eileen", "ingested": True}, "method": "lora",
                                   "num_references": 3, "latents": {"count": 2},
                                   "training": {"steps": 3, "inversion_steps": 2, "checkpoint_every": 2}}))
    result = generate_job_flow(GenerateJobParams(job=str(job)), root=root.url)
    assert result["images.generated"] == 2
    with Catalog(root) as cat:
        assert cat.scalar("SELECT count(*) FROM adapters WHERE subject = 'eileen'") == 1
    # A job for a subject nobody ingested says what to do.
    job.write_text(yaml.safe_dump({"subject": {"name": "nobody", "ingested": True}, "method": "lora"}))
    with pytest.raises(SubjectError, match="'nobody' has no ingested images"):
        generate_job_flow(GenerateJobParams(job=str(job)), root=root.url)


def test_drawing_an_existing_adapter_trains_nothing_and_links_twins_to_the_trained_rows(root):
    from persona_lens.flows.generate import generate_draw_flow
    from persona_lens.tasks.generate import DrawParams

    generate_flow(TINY, root=root.url, run_id="g1")
    with Catalog(root) as cat:
        (uri,) = [r["checkpoint_uri"] for r in cat.query("SELECT checkpoint_uri FROM adapters WHERE method = 'full'")
                  .to_pylist()]
        adapters = cat.scalar("SELECT count(*) FROM adapters")
    params = DrawParams(seeds=[7, 8], adapter=uri)
    result = generate_draw_flow(params, root=root.url, run_id="d1")
    assert result["images.generated"] == 2 and result["images.base"] == 2
    with Catalog(root) as cat:
        assert cat.scalar("SELECT count(*) FROM adapters") == adapters            # nothing trained
        assert cat.scalar("""
            SELECT count(*) FROM generations g JOIN images b ON b.image_id = g.base_image_id
            WHERE g.seed IN (7, 8) AND g.method = 'full' AND g.subject = 'astronaut' AND b.role = 'base'""") == 2
    assert generate_draw_flow(params, root=root.url, run_id="d2")["skipped"] == 1


def test_the_cli_draws_a_base_model_alone_and_refuses_prompts_for_the_dcgan(root, tmp_path, monkeypatch, capsys):
    import json
    import sys

    from typer.testing import CliRunner

    from persona_lens.flows.cli import app, main

    res = CliRunner().invoke(app, ["generate", "--model", "dcgan-face-64", "--seeds", "4,5", "--root", root.url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["images.base"] == 2
    (tmp_path / "p.yaml").write_text("- a smiling face\n")
    monkeypatch.setattr(sys, "argv", ["persona-lens", "generate", "--prompts", str(tmp_path / "p.yaml"),
                                      "--root", root.url])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and "driven by latent codes" in err
