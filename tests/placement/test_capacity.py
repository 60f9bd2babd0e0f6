"""Capacity under concurrency: no offer takes more pupils than it has places, on either database.

Each test commits for real (``live_database_url``) and runs its clients in
threads with a session and a connection each, as concurrent requests do.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.db import make_engine
from placement.enums import AssignmentStatus, RoundStatus
from placement.errors import CapacityExceeded
from placement.rounds import assignments
from placement.rounds import setup as rounds
from tests import factories as f

CLIENTS = 24
COORDINATOR = audit.Actor("user:1")


@dataclasses.dataclass
class Storm:
    make_session: sessionmaker[Session]
    round_id: int
    period_id: int
    pupils: list[int]
    offers: list[str]


@pytest.fixture
def live_engine(live_database_url: str) -> Iterator[Engine]:
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def _storm(engine: Engine, *, offers: int, places: int) -> Storm:
    """A proposed round with CLIENTS unplaced pupils and ``offers`` offers of ``places`` places each."""
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    with make_session() as session, session.begin():
        period = f.period(session, code="w45", start_date=dt.date(2026, 11, 2))
        school = f.school(session)
        klass = f.school_class(session, school=school, period=period)
        codes = [
            f.offer(session, places={period: places}, risk_assessment_confirmed_at=f.RISK_CONFIRMED).code
            for _ in range(offers)
        ]
        pupils = [f.pupil(session, school_class=klass).id for _ in range(CLIENTS)]
        allocation_round = rounds.create_round(session, "Höst", ["w45"], actor=audit.CLI)
        session.execute(
            update(m.AllocationRound)
            .where(m.AllocationRound.id == allocation_round.id)
            .values(status=RoundStatus.PROPOSED)
        )
        return Storm(make_session, allocation_round.id, period.id, pupils, codes)


def _all_at_once(work: list[tuple[int, str]], storm: Storm) -> tuple[int, int, list[BaseException]]:
    """Run every (pupil, offer) move in its own thread, released together; (moved, refused, other errors)."""
    start = threading.Barrier(len(work))
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(pupil_id: int, code: str) -> None:
        start.wait()
        try:
            with storm.make_session() as session, session.begin():
                assignments.move(session, storm.round_id, pupil_id, code, actor=COORDINATOR)
            result = "moved"
        except CapacityExceeded:
            result = "refused"
        except BaseException as exc:  # reported below: any other failure is a finding
            with lock:
                errors.append(exc)
            return
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=client, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes.count("moved"), outcomes.count("refused"), errors


def _held(storm: Storm, code: str) -> int:
    with storm.make_session() as session:
        return int(
            session.scalar(
                select(func.count(m.Assignment.id))
                .join(m.Offer, m.Assignment.offer_id == m.Offer.id)
                .where(m.Offer.code == code, m.Assignment.status.in_(assignments.HOLDS_PLACE))
            )
            or 0
        )


def test_concurrent_moves_into_one_place_fill_it_exactly_once(live_engine: Engine) -> None:
    storm = _storm(live_engine, offers=1, places=1)
    moved, refused, errors = _all_at_once([(p, storm.offers[0]) for p in storm.pupils], storm)
    assert errors == []
    assert (moved, refused) == (1, CLIENTS - 1)
    assert _held(storm, storm.offers[0]) == 1


def test_concurrent_moves_over_several_offers_never_over_fill_any(live_engine: Engine) -> None:
    storm = _storm(live_engine, offers=4, places=2)
    work = [(pupil, storm.offers[k % 4]) for k, pupil in enumerate(storm.pupils)]
    moved, refused, errors = _all_at_once(work, storm)
    assert errors == []
    assert (moved, refused) == (8, CLIENTS - 8)
    assert [_held(storm, code) for code in storm.offers] == [2, 2, 2, 2]


def test_publication_refuses_an_over_filled_offer(live_engine: Engine) -> None:
    """Whatever wrote them, publication does not put more pupils in force than an offer has places."""
    storm = _storm(live_engine, offers=1, places=1)
    with storm.make_session() as session, session.begin():
        offer = session.scalars(select(m.Offer).where(m.Offer.code == storm.offers[0])).one()
        for pupil_id in storm.pupils[:2]:  # two proposals for one place, as a faulty writer might leave them
            session.add(
                m.Assignment(
                    round_id=storm.round_id,
                    pupil_id=pupil_id,
                    offer_id=offer.id,
                    period_id=storm.period_id,
                    rank=1,
                    status=AssignmentStatus.PROPOSED,
                )
            )
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    with (
        storm.make_session() as session,
        pytest.raises(CapacityExceeded, match=f"offer {storm.offers[0]}"),
        session.begin(),
    ):
        assignments.publish(session, storm.round_id, deadline, actor=COORDINATOR)
    with storm.make_session() as session:
        assert rounds.get_round(session, storm.round_id).status is RoundStatus.PROPOSED
        published = session.scalar(
            select(func.count(m.Assignment.id)).where(m.Assignment.status == AssignmentStatus.PUBLISHED)
        )
        assert published == 0
