"""The solve worker: ``python -m placement.runtime.worker JOB_ID`` runs one queued solve job.

Started by :func:`placement.rounds.jobs.launch` as a process of its own, so
that no web request ever solves.  The database URL comes from
``PRAKTIK_DATABASE_URL``, as for every Praktik process.
"""

from __future__ import annotations

import logging
import os
import sys

from sqlalchemy.orm import sessionmaker

from placement.db import make_engine
from placement.enums import JobState
from placement.rounds import jobs


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m placement.runtime.worker JOB_ID", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    url = os.environ.get("PRAKTIK_DATABASE_URL")
    if not url:
        print("PRAKTIK_DATABASE_URL is not set", file=sys.stderr)
        return 2
    engine = make_engine(url)
    try:
        state = jobs.run_job(sessionmaker(bind=engine, expire_on_commit=False), int(args[0]))
    finally:
        engine.dispose()
    return 0 if state is JobState.SUCCEEDED else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
