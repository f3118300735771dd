"""Report files under the root: reports/<stage>/<run_id>/<name>, written whole, local or on S3."""

import pytest

from persona_lens.storage import write_report


@pytest.mark.parametrize("where", ["root", "s3_root"])
def test_a_report_lands_under_reports_stage_run_and_replaces_itself(where, request):
    root = request.getfixturevalue(where)
    uri = write_report(root, "rank", "r1", "cmc.png", b"first")
    assert uri == root.uri("reports", "rank", "r1", "cmc.png")
    write_report(root, "rank", "r1", "cmc.png", b"second")
    with root.fs.open(root.path("reports", "rank", "r1", "cmc.png"), "rb") as f:
        assert f.read() == b"second"
    assert [p.rsplit("/", 1)[1] for p in root.fs.ls(root.path("reports", "rank", "r1"))] == ["cmc.png"]


@pytest.mark.parametrize("name", ["../x.png", ".hidden", "a/b.png", ""])
def test_a_report_name_cannot_leave_its_folder(root, name):
    with pytest.raises(ValueError, match="plain name"):
        write_report(root, "rank", "r1", name, b"x")
