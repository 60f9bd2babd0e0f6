"""The stored school–workplace distances follow the coordinates, however schools and workplaces are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from placement import models as m
from placement.db import make_engine
from placement.geo import distance_km
from placement.migrate import upgrade
from placement.models import distances
from tests import factories as f


def stored(session: Session) -> dict[tuple[int, int], float]:
    rows = session.execute(select(m.SchoolDistance.school_id, m.SchoolDistance.workplace_id, m.SchoolDistance.km))
    return {(school_id, workplace_id): km for school_id, workplace_id, km in rows}


def test_every_school_and_workplace_with_coordinates_gets_its_distances(db_session: Session) -> None:
    centre = f.school(db_session, lat=57.7089, lon=11.9746)
    angered = f.school(db_session, lat=57.7950, lon=12.0480)
    unplaced = f.school(db_session, lat=None, lon=None)
    office = f.workplace(db_session, lat=57.7000, lon=11.9600)
    nowhere = f.workplace(db_session, lat=None, lon=None)
    rows = stored(db_session)
    for school in (centre, angered):
        expected = distance_km((school.lat, school.lon), (office.lat, office.lon))  # type: ignore[arg-type]
        assert rows[(school.id, office.id)] == pytest.approx(expected, abs=0.001)
    assert not {pair for pair in rows if unplaced.id in pair[:1] or nowhere.id == pair[1]}
    assert 8.0 < rows[(angered.id, office.id)] < 12.0  # Angered lies about ten kilometres out


def test_moving_a_workplace_or_a_school_recomputes_its_rows(db_session: Session) -> None:
    school = f.school(db_session, lat=57.7089, lon=11.9746)
    office = f.workplace(db_session, lat=57.7000, lon=11.9600)
    before = stored(db_session)[(school.id, office.id)]
    office.lat, office.lon = 57.4875, 12.0763  # moved to Kungsbacka
    db_session.flush()
    after = stored(db_session)[(school.id, office.id)]
    assert after > before + 20
    school.lat = None  # the school's address could no longer be located
    db_session.flush()
    assert (school.id, office.id) not in stored(db_session)
    school.lat, school.lon = 57.4875, 12.0763
    db_session.flush()
    assert stored(db_session)[(school.id, office.id)] == pytest.approx(0.0, abs=0.001)


def test_a_deleted_workplace_takes_its_rows_with_it(db_session: Session) -> None:
    school = f.school(db_session)
    office = f.workplace(db_session)
    assert (school.id, office.id) in stored(db_session)
    db_session.execute(delete(m.Workplace).where(m.Workplace.id == office.id))
    assert not any(pair[1] == office.id for pair in stored(db_session))


def test_rows_written_without_the_orm_are_caught_up(db_session: Session) -> None:
    school = f.school(db_session, lat=57.7089, lon=11.9746)
    employer = f.employer(db_session)
    db_session.execute(
        insert(m.Workplace),
        [{"employer_id": employer.id, "name": "Lager", "address": "Hamngatan 1", "lat": 57.72, "lon": 11.95}],
    )
    workplace_id = db_session.scalar(select(m.Workplace.id).where(m.Workplace.name == "Lager"))
    assert (school.id, workplace_id) not in stored(db_session)
    assert distances.store_missing(db_session) >= 1
    assert (school.id, workplace_id) in stored(db_session)
    assert distances.store_missing(db_session) == 0  # nothing twice


def test_the_migration_stores_the_distances_of_an_existing_region(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0008")
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO municipality (code, name) VALUES ('1480', 'Göteborg')",
            "INSERT INTO school (code, name, municipality_id, need_index, lat, lon, geo_status, created_at)"
            " VALUES ('S1', 'Centrumskolan', 1, 1.0, 57.7089, 11.9746, 'manual', '2026-01-01')",
            "INSERT INTO employer (code, name, org_number, status, created_at)"
            " VALUES ('E1', 'Ab', '556677-8899', 'approved', '2026-01-01')",
            "INSERT INTO workplace (employer_id, name, address, lat, lon, geo_status)"
            " VALUES (1, 'Kontoret', 'Storgatan 1', 57.7950, 12.0480, 'manual')",
            "INSERT INTO offer (code, employer_id, workplace_id, kind, status, title, description, sector,"
            " requirements, created_at) VALUES ('O1', 1, 1, 'catalogue', 'active', 'Ängens kafé', '', 'retail',"
            " '[]', '2026-01-01')",
        ):
            connection.exec_driver_sql(statement)
    upgrade(engine)
    with engine.connect() as connection:
        [(km,)] = connection.exec_driver_sql("SELECT km FROM school_distance").all()
        assert km == pytest.approx(distance_km((57.7089, 11.9746), (57.7950, 12.0480)), abs=0.001)
        assert connection.exec_driver_sql("SELECT title_key FROM offer").scalar() == "|ngens kafe"
    engine.dispose()
