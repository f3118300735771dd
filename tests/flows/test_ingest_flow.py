"""The ingest flow end to end: counts, quarantine, the runs row, and resuming a killed run."""

import pytest

from persona_lens.flows.ingest import ingest_flow
from persona_lens.storage import Catalog, read_members, read_table
from persona_lens.tasks.images import image_id_of
from persona_lens.tasks.ingest import IngestParams
from persona_lens.tasks.ingest import batches as batches_module
from tests.datasets_factory import write_cub
from tests.images_factory import photo_bytes

pytestmark = pytest.mark.usefixtures("prefect_harness")


def PARAMS(folder):  # noqa: N802 (reads like the constant it stands for)
    return IngestParams(source=str(folder), labels=["category", "subclass", "instance"], batch_size=3)


@pytest.fixture
def folder(tmp_path):
    base = tmp_path / "src"
    for i in range(7):
        p = base / "animal" / f"kind{i % 2}" / f"ind{i}" / f"{i}.jpg"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(photo_bytes(i))
    (base / "animal" / "stray.jpg").write_bytes(photo_bytes(100))  # wrong depth
    return base


def test_ingest_flow_writes_images_quarantine_and_a_runs_row(folder, root):
    summary = ingest_flow(PARAMS(folder), root=root.url)
    assert (summary["images"], summary["quarantined"], summary["shards"]) == (7, 1, 3)
    with Catalog(root) as cat:
        assert cat.scalar("SELECT count(DISTINCT instance) FROM images WHERE category = ?", ["animal"]) == 7
        assert cat.scalar("SELECT reason FROM quarantine") == "label_depth"
        run = cat.query("SELECT flow, status, counts FROM runs").to_pylist()[0]
    assert (run["flow"], run["status"], dict(run["counts"])["images"]) == ("ingest", "completed", 7)


@pytest.mark.parametrize("same_run_id", [False, True], ids=["new-run-id", "same-run-id"])
def test_a_killed_run_resumes_without_losing_or_duplicating_rows(folder, root, monkeypatch, same_run_id):
    real = batches_module.process_batch
    calls = {"n": 0}

    def dies_on_third_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")  # like a SIGINT: not retried
        return real(*args, **kwargs)

    monkeypatch.setattr("persona_lens.tasks.ingest.process_batch", dies_on_third_batch)
    run_id = "resumed" if same_run_id else None
    with pytest.raises(BaseException):
        ingest_flow(PARAMS(folder), root=root.url, run_id=run_id)
    assert read_table(root, "images").num_rows == 6
    # The killed run is on record, with why it ended.
    failed = read_table(root, "runs").to_pylist()
    assert [(r["flow"], r["status"]) for r in failed] == [("ingest", "failed")]
    assert failed[0]["error"] == "KeyboardInterrupt: killed"

    monkeypatch.setattr("persona_lens.tasks.ingest.process_batch", real)
    summary = ingest_flow(PARAMS(folder), root=root.url, run_id=run_id)
    assert (summary["skipped"], summary["images"]) == (2, 1)
    rows = read_table(root, "images").to_pylist()
    assert len({r["image_id"] for r in rows}) == len(rows) == 7
    # Every row still points at its own bytes: the resumed batch did not overwrite an earlier shard.
    got = read_members(root, [r["uri"] for r in rows])
    assert all(image_id_of(got[r["uri"]]) == r["image_id"] for r in rows)


def test_a_published_dataset_layout_lands_with_its_granularities(tmp_path, root):
    write_cub(tmp_path / "CUB_200_2011")
    summary = ingest_flow(IngestParams(source=str(tmp_path), layout="cub-200-2011", split="train"), root=root.url)
    assert (summary["images"], summary["quarantined"]) == (2, 3)
    with Catalog(root) as cat:
        rows = cat.query("SELECT category, subclass, instance, map_extract(labels, 'split')[1] AS split "
                         "FROM images ORDER BY instance").to_pylist()
        reasons = cat.query("SELECT reason FROM quarantine ORDER BY reason").column("reason").to_pylist()
    assert rows == [{"category": "bird", "subclass": "Albatross", "instance": "Black_footed_Albatross", "split": "train"},
                    {"category": "bird", "subclass": "Wren", "instance": "Cactus_Wren", "split": "train"}]
    assert reasons == ["bad_layout_row", "path_traversal", "unlabelled_image"]
