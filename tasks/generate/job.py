"""`python -m persona_lens.tasks.generate.job JOB.yaml OUT_DIR`: one personalization job in its own process.

Resumes from the job's last checkpoint under OUT_DIR/checkpoints/ if a previous run was killed.
Prints one line per table written (as Parquet files under OUT_DIR/tables/) and exits 2 with one
line on bad configuration.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pyarrow.parquet as pq

from persona_lens.tasks.generate.params import load_job
from persona_lens.tasks.generate.stage import run_job
from persona_lens.tasks.params import ConfigError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m persona_lens.tasks.generate.job JOB.yaml OUT_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        job = load_job(argv[0])
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(argv[1])
    result = run_job(job, str(out))
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name, table in result.tables().items():
        pq.write_table(table, out / "tables" / f"{name}.parquet")
        print(f"{name}: {table.num_rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
