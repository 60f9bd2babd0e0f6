"""Pupils ranking offers while the preference window is open."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import preferences
from placement.enums import EmployerStatus, OfferStatus
from placement.errors import Conflict, ValidationError
from tests import factories as f

CONFIRMED = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
OPENS = dt.datetime(2026, 9, 14, 6, 0, tzinfo=dt.UTC)
CLOSES = dt.datetime(2026, 10, 2, 22, 0, tzinfo=dt.UTC)
DURING = dt.datetime(2026, 9, 20, 12, 0, tzinfo=dt.UTC)


@dataclasses.dataclass
class World:
    window: m.PreferenceWindow
    w45: m.Period
    w07: m.Period
    school: m.School
    other_school: m.School
    anna: m.Pupil
    shop: m.Offer
    cafe: m.Offer
    garage: m.Offer


@pytest.fixture
def world(db_session: Session) -> World:
    window = m.PreferenceWindow(name="Höstens val", opens_at=OPENS, closes_at=CLOSES, max_choices=3)
    db_session.add(window)
    w45 = f.period(db_session, start_date=dt.date(2026, 11, 2))
    w07 = f.period(db_session, start_date=dt.date(2027, 2, 15))
    school = f.school(db_session)
    other_school = f.school(db_session)
    eight_a = f.school_class(db_session, school=school, name="8A", period=w45)
    anna = f.pupil(db_session, school_class=eight_a, birth_year=2012, birth_month=3)  # 14 in November 2026
    anna.attributes = ["Swedish"]
    return World(
        window=window,
        w45=w45,
        w07=w07,
        school=school,
        other_school=other_school,
        anna=anna,
        shop=offer(db_session, w45, title="Butik"),
        cafe=offer(db_session, w45, title="Kafé"),
        garage=offer(db_session, w45, title="Bilverkstad"),
    )


def offer(session: Session, period: m.Period, **kw: Any) -> m.Offer:
    kw.setdefault("places", {period: 2})
    kw.setdefault("risk_assessment_confirmed_at", CONFIRMED)
    return f.offer(session, **kw)


def choose(session: Session, world: World, choices: list[Any], *, now: dt.datetime = DURING) -> list[m.Preference]:
    return preferences.set_preferences(session, world.anna, choices, window=world.window, actor=audit.CLI, now=now)


def ranking(session: Session, pupil: m.Pupil) -> list[str]:
    return [p.offer.code for p in preferences.preferences_of(session, pupil)]


def test_setting_preferences_ranks_them_in_order(db_session: Session, world: World) -> None:
    created = choose(db_session, world, [world.cafe, world.shop])
    assert [(p.rank, p.offer) for p in created] == [(1, world.cafe), (2, world.shop)]
    assert ranking(db_session, world.anna) == [world.cafe.code, world.shop.code]


def test_offers_can_be_given_by_code(db_session: Session, world: World) -> None:
    choose(db_session, world, [world.garage.code, world.shop])
    assert ranking(db_session, world.anna) == [world.garage.code, world.shop.code]


def test_unknown_codes_are_named(db_session: Session, world: World) -> None:
    with pytest.raises(ValidationError, match="offer O99999 does not exist"):
        choose(db_session, world, ["O99999"])


def test_a_new_ranking_replaces_the_old_and_is_audited_without_names(db_session: Session, world: World) -> None:
    choose(db_session, world, [world.cafe, world.shop])
    choose(db_session, world, [world.shop, world.garage, world.cafe])
    assert ranking(db_session, world.anna) == [world.shop.code, world.garage.code, world.cafe.code]
    events = list(
        db_session.scalars(
            select(m.AuditEvent).where(m.AuditEvent.action == "preferences.set").order_by(m.AuditEvent.id)
        )
    )
    assert [(e.before, e.after) for e in events] == [
        ({"offers": []}, {"offers": [world.cafe.code, world.shop.code]}),
        (
            {"offers": [world.cafe.code, world.shop.code]},
            {"offers": [world.shop.code, world.garage.code, world.cafe.code]},
        ),
    ]
    assert all(e.entity_type == "pupil" and e.entity_id == world.anna.id for e in events)
    assert world.anna.first_name not in repr([(e.before, e.after) for e in events])


def test_the_same_ranking_again_writes_nothing(db_session: Session, world: World) -> None:
    first = choose(db_session, world, [world.cafe])
    assert choose(db_session, world, [world.cafe.code]) == first
    count = db_session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == "preferences.set")).all()
    assert len(count) == 1


def test_an_empty_list_clears_the_ranking(db_session: Session, world: World) -> None:
    choose(db_session, world, [world.cafe])
    assert choose(db_session, world, []) == []
    assert ranking(db_session, world.anna) == []


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (CLOSES, "the preference window closed at 2026-10-02 22:00 UTC"),
        (CLOSES + dt.timedelta(days=1), "the preference window closed at"),
        (OPENS - dt.timedelta(seconds=1), "the preference window opens at 2026-09-14 06:00 UTC"),
    ],
)
def test_outside_the_window_is_refused(db_session: Session, world: World, now: dt.datetime, message: str) -> None:
    with pytest.raises(Conflict, match=message):
        choose(db_session, world, [world.cafe], now=now)
    assert ranking(db_session, world.anna) == []


def test_the_window_opens_on_the_dot(db_session: Session, world: World) -> None:
    choose(db_session, world, [world.cafe], now=OPENS)
    assert ranking(db_session, world.anna) == [world.cafe.code]


def test_more_than_max_choices_is_refused(db_session: Session, world: World) -> None:
    fourth = offer(db_session, world.w45)
    with pytest.raises(ValidationError, match="4 choices, at most 3 are allowed"):
        choose(db_session, world, [world.cafe, world.shop, world.garage, fourth])


def test_duplicates_are_refused_naming_the_offer(db_session: Session, world: World) -> None:
    with pytest.raises(ValidationError, match=f"offer {world.cafe.code} is ranked more than once"):
        choose(db_session, world, [world.cafe, world.shop, world.cafe.code])


def test_a_refused_ranking_keeps_the_old_one(db_session: Session, world: World) -> None:
    choose(db_session, world, [world.cafe, world.shop])
    with pytest.raises(ValidationError):
        choose(db_session, world, [world.garage, world.garage])
    assert ranking(db_session, world.anna) == [world.cafe.code, world.shop.code]


def test_offers_of_pending_employers_cannot_be_chosen(db_session: Session, world: World) -> None:
    pending = offer(db_session, world.w45, employer=f.employer(db_session, status=EmployerStatus.PENDING))
    with pytest.raises(ValidationError, match=f"offer {pending.code} cannot be chosen: its employer is pending"):
        choose(db_session, world, [world.cafe, pending])


def test_offers_without_risk_assessment_cannot_be_chosen(db_session: Session, world: World) -> None:
    unassessed = offer(db_session, world.w45, risk_assessment_confirmed_at=None)
    with pytest.raises(ValidationError, match="no risk assessment for minors"):
        choose(db_session, world, [unassessed])


def test_offers_restricted_to_other_schools_cannot_be_chosen(db_session: Session, world: World) -> None:
    theirs = offer(db_session, world.w45)
    theirs.schools.append(world.other_school)
    ours = offer(db_session, world.w45)
    ours.schools.append(world.school)
    db_session.flush()
    with pytest.raises(
        ValidationError, match=f"offer {theirs.code} cannot be chosen: it is open only to pupils of other"
    ):
        choose(db_session, world, [theirs])
    choose(db_session, world, [ours])


def test_offers_without_places_in_the_class_period_cannot_be_chosen(db_session: Session, world: World) -> None:
    spring_only = offer(db_session, world.w07, places={world.w45: 0, world.w07: 3})
    with pytest.raises(ValidationError, match=f"it has no places in period {world.w45.code}"):
        choose(db_session, world, [spring_only])


def test_min_age_is_checked_at_the_period_start(db_session: Session, world: World) -> None:
    fifteen = offer(db_session, world.w45, min_age=15)
    fourteen = offer(db_session, world.w45, min_age=14)
    with pytest.raises(ValidationError, match="it requires age 15, the pupil is 14 on 2026-11-02"):
        choose(db_session, world, [fifteen])
    choose(db_session, world, [fourteen])


def test_required_tags_are_checked(db_session: Session, world: World) -> None:
    needs_english = offer(db_session, world.w45, requirements=["swedish", "english"])
    needs_swedish = offer(db_session, world.w45, requirements=["swedish"])
    with pytest.raises(ValidationError, match=f"offer {needs_english.code} cannot be chosen: it requires english"):
        choose(db_session, world, [needs_english])
    choose(db_session, world, [needs_swedish])  # the pupil's "Swedish" matches whatever the case


def test_every_bad_choice_is_reported(db_session: Session, world: World) -> None:
    old = offer(db_session, world.w45, min_age=16)
    withdrawn = offer(db_session, world.w45)
    withdrawn.status = OfferStatus.WITHDRAWN
    db_session.flush()
    with pytest.raises(ValidationError) as info:
        choose(db_session, world, [old, withdrawn])
    assert [p.split(":")[0] for p in info.value.problems] == [f"pupil {world.anna.id}"] * 2
    assert "it is withdrawn" in info.value.problems[1]


def test_a_class_without_period_cannot_rank(db_session: Session, world: World) -> None:
    world.anna.school_class.period = None
    db_session.flush()
    with pytest.raises(ValidationError, match="class 8A has no placement period yet"):
        choose(db_session, world, [world.cafe])


def test_pupils_without_preferences(db_session: Session, world: World) -> None:
    nine_b = f.school_class(db_session, school=world.school, name="9B", period=world.w07)
    bo = f.pupil(db_session, school_class=world.anna.school_class, last_name="Andersson")
    cleo = f.pupil(db_session, school_class=nine_b)
    elsewhere = f.pupil(db_session, school=world.other_school)
    choose(db_session, world, [world.cafe])
    assert preferences.pupils_without_preferences(db_session, school=world.school) == [bo, cleo]
    assert preferences.pupils_without_preferences(db_session, period=world.w07) == [cleo]
    assert preferences.pupils_without_preferences(db_session, school=world.school, period=world.w45) == [bo]
    everyone = preferences.pupils_without_preferences(db_session)
    assert {bo, cleo, elsewhere} <= set(everyone)
    assert world.anna not in everyone


def test_an_offer_whose_employer_declined_the_pupil_cannot_be_chosen_again(db_session: Session, world: World) -> None:
    """As the solver excludes it (excluded_offers): the pupil's ranking, the offer list and the round agree."""
    from placement.cohorts import for_school as school_pupils
    from placement.enums import AssignmentStatus
    from placement.rounds import bridge
    from placement.rounds import setup as rounds

    earlier = rounds.create_round(db_session, "Vår", [world.w45.code], actor=audit.CLI)
    db_session.add(
        m.Assignment(
            round_id=earlier.id,
            pupil_id=world.anna.id,
            offer_id=world.shop.id,
            period_id=world.w45.id,
            rank=1,
            status=AssignmentStatus.DECLINED,
        )
    )
    db_session.flush()
    assert preferences.declined_offers(db_session, world.anna) == {world.shop.id}
    with pytest.raises(ValidationError, match=f"offer {world.shop.code} cannot be chosen: its employer declined"):
        choose(db_session, world, [world.shop, world.cafe])
    assert world.shop not in school_pupils.eligible_offers(db_session, world.anna)
    assert world.cafe in school_pupils.eligible_offers(db_session, world.anna)
    choose(db_session, world, [world.cafe])
    build = bridge.build_instance(
        db_session, rounds.create_round(db_session, "Höst", [world.w45.code], actor=audit.CLI)
    )
    student = next(s for s in build.instance["students"] if s["id"] == bridge.student_id(world.anna.id))
    assert student["excluded_offers"] == [world.shop.code]


