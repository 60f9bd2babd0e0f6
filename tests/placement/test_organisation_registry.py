"""Municipalities and schools added and changed by hand: every field checked, codes unique, audited, located.

Geocoding goes to the local fake Nominatim of ``tests/nominatim_stub.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.enums import GeoStatus, Role
from placement.errors import Conflict, ValidationError
from placement.geo import Geocoder, GeocoderSettings
from placement.organisation import registry
from tests import factories as f
from tests.nominatim_stub import GOTEBORG, GOTEBORG_POINT, MOLNDAL, MOLNDAL_POINT, NominatimStub, default_answers

GOTEBORG_TYPED = "Drottningtorget 5 ,411 03  Göteborg"
MOLNDAL_TYPED = "Göteborgsvägen 11, 431 82 Mölndal"
UNKNOWN_TYPED = "Påhittade vägen 99, 999 99 Ingenstans"


@pytest.fixture
def nominatim() -> Iterator[NominatimStub]:
    with NominatimStub(default_answers()) as stub:
        yield stub


@pytest.fixture
def geocoder(nominatim: NominatimStub) -> Iterator[Geocoder]:
    settings = GeocoderSettings(
        user_agent="praktik-test/1.0 (prao@example.se)", base_url=nominatim.url, timeout=2.0, min_delay_seconds=0.0
    )
    with Geocoder(settings, proxies={}) as geocoder:
        yield geocoder


@pytest.fixture
def actor(db_session: Session) -> audit.Actor:
    return audit.Actor.of(f.user(db_session, Role.COORDINATOR))


def events(session: Session, action: str, entity_id: int | None = None) -> list[m.AuditEvent]:
    query = select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)
    if entity_id is not None:
        query = query.where(m.AuditEvent.entity_id == entity_id)
    return list(session.scalars(query))


def count(session: Session, model: type[m.School] | type[m.Municipality]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def add(session: Session, municipality: m.Municipality, actor: audit.Actor, **kw: object) -> m.School:
    fields: dict[str, object] = {"code": "21503625", "name": "Äppelviksskolan", "address": GOTEBORG_TYPED} | kw
    return registry.add_school(session, municipality, actor=actor, **fields)  # type: ignore[arg-type]


# --- the field rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [("21503625", "21503625"), (" 2150 3625 ", "21503625"), ("S01", "S01"), ("gr-7.b_2", "gr-7.b_2")],
)
def test_a_school_code_is_a_school_unit_code_or_a_short_local_code(given: str, expected: str) -> None:
    assert registry.school_code(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "required"),
        ("1234567", "7 digits"),
        ("123456789", "9 digits"),
        ("skola ett!", "only letters"),
        ("x" * 41, "longer"),
    ],
)
def test_a_bad_school_code_says_why(given: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        registry.school_code(given)


def test_a_municipality_code_has_four_digits_or_is_empty() -> None:
    assert registry.municipality_code(" 14 80 ") == "1480"
    assert registry.municipality_code("") is None
    assert registry.municipality_code(None) is None
    for bad in ("148", "14800", "abcd"):
        with pytest.raises(ValueError, match="four digits"):
            registry.municipality_code(bad)


# --- municipalities -----------------------------------------------------------------------------------------------


def test_add_a_municipality_audited(db_session: Session, actor: audit.Actor) -> None:
    municipality = registry.add_municipality(db_session, name="  Lilla   Edet ", code="1462", actor=actor)
    assert (municipality.name, municipality.code) == ("Lilla Edet", "1462")
    (event,) = events(db_session, "municipality.create", municipality.id)
    assert event.actor_id == actor.user_id
    assert event.after == {"name": "Lilla Edet", "code": "1462"}
    assert registry.add_municipality(db_session, name="Ale", actor=actor).code is None


def test_a_municipality_needs_a_name_and_a_code_of_four_digits(db_session: Session, actor: audit.Actor) -> None:
    before = count(db_session, m.Municipality)
    with pytest.raises(ValidationError) as caught:
        registry.add_municipality(db_session, name="  ", code="148", actor=actor)
    assert caught.value.problems == [
        'new municipality: field "name": is required',
        'new municipality: field "code": "148" is not a municipality code (kommunkod): four digits, e.g. 1480',
    ]
    with pytest.raises(ValidationError, match='field "name": is longer than 120'):
        registry.add_municipality(db_session, name="x" * 121, actor=actor)
    assert count(db_session, m.Municipality) == before


def test_a_municipality_name_or_code_is_taken_in_any_case(db_session: Session, actor: audit.Actor) -> None:
    f.municipality(db_session, name="Göteborg", code="1480")
    with pytest.raises(registry.Taken) as caught:
        registry.add_municipality(db_session, name="GÖTEBORG", actor=actor)
    assert (caught.value.field, caught.value.holder) == ("name", "Göteborg")
    assert isinstance(caught.value, Conflict)
    with pytest.raises(registry.Taken) as caught:
        registry.add_municipality(db_session, name="Mölndal", code="1480", actor=actor)
    assert caught.value.field == "code"
    assert 'new municipality: field "code": 1480 is already the code of "Göteborg"' in str(caught.value)
    assert events(db_session, "municipality.create") == []


def test_rename_a_municipality_and_set_or_clear_its_code(db_session: Session, actor: audit.Actor) -> None:
    municipality = f.municipality(db_session, name="Kunglv", code=None)
    other = f.municipality(db_session, name="Ale", code="1440")
    registry.update_municipality(db_session, municipality, name="Kungälv", code="1482", actor=actor)
    assert (municipality.name, municipality.code) == ("Kungälv", "1482")
    (event,) = events(db_session, "municipality.update", municipality.id)
    assert event.before == {"name": "Kunglv", "code": None}
    assert event.after == {"name": "Kungälv", "code": "1482"}

    registry.update_municipality(db_session, municipality, name="KUNGÄLV", actor=actor)  # its own name, in capitals
    assert municipality.name == "KUNGÄLV"
    registry.update_municipality(db_session, municipality, code="", actor=actor)
    assert municipality.code is None
    registry.update_municipality(db_session, municipality, code=None, actor=actor)  # no change: no event
    assert len(events(db_session, "municipality.update", municipality.id)) == 3

    with pytest.raises(registry.Taken, match=r'municipality \d+: field "name": "Ale" already exists'):
        registry.update_municipality(db_session, municipality, name="ale", actor=actor)
    with pytest.raises(registry.Taken, match='field "code"'):
        registry.update_municipality(db_session, municipality, code=other.code, actor=actor)
    with pytest.raises(ValidationError, match='field "lat": cannot be changed'):
        registry.update_municipality(db_session, municipality, lat=1, actor=actor)
    db_session.refresh(municipality)
    assert (municipality.name, municipality.code) == ("KUNGÄLV", None)


# --- schools ------------------------------------------------------------------------------------------------------


def test_a_new_school_without_coordinates_or_geocoder_waits(db_session: Session, actor: audit.Actor) -> None:
    municipality = f.municipality(db_session)
    school = add(db_session, municipality, actor, need_index=1.25)
    assert school.municipality is municipality
    assert (school.code, school.name, school.address) == ("21503625", "Äppelviksskolan", GOTEBORG_TYPED)
    assert (school.lat, school.lon, school.geo_status, school.need_index) == (None, None, GeoStatus.PENDING, 1.25)
    (event,) = events(db_session, "school.create", school.id)
    assert event.actor_id == actor.user_id
    assert event.after == {
        "code": "21503625",
        "name": "Äppelviksskolan",
        "municipality_id": municipality.id,
        "address": GOTEBORG_TYPED,
        "need_index": 1.25,
    }
    assert add(db_session, municipality, actor, code="48632059").need_index == registry.DEFAULT_NEED_INDEX


def test_a_new_school_with_coordinates_is_placed_as_given(
    db_session: Session, actor: audit.Actor, nominatim: NominatimStub, geocoder: Geocoder
) -> None:
    school = add(db_session, f.municipality(db_session), actor, lat=57.7, lon=11.95, geocoder=geocoder)
    assert (school.lat, school.lon, school.geo_status) == (57.7, 11.95, GeoStatus.MANUAL)
    assert nominatim.queries == []  # given coordinates are not looked up
    (event,) = events(db_session, "school.set_coordinates", school.id)
    assert event.after == {"lat": 57.7, "lon": 11.95, "geo_status": "manual"}


def test_a_new_school_is_geocoded_by_its_address(
    db_session: Session, actor: audit.Actor, nominatim: NominatimStub, geocoder: Geocoder
) -> None:
    school = add(db_session, f.municipality(db_session), actor, geocoder=geocoder)
    assert school.geo_status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(GOTEBORG_POINT)
    assert nominatim.queries == [GOTEBORG]
    assert len(events(db_session, "school.geocode", school.id)) == 1

    unknown = add(db_session, school.municipality, actor, code="48632059", address=UNKNOWN_TYPED, geocoder=geocoder)
    assert (unknown.lat, unknown.lon, unknown.geo_status) == (None, None, GeoStatus.NOT_FOUND)


def test_every_bad_field_is_named_and_nothing_is_written(db_session: Session, actor: audit.Actor) -> None:
    municipality = f.municipality(db_session)
    before = count(db_session, m.School)
    with pytest.raises(ValidationError) as caught:
        add(db_session, municipality, actor, code="1234", name=" ", address="", need_index=0, lat=57.7)
    assert caught.value.problems == [
        'new school: field "code": "1234" is not a school unit code: it has 4 digits, not eight',
        'new school: field "name": is required',
        'new school: field "address": is required',
        'new school: field "need_index": 0 is outside 0.1-10 (greater than 0; 1.0 is the average)',
        'new school: field "lon": give lat and lon together, or neither',
    ]
    with pytest.raises(ValidationError) as caught:
        add(db_session, municipality, actor, need_index="mycket", lat=91, lon="öst")
    assert caught.value.problems == [
        "new school: field \"need_index\": 'mycket' is not a number (1.0 is the average)",
        'new school: field "lat": 91 is outside -90..90',
        "new school: field \"lon\": 'öst' is not a number",
    ]
    with pytest.raises(ValidationError, match='field "need_index"'):
        add(db_session, municipality, actor, need_index=float("nan"))
    assert count(db_session, m.School) == before
    assert events(db_session, "school.create") == []


def test_a_taken_school_unit_code_is_refused(db_session: Session, actor: audit.Actor) -> None:
    existing = f.school(db_session, code="21503625", name="Gamla skolan")
    before = count(db_session, m.School)
    with pytest.raises(registry.Taken) as caught:
        add(db_session, existing.municipality, actor, code="2150 3625")
    assert caught.value.field == "code"
    assert caught.value.holder == "Gamla skolan"
    assert f'new school: field "code": 21503625 is already the code of school {existing.id}' in str(caught.value)
    assert count(db_session, m.School) == before


def test_update_a_school_audits_what_changed(db_session: Session, actor: audit.Actor) -> None:
    school = f.school(db_session, code="S001", address=GOTEBORG_TYPED, lat=57.70, lon=11.97)
    other = f.municipality(db_session, name="Härryda")
    registry.update_school(
        db_session, school, code="S001", name="Nya namnet", municipality=other, need_index=2, actor=actor
    )
    assert (school.code, school.name, school.municipality, school.need_index) == ("S001", "Nya namnet", other, 2)
    assert (school.lat, school.lon, school.geo_status) == (57.70, 11.97, GeoStatus.MANUAL)  # the address is unchanged
    (event,) = events(db_session, "school.update", school.id)
    assert set(event.after or {}) == {"name", "municipality_id", "need_index"}
    assert event.after is not None
    assert event.after["municipality_id"] == other.id

    registry.update_school(
        db_session, school, name="Nya namnet", address=" drottningtorget 5, 411 03 göteborg", actor=actor
    )
    assert school.geo_status is GeoStatus.MANUAL  # the same address as the geocoder reads it: the place stays
    assert len(events(db_session, "school.update", school.id)) == 2


def test_a_moved_school_is_located_again_or_waits(
    db_session: Session, actor: audit.Actor, nominatim: NominatimStub, geocoder: Geocoder
) -> None:
    school = f.school(db_session, address=GOTEBORG_TYPED, lat=57.70, lon=11.97, geo_status=GeoStatus.OK)
    registry.update_school(
        db_session, school, address=MOLNDAL_TYPED, lat=None, lon=None, geocoder=geocoder, actor=actor
    )
    assert school.geo_status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(MOLNDAL_POINT)
    assert nominatim.queries == [MOLNDAL]

    registry.update_school(db_session, school, name="Samma plats", lat=None, lon=None, geocoder=geocoder, actor=actor)
    assert school.geo_status is GeoStatus.OK  # a geocoded place is kept while the address stays
    assert nominatim.queries == [MOLNDAL]

    registry.update_school(db_session, school, address=GOTEBORG_TYPED, actor=actor)  # no geocoder configured
    assert (school.lat, school.lon, school.geo_status) == (None, None, GeoStatus.PENDING)
    (*_, event) = events(db_session, "school.update", school.id)
    assert event.after == {"address": GOTEBORG_TYPED, "lat": None, "lon": None, "geo_status": "pending"}

    registry.update_school(db_session, school, name="Samma plats", geocoder=geocoder, actor=actor)
    assert school.geo_status is GeoStatus.OK  # still waiting: looked up when saved with a geocoder
    assert nominatim.queries == [MOLNDAL, GOTEBORG]


def test_coordinates_given_or_taken_back(
    db_session: Session, actor: audit.Actor, nominatim: NominatimStub, geocoder: Geocoder
) -> None:
    school = f.school(db_session, address=MOLNDAL_TYPED, lat=None, lon=None, geo_status=GeoStatus.NOT_FOUND)
    registry.update_school(db_session, school, lat=57.66, lon=12.01, geocoder=geocoder, actor=actor)
    assert (school.lat, school.lon, school.geo_status) == (57.66, 12.01, GeoStatus.MANUAL)
    assert nominatim.queries == []
    registry.update_school(db_session, school, lat=57.66, lon=12.01, geocoder=geocoder, actor=actor)
    assert len(events(db_session, "school.set_coordinates", school.id)) == 1  # the same again changes nothing

    registry.update_school(db_session, school, lat=None, lon=None, actor=actor)  # without a geocoder
    assert (school.lat, school.lon, school.geo_status) == (None, None, GeoStatus.PENDING)
    school.lat, school.lon, school.geo_status = 57.66, 12.01, GeoStatus.MANUAL
    registry.update_school(db_session, school, lat=None, lon=None, geocoder=geocoder, actor=actor)
    assert school.geo_status is GeoStatus.OK
    assert (school.lat, school.lon) == pytest.approx(MOLNDAL_POINT)


def test_a_bad_update_names_the_school_and_changes_nothing(db_session: Session, actor: audit.Actor) -> None:
    school = f.school(db_session, code="S001", name="Skolan", address=GOTEBORG_TYPED)
    taken = f.school(db_session, code="48632059")
    with pytest.raises(ValidationError) as caught:
        registry.update_school(db_session, school, code="12", name="", lat=1.0, need_index=-1, actor=actor)
    assert caught.value.problems == [
        f'school {school.id}: field "code": "12" is not a school unit code: it has 2 digits, not eight',
        f'school {school.id}: field "name": is required',
        f'school {school.id}: field "need_index": -1 is outside 0.1-10 (greater than 0; 1.0 is the average)',
        f'school {school.id}: field "lon": give lat and lon together',
    ]
    with pytest.raises(registry.Taken, match=f'school {school.id}: field "code": 48632059 is already the code'):
        registry.update_school(db_session, school, code=taken.code, name="Annat namn", actor=actor)
    with pytest.raises(ValidationError, match='field "geo_status": cannot be changed'):
        registry.update_school(db_session, school, geo_status=GeoStatus.OK, actor=actor)
    with pytest.raises(ValidationError, match='field "municipality": is not a municipality'):
        registry.update_school(db_session, school, municipality=None, actor=actor)
    db_session.refresh(school)
    assert (school.code, school.name) == ("S001", "Skolan")
    assert events(db_session, "school.update", school.id) == []


def test_the_register_is_in_swedish_order_by_municipality_then_name(db_session: Session) -> None:
    ockero = f.municipality(db_session, name="Öckerö")
    ale = f.municipality(db_session, name="Ale")
    schools = [
        f.school(db_session, municipality=ockero, name="Alfa"),
        f.school(db_session, municipality=ale, name="Ödeskolan"),
        f.school(db_session, municipality=ale, name="Zetaskolan"),
        f.school(db_session, municipality=ale, name="Ängsskolan"),
    ]
    ordered = registry.in_register_order(schools)
    assert [s.name for s in ordered] == ["Zetaskolan", "Ängsskolan", "Ödeskolan", "Alfa"]
