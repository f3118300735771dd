"""The code has no undefined names, unused imports or redefinitions (ruff's pyflakes rules, F): the
errors a move or a rename leaves behind, which only a run of that exact path would otherwise show."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyflakes_rules_pass_on_the_whole_repository():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (it is in the test extra: pip install -e '.[test]')")
    res = subprocess.run([ruff, "check", "--select", "F", "--no-cache", "--exclude", ".venv", str(ROOT)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:]