def _crossing_pupils(session: Session, world: World) -> list[m.Pupil]:
    """Anna (14, "Swedish"), a 15-year-old of the other school with two tags in odd case, a 13-year-old without."""
    nine = f.school_class(session, school=world.other_school, name="9C", period=world.w45)
    return [
        world.anna,
        f.pupil(session, school_class=nine, birth_year=2011, birth_month=1, attributes=["ENGLISH", " swedish "]),
        f.pupil(session, school_class=world.anna.school_class, birth_year=2012, birth_month=12, attributes=[]),
    ]


def _declined_earlier(session: Session, world: World, pupil: m.Pupil, declined: m.Offer) -> None:
    """An earlier round in which the employer of ``declined`` declined ``pupil``."""
    from placement.enums import AssignmentStatus
    from placement.rounds import setup as rounds

    earlier = rounds.create_round(session, "Vår", [world.w45.code], actor=audit.CLI)
    session.add(
        m.Assignment(
            round_id=earlier.id,
            pupil_id=pupil.id,
            offer_id=declined.id,
            period_id=world.w45.id,
            rank=1,
            status=AssignmentStatus.DECLINED,
        )
    )
    session.flush()


def test_the_pupils_list_and_the_solver_apply_one_eligibility_rule(db_session: Session, world: World) -> None:
    """For every pupil and every offer a round uses, the placement side and the solver agree (issue 13, point 3).

    The cases cross each rule: age, tags in any case (stored case-folded), offers open to some
    schools only, an employer that declined the pupil earlier, and no places in the pupil's period.
    """
    import solver
    from placement.rounds import bridge
    from placement.rounds import setup as rounds

    pupils = _crossing_pupils(db_session, world)
    offers = [
        world.shop,
        offer(db_session, world.w45, min_age=15),
        offer(db_session, world.w45, requirements=["Swedish"]),
        offer(db_session, world.w45, requirements=["english", "SWEDISH"]),
        offer(db_session, world.w45, schools=[world.other_school]),
        offer(db_session, world.w07),  # places only in another period
        world.cafe,
    ]
    _declined_earlier(db_session, world, pupils[1], world.cafe)
    assert pupils[1].attributes == ["english", "swedish"]
    build = bridge.build_instance(
        db_session, rounds.create_round(db_session, "Höst", [world.w45.code, world.w07.code], actor=audit.CLI)
    )
    instance = solver.load_instance(build.instance)
    students = {s.id: s for s in instance.students}
    by_code = {o.id: o for o in instance.offers}
    seen = {True: 0, False: 0}
    for pupil in pupils:
        declined = preferences.declined_offers(db_session, pupil)
        student = students[bridge.student_id(pupil.id)]
        for candidate in offers:
            ours = preferences.ineligibility(pupil, candidate, world.w45, declined=declined)
            theirs = solver.eligibility.ineligibility(student, by_code[candidate.code])
            assert (ours is None) == (theirs is None), (pupil.id, candidate.code, ours, theirs)
            seen[ours is None] += 1
    # Both outcomes are exercised, not only one.
    assert seen[True] >= 5
    assert seen[False] >= 8


