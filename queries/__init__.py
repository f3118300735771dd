"""SQL files over the catalog's views; `load(name)` reads one (see docs/queries or `persona-lens sql`)."""

from __future__ import annotations

from importlib.resources import files


def load(name: str) -> str:
    """The text of `queries/<name>.sql`."""
    path = files(__name__) / f"{name}.sql"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".sql") for p in files(__name__).iterdir() if p.name.endswith(".sql"))
        raise KeyError(f"no query named {name!r}; known: {known}")
    return path.read_text()
