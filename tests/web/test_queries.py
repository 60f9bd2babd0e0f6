"""No page asks the database once per row: the queries of every page stay the same when its lists grow.

Every GET route of every role is read as tenant A's user (the world of
``test_access``) and the SELECT statements it sends are counted.  Then
tenant A grows: six more pupils in its class, each ranking A's offer and
two new ones, the logged-in pupil ranking them too, the new pupils placed
in the published round at employer A's new offers, and two more offers of
employer A.  Every page is read again; a page whose query count grew
loads something per row (an N+1) and fails the test, named with both
counts.  The routes come from ``app.url_map``, so a new page is covered by
itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from placement import models as m
from placement.enums import AssignmentStatus, OfferStatus, Role, Sector
from tests import factories as f
from tests.web.test_access import World, build_world, filler, log_in, routes

#: Pages whose reading of rows is per row by design, with the reason.  Empty: there are none.
PER_ROW_BY_DESIGN: dict[str, str] = {}


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    engine = session.get_bind().engine
    statements: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


def grow(session: Session, world: World) -> None:
    """More of everything tenant A's pages list: pupils, choices, offers, placements."""
    a = world.a
    offers = [
        f.offer(
            session,
            workplace=a.workplace,
            title=f"Mer praktik {n}",
            sector=Sector.IT,
            status=OfferStatus.ACTIVE,
            places={a.period: 6},
            risk_assessment_confirmed_at=f.RISK_CONFIRMED,
        )
        for n in range(2)
    ]
    logged_in = a.pupil_user.pupil
    assert logged_in is not None
    for rank, offer in enumerate(offers, start=2):
        session.add(m.Preference(pupil=logged_in, offer=offer, rank=rank))
    for n in range(6):
        pupil = f.pupil(session, school_class=a.klass, first_name=f"Ny{n}", last_name="Växtsson")
        for rank, offer in enumerate([a.offer, *offers], start=1):
            session.add(m.Preference(pupil=pupil, offer=offer, rank=rank))
        session.add(
            m.Assignment(
                round_id=world.allocation_round.id,
                pupil=pupil,
                offer=offers[n % 2],
                period=a.period,
                rank=2 + n % 2,
                status=AssignmentStatus.PUBLISHED,
            )
        )
    session.flush()


def _counts(app: Flask, world: World, session: Session) -> dict[str, int]:
    found: dict[str, int] = {}
    for role in (Role.COORDINATOR, Role.SCHOOL_STAFF, Role.EMPLOYER_CONTACT, Role.PUPIL):
        client = log_in(app, world.user(role))
        fill = filler(world.a.ids(world.allocation_round, role))
        for route in routes(app):
            if route.method != "GET" or route.role is not role:
                continue
            url = route.url(fill)
            with counting(session) as statements:
                response = client.get(url)
            if response.status_code == 200:
                found[f"{role.value} {route.rule.rule}"] = len(statements)
    return found


def test_no_page_queries_once_per_row(app: Flask, db_session: Session) -> None:
    world = build_world(db_session)
    before = _counts(app, world, db_session)
    grow(db_session, world)
    after = _counts(app, world, db_session)
    assert len(before) > 35  # the pages were really read (39 when this was written)
    grown = {
        page: f"{before[page]} queries, then {after[page]}"
        for page in before
        if page in after and after[page] > before[page] and page.split(" ", 1)[1] not in PER_ROW_BY_DESIGN
    }
    assert grown == {}
