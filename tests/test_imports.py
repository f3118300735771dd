"""The package's import graph: every module imports on its own, and no two modules import each other,
directly or through others, at module level or inside a function (a hidden cycle)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("flows", "tasks", "schemas", "storage", "models", "world", "queries")


def modules() -> dict[str, Path]:
    """persona_lens module name → file, for every .py of the installed top-level folders."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(["persona_lens", *parts])] = path
    return found


def imported(path: Path, name: str, known: set[str]) -> set[str]:
    """The persona_lens modules `path` imports anywhere in its body (functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        # `from pkg import module` names the module; `from module import thing` names the module.
        out |= {t for t in targets if t in known and t != name}
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_module_imports_itself_through_others():
    mods = modules()
    graph = {}
    for name, path in mods.items():
        deps = imported(path, name, set(mods))
        # A package's own __init__ importing its submodules is not a cycle with them, unless a submodule
        # imports the package back (which `from persona_lens.tasks.rank import x` inside it would show).
        graph[name] = deps
    # Importing `pkg.sub` runs `pkg/__init__` first: a submodule that imports its own package's
    # __init__ (which imports the submodule) is a real cycle, so those edges stay in the graph.
    assert find_cycle(graph) is None, f"import cycle: {' → '.join(find_cycle(graph))}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.timeout(300)
def test_every_module_imports_in_a_fresh_interpreter():
    names = sorted(modules())
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    # One interpreter per top-level package keeps it quick while a module that only imports because
    # another one ran first still fails (its package is imported fresh, in name order).
    for package in PACKAGES:
        chosen = [n for n in names if n.split(".")[1] == package]
        res = subprocess.run([sys.executable, "-c", code, *chosen], capture_output=True, text=True, cwd=ROOT)
        assert res.returncode == 0, res.stderr[-3000:]
