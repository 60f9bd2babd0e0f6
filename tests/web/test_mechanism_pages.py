"""The mechanism of a round on the coordinator's set-up and review pages, and on the pupil's ranking pages."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.enums import Role, RoundStatus, Sector
from placement.organisation import accounts
from placement.rounds import jobs, review
from placement.rounds import setup as rounds
from placement.runtime import worker
from tests import factories as f
from tests.conftest import csrf_token
from tests.placement.test_mechanisms import stored_summary
from web import labels

PASSWORD = "ett-långt-lösenord"
METHODS = ("optimal", "da-reserves", "mcf", "da", "fcfs")


def _english(client: FlaskClient) -> None:
    token = csrf_token(client, "/")
    assert client.post("/lang/en", data={"csrf_token": token, "next": "/"}).status_code == 302


def _login(client: FlaskClient, session: Session) -> None:
    user = f.user(session, Role.COORDINATOR)
    accounts.set_password(user, PASSWORD)
    session.flush()
    token = csrf_token(client)
    response = client.post("/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    return html_lib.unescape(response.get_data(as_text=True))


def _post(client: FlaskClient, db_session: Session, path: str, page: str, data: dict[str, object]) -> str:
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, page), **data},
        headers={"Referer": f"http://localhost{page}"},
        follow_redirects=True,
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    from web.extensions import db

    db.expire_all()
    db_session.expire_all()
    return html_lib.unescape(response.get_data(as_text=True))


POLICY = {
    "mechanism": "optimal",
    "max_distance_km": "20",
    "assign_unranked": "y",
    "fairness_school": "1",
    "fairness_gender": "1",
    "fairness_need": "1",
    "time_limit_s": "20",
    "seed": "0",
}


# --- the set-up form -------------------------------------------------------------------------------------------------


def test_the_set_up_form_explains_the_choice_and_stores_it(client: FlaskClient, db_session: Session) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    _login(client, db_session)
    page = f"/coordinator/rounds/{allocation_round.id}"
    html = _page(client, page)
    for mechanism in ("optimal", "da-reserves"):
        assert f'data-mechanism="{mechanism}"' in html
        assert str(labels.MECHANISM_TRADE_OFFS[mechanism]) in html
    assert "en elev kan ibland vinna på att rangordna taktiskt" in html
    assert "Oftast får färre elever något av sina tre första val" in html
    assert re.search(r'<input[^>]*checked[^>]*value="optimal"|<input[^>]*value="optimal"[^>]*checked', html)

    html = _post(
        client, db_session, f"{page}/policy", page, POLICY | {"mechanism": "da-reserves", "reserve_share": "40"}
    )
    assert "Inställningarna är sparade" in html
    assert allocation_round.policy["mechanism"] == "da-reserves"
    assert allocation_round.policy["reserves"] == {"high_need_share": 0.4}
    assert re.search(r'<input[^>]*checked[^>]*value="da-reserves"|<input[^>]*value="da-reserves"[^>]*checked', html)
    assert re.search(r'<input id="reserve_share"[^>]*value="40.0"', html)
    event = db_session.scalars(
        select(m.AuditEvent).where(m.AuditEvent.action == "round.policy").order_by(m.AuditEvent.id.desc())
    ).first()
    assert event is not None
    assert event.after["policy"]["mechanism"] == "da-reserves"  # type: ignore[index]

    # Empty share: the solver's default (the high-need tercile's share); the optimisation keeps no reserves.
    _post(client, db_session, f"{page}/policy", page, POLICY | {"mechanism": "da-reserves", "reserve_share": ""})
    assert "reserves" not in allocation_round.policy
    _post(client, db_session, f"{page}/policy", page, POLICY | {"mechanism": "optimal", "reserve_share": "40"})
    assert allocation_round.policy["mechanism"] == "optimal"
    assert "reserves" not in allocation_round.policy


def test_a_new_round_can_be_created_with_deferred_acceptance(client: FlaskClient, db_session: Session) -> None:
    f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2))
    _login(client, db_session)
    data = POLICY | {"name": "Våren", "periods": "w45", "mechanism": "da-reserves", "reserve_share": "33.3"}
    _post(client, db_session, "/coordinator/rounds", "/coordinator/rounds", data)
    created = db_session.scalars(select(m.AllocationRound).where(m.AllocationRound.name == "Våren")).one()
    assert created.policy["mechanism"] == "da-reserves"
    assert created.policy["reserves"] == {"high_need_share": pytest.approx(0.333)}


@pytest.mark.parametrize(
    ("lang", "change", "message"),
    [
        (
            "sv",
            {"mechanism": "da-reserves", "reserve_share": "150"},
            "Reserverad andel av varje erbjudandes platser för elever från skolor med högt behov (%): "
            "Ange en andel från 0 till 100 procent, eller lämna fältet tomt.",
        ),
        (
            "en",
            {"mechanism": "da-reserves", "reserve_share": "150"},
            "Share of each offer's places reserved for pupils from high-need schools (%): "
            "Enter a share from 0 to 100 per cent, or leave the field empty.",
        ),
        ("sv", {"mechanism": "fcfs"}, "Fördelningssätt: "),
        ("en", {"mechanism": "fcfs"}, "Allocation mechanism: "),
        ("sv", {"mechanism": "da-reserves", "reserve_share": "en tredjedel"}, "Reserverad andel av varje"),
    ],
)
def test_a_bad_mechanism_or_share_is_refused_naming_the_field_in_the_users_language(
    client: FlaskClient, db_session: Session, lang: str, change: dict[str, str], message: str
) -> None:
    allocation_round, _, _ = f.small_round(db_session)
    _login(client, db_session)
    if lang == "en":
        _english(client)
    page = f"/coordinator/rounds/{allocation_round.id}"
    html = _post(client, db_session, f"{page}/policy", page, POLICY | change)
    flashes = re.findall(r'<p class="flash flash-error"[^>]*>([^<]*)</p>', html)
    assert any(text.startswith(message) for text in flashes), flashes
    assert allocation_round.policy["mechanism"] == "optimal"


# --- the review's trade-off table ------------------------------------------------------------------------------------


@pytest.fixture
def solved_round(app: Flask, db_session: Session) -> m.AllocationRound:
    """A small round solved by the real job runner (da-reserves), then given distinct stored summaries."""
    make_session = sessionmaker(
        bind=db_session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    allocation_round, _, _ = f.small_round(db_session)
    rounds.update_policy(db_session, allocation_round, {"mechanism": "da-reserves"}, actor=audit.CLI)
    job = jobs.enqueue(db_session, allocation_round.id, actor=audit.CLI)
    assert worker.run_job(make_session, job.id, heartbeat_s=None).value == "succeeded"
    db_session.expire_all()
    assert allocation_round.outcome is not None
    # Figures no solve of four pupils could give: if the page shows them, they came from what is stored.
    comparison = {method: stored_summary(method, k) for k, method in enumerate(METHODS)}
    comparison["da-reserves"]["strategy_proof"] = True
    allocation_round.outcome = allocation_round.outcome | {"comparison": comparison}
    db_session.flush()
    return allocation_round


def _cells(html: str, measure: str) -> dict[str, str]:
    row = re.search(rf'<tr data-measure="{measure}">(.*?)</tr>', html, re.S)
    assert row, measure
    return dict(re.findall(r'<td data-method="([^"]+)">([^<]*)</td>', row.group(1)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_review_shows_every_measure_from_the_stored_summaries(
    app: Flask, client: FlaskClient, db_session: Session, solved_round: m.AllocationRound, lang: str
) -> None:
    _login(client, db_session)
    if lang == "en":
        _english(client)
    html = _page(client, f"/coordinator/rounds/{solved_round.id}")
    assert 'id="fig-mechanism" data-mechanism="da-reserves"' in html
    headers = re.findall(r'<th scope="col" data-method="([^"]+)">', html)
    assert headers == ["da-reserves", "optimal", "mcf", "da", "fcfs"]  # the proposal first
    stored = solved_round.outcome["comparison"]  # type: ignore[index]
    table = review.trade_off(solved_round.outcome)
    assert table is not None
    names = {"S01": db_session.scalars(select(m.School.name).where(m.School.code == "S01")).one()}
    with app.test_request_context(headers={"Accept-Language": lang}):
        for row in table.rows:
            label, meaning = labels.MEASURES[row.key]
            assert f'{label}<br><span class="hint">{meaning}</span>' in html, row.key
            cells = _cells(html, row.key)
            for column, value in zip(table.columns, row.values, strict=True):
                assert cells[column.method] == labels.measure_value(value, row.kind, names), (
                    row.key,
                    column.method,
                )
    # Spot checks against the stored figures themselves.
    assert _cells(html, "share_top3")["fcfs"] == "65.0 %"
    assert _cells(html, "placed")["mcf"] == str(stored["mcf"]["placed"])
    assert _cells(html, "popular_high_low")["da"] == "1.53"
    assert _cells(html, "unplaced_by_need")["da-reserves"] == "1 / 2 / 3"
    unit = "procentenheter" if lang == "sv" else "percentage points"
    assert _cells(html, "female_male_gap")["optimal"] == f"-2.0 {unit}"
    assert _cells(html, "strategy_proof") == (
        {"da-reserves": "Ja", "optimal": "Nej", "mcf": "Nej", "da": "Ja", "fcfs": "Ja"}
        if lang == "sv"
        else {"da-reserves": "Yes", "optimal": "No", "mcf": "No", "da": "Yes", "fcfs": "Yes"}
    )
    assert ("Säkert att rangordna ärligt" if lang == "sv" else "Safe to rank honestly") in html


# --- the pupil's honesty box -----------------------------------------------------------------------------------------

TEXTS = {
    ("optimal", "sv"): "Ta med alla erbjudanden som du kan tänka dig, i den ordning du verkligen vill ha dem",
    ("optimal", "en"): "Include every offer you would accept, in the order you really want them",
    ("lottery", "sv"): "Hur högt du har satt ett erbjudande påverkar inte lottningen",
    ("lottery", "en"): "How high you put an offer does not affect the draw",
    ("proof", "sv"): "En ärlig lista kan aldrig skada dig.",
    ("proof", "en"): "An honest list can never hurt you.",
}
#: Words that would promise strategy-proofness.
PROMISES = {"sv": "kan aldrig skada dig", "en": "can never hurt you"}


@pytest.fixture
def pupil_round(db_session: Session) -> tuple[m.Pupil, m.AllocationRound]:
    now = dt.datetime.now(dt.UTC)
    start = now.date() + dt.timedelta(days=30)
    period = f.period(db_session, code="pw1", start_date=start, end_date=start + dt.timedelta(days=4))
    school = f.school(db_session, lat=57.70, lon=11.97)
    klass = f.school_class(db_session, school=school, period=period)
    pupil = f.pupil(db_session, school_class=klass, first_name="Alva", birth_year=2012)
    db_session.add(
        m.PreferenceWindow(
            name="Prao", opens_at=now - dt.timedelta(days=1), closes_at=now + dt.timedelta(days=7), max_choices=3
        )
    )
    f.offer(db_session, sector=Sector.IT, places={period: 2}, risk_assessment_confirmed_at=f.RISK_CONFIRMED)
    db_session.flush()
    return pupil, rounds.create_round(db_session, "Prao", ["pw1"], actor=audit.CLI)


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize(
    ("mechanism", "proven", "text"),
    [("optimal", False, "optimal"), ("da-reserves", False, "lottery"), ("da-reserves", True, "proof")],
)
def test_the_pupil_is_told_only_what_is_true_for_the_rounds_mechanism(
    client: FlaskClient,
    db_session: Session,
    pupil_round: tuple[m.Pupil, m.AllocationRound],
    lang: str,
    mechanism: str,
    proven: bool,
    text: str,
) -> None:
    pupil, allocation_round = pupil_round
    rounds.update_policy(db_session, allocation_round, {"mechanism": mechanism}, actor=audit.CLI)
    if proven:  # the round's last run found da-reserves strategy-proof for its places
        allocation_round.outcome = {"method": mechanism, "comparison": {mechanism: {"strategy_proof": True}}}
        allocation_round.status = RoundStatus.PROPOSED
        db_session.flush()
    if lang == "en":
        _english(client)
    code = login_codes.issue(db_session, pupil, actor=audit.CLI).code
    response = client.post("/pupil-login/", data={"code": code, "csrf_token": csrf_token(client, "/pupil-login/")})
    assert response.status_code == 302
    for path in ("/pupil/", "/pupil/choices"):
        html = _page(client, path)
        box = re.search(r'<aside class="honesty" id="honesty"(.*?)</aside>', html, re.S)
        assert box, path
        assert f'data-mechanism="{mechanism}"' in box.group(1)
        assert TEXTS[text, lang] in box.group(1)
        for other in {"optimal", "lottery", "proof"} - {text}:
            assert TEXTS[other, lang] not in box.group(1)
        assert (PROMISES[lang] in box.group(1)) is (text == "proof")
        # The old claim, false for the optimisation, is gone for good.
        assert "Det är alltid säkert" not in html


def test_each_kind_of_trade_off_value_reads_plainly(app: Flask) -> None:
    with app.test_request_context():
        assert labels.measure_value(None, "share") == "–"
        assert labels.measure_value(12, "count") == "12"
        assert labels.measure_value(0.625, "share") == "62.5 %"
        assert labels.measure_value(0.05, "points") == "5.0 procentenheter"
        assert labels.measure_value(0.05, "signed_points") == "+5.0 procentenheter"
        assert labels.measure_value(0.937, "ratio") == "0.94"
        assert labels.measure_value((0.5, None, 0.25), "terciles_share") == "50.0 % / – / 25.0 %"
        assert labels.measure_value((1, None, 0), "terciles_count") == "1 / – / 0"
        worst = {"dimension": "need", "group": "high need", "rate": 0.4}
        assert labels.measure_value(worst, "worst") == "40.0 % (högt behov)"
        assert labels.measure_value(False, "yes_no") == "Nej"
        with pytest.raises(ValueError, match="unknown measure kind"):
            labels.measure_value(1, "colour")
