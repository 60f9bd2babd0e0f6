"""Building a round's praktik-instance/1 document from the database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import solver
from placement import audit
from placement import models as m
from placement.enums import AssignmentStatus, EmployerStatus, Gender, OfferKind, Sector
from placement.errors import ValidationError
from placement.rounds import bridge
from placement.rounds import setup as rounds
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


@dataclasses.dataclass
class World:
    round: m.AllocationRound
    anna: m.Pupil
    bo: m.Pupil
    shop: m.Offer
    w45: m.Period


@pytest.fixture
def world(db_session: Session) -> World:
    w45 = f.period(db_session, code="w45", start_date=dt.date(2026, 11, 2), end_date=dt.date(2026, 11, 13))
    w07 = f.period(db_session, code="w07", start_date=dt.date(2027, 2, 15), end_date=dt.date(2027, 2, 26))
    school = f.school(db_session, code="S01", name="Bergsjöskolan", lat=57.7514, lon=12.0701, need_index=1.42)
    other = f.school(db_session, code="S02", name="Hovåsskolan", lat=57.62, lon=11.93, need_index=0.7)
    class_a = f.school_class(db_session, school=school, name="8A", period=w45)
    class_b = f.school_class(db_session, school=other, name="8B", period=w07)
    nurse = f.offer(
        db_session,
        code="O0001",
        title="Undersköterska, vårdcentral",
        sector=Sector.HEALTH,
        places={w45: 2, w07: 1},
        min_age=15,
        requirements=["swedish"],
        risk_assessment_confirmed_at=CONFIRMED,
    )
    nurse.schools.append(school)
    shop = f.offer(db_session, code="O0002", places={w45: 1}, risk_assessment_confirmed_at=CONFIRMED)
    unassessed = f.offer(db_session, code="O0003", places={w45: 3})
    pending = f.offer(
        db_session,
        code="O0004",
        places={w45: 3},
        risk_assessment_confirmed_at=CONFIRMED,
        employer=f.employer(db_session, status=EmployerStatus.PENDING),
    )
    anna = f.pupil(db_session, school_class=class_a, gender=Gender.FEMALE, birth_year=2012, birth_month=3)
    anna.attributes = ["swedish", "english"]
    for rank, offer in enumerate([nurse, unassessed, shop, pending], start=1):
        db_session.add(m.Preference(pupil=anna, offer=offer, rank=rank))
    bo = f.pupil(db_session, school_class=class_b, gender=None, birth_year=2012, birth_month=11)
    self_found = f.offer(db_session, code="O9001", kind=OfferKind.SELF_ARRANGED, places={w07: 1})
    bo.self_arranged_offer = self_found
    db_session.flush()
    allocation_round = rounds.create_round(db_session, "PRAO åk 8", ["w45", "w07"], actor=audit.CLI)
    return World(allocation_round, anna, bo, shop, w45)


def test_instance_follows_the_format(db_session: Session, world: World) -> None:
    build = bridge.build_instance(db_session, world.round)
    doc = build.instance
    assert doc["format"] == "praktik-instance/1"
    assert doc["name"] == "PRAO åk 8"
    assert doc["periods"] == [
        {"id": "w45", "start": "2026-11-02", "end": "2026-11-13"},
        {"id": "w07", "start": "2027-02-15", "end": "2027-02-26"},
    ]
    assert doc["schools"][0] == {
        "id": "S01",
        "name": "Bergsjöskolan",
        "lat": 57.7514,
        "lon": 12.0701,
        "need_index": 1.42,
    }
    offers = {o["id"]: o for o in doc["offers"]}
    assert offers["O0001"]["capacity"] == {"w45": 2, "w07": 1}
    assert offers["O0001"]["min_age"] == 15
    assert offers["O0001"]["requires"] == ["swedish"]
    assert offers["O0001"]["schools"] == ["S01"]
    assert offers["O0001"]["sector"] == "health"
    anna, bo = doc["students"]
    assert anna["school"] == "S01"
    assert anna["period"] == "w45"
    assert anna["gender"] == "female"
    assert anna["age"] == 14  # born March 2012, period starts November 2026
    assert anna["attributes"] == ["english", "swedish"]
    assert bo["age"] == 14  # born November 2012: turns 15 after the February period
    assert bo["gender"] is None
    assert doc["policy"]["max_distance_km"] == 20
    assert doc["policy"]["fairness"] == {"school": 1.0, "gender": 1.0, "need": 1.0}


def test_offers_not_open_to_minors_or_not_approved_are_left_out(db_session: Session, world: World) -> None:
    build = bridge.build_instance(db_session, world.round)
    assert {o["id"] for o in build.instance["offers"]} == {"O0001", "O0002", "O9001"}
    anna = build.instance["students"][0]
    assert anna["preferences"] == ["O0001", "O0002"]
    assert any("O0003" in note and "risk assessment" in note for note in build.notes)
    assert sum("left out" in note and anna["id"] in note for note in build.notes) == 2


def test_self_arranged_and_confirmed_placements_are_locked(db_session: Session, world: World) -> None:
    earlier = m.AllocationRound(name="earlier")
    db_session.add(earlier)
    db_session.add(
        m.Assignment(
            round=earlier,
            pupil=world.anna,
            offer=world.shop,
            period=world.w45,
            status=AssignmentStatus.CONFIRMED,
        )
    )
    db_session.flush()
    anna, bo = bridge.build_instance(db_session, world.round).instance["students"]
    assert anna["locked"] == "O0002"
    assert bo["locked"] == "O9001"


def test_hash_is_stable_and_sensitive(db_session: Session, world: World) -> None:
    first = bridge.build_instance(db_session, world.round)
    again = bridge.build_instance(db_session, world.round)
    assert first.input_hash == again.input_hash
    world.shop.capacities[0].places = 2
    db_session.flush()
    assert bridge.build_instance(db_session, world.round).input_hash != first.input_hash


def test_missing_coordinates_are_named(db_session: Session, world: World) -> None:
    world.shop.workplace.lat = None
    db_session.flush()
    with pytest.raises(ValidationError) as info:
        bridge.build_instance(db_session, world.round)
    assert any(p.startswith("offer O0002: workplace") and "no coordinates" in p for p in info.value.problems)


def test_round_with_unknown_period_is_refused(db_session: Session) -> None:
    with pytest.raises(ValidationError, match='period "w99" does not exist'):
        rounds.create_round(db_session, "x", ["w99"], actor=audit.CLI)


def test_creating_a_round_is_audited(db_session: Session, world: World) -> None:
    event = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "round.create")).one()
    assert event.entity_id == world.round.id
    assert event.after["periods"] == ["w07", "w45"]


def test_a_self_arranged_placement_without_coordinates_stands_at_the_school(db_session: Session, world: World) -> None:
    self_found = world.bo.self_arranged_offer
    assert self_found is not None
    self_found.workplace.lat = self_found.workplace.lon = None
    db_session.flush()

    build = bridge.build_instance(db_session, world.round)

    school = world.bo.school
    (document,) = [o for o in build.instance["offers"] if o["id"] == self_found.code]
    assert (document["lat"], document["lon"]) == (school.lat, school.lon)
    assert any(self_found.code in note and "self-arranged" in note for note in build.notes)
    instance = solver.load_instance(build.instance)
    result = solver.solve(instance)
    assert solver.check(instance, result) == []
    assert result.assignments


def test_a_catalogue_offer_without_coordinates_stops_the_build(db_session: Session, world: World) -> None:
    world.shop.workplace.lat = None
    db_session.flush()
    with pytest.raises(ValidationError, match=f"offer {world.shop.code}: workplace .* has no coordinates"):
        bridge.build_instance(db_session, world.round)


def test_the_placement_in_force_counts_over_a_pending_change(db_session: Session) -> None:
    allocation_round, pupils, offers = f.small_round(db_session)
    period_id = offers[0].capacities[0].period_id
    published, moved, proposed = pupils[0], pupils[1], pupils[2]
    rows = [
        (published, offers[0], AssignmentStatus.PUBLISHED, 1),
        (moved, offers[0], AssignmentStatus.CONFIRMED, 2),
        (moved, offers[1], AssignmentStatus.PROPOSED, 1),  # a pending change: the confirmed one still counts
        (proposed, offers[1], AssignmentStatus.PROPOSED, 3),
        (pupils[3], offers[1], AssignmentStatus.DECLINED, 1),  # declined holds nothing
    ]
    for child, chosen, status, rank in rows:
        db_session.add(
            m.Assignment(
                round_id=allocation_round.id,
                pupil_id=child.id,
                offer_id=chosen.id,
                period_id=period_id,
                rank=rank,
                status=status,
            )
        )
    db_session.flush()
    held = bridge.placements_in_force(db_session, allocation_round.id)
    assert held == {
        published.id: bridge.Held(offers[0].code, 1, AssignmentStatus.PUBLISHED),
        moved.id: bridge.Held(offers[0].code, 2, AssignmentStatus.CONFIRMED),
        proposed.id: bridge.Held(offers[1].code, 3, AssignmentStatus.PROPOSED),
    }


def test_a_municipality_round_places_its_own_pupils_and_leaves_places_others_hold(db_session: Session) -> None:
    actor = audit.Actor("test")
    period = f.period(db_session, code="mun-w1")
    ale, kungalv = f.municipality(db_session, name="Ale"), f.municipality(db_session, name="Kungälv")
    pupils = {}
    for place in (ale, kungalv):
        klass = f.school_class(db_session, school=f.school(db_session, municipality=place), period=period)
        pupils[place.name] = [f.pupil(db_session, school_class=klass) for _ in range(2)]
    offer = f.offer(db_session, places={period: 3}, risk_assessment_confirmed_at=f.RISK_CONFIRMED)
    # Kungälv's round has placed one of its pupils at the offer already (proposed, not yet published).
    theirs = rounds.create_round(db_session, "Kungälv", ["mun-w1"], actor=actor, municipality_id=kungalv.id)
    db_session.add(
        m.Assignment(
            round_id=theirs.id,
            pupil=pupils["Kungälv"][0],
            offer=offer,
            period=period,
            status=AssignmentStatus.PROPOSED,
        )
    )
    db_session.flush()

    own = rounds.create_round(db_session, "Ale", ["mun-w1"], actor=actor, municipality_id=ale.id)
    instance = bridge.build_instance(db_session, own).instance
    assert {s["id"] for s in instance["students"]} == {bridge.student_id(p.id) for p in pupils["Ale"]}
    [document] = [o for o in instance["offers"] if o["id"] == offer.code]
    assert document["capacity"] == {"mun-w1": 2}  # the place Kungälv's pupil holds is not offered again

    region = rounds.create_round(db_session, "Regionen", ["mun-w1"], actor=actor)
    whole = bridge.build_instance(db_session, region).instance
    assert len(whole["students"]) == 4
    [document] = [o for o in whole["offers"] if o["id"] == offer.code]
    # The region's round plans every pupil of the period, that one too: all three places are its to give.
    assert document["capacity"] == {"mun-w1": 3}