def test_the_database_lists_exactly_the_offers_the_rule_allows(db_session: Session, world: World) -> None:
    """``preferences.eligible`` (the SQL the pupil's list pages with) agrees with ``ineligibility`` offer by offer.

    The cases cross every rule: visibility (a pending employer, no risk
    assessment, a withdrawn offer), schools, a declined pupil, places in
    the period (none, zero), age on the first day, and tags in any case.
    """

    pupils = _crossing_pupils(db_session, world)
    pending = f.employer(db_session, status=EmployerStatus.PENDING)
    candidates = [
        world.shop,
        world.cafe,
        offer(db_session, world.w45, min_age=14),
        offer(db_session, world.w45, min_age=15),
        offer(db_session, world.w45, requirements=["Swedish"]),
        offer(db_session, world.w45, requirements=["english", "SWEDISH"]),
        offer(db_session, world.w45, schools=[world.other_school]),
        offer(db_session, world.w45, schools=[world.school, world.other_school]),
        offer(db_session, world.w07),  # places only in another period
        offer(db_session, world.w45, places={world.w45: 0}),
        offer(db_session, world.w45, risk_assessment_confirmed_at=None),
        offer(db_session, world.w45, status=OfferStatus.WITHDRAWN),
        offer(db_session, world.w45, workplace=f.workplace(db_session, employer=pending)),
    ]
    _declined_earlier(db_session, world, pupils[1], world.cafe)
    ids = [o.id for o in candidates]
    seen = {True: 0, False: 0}
    for pupil in pupils:
        declined = preferences.declined_offers(db_session, pupil)
        listed = set(
            db_session.scalars(
                select(m.Offer.id).where(
                    m.Offer.id.in_(ids), preferences.eligible(db_session, pupil, world.w45, declined=declined)
                )
            )
        )
        for candidate in candidates:
            allowed = preferences.ineligibility(pupil, candidate, world.w45, declined=declined) is None
            assert (candidate.id in listed) == allowed, (pupil.id, candidate.code)
            seen[allowed] += 1
    assert seen[True] >= 8
    assert seen[False] >= 20
