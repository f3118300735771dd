"""`python -m persona_lens.tasks.generate.job JOB.yaml OUT_DIR [--model PATH]`: one personalization job in its own process.

The job runs on the DCGAN or, when its generator is a diffusers pipeline folder, on the diffusers
backend (tasks/generate/diffusion_job.py); `--model PATH` replaces the job's generator (a user with a
model cache changes nothing else). Resumes from the job's last checkpoint under OUT_DIR/checkpoints/
if a previous run was killed. Prints one line per table written (as Parquet files under
OUT_DIR/tables/) and exits 2 with one line on bad configuration.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pyarrow.parquet as pq

from persona_lens.tasks.generate.params import PersonalizationJob, load_job
from persona_lens.tasks.generate.runner import GenerateResult, run_job
from persona_lens.tasks.params import ConfigError


def run(job: PersonalizationJob, out_dir: str, subject=None, references=None) -> GenerateResult:
    """Dispatch one job: diffusers folder → diffusers backend; anything else → the DCGAN path.

    `subject` (a `Subject`) or `references` (decoded images) carry an ingested subject's images.
    """
    if job.is_diffusers:
        from persona_lens.tasks.generate.diffusion_job import run_diffusion_job

        refs = references if references is not None else (subject.references if subject is not None else None)
        return run_diffusion_job(job, out_dir, references=refs)
    return run_job(job, out_dir, subject=subject)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persona_lens.tasks.generate.job")
    parser.add_argument("job", help="job YAML file")
    parser.add_argument("out_dir", help="folder for checkpoints, the adapter and tables/")
    parser.add_argument("--model", help="generator to use instead of the job's (e.g. a diffusers folder)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        job = load_job(args.job, **({"generator": args.model} if args.model else {}))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out_dir)
    result = run(job, str(out))
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name, table in result.tables().items():
        pq.write_table(table, out / "tables" / f"{name}.parquet")
        print(f"{name}: {table.num_rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
