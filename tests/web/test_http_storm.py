"""A storm through the real HTTP stack: 100 coordinators' moves at once into 10 one-place offers, on both databases.

A threaded server on loopback serves the app; 100 clients, released
together, each move a different pupil into one of ten offers with one place
each, as ``POST /coordinator/rounds/<r>/pupils/<p>/move`` does from the
pupil's page.  Exactly ten moves succeed, the other ninety see the refusal on
the page they land on, no answer is a server error, and no offer holds more
than its place.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import re
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.db import make_engine
from placement.enums import HOLDS_PLACE, AssignmentStatus, Role, RoundStatus
from placement.organisation import accounts
from placement.rounds import setup as rounds
from tests import factories as f
from tests.web.browser import live_server
from web.app import create_app

pytestmark = pytest.mark.slow
CLIENTS = 100
OFFERS = 10
PASSWORD = "samordnarens-lösenord"


@pytest.fixture
def engine(live_database_url: str) -> Iterator[Engine]:
    engine = make_engine(live_database_url)
    yield engine
    engine.dispose()


def _world(engine: Engine) -> tuple[int, list[int], list[str]]:
    """A proposed round with CLIENTS unplaced pupils and OFFERS offers of one place each, and a coordinator."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        period = f.period(session, code="storm", start_date=dt.date(2026, 11, 2))
        klass = f.school_class(session, school=f.school(session), period=period)
        codes = [
            f.offer(session, places={period: 1}, risk_assessment_confirmed_at=f.RISK_CONFIRMED).code
            for _ in range(OFFERS)
        ]
        pupils = [f.pupil(session, school_class=klass).id for _ in range(CLIENTS)]
        allocation_round = rounds.create_round(session, "Storm", ["storm"], actor=audit.CLI)
        session.execute(
            update(m.AllocationRound)
            .where(m.AllocationRound.id == allocation_round.id)
            .values(status=RoundStatus.PROPOSED)
        )
        coordinator = f.user(session, Role.COORDINATOR, email="storm@kommun.example")
        accounts.set_password(coordinator, PASSWORD)
        return allocation_round.id, pupils, codes


