"""spark-submit entry point for the activity job (same arguments as ``jiaoyan spark activity``).

    spark-submit --master spark://host:7077 --py-files jiaoyan.zip \\
        spark_jobs/activity_job.py --batch 2026-11-19 --landing s3://… --lake s3://…
    spark_jobs/activity_job.py --from 2025-11-21 --to 2026-11-20 …   # a backfill

The master, memory and cores come from spark-submit; the job's own settings
(``JIAOYAN_SPARK_*``: look-back, session gap, …) from the environment as always.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a checkout: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spark_jobs.activity import backfill, job


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="activity_job.py", description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=dt.date.fromisoformat, help="batch date YYYY-MM-DD")
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, help="backfill: first night")
    parser.add_argument("--to", dest="last", type=dt.date.fromisoformat, help="backfill: last night")
    parser.add_argument("--landing", default=None, help="landing zone (default: JIAOYAN_LANDING_URI)")
    parser.add_argument("--lake", default=None, help="lake (default: JIAOYAN_LAKE_URI)")
    parser.add_argument("--json", action="store_true", help="print the run file instead of the summary")
    args = parser.parse_args(argv)
    if (args.batch is None) == (args.first is None or args.last is None):
        parser.error("give --batch DATE, or --from DATE --to DATE")
    return args


if __name__ == "__main__":
    args = parse(sys.argv[1:])
    if args.batch is not None:
        lines = job.main(args.batch, args.landing, args.lake, args.json)
    else:
        lines = backfill.main(args.first, args.last, args.landing, args.lake, args.json)
    for line in lines:
        print(line)
