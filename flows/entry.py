"""The `persona-lens` console script: `sql` runs without loading the rest of the command line.

The full command line imports every stage's parameters (and with them torch, Prefect and the models);
a query needs none of it, so `persona-lens sql …` goes straight to flows/sql_cli.py, and every other
command to flows/cli.py, with its temporary Prefect server already starting (flows/api_server.py).
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] != "sql" and not {"--help", "-h"} & set(args):
        from persona_lens.flows.api_server import start_early

        start_early()          # overlaps the Prefect server's start with the imports below
    if args[:1] == ["sql"]:
        from persona_lens.flows.sql_cli import run_guarded, sql_app

        run_guarded(sql_app(), sys.argv[1:])
    else:
        from persona_lens.flows.cli import main as full_main

        full_main()


if __name__ == "__main__":
    main()
