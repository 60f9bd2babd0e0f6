"""How far each workplace lies from each school, computed once and kept while the coordinates stay.

Pupils browse offers by distance from their school, and a class of thirty
asks the same question thirty times; so the geodesic distance of every
(school, workplace) pair with coordinates is stored, and the offer list
filters and sorts by it in SQL.  The rows follow the coordinates by
themselves: after every flush that adds a school or a workplace, or moves
one, that one's rows are computed again (:func:`_follow_coordinates`); a
deleted school or workplace takes its rows with it (``ON DELETE CASCADE``).
Rows written without the ORM (the demo loader's bulk INSERTs, a migration)
are followed by :func:`store_missing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Float, ForeignKey, delete, event, insert, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from placement.db import Base, chunks
from placement.models.employers import Workplace
from placement.models.organisation import School


class SchoolDistance(Base):
    """The geodesic distance (WGS-84, km) from a school to a workplace, both with coordinates."""

    __tablename__ = "school_distance"

    school_id: Mapped[int] = mapped_column(ForeignKey("school.id", ondelete="CASCADE"), primary_key=True)
    workplace_id: Mapped[int] = mapped_column(
        ForeignKey("workplace.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    km: Mapped[float] = mapped_column(Float)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    from placement.geo import distance_km  # geopy, imported when a distance is first needed

    return round(distance_km(a, b), 3)


def store(session: Session, *, schools: Iterable[int] = (), workplaces: Iterable[int] = ()) -> int:
    """(Re)compute the rows of these schools and workplaces against every counterpart; how many were written."""
    school_ids, workplace_ids = sorted(set(schools)), sorted(set(workplaces))
    for ids, column in ((school_ids, SchoolDistance.school_id), (workplace_ids, SchoolDistance.workplace_id)):
        for part in chunks(ids):
            session.execute(delete(SchoolDistance).where(column.in_(part)))
    # A school's rows need every workplace, a workplace's every school; otherwise only the ones changed.
    located_schools = _located(session, School, None if workplace_ids else school_ids)
    located_workplaces = _located(session, Workplace, None if school_ids else workplace_ids)
    pairs: set[tuple[int, int]] = set()
    for school_id in school_ids:
        if school_id in located_schools:
            pairs.update((school_id, w) for w in located_workplaces)
    for workplace_id in workplace_ids:
        if workplace_id in located_workplaces:
            pairs.update((s, workplace_id) for s in located_schools)
    return _insert(session, pairs, located_schools, located_workplaces)


def store_missing(session: Session) -> int:
    """Compute every pair with coordinates that has no row yet (after bulk INSERTs); how many were written."""
    located_schools = _located(session, School)
    located_workplaces = _located(session, Workplace)
    stored = set(session.execute(select(SchoolDistance.school_id, SchoolDistance.workplace_id)))
    pairs = {(s, w) for s in located_schools for w in located_workplaces} - stored
    return _insert(session, pairs, located_schools, located_workplaces)


def _located(
    session: Session, model: type[School] | type[Workplace], ids: list[int] | None = None
) -> dict[int, tuple[float, float]]:
    """The coordinates of ``model``'s rows that have them: all, or those of ``ids``."""
    statement = select(model.id, model.lat, model.lon).where(model.lat.is_not(None), model.lon.is_not(None))
    if ids is not None:
        statement = statement.where(model.id.in_(ids))
    rows = session.execute(statement)
    return {row_id: (lat, lon) for row_id, lat, lon in rows if lat is not None and lon is not None}


def _insert(
    session: Session,
    pairs: set[tuple[int, int]],
    schools: dict[int, tuple[float, float]],
    workplaces: dict[int, tuple[float, float]],
) -> int:
    rows = [{"school_id": s, "workplace_id": w, "km": _km(schools[s], workplaces[w])} for s, w in sorted(pairs)]
    for part in chunks(rows, 5000):
        session.execute(insert(SchoolDistance), part)
    return len(rows)


def _moved(obj: Any) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in ("lat", "lon"))


@event.listens_for(Session, "after_flush")
def _follow_coordinates(session: Session, _context: Any) -> None:
    """Recompute the rows of every school and workplace this flush added or moved."""
    changed = [obj for obj in session.new if isinstance(obj, School | Workplace)]
    changed += [obj for obj in session.dirty if isinstance(obj, School | Workplace) and _moved(obj)]
    if changed:
        store(
            session,
            schools=[obj.id for obj in changed if isinstance(obj, School)],
            workplaces=[obj.id for obj in changed if isinstance(obj, Workplace)],
        )
