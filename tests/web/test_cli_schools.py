"""``praktik import schools``: a school register file into the database, or a list of problems and exit status 2."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.enums import GeoStatus
from tests.placement.test_imports import csv_bytes
from tests.web.test_cli import run, sqlite_file  # noqa: F401  (sqlite_file is a fixture)
from web.cli import main

HEADER = ["Skolenhetskod", "Skolenhetsnamn", "Kommunkod", "Kommun", "Besöksadress", "Postnummer", "Postort", "Rektor"]
ROWS = [
    HEADER,
    ["21503625", "Äppelviksskolan", "1480", "Göteborg", "Ängsgatan 3", "41318", "Göteborg", "Åsa Lind"],
    ["48632059", "Örby skola", "1480", "Göteborg", "Örbyvägen 12", "41872", "Göteborg", ""],
]


def schools(engine: Engine) -> list[tuple[str, str, GeoStatus]]:
    with Session(engine) as session:
        return sorted((s.code, s.address or "", s.geo_status) for s in session.scalars(select(m.School)))


def test_import_schools_checks_then_imports(sqlite_file: Engine, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "skolenhetsregistret.csv"
    path.write_bytes(csv_bytes(ROWS, encoding="utf-8-sig"))

    preview = run("import", "schools", "--dry-run", str(path))
    assert preview.exit_code == 0, preview.output
    assert preview.output.splitlines()[0] == "Checked 2 rows: would create 1 municipality, 2 schools."
    assert schools(sqlite_file) == []

    result = run("import", "schools", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Imported 2 rows: created 1 municipality, 2 schools.",
        'warning: column "Rektor" is not used and was not stored',
        'warning: municipality "Göteborg" (1480) is new: it was created (check its spelling)',
    ]
    assert schools(sqlite_file) == [
        ("21503625", "Ängsgatan 3, 413 18 Göteborg", GeoStatus.PENDING),
        ("48632059", "Örbyvägen 12, 418 72 Göteborg", GeoStatus.PENDING),
    ]

    again = run("import", "schools", str(path))
    assert again.output.splitlines()[0] == "Imported 2 rows: unchanged 2 schools."
    with Session(sqlite_file) as session:
        assert session.scalar(select(func.count()).select_from(m.Municipality)) == 1


def test_import_schools_with_bad_rows_exits_2_and_writes_nothing(sqlite_file: Engine, tmp_path: Path) -> None:  # noqa: F811
    path = tmp_path / "skolor.csv"
    bad = [*ROWS, ["12 34", "Trasig skola", "1480", "Göteborg", "Gatan 1", "4111", "Göteborg", ""]]
    path.write_bytes(csv_bytes(bad))
    result = CliRunner().invoke(main, ["import", "schools", str(path)])
    assert result.exit_code == 2
    assert 'row 4, field "Skolenhetskod": "12 34" is not an eight-digit school unit code' in result.output
    assert 'row 4, field "Postnummer": "4111" is not a postcode (NNN NN)' in result.output
    assert "Imported" not in result.output
    assert schools(sqlite_file) == []
    with Session(sqlite_file) as session:
        assert session.scalar(select(func.count()).select_from(m.Municipality)) == 0
