"""The `persona-lens` console script: `sql` runs without loading the rest of the command line.

The full command line imports every stage's parameters (and with them torch, Prefect and the models);
a query needs none of it, so `persona-lens sql …` goes straight to flows/sql_cli.py, and every other
command to flows/cli.py.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["sql"]:
        from persona_lens.flows.sql_cli import run_guarded, sql_app

        run_guarded(sql_app(), sys.argv[1:])
    else:
        from persona_lens.flows.cli import main as full_main

        full_main()


if __name__ == "__main__":
    main()
