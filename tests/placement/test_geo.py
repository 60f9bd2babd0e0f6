"""Geocoding against a local fake Nominatim: answers, failures, cache, rate limit, audit.

Nothing here reaches beyond 127.0.0.1: every request goes to the stub in
``tests/nominatim_stub.py``, whose request log shows exactly what was sent.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.enums import GeoStatus
from placement.errors import ValidationError
from placement.geo import SWEDEN, BoundingBox, Geocoder, GeocoderSettings, distance_km, normalise_address
from placement.models import AuditEvent, GeocodeCache
from placement.organisation import locations
from placement.organisation.locations import (
    FAILED_RETRY_AFTER,
    cached_answer,
    geocode_address,
    locate_pending,
    locate_school,
    locate_workplace,
    set_coordinates,
)
from tests import factories
from tests.nominatim_stub import (
    FORBIDDEN,
    GOTEBORG,
    GOTEBORG_POINT,
    MOLNDAL,
    MOLNDAL_POINT,
    NOT_JSON,
    OSLO,
    OUTSIDE_BOX,
    RATE_LIMITED,
    SERVER_ERROR,
    SLOW,
    STOCKHOLM,
    NominatimStub,
    closed_port,
    default_answers,
)

USER_AGENT = "praktik-test/1.0 (prao@example.se)"
TIMEOUT = 0.4  # the stub's slow answer takes longer than this

# Addresses as people type them; the geocoder sends them normalised.
GOTEBORG_TYPED = "Drottningtorget 5 ,411 03  Göteborg"
MOLNDAL_TYPED = "Göteborgsvägen 11, 431 82 Mölndal"
OSLO_TYPED = "Karl Johans gate 1, 0154 Oslo"
UNKNOWN_TYPED = "Påhittade vägen 99, 999 99 Ingenstans"


@pytest.fixture
def nominatim() -> Iterator[NominatimStub]:
    with NominatimStub(default_answers(slow_seconds=5.0)) as stub:
        yield stub


def make_geocoder(url: str, **settings: object) -> Geocoder:
    options: dict[str, object] = {"timeout": TIMEOUT, "min_delay_seconds": 0.0, **settings}
    settings = GeocoderSettings(user_agent=USER_AGENT, base_url=url, **options)  # type: ignore[arg-type]
    return Geocoder(settings, proxies={})  # straight to the stub, whatever HTTP_PROXY says


@pytest.fixture
def geocoder(nominatim: NominatimStub) -> Iterator[Geocoder]:
    with make_geocoder(nominatim.url) as geocoder:
        yield geocoder


def school_at(session: Session, address: str | None) -> factories.m.School:
    return factories.school(session, address=address, lat=None, lon=None, geo_status=GeoStatus.PENDING)


def workplace_at(session: Session, address: str) -> factories.m.Workplace:
    return factories.workplace(session, address=address, lat=None, lon=None, geo_status=GeoStatus.PENDING)


def events(session: Session, entity_type: str, entity_id: int) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
    return list(session.scalars(query.order_by(AuditEvent.id)))


# --- settings and pure functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Drottningtorget 5, 411 03 Göteborg", "drottningtorget 5, 411 03 göteborg"),
        ("  DROTTNINGTORGET 5 ,411 03\t Göteborg,, ", "drottningtorget 5, 411 03 göteborg"),
        ("Storgatan 1,,,Mölndal", "storgatan 1, mölndal"),
        (", ,  ", ""),
    ],
)
def test_normalise_address(text: str, expected: str) -> None:
    assert normalise_address(text) == expected


@pytest.mark.parametrize("agent", ["", "  ", "geopy/2.5.0", "my-application", "specify_your_app_name_here"])
def test_default_and_sample_user_agents_are_refused(agent: str) -> None:
    with pytest.raises(ValueError, match="user agent"):
        GeocoderSettings(user_agent=agent)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": "ftp://nominatim.example.se"}, "base URL"),
        ({"base_url": "nominatim.example.se"}, "base URL"),
        ({"min_delay_seconds": 0.5}, "one request per second"),
        ({"country_codes": ("sweden",)}, "country codes"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GeocoderSettings(user_agent=USER_AGENT, **settings)  # type: ignore[arg-type]


def test_bounding_box_must_be_ordered_and_in_range() -> None:
    with pytest.raises(ValueError, match="latitudes"):
        BoundingBox(min_lat=60, max_lat=55, min_lon=11, max_lon=12)
    with pytest.raises(ValueError, match="longitudes"):
        BoundingBox(min_lat=55, max_lat=60, min_lon=11, max_lon=190)
    assert SWEDEN.contains(*GOTEBORG_POINT)


def test_settings_default_to_the_public_server_in_sweden() -> None:
    settings = GeocoderSettings(user_agent=USER_AGENT)
    assert (settings.scheme, settings.domain) == ("https", "nominatim.openstreetmap.org")
    assert settings.country_codes == ("se",)
    assert settings.bounds == SWEDEN
    assert settings.min_delay_seconds == 1.0


def test_geodesic_distance_goteborg_molndal() -> None:
    distance = distance_km(GOTEBORG_POINT, MOLNDAL_POINT)
    assert distance == pytest.approx(6.392, rel=0.01)  # geopy 2.5 geodesic (Karney), computed once
    assert distance == pytest.approx(distance_km(MOLNDAL_POINT, GOTEBORG_POINT))
    assert distance_km(GOTEBORG_POINT, GOTEBORG_POINT) == 0.0


# --- Geocoder.lookup against the stub ------------------------------------------------------


def test_lookup_ok_sends_the_normalised_address_and_the_user_agent(
    geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    answer = geocoder.lookup(GOTEBORG_TYPED)
    assert answer.status is GeoStatus.OK
    assert answer.point == pytest.approx(GOTEBORG_POINT)
    assert answer.display_name is not None
    assert "Göteborg" in answer.display_name
    [request] = nominatim.requests
    assert request.path == "/search"
    assert request.params["q"] == GOTEBORG
    assert request.params["format"] == "json"
    assert request.params["countrycodes"] == "se"
    assert request.user_agent == USER_AGENT


def test_server_under_a_path_is_reached(nominatim: NominatimStub) -> None:
    with make_geocoder(nominatim.url + "/nominatim/") as geocoder:
        assert geocoder.settings.domain.endswith("/nominatim")
        assert geocoder.lookup(MOLNDAL).status is GeoStatus.OK
    assert [r.path for r in nominatim.requests] == ["/nominatim/search"]


def test_answer_in_another_country_is_implausible(geocoder: Geocoder) -> None:
    answer = geocoder.lookup(OSLO_TYPED)
    assert answer.status is GeoStatus.IMPLAUSIBLE
    assert answer.point is None
    assert answer.detail is not None
    assert "'no'" in answer.detail
    assert "59.911100, 10.750300" in answer.detail


def test_answer_outside_the_box_is_implausible(geocoder: Geocoder) -> None:
    answer = geocoder.lookup(OUTSIDE_BOX)  # no country code in the answer: the box decides
    assert answer.status is GeoStatus.IMPLAUSIBLE
    assert answer.point is None
    assert answer.detail is not None
    assert "outside the expected area" in answer.detail


def test_box_can_be_narrowed_to_a_region(nominatim: NominatimStub) -> None:
    goteborg_region = BoundingBox(min_lat=57.3, max_lat=58.4, min_lon=11.0, max_lon=13.0)
    with make_geocoder(nominatim.url, bounds=goteborg_region) as geocoder:
        assert geocoder.lookup(MOLNDAL).status is GeoStatus.OK
        assert geocoder.lookup(STOCKHOLM).status is GeoStatus.IMPLAUSIBLE


def test_no_match_is_not_found(geocoder: Geocoder, nominatim: NominatimStub) -> None:
    answer = geocoder.lookup(UNKNOWN_TYPED)
    assert answer.status is GeoStatus.NOT_FOUND
    assert answer.point is None
    assert len(nominatim.requests) == 1


def test_empty_address_is_not_sent(geocoder: Geocoder, nominatim: NominatimStub) -> None:
    assert geocoder.lookup(" , ").status is GeoStatus.NOT_FOUND
    assert nominatim.requests == []


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (RATE_LIMITED, "HTTP 429"),
        (FORBIDDEN, "HTTP 403"),
        (SERVER_ERROR, "500"),
        (NOT_JSON, "GeocoderParseError"),
        (SLOW, "timed out"),
    ],
)
def test_geocoder_errors_are_failed_answers_not_exceptions(geocoder: Geocoder, address: str, reason: str) -> None:
    answer = geocoder.lookup(address)
    assert answer.status is GeoStatus.FAILED
    assert answer.point is None
    assert answer.detail is not None
    assert reason in answer.detail


def test_refused_connection_is_a_failed_answer() -> None:
    with make_geocoder(f"http://127.0.0.1:{closed_port()}") as geocoder:
        answer = geocoder.lookup(GOTEBORG)
    assert answer.status is GeoStatus.FAILED
    assert answer.detail is not None
    assert "refused" in answer.detail.lower()


def test_requests_are_at_least_a_second_apart_across_geocoders(nominatim: NominatimStub) -> None:
    with make_geocoder(nominatim.url, min_delay_seconds=1.0) as first, make_geocoder(nominatim.url) as second:
        first.lookup(GOTEBORG)
        second.lookup(MOLNDAL)  # another Geocoder for the same server shares the limiter
    earlier, later = nominatim.requests
    assert later.at - earlier.at >= 0.95  # scheduling slack around the limiter's 1.0 s


# --- the cache ----------------------------------------------------------------------------


def test_answer_is_cached_and_reused_without_a_request(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    first = geocode_address(db_session, geocoder, GOTEBORG_TYPED)
    row = db_session.scalars(select(GeocodeCache).where(GeocodeCache.query == GOTEBORG)).one()
    assert (row.status, row.lat, row.lon) == (GeoStatus.OK, first.lat, first.lon)
    nominatim.clear()

    again = geocode_address(db_session, geocoder, "  DROTTNINGTORGET 5, 411 03 göteborg ")
    assert again == first
    assert nominatim.requests == []


@pytest.mark.parametrize("address", [OSLO_TYPED, UNKNOWN_TYPED])
def test_implausible_and_not_found_answers_are_cached_too(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub, address: str
) -> None:
    first = geocode_address(db_session, geocoder, address)
    assert first.status in (GeoStatus.IMPLAUSIBLE, GeoStatus.NOT_FOUND)
    assert geocode_address(db_session, geocoder, address) == first
    assert len(nominatim.requests) == 1
    assert cached_answer(db_session, address) == first


def test_failed_answer_is_retried_later_or_on_request(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    start = dt.datetime(2026, 9, 1, 8, 0, tzinfo=dt.UTC)
    assert geocode_address(db_session, geocoder, SERVER_ERROR, now=start).status is GeoStatus.FAILED
    row = db_session.scalars(select(GeocodeCache).where(GeocodeCache.query == SERVER_ERROR)).one()
    assert row.detail is not None
    assert "500" in row.detail

    soon = start + dt.timedelta(minutes=10)
    assert geocode_address(db_session, geocoder, SERVER_ERROR, now=soon).status is GeoStatus.FAILED
    assert len(nominatim.requests) == 1  # too soon: the stored failure is reused

    geocode_address(db_session, geocoder, SERVER_ERROR, now=soon, retry_failed=True)
    assert len(nominatim.requests) == 2

    nominatim.answers[SERVER_ERROR] = default_answers()[GOTEBORG]  # the server has recovered
    later = soon + FAILED_RETRY_AFTER
    answer = geocode_address(db_session, geocoder, SERVER_ERROR, now=later)
    assert answer.status is GeoStatus.OK
    assert len(nominatim.requests) == 3
    db_session.refresh(row)
    assert (row.status, row.fetched_at) == (GeoStatus.OK, later)
    assert row.detail is None


def test_address_stored_meanwhile_by_another_process_is_updated(
    db_session: Session, geocoder: Geocoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_session.add(GeocodeCache(query=GOTEBORG, status=GeoStatus.FAILED, detail="old"))
    db_session.flush()
    real_cache_row = locations._cache_row
    calls = iter([None])  # the first read misses the row, as if it were inserted just after
    monkeypatch.setattr(locations, "_cache_row", lambda session, query: next(calls, real_cache_row(session, query)))

    answer = geocode_address(db_session, geocoder, GOTEBORG)

    assert answer.status is GeoStatus.OK
    row = db_session.scalars(select(GeocodeCache).where(GeocodeCache.query == GOTEBORG)).one()
    assert (row.status, row.lat, row.lon) == (GeoStatus.OK, answer.lat, answer.lon)


def test_overlong_address_is_refused(db_session: Session, geocoder: Geocoder, nominatim: NominatimStub) -> None:
    with pytest.raises(ValidationError, match="longer than 400"):
        geocode_address(db_session, geocoder, "Storgatan " * 50)
    assert nominatim.requests == []


# --- locating schools and workplaces --------------------------------------------------------


def test_locate_school_stores_coordinates_and_audits(db_session: Session, geocoder: Geocoder) -> None:
    coordinator = factories.user(db_session)
    school = school_at(db_session, GOTEBORG_TYPED)

    answer = locate_school(db_session, geocoder, school, actor=audit.Actor.of(coordinator))

    assert answer.status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(GOTEBORG_POINT)
    assert school.geo_status is GeoStatus.OK
    [event] = events(db_session, "school", school.id)
    assert event.action == "school.geocode"
    assert event.actor == f"user:{coordinator.id}"
    assert event.before == {"lat": None, "lon": None, "geo_status": "pending"}
    assert event.after == {"lat": school.lat, "lon": school.lon, "geo_status": "ok"}


def test_implausible_workplace_is_saved_without_coordinates(db_session: Session, geocoder: Geocoder) -> None:
    workplace = factories.workplace(db_session, address=OSLO_TYPED, lat=57.70, lon=11.97, geo_status=GeoStatus.OK)

    answer = locate_workplace(db_session, geocoder, workplace, actor=audit.CLI)

    assert answer.status is GeoStatus.IMPLAUSIBLE
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (None, None, GeoStatus.IMPLAUSIBLE)
    db_session.expire_all()
    assert db_session.get(factories.m.Workplace, workplace.id).geo_status is GeoStatus.IMPLAUSIBLE  # type: ignore[union-attr]
    [event] = events(db_session, "workplace", workplace.id)
    assert event.before == {"lat": 57.70, "lon": 11.97, "geo_status": "ok"}
    assert event.after == {"lat": None, "lon": None, "geo_status": "implausible"}


@pytest.mark.parametrize(("address", "reason"), [(RATE_LIMITED, "429"), (FORBIDDEN, "403"), (SLOW, "timed out")])
def test_failing_geocoder_leaves_workplace_failed_not_crashed(
    db_session: Session, geocoder: Geocoder, address: str, reason: str
) -> None:
    workplace = workplace_at(db_session, address)
    answer = locate_workplace(db_session, geocoder, workplace, actor=audit.CLI)
    assert workplace.geo_status is GeoStatus.FAILED
    assert (workplace.lat, workplace.lon) == (None, None)
    assert answer.detail is not None
    assert reason in answer.detail
    assert cached_answer(db_session, address) == answer


def test_school_without_address_is_not_found_without_a_request(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    school = school_at(db_session, None)
    assert locate_school(db_session, geocoder, school, actor=audit.CLI).status is GeoStatus.NOT_FOUND
    assert school.geo_status is GeoStatus.NOT_FOUND
    assert nominatim.requests == []


def test_coordinates_given_directly_are_manual(db_session: Session) -> None:
    workplace = workplace_at(db_session, UNKNOWN_TYPED)
    set_coordinates(db_session, workplace, 57.6557, 12.0136, actor=audit.CLI)
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (57.6557, 12.0136, GeoStatus.MANUAL)
    [event] = events(db_session, "workplace", workplace.id)
    assert event.action == "workplace.set_coordinates"
    assert event.after == {"lat": 57.6557, "lon": 12.0136, "geo_status": "manual"}


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [(91.0, 12.0, "lat 91.0 is outside -90..90"), (57.7, -180.5, "lon -180.5"), (math.nan, 12.0, "lat nan")],
)
def test_coordinates_out_of_range_are_refused(db_session: Session, lat: float, lon: float, field: str) -> None:
    school = factories.school(db_session, code="S-GEO")
    with pytest.raises(ValidationError, match=field) as caught:
        set_coordinates(db_session, school, lat, lon, actor=audit.CLI)
    assert caught.value.problems[0].startswith('school "S-GEO": ')
    assert (school.lat, school.lon, school.geo_status) == (57.70, 11.97, GeoStatus.MANUAL)


def test_locate_pending_handles_a_mix_and_sends_only_their_addresses(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    school_ok = school_at(db_session, GOTEBORG_TYPED)
    school_without_address = school_at(db_session, None)
    school_manual = factories.school(db_session)  # MANUAL: left alone
    factories.pupil(db_session, school=school_ok, first_name="Hemlig", last_name="Elevsson")
    workplaces = [workplace_at(db_session, a) for a in (MOLNDAL_TYPED, OSLO_TYPED, UNKNOWN_TYPED, FORBIDDEN)]
    same_as_school = workplace_at(db_session, "drottningtorget 5, 411 03 GÖTEBORG")

    counts = locate_pending(db_session, geocoder, actor=audit.SCHEDULER)

    assert (counts.schools, counts.workplaces, counts.requests, counts.cache_hits) == (2, 5, 5, 1)
    assert counts.by_status == {
        GeoStatus.OK: 3,
        GeoStatus.NOT_FOUND: 2,
        GeoStatus.IMPLAUSIBLE: 1,
        GeoStatus.FAILED: 1,
    }
    assert counts.stopped is None
    assert [w.geo_status for w in workplaces] == [
        GeoStatus.OK,
        GeoStatus.IMPLAUSIBLE,
        GeoStatus.NOT_FOUND,
        GeoStatus.FAILED,
    ]
    assert (same_as_school.lat, same_as_school.lon) == (school_ok.lat, school_ok.lon)
    assert school_without_address.geo_status is GeoStatus.NOT_FOUND
    assert school_manual.geo_status is GeoStatus.MANUAL
    # Exactly the schools' and workplaces' own addresses left the box, once each.
    assert nominatim.queries == [
        GOTEBORG,
        normalise_address(MOLNDAL_TYPED),
        OSLO,
        normalise_address(UNKNOWN_TYPED),
        FORBIDDEN,
    ]
    assert {r.user_agent for r in nominatim.requests} == {USER_AGENT}
    audited = db_session.scalars(select(AuditEvent).where(AuditEvent.actor == "scheduler")).all()
    assert len(audited) == 7
    assert {e.action for e in audited} == {"school.geocode", "workplace.geocode"}

    assert locate_pending(db_session, geocoder, actor=audit.SCHEDULER).total == 0


def test_locate_pending_respects_the_limit(db_session: Session, geocoder: Geocoder) -> None:
    school = school_at(db_session, GOTEBORG_TYPED)
    first, second = workplace_at(db_session, MOLNDAL_TYPED), workplace_at(db_session, OSLO_TYPED)
    counts = locate_pending(db_session, geocoder, actor=audit.CLI, limit=2)
    assert (counts.schools, counts.workplaces) == (1, 1)
    assert (school.geo_status, first.geo_status, second.geo_status) == (GeoStatus.OK, GeoStatus.OK, GeoStatus.PENDING)


def test_locate_pending_stops_when_the_geocoder_keeps_failing(
    db_session: Session, geocoder: Geocoder, nominatim: NominatimStub
) -> None:
    failing = [workplace_at(db_session, a) for a in (RATE_LIMITED, FORBIDDEN, SERVER_ERROR)]
    untouched = workplace_at(db_session, GOTEBORG_TYPED)
    counts = locate_pending(db_session, geocoder, actor=audit.CLI, max_consecutive_failures=3)
    assert counts.stopped is not None
    assert "3 requests in a row failed" in counts.stopped
    assert [w.geo_status for w in failing] == [GeoStatus.FAILED] * 3
    assert untouched.geo_status is GeoStatus.PENDING
    assert len(nominatim.requests) == 3
