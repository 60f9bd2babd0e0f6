"""Benchmark: importing a school cohort from XLSX (target: 5,000 pupils in under 10 s).

    python -m benchmarks.import_bench [--pupils 5000] [--postgres URL]

Builds a realistic workbook in memory (Swedish headers, as a school
administration system exports them), then imports it into a fresh migrated
SQLite database and, with ``--postgres``, into a PostgreSQL database whose
public schema is emptied first.  For each database it prints the seconds
spent reading and checking the file (a dry run) and the seconds of the whole
import with its commit; the write is the difference.
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
from pathlib import Path

import openpyxl
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from placement import audit
from placement.cohorts import imports as cohort_import
from placement.db import make_engine, utcnow
from placement.migrate import upgrade
from placement.models import Municipality, Pupil, School

TARGET_SECONDS = 10.0

FIRST_NAMES = [
    "Alice", "Maja", "Elsa", "Astrid", "Wilma", "Freja", "Saga", "Ebba", "Ella", "Alma", "Selma", "Åsa",
    "Noah", "William", "Hugo", "Lucas", "Liam", "Oliver", "Adam", "Elias", "Ali", "Mohammed", "Örjan", "Yusuf",
]  # fmt: skip
LAST_NAMES = [
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson",
    "Gustafsson", "Pettersson", "Jonsson", "Öberg", "Åström", "Ahmed", "Hassan", "Lindqvist", "Ek",
]  # fmt: skip
LANGUAGES = ["svenska", "svenska, engelska", "engelska", "arabiska, svenska", "somaliska, svenska", ""]


def build_workbook(pupils: int, seed: int = 1) -> bytes:
    """A cohort of ``pupils`` in years 8 and 9, 30 to a class."""
    rng = random.Random(seed)
    this_year = utcnow().year
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Elev-ID", "Förnamn", "Efternamn", "Klass", "Kön", "Födelseår", "Födelsemånad", "Språk", "Skola"])
    for n in range(pupils):
        year = 8 + n * 2 // pupils
        sheet.append(
            [
                f"E{n + 1:06d}",
                rng.choice(FIRST_NAMES),
                rng.choice(LAST_NAMES),
                f"{year}{chr(ord('A') + n % (pupils // 2) // 30)}",
                rng.choice(["Flicka", "Pojke", "Flicka", "Pojke", "Annat", ""]),
                this_year - year - 6,
                rng.randint(1, 12),
                rng.choice(LANGUAGES),
                "Bänkebergsskolan",
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(url: str, data: bytes, pupils: int) -> float:
    """Import ``data`` into the empty database at ``url``; print and return the seconds of the import."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        with Session(engine) as session:
            school = School(code="S01", name="Bänkebergsskolan", municipality=Municipality(name="Göteborg"))
            session.add(school)
            session.commit()

            start = time.perf_counter()
            cohort_import.import_cohort(session, school, data, "elever.xlsx", actor=audit.CLI, dry_run=True)
            checked = time.perf_counter() - start

            start = time.perf_counter()
            report = cohort_import.import_cohort(session, school, data, "elever.xlsx", actor=audit.CLI)
            session.commit()
            total = time.perf_counter() - start

            stored = session.scalar(select(func.count()).select_from(Pupil).where(Pupil.school_id == school.id))
        assert report.created["pupils"] == pupils == stored, (report, stored)
        print(
            f"{engine.dialect.name}: read and check {checked:.2f} s; write and commit {total - checked:.2f} s; ", end=""
        )
        print(f"import {total:.2f} s for {pupils:,} pupils ({'within' if total < TARGET_SECONDS else 'OVER'} target)")
        return total
    finally:
        engine.dispose()


def empty_postgres(url: str) -> None:
    """Create the database at ``url`` if missing, and empty its public schema."""
    probe = make_engine(url)
    target = probe.url
    probe.dispose()
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pupils", type=int, default=5000)
    parser.add_argument(
        "--postgres", metavar="URL", help="also import into this database: created if missing, its data dropped"
    )
    args = parser.parse_args()

    start = time.perf_counter()
    data = build_workbook(args.pupils)
    print(f"built a {len(data):,}-byte workbook of {args.pupils:,} pupils in {time.perf_counter() - start:.2f} s")
    timings = []
    with tempfile.TemporaryDirectory() as directory:
        timings.append(run(f"sqlite:///{Path(directory) / 'bench.sqlite'}", data, args.pupils))
    if args.postgres:
        empty_postgres(args.postgres)
        timings.append(run(args.postgres, data, args.pupils))
    if max(timings) >= TARGET_SECONDS:
        raise SystemExit(f"slower than the target of {TARGET_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
