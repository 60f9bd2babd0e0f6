"""Offers: posting and changing them, their places, and what pupils may see."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from placement import audit, codes
from placement import models as m
from placement.employers import offers
from placement.employers import registry as employers
from placement.enums import AssignmentStatus, EmployerStatus, OfferKind, OfferStatus, Sector
from placement.errors import CapacityExceeded, Conflict, ValidationError
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


@dataclasses.dataclass
class World:
    employer: m.Employer
    workplace: m.Workplace
    w45: m.Period
    w07: m.Period
    school: m.School
    other_school: m.School


@pytest.fixture
def world(db_session: Session) -> World:
    employer = f.employer(db_session, status=EmployerStatus.APPROVED)
    return World(
        employer=employer,
        workplace=f.workplace(db_session, employer=employer),
        w45=f.period(db_session, start_date=dt.date(2026, 11, 2)),
        w07=f.period(db_session, start_date=dt.date(2027, 2, 15)),
        school=f.school(db_session),
        other_school=f.school(db_session),
    )


def create(session: Session, world: World, **kw: Any) -> m.Offer:
    args: dict[str, Any] = {
        "title": "Kock, restaurangkök",
        "description": "Förbered luncher och diska.",
        "sector": Sector.HOSPITALITY,
        "places": {world.w45: 2},
        "actor": audit.CLI,
    }
    args.update(kw)
    employer = args.pop("employer", world.employer)
    workplace = args.pop("workplace", world.workplace)
    return offers.create_offer(session, employer, workplace, **args)


def visible(session: Session, world: World, **kw: Any) -> m.Offer:
    """An offer pupils can see: approved employer, confirmed risk assessment, places."""
    offer = create(session, world, **kw)
    offers.confirm_risk_assessment(session, offer, actor=audit.CLI, now=CONFIRMED)
    return offer


def events(session: Session, action: str) -> list[m.AuditEvent]:
    return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)))


def assign(session: Session, offer: m.Offer, period: m.Period, status: AssignmentStatus) -> m.Assignment:
    allocation_round = m.AllocationRound(name="runda")
    assignment = m.Assignment(round=allocation_round, pupil=f.pupil(session), offer=offer, period=period, status=status)
    session.add(assignment)
    session.flush()
    return assignment


# --- creating -------------------------------------------------------------------------------------------------------


def test_creating_an_offer(db_session: Session, world: World) -> None:
    offer = create(
        db_session,
        world,
        min_age=14,
        requirements=[" Swedish ", "swedish", "english"],
        places={world.w45: 2, world.w07: 0},
        schools=[world.school, world.school],
        supervisor_name="Sven Svensson",
        supervisor_email="Sven@Restaurang.example.se",
    )
    assert offer.code.startswith("O")
    assert len(offer.code) == 6
    assert offer.status is OfferStatus.ACTIVE
    assert offer.kind is OfferKind.CATALOGUE
    assert offer.employer is world.employer
    assert offer.requirements == ["swedish", "english"]
    assert offer.schools == [world.school]
    assert {c.period.code: c.places for c in offer.capacities} == {world.w45.code: 2, world.w07.code: 0}
    assert offer.risk_assessment_confirmed_at is None
    event = events(db_session, "offer.create")[0]
    assert event.entity_id == offer.id
    assert event.after is not None
    assert event.after["places"] == {world.w45.code: 2, world.w07.code: 0}
    assert event.after["schools"] == [world.school.code]


def test_offer_codes_follow_the_highest_in_use(db_session: Session, world: World) -> None:
    f.offer(db_session, code="O00041")
    f.offer(db_session, code="Oddball")
    assert create(db_session, world).code == "O00042"
    assert create(db_session, world).code == "O00043"


def test_workplace_must_belong_to_the_employer(db_session: Session, world: World) -> None:
    foreign = f.workplace(db_session)
    with pytest.raises(ValidationError, match="belongs to another employer"):
        create(db_session, world, workplace=foreign)


def test_negative_places_are_refused_naming_the_period(db_session: Session, world: World) -> None:
    offers_before = db_session.scalar(select(func.count(m.Offer.id)))
    with pytest.raises(ValidationError) as info:
        create(db_session, world, places={world.w45: 2, world.w07: -1})
    assert info.value.problems == [
        f'offer "Kock, restaurangkök" of employer {world.employer.code}: '
        f"places for period {world.w07.code} must be 0 or more, not -1"
    ]
    assert db_session.scalar(select(func.count(m.Offer.id))) == offers_before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "  ", "title is required"),
        ("min_age", 11, "min_age must be empty or a whole number 12..20"),
        ("min_age", 21, "min_age must be empty or a whole number 12..20"),
        ("sector", "astrology", "sector 'astrology' is not one of"),
        ("requirements", "swedish", "requirements must be a list of tags"),
        ("supervisor_email", "inte en adress", "supervisor_email"),
    ],
)
def test_bad_offer_fields_are_named(db_session: Session, world: World, field: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        create(db_session, world, **{field: value})


def test_a_pending_employer_may_post_but_a_rejected_one_may_not(db_session: Session, world: World) -> None:
    world.employer.status = EmployerStatus.PENDING
    create(db_session, world)
    world.employer.status = EmployerStatus.REJECTED
    with pytest.raises(Conflict, match="rejected"):
        create(db_session, world)


# --- updating -------------------------------------------------------------------------------------------------------


def test_update_is_audited_with_before_and_after(db_session: Session, world: World) -> None:
    offer = create(db_session, world)
    other_workplace = f.workplace(db_session, employer=world.employer, name="Filialen")
    result = offers.update_offer(
        db_session,
        offer,
        title="Kock, skolkök",
        sector=Sector.EDUCATION,
        min_age=15,
        workplace=other_workplace,
        schools=[world.other_school],
        actor=audit.CLI,
    )
    assert result is offer
    assert (offer.title, offer.sector, offer.min_age, offer.workplace) == (
        "Kock, skolkök",
        Sector.EDUCATION,
        15,
        other_workplace,
    )
    event = events(db_session, "offer.update")[0]
    assert event.before == {
        "title": "Kock, restaurangkök",
        "sector": "hospitality",
        "min_age": None,
        "workplace_id": world.workplace.id,
        "schools": [],
    }
    assert event.after == {
        "title": "Kock, skolkök",
        "sector": "education",
        "min_age": 15,
        "workplace_id": other_workplace.id,
        "schools": [world.other_school.code],
    }


def test_update_without_change_writes_no_event(db_session: Session, world: World) -> None:
    offer = create(db_session, world)
    offers.update_offer(db_session, offer, title="Kock, restaurangkök", sector=Sector.HOSPITALITY, actor=audit.CLI)
    assert events(db_session, "offer.update") == []


@pytest.mark.parametrize("field", ["status", "code", "employer", "risk_assessment_confirmed_at", "capacities"])
def test_update_refuses_fields_with_their_own_rules(db_session: Session, world: World, field: str) -> None:
    offer = create(db_session, world)
    with pytest.raises(ValidationError, match=f"cannot change {field}"):
        offers.update_offer(db_session, offer, actor=audit.CLI, **{field: None})


def test_update_refuses_a_workplace_of_another_employer(db_session: Session, world: World) -> None:
    offer = create(db_session, world)
    with pytest.raises(ValidationError, match="belongs to another employer"):
        offers.update_offer(db_session, offer, workplace=f.workplace(db_session), actor=audit.CLI)
    assert offer.workplace is world.workplace


def test_a_withdrawn_offer_cannot_be_updated(db_session: Session, world: World) -> None:
    offer = create(db_session, world)
    offers.withdraw_offer(db_session, offer, actor=audit.CLI, reason="Stänger")
    with pytest.raises(Conflict, match="withdrawn"):
        offers.update_offer(db_session, offer, title="Ny", actor=audit.CLI)


# --- places ---------------------------------------------------------------------------------------------------------


def test_places_can_be_raised_added_and_lowered(db_session: Session, world: World) -> None:
    offer = create(db_session, world)
    offers.set_places(db_session, offer, world.w45, 5, actor=audit.CLI)
    capacity = offers.set_places(db_session, offer, world.w07, 1, actor=audit.CLI)
    assert capacity.places == 1
    offers.set_places(db_session, offer, world.w45, 0, actor=audit.CLI)
    db_session.expire_all()
    assert {c.period_id: c.places for c in offer.capacities} == {world.w45.id: 0, world.w07.id: 1}
    befores = [(e.before, e.after) for e in events(db_session, "offer.set_places")]
    assert befores == [
        ({"places": {world.w45.code: 2}}, {"places": {world.w45.code: 5}}),
        ({"places": {world.w07.code: None}}, {"places": {world.w07.code: 1}}),
        ({"places": {world.w45.code: 5}}, {"places": {world.w45.code: 0}}),
    ]


def test_places_cannot_go_below_assignments_in_force(db_session: Session, world: World) -> None:
    offer = create(db_session, world, places={world.w45: 3})
    assign(db_session, offer, world.w45, AssignmentStatus.CONFIRMED)
    assign(db_session, offer, world.w45, AssignmentStatus.PUBLISHED)
    assign(db_session, offer, world.w45, AssignmentStatus.DECLINED)  # not in force
    assign(db_session, offer, world.w45, AssignmentStatus.PROPOSED)  # not in force
    with pytest.raises(CapacityExceeded, match=f"{world.w45.code} to 1: 2 assignments are in force"):
        offers.set_places(db_session, offer, world.w45, 1, actor=audit.CLI)
    db_session.expire_all()
    assert offer.capacities[0].places == 3
    offers.set_places(db_session, offer, world.w45, 2, actor=audit.CLI)
    assert offer.capacities[0].places == 2
    assert len(events(db_session, "offer.set_places")) == 1


def test_new_period_places_respect_assignments_in_force(db_session: Session, world: World) -> None:
    offer = create(db_session, world, places={world.w45: 1})
    assign(db_session, offer, world.w07, AssignmentStatus.LOCKED)
    with pytest.raises(CapacityExceeded, match=f"{world.w07.code} to 0: 1 assignments"):
        offers.set_places(db_session, offer, world.w07, 0, actor=audit.CLI)


@pytest.mark.parametrize("places", [-1, 1.5, True])
def test_bad_places_are_refused_naming_the_period(db_session: Session, world: World, places: Any) -> None:
    offer = create(db_session, world)
    with pytest.raises(ValidationError, match=f"places for period {world.w45.code}"):
        offers.set_places(db_session, offer, world.w45, places, actor=audit.CLI)


# --- risk assessment and withdrawal ---------------------------------------------------------------------------------


def test_risk_assessment_stores_time_and_user(db_session: Session, world: World) -> None:
    contact = f.user(db_session)
    offer = create(db_session, world)
    offers.confirm_risk_assessment(db_session, offer, actor=audit.Actor.of(contact), now=CONFIRMED)
    assert offer.risk_assessment_confirmed_at == CONFIRMED
    assert offer.risk_assessment_confirmed_by_id == contact.id
    event = events(db_session, "offer.confirm_risk_assessment")[0]
    assert event.before == {"risk_assessment_confirmed_at": None, "risk_assessment_confirmed_by_id": None}
    assert event.after == {
        "risk_assessment_confirmed_at": CONFIRMED.isoformat(),
        "risk_assessment_confirmed_by_id": contact.id,
    }


@pytest.mark.parametrize("reason", ["", "  "])
def test_withdrawal_needs_a_reason(db_session: Session, world: World, reason: str) -> None:
    offer = visible(db_session, world)
    with pytest.raises(ValidationError, match="a reason is required"):
        offers.withdraw_offer(db_session, offer, actor=audit.CLI, reason=reason)
    assert offer.status is OfferStatus.ACTIVE


def test_withdrawn_offers_disappear_and_the_reason_is_kept(db_session: Session, world: World) -> None:
    offer = visible(db_session, world)
    assign(db_session, offer, world.w45, AssignmentStatus.CONFIRMED)
    offers.withdraw_offer(db_session, offer, actor=audit.CLI, reason="Köket byggs om")
    assert offer.status is OfferStatus.WITHDRAWN
    assert offers.visible_offers(db_session) == []
    assert not offers.offer_is_visible(offer)
    event = events(db_session, "offer.withdraw")[0]
    assert event.before == {"status": "active"}
    assert event.after == {"status": "withdrawn", "reason": "Köket byggs om", "assignments_in_force": 1}
    with pytest.raises(Conflict, match="already withdrawn"):
        offers.withdraw_offer(db_session, offer, actor=audit.CLI, reason="igen")
    with pytest.raises(Conflict, match="withdrawn"):
        offers.set_places(db_session, offer, world.w45, 4, actor=audit.CLI)


def test_before_withdrawing_the_employer_learns_who_chose_the_offer_and_who_is_placed_there(
    db_session: Session, world: World
) -> None:
    offer = visible(db_session, world)
    assert offers.withdrawal(db_session, offer) == offers.Withdrawal(chosen_by=0, placed=0)
    for _ in range(3):
        db_session.add(m.Preference(pupil=f.pupil(db_session), offer=offer, rank=1))
    placed = assign(db_session, offer, world.w45, AssignmentStatus.CONFIRMED)
    db_session.add(m.Preference(pupil=placed.pupil, offer=offer, rank=2))
    assign(db_session, offer, world.w45, AssignmentStatus.DECLINED)  # not in force: not counted
    db_session.flush()
    told = offers.withdrawal(db_session, offer)
    assert told == offers.Withdrawal(chosen_by=4, placed=1)
    offers.withdraw_offer(db_session, offer, actor=audit.CLI, reason="Köket byggs om")
    assert events(db_session, "offer.withdraw")[0].after["assignments_in_force"] == told.placed


# --- visibility -----------------------------------------------------------------------------------------------------


def test_a_pending_employers_offers_are_invisible_until_approved(db_session: Session, world: World) -> None:
    employer, _ = employers.register_employer(
        db_session,
        name="Nya Bageriet AB",
        org_number="556012-5790",
        contact_email="bageri@example.se",
        contact_name="Berit",
        password="ett långt lösenord",
        actor=audit.CLI,
    )
    workplace = employers.add_workplace(db_session, employer, name="Bageriet", address="Bagargatan 1", actor=audit.CLI)
    offer = visible(db_session, world, employer=employer, workplace=workplace)
    assert offers.visible_offers(db_session) == []
    assert offers.visibility_problem(offer) == "its employer is pending, not approved"
    employers.approve_employer(db_session, employer, actor=audit.CLI)
    assert offers.visible_offers(db_session) == [offer]
    assert offers.offer_is_visible(offer)


def test_only_offers_with_a_risk_assessment_and_places_are_visible(db_session: Session, world: World) -> None:
    shown = visible(db_session, world, title="A")
    create(db_session, world, title="B unassessed")
    visible(db_session, world, title="C no places", places={world.w45: 0})
    self_arranged = visible(db_session, world, title="D self-arranged")
    self_arranged.kind = OfferKind.SELF_ARRANGED
    draft = visible(db_session, world, title="E draft")
    draft.status = OfferStatus.DRAFT
    db_session.flush()
    assert offers.visible_offers(db_session) == [shown]
    problems = {
        o.title: offers.visibility_problem(o)
        for o in db_session.scalars(select(m.Offer).where(m.Offer.employer_id == world.employer.id))
    }
    assert problems == {
        "A": None,
        "B unassessed": "no risk assessment for minors has been confirmed",
        "C no places": "it has no places",
        "D self-arranged": "it is a self-arranged placement, not a catalogue offer",
        "E draft": "it is draft",
    }


def test_visible_offers_filter_by_period_and_sector(db_session: Session, world: World) -> None:
    autumn = visible(db_session, world, title="Höst", places={world.w45: 1, world.w07: 0})
    spring = visible(db_session, world, title="Vår", places={world.w07: 2}, sector=Sector.HEALTH)
    assert offers.visible_offers(db_session) == [autumn, spring]
    assert offers.visible_offers(db_session, period=world.w45) == [autumn]
    assert offers.visible_offers(db_session, period=world.w07) == [spring]
    assert offers.visible_offers(db_session, sector=Sector.HEALTH) == [spring]
    assert offers.visible_offers(db_session, sector=Sector.HEALTH, period=world.w45) == []


def test_keyword_search_ignores_case_including_swedish_letters(db_session: Session, world: World) -> None:
    kitchen = visible(db_session, world, title="Kock i STORKÖK", description="Lunch för 300 elever")
    nurse = visible(db_session, world, title="Undersköterska", description="Äldreboende, Östra sjukhuset")
    assert offers.visible_offers(db_session, query="storkök") == [kitchen]
    assert offers.visible_offers(db_session, query="ÄLDREBOENDE") == [nurse]
    assert offers.visible_offers(db_session, query="östra undersköterska") == [nurse]
    assert offers.visible_offers(db_session, query="kock sjukhuset") == []
    assert offers.visible_offers(db_session, query="  ") == [kitchen, nurse]


def test_offers_restricted_to_schools_are_visible_only_to_those(db_session: Session, world: World) -> None:
    open_to_all = visible(db_session, world, title="A öppen")
    restricted = visible(db_session, world, title="B bara för skolan", schools=[world.school])
    assert offers.visible_offers(db_session, school=world.school) == [open_to_all, restricted]
    assert offers.visible_offers(db_session, school=world.other_school) == [open_to_all]
    assert offers.visible_offers(db_session) == [open_to_all, restricted]


def test_places_in_reads_one_period(db_session: Session, world: World) -> None:
    offer = create(db_session, world, places={world.w45: 3})
    assert offers.places_in(offer, world.w45) == 3
    assert offers.places_in(offer, world.w07) == 0


def test_an_offer_code_taken_meanwhile_is_retried(
    db_session: Session, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    f.offer(db_session, code="O00007")
    real = codes.next_code
    answers = iter(["O00007"])  # stale: another process took it

    def racing(*args: Any, **kwargs: Any) -> str:
        return next(answers, None) or real(*args, **kwargs)

    monkeypatch.setattr(codes, "next_code", racing)
    offer = create(db_session, world, places={world.w45: 1, world.w07: 2})
    assert offer.code == "O00008"
    db_session.expire_all()
    assert sorted(c.places for c in offer.capacities) == [1, 2]
    assert len(events(db_session, "offer.create")) == 1


def test_what_pupils_see_what_a_round_uses_and_the_supply_figures_follow_one_rule(db_session: Session) -> None:
    """offers.pupil_facing is the one rule: the pupil's list, the round's instance and the planning figures."""
    from placement.reports import planning
    from placement.rounds import bridge
    from placement.rounds import setup as rounds

    autumn = f.period(db_session, code="h1")
    pending = f.employer(db_session, status=EmployerStatus.PENDING)
    confirmed = {"risk_assessment_confirmed_at": f.RISK_CONFIRMED}
    cases = {
        "open": f.offer(db_session, places={autumn: 2}, **confirmed),
        "withdrawn": f.offer(db_session, places={autumn: 2}, status=OfferStatus.WITHDRAWN, **confirmed),
        "self-arranged": f.offer(db_session, places={autumn: 1}, kind=OfferKind.SELF_ARRANGED, **confirmed),
        "pending employer": f.offer(db_session, places={autumn: 2}, employer=pending, **confirmed),
        "no risk assessment": f.offer(db_session, places={autumn: 2}),
        "no places": f.offer(db_session, places={autumn: 0}, **confirmed),
    }
    explained = {name for name, offer in cases.items() if offers.visibility_problem(offer) is not None}
    assert explained == set(cases) - {"open"}
    assert [o.code for o in offers.visible_offers(db_session)] == [cases["open"].code]
    pupil = f.pupil(db_session, school_class=f.school_class(db_session, period=autumn))
    db_session.add(m.Preference(pupil=pupil, offer=cases["open"], rank=1))
    allocation_round = rounds.create_round(db_session, "Höst", ["h1"], actor=audit.CLI)
    build = bridge.build_instance(db_session, allocation_round)
    assert [o["id"] for o in build.instance["offers"]] == [cases["open"].code]
    assert any(cases["no risk assessment"].code in note for note in build.notes)
    assert planning.planning_overview(db_session).total_places == 2  # the open offer's places only