def _logged_in(base: str, *, landing: str = "/coordinator/") -> tuple[http.cookiejar.CookieJar, str]:
    """A staff member's session cookie and its CSRF token, from the login form as a browser gets them."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/auth/login").read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token is not None
    form = urllib.parse.urlencode({"email": "storm@kommun.example", "password": PASSWORD, "csrf_token": token[1]})
    landed = opener.open(base + "/auth/login", data=form.encode())
    assert landed.geturl().endswith(landing), landed.geturl()
    # Logging in starts a fresh session: the forms from now on carry its token.
    fresh = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', landed.read().decode())
    assert fresh is not None
    return jar, fresh[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect instead of following it: a move that succeeds answers 302."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _all_at_once(jar: http.cookiejar.CookieJar, posts: list[tuple[str, dict[str, str]]]) -> list[tuple[int, str]]:
    """POST each (url, form) from a thread of its own with the session ``jar``, all released together.

    The answers in the order of ``posts``: (status, body), a redirect reported, not followed.
    """
    start = threading.Barrier(len(posts))
    answers: list[tuple[int, str]] = [(0, "")] * len(posts)

    def client(index: int, url: str, form: dict[str, str]) -> None:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
        start.wait()
        try:
            with opener.open(request, timeout=120) as answer:
                answers[index] = (answer.status, answer.read().decode())
        except urllib.error.HTTPError as exc:
            answers[index] = (exc.code, exc.read().decode())

    threads = [threading.Thread(target=client, args=(i, url, form)) for i, (url, form) in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def test_a_hundred_moves_at_once_fill_ten_places_exactly(live_database_url: str, engine: Engine) -> None:
    round_id, pupils, codes = _world(engine)
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "storm", "TESTING": False})
    with live_server(app) as base:
        jar, token = _logged_in(base)
        moves = [
            (
                f"{base}/coordinator/rounds/{round_id}/pupils/{pupil}/move",
                {"offer": codes[k % OFFERS], "csrf_token": token},
            )
            for k, pupil in enumerate(pupils)
        ]
        answers = _all_at_once(jar, moves)

    def outcome(status: int, page: str) -> str:
        if status == 302:
            return "moved"
        if status == 409 and "all 1 places in storm are taken" in page:
            return "refused"  # the refusal names the offer's places and the period
        return f"HTTP {status}"

    outcomes = Counter(outcome(status, page) for status, page in answers)
    assert outcomes == Counter({"moved": OFFERS, "refused": CLIENTS - OFFERS})
    make_session = sessionmaker(bind=engine)
    with make_session() as session:
        held = dict(
            session.execute(
                select(m.Offer.code, func.count(m.Assignment.id))
                .join(m.Assignment, m.Assignment.offer_id == m.Offer.id)
                .where(m.Assignment.round_id == round_id, m.Assignment.status.in_(HOLDS_PLACE))
                .group_by(m.Offer.code)
            ).all()
        )
    assert held == dict.fromkeys(codes, 1)


def _pupil_world(engine: Engine, offers: int, max_choices: int) -> tuple[str, list[str], int]:
    """A pupil with a login code, an open window of ``max_choices`` choices and ``offers`` offers to choose."""
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        start = now.date() + dt.timedelta(days=30)
        period = f.period(session, code="storm-p", start_date=start, end_date=start + dt.timedelta(days=4))
        klass = f.school_class(session, school=f.school(session), period=period)
        pupil = f.pupil(session, school_class=klass, birth_year=2012)
        session.add(
            m.PreferenceWindow(
                name="Prao",
                opens_at=now - dt.timedelta(days=1),
                closes_at=now + dt.timedelta(days=7),
                max_choices=max_choices,
            )
        )
        codes = [
            f.offer(session, places={period: 2}, risk_assessment_confirmed_at=f.RISK_CONFIRMED).code
            for _ in range(offers)
        ]
        code = login_codes.issue(session, pupil, actor=audit.CLI).code
        return code, codes, pupil.id


def _pupil_logged_in(base: str, code: str) -> tuple[http.cookiejar.CookieJar, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/pupil-login/").read().decode()
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token is not None
    landed = opener.open(
        base + "/pupil-login/", data=urllib.parse.urlencode({"code": code, "csrf_token": token[1]}).encode()
    )
    assert "/pupil/" in landed.geturl(), landed.geturl()
    fresh = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', landed.read().decode())
    assert fresh is not None
    return jar, fresh[1]


def test_a_pupils_choices_made_at_once_from_several_tabs_are_all_kept_in_order_and_never_over_the_limit(
    live_database_url: str, engine: Engine
) -> None:
    code, offers, pupil_id = _pupil_world(engine, offers=12, max_choices=8)
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "storm", "TESTING": False})
    statuses: Counter[int] = Counter()
    with live_server(app) as base:
        jar, token = _pupil_logged_in(base, code)

        def add_all(chosen: list[str]) -> None:
            adds = [(f"{base}/pupil/choices/add", {"offer": offer, "csrf_token": token}) for offer in chosen]
            statuses.update(status for status, _page in _all_at_once(jar, adds))

        add_all(offers[:8])  # eight tabs at once: every one of them is kept
        with Session(engine) as session:
            ranked = session.execute(
                select(m.Preference.rank, m.Offer.code)
                .join(m.Offer, m.Preference.offer_id == m.Offer.id)
                .where(m.Preference.pupil_id == pupil_id)
                .order_by(m.Preference.rank)
            ).all()
        assert [rank for rank, _code in ranked] == list(range(1, 9))
        assert sorted(offer for _rank, offer in ranked) == sorted(offers[:8])
        add_all(offers[8:])  # four more at once: the limit of eight holds
    assert statuses == Counter({302: 12})  # each answered with the page to go back to; none failed
    with Session(engine) as session:
        assert session.scalar(select(func.count(m.Preference.id)).where(m.Preference.pupil_id == pupil_id)) == 8


def test_an_employers_answers_sent_at_once_leave_exactly_one_answer(live_database_url: str, engine: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        period = f.period(session, code="storm-e", start_date=now.date() + dt.timedelta(days=20))
        school = f.school(session)
        staff = f.user(session, Role.SCHOOL_STAFF, email="syv@skola.example")
        session.add(m.SchoolMembership(user=staff, school=school))
        pupil = f.pupil(session, school_class=f.school_class(session, school=school, period=period))
        employer = f.employer(session)
        contact = f.user(session, Role.EMPLOYER_CONTACT, email="storm@kommun.example", email_verified_at=now)
        accounts.set_password(contact, PASSWORD)
        session.add(m.EmployerMembership(user=contact, employer=employer))
        offer = f.offer(
            session,
            workplace=f.workplace(session, employer=employer),
            places={period: 1},
            risk_assessment_confirmed_at=f.RISK_CONFIRMED,
        )
        allocation_round = rounds.create_round(session, "Storm", ["storm-e"], actor=audit.CLI)
        allocation_round.status = RoundStatus.PUBLISHED
        allocation_round.confirm_deadline = now + dt.timedelta(days=7)
        assignment = m.Assignment(
            round_id=allocation_round.id, pupil=pupil, offer=offer, period=period, status=AssignmentStatus.PUBLISHED
        )
        session.add(assignment)
        session.flush()
        assignment_id = assignment.id
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "storm", "TESTING": False})
    kinds = ["confirm", "decline"] * 10
    with live_server(app) as base:
        jar, token = _logged_in(base, landing="/employer/")
        posts = [
            (
                f"{base}/employer/placements/{assignment_id}/{kind}",
                {"csrf_token": token} | ({"reason": "Vi har inte plats."} if kind == "decline" else {}),
            )
            for kind in kinds
        ]
        answers = _all_at_once(jar, posts)
    outcomes = Counter((kind, status) for kind, (status, _page) in zip(kinds, answers, strict=True))
    # One answer wins; the same answer again changes nothing (and is not an error), the other answer is refused.
    winning = {kind for (kind, status), _n in outcomes.items() if status == 302}
    assert len(winning) == 1, outcomes
    [winner] = winning
    loser = "decline" if winner == "confirm" else "confirm"
    assert outcomes[(loser, 409)] == 10, outcomes
    assert outcomes[(winner, 302)] + outcomes[(winner, 409)] == 10, outcomes
    with Session(engine) as session:
        stored = session.get(m.Assignment, assignment_id)
        assert stored is not None
        assert stored.status is (AssignmentStatus.CONFIRMED if winner == "confirm" else AssignmentStatus.DECLINED)
        answered = session.scalar(
            select(func.count(m.AuditEvent.id)).where(
                m.AuditEvent.entity_id == assignment_id, m.AuditEvent.action.like("assignment.%")
            )
        )
        assert answered == 1  # written once
        mails = session.scalar(
            select(func.count(m.OutboxMessage.id)).where(m.OutboxMessage.kind == "placement_confirmed")
        )
        assert mails == (1 if winner == "confirm" else 0)  # the school hears once, or not at all


def test_a_hundred_guesses_at_once_get_no_more_tries_than_the_throttle_allows(
    live_database_url: str, engine: Engine
) -> None:
    app = create_app({"DATABASE_URL": live_database_url, "SECRET_KEY": "storm", "TESTING": False})
    with live_server(app) as base:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/pupil-login/").read().decode()
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert token is not None
        guesses = [
            (f"{base}/pupil-login/", {"code": f"GUES-SNUM-{n:04d}", "csrf_token": token[1]}) for n in range(CLIENTS)
        ]
        statuses = Counter(status for status, _page in _all_at_once(jar, guesses))
    tried = login_codes.FAILURES_PER_ADDRESS + 1  # a key is refused once it holds more failures than its limit
    assert statuses == Counter({401: tried, 429: CLIENTS - tried})
    with Session(engine) as session:
        recorded = session.scalar(select(func.count(m.LoginFailure.id)).where(m.LoginFailure.key.like("code:%")))
    assert recorded == tried
