"""Pupils' ranked preferences: setting them while the window is open, and reading them.

A pupil submits the whole ranking at once; it replaces the previous one
(delete, then insert).  Every offer ranked must be one the pupil could be
placed at: visible (see ``offers.visibility_problem``), open to the pupil's
school, with places in the period the pupil's class goes out, with a minimum
age the pupil has reached at the start of that period, and with every
requirement among the pupil's tags.  Messages name pupils by id only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from placement import audit
from placement.db import utcnow, violated_constraint
from placement.employers.offers import places_in, pupil_facing, visibility_problem
from placement.enums import AssignmentStatus
from placement.errors import Conflict, ValidationError
from placement.models import (
    Assignment,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    PreferenceWindow,
    Pupil,
    School,
    SchoolClass,
)

logger = logging.getLogger(__name__)


def lock_ranking(session: Session, pupil: Pupil) -> None:
    """Lock the pupil's row for this transaction, so that two edits of one ranking (two tabs, a
    double click, the school and the pupil at once) take turns instead of one failing.

    On SQLite the ``FOR UPDATE`` makes the transaction the database's one writer (:mod:`placement.db`).
    """
    session.execute(select(Pupil.id).where(Pupil.id == pupil.id).with_for_update())


def set_preferences(
    session: Session,
    pupil: Pupil,
    offer_codes_or_offers: Sequence[Offer | str],
    *,
    window: PreferenceWindow,
    actor: audit.Actor,
    now: dt.datetime | None = None,
) -> list[Preference]:
    """Replace ``pupil``'s ranking with ``offer_codes_or_offers`` (first choice first).

    Raises Conflict outside the window, ValidationError listing every bad
    choice otherwise; nothing is written unless the whole ranking is accepted.
    An empty list clears the ranking.
    """
    label = f"pupil {pupil.id}"
    now = now or utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware now")
    if now < window.opens_at:
        raise Conflict(f"{label}: the preference window opens at {_when(window.opens_at)}")
    if now >= window.closes_at:
        raise Conflict(f"{label}: the preference window closed at {_when(window.closes_at)}")

    chosen = _resolve(session, label, offer_codes_or_offers)
    problems: list[str] = []
    if len(chosen) > window.max_choices:
        problems.append(f"{label}: {len(chosen)} choices, at most {window.max_choices} are allowed")
    seen: set[int] = set()
    for offer in chosen:
        if offer.id in seen:
            problems.append(f"{label}: offer {offer.code} is ranked more than once")
        seen.add(offer.id)
    if chosen:
        period = pupil.school_class.period
        if period is None:
            problems.append(f"{label}: class {pupil.school_class.name} has no placement period yet")
        else:
            declined = declined_offers(session, pupil)
            for offer in dict.fromkeys(chosen):
                reason = ineligibility(pupil, offer, period, declined=declined)
                if reason is not None:
                    problems.append(f"{label}: offer {offer.code} cannot be chosen: {reason}")
    if problems:
        raise ValidationError(problems)

    lock_ranking(session, pupil)
    existing = preferences_of(session, pupil)
    before_codes = [p.offer.code for p in existing]
    after_codes = [offer.code for offer in chosen]
    if before_codes == after_codes:
        return existing
    try:
        with session.begin_nested():
            for preference in existing:
                session.delete(preference)
            session.flush()
            created = [Preference(pupil=pupil, offer=offer, rank=rank) for rank, offer in enumerate(chosen, start=1)]
            session.add_all(created)
            session.flush()
    except IntegrityError as exc:
        # Another request (a second browser tab) replaced the ranking meanwhile.
        if violated_constraint(exc) in ("uq_preference_pupil_id_rank", "uq_preference_pupil_id_offer_id"):
            raise Conflict(f"{label}: the preferences were changed meanwhile; reload and try again") from exc
        raise
    audit.record(
        session,
        actor,
        "preferences.set",
        "pupil",
        pupil.id,
        before={"offers": before_codes},
        after={"offers": after_codes},
    )
    session.flush()
    logger.info("Pupil %s ranked %s offers (by %s)", pupil.id, len(created), actor.label)
    return created


def declined_offers(session: Session, pupil: Pupil) -> frozenset[int]:
    """The offers whose employer declined ``pupil`` for a placement (in any round).

    The pupil can neither rank nor be placed at them again, as the round's
    instance excludes them (``excluded_offers``, see
    :func:`placement.rounds.setup.build_instance`).
    """
    return frozenset(
        session.scalars(
            select(Assignment.offer_id).where(
                Assignment.pupil_id == pupil.id, Assignment.status == AssignmentStatus.DECLINED
            )
        )
    )


def ineligibility(pupil: Pupil, offer: Offer, period: Period, *, declined: Collection[int] = frozenset()) -> str | None:
    """Why ``pupil`` cannot rank (or be placed at) ``offer`` for ``period``, or None when they can.

    The rule the solver applies too (:func:`solver.eligibility.ineligibility`):
    pass :func:`declined_offers` as ``declined`` (callers that check many
    offers for one pupil read them once).
    """
    problem = visibility_problem(offer)
    if problem is not None:
        return problem
    if offer.schools and pupil.school_id not in {s.id for s in offer.schools}:
        return "it is open only to pupils of other schools"
    if offer.id in declined:
        return "its employer declined the pupil for an earlier placement"
    if places_in(offer, period) <= 0:
        return f"it has no places in period {period.code}, when the pupil's class goes out"
    age = pupil.age_on(period.start_date)
    if offer.min_age is not None and age < offer.min_age:
        return f"it requires age {offer.min_age}, the pupil is {age} on {period.start_date.isoformat()}"
    missing = sorted(set(offer.requirements or ()) - set(pupil.attributes or ()))  # stored case-folded
    if missing:
        return f"it requires {', '.join(missing)}"
    return None


def eligible(session: Session, pupil: Pupil, period: Period, *, declined: Collection[int]) -> ColumnElement[bool]:
    """SQL: the offers :func:`ineligibility` finds nothing against, for lists that filter and page in the database.

    The same rule in the database's terms (a test holds the two to
    agreement): pupil-facing, open to the pupil's school, not declined for
    the pupil, places in ``period``, old enough on its first day, and no
    requirement the pupil lacks.
    """
    age = pupil.age_on(period.start_date)
    required = (
        func.json_each(Offer.requirements).table_valued("value")
        if session.get_bind().dialect.name == "sqlite"
        else func.json_array_elements_text(Offer.requirements).table_valued("value")
    )
    lacking = select(required.c.value).where(required.c.value.not_in(sorted(set(pupil.attributes or ()))))
    capacity = aliased(OfferCapacity)  # the caller may join the capacity itself
    has_places = select(capacity.id).where(
        capacity.offer_id == Offer.id, capacity.period_id == period.id, capacity.places > 0
    )
    return and_(
        pupil_facing(),
        or_(~Offer.schools.any(), Offer.schools.any(School.id == pupil.school_id)),
        Offer.id.not_in(sorted(declined)) if declined else true(),
        has_places.exists(),
        or_(Offer.min_age.is_(None), Offer.min_age <= age),
        ~lacking.exists(),
    )


def preferences_of(session: Session, pupil: Pupil) -> list[Preference]:
    """``pupil``'s ranking, first choice first, with each offer and its employer (pages show both)."""
    return list(
        session.scalars(
            select(Preference)
            .where(Preference.pupil_id == pupil.id)
            .options(selectinload(Preference.offer).selectinload(Offer.employer))
            .order_by(Preference.rank)
        )
    )


def ranked(session: Session, pupil: Pupil) -> int:
    """How many offers ``pupil`` has ranked."""
    return session.scalar(select(func.count(Preference.id)).where(Preference.pupil_id == pupil.id)) or 0


def pupils_without_preferences(
    session: Session, *, school: School | None = None, period: Period | None = None
) -> list[Pupil]:
    """Pupils who have ranked nothing, by school, class and name; optionally of one school or period."""
    statement = (
        select(Pupil)
        .join(SchoolClass, Pupil.class_id == SchoolClass.id)
        .where(~select(Preference.id).where(Preference.pupil_id == Pupil.id).exists())
        .order_by(Pupil.school_id, SchoolClass.name, Pupil.last_name, Pupil.first_name, Pupil.id)
    )
    if school is not None:
        statement = statement.where(Pupil.school_id == school.id)
    if period is not None:
        statement = statement.where(SchoolClass.period_id == period.id)
    return list(session.scalars(statement))


def _resolve(session: Session, label: str, items: Sequence[Offer | str]) -> list[Offer]:
    """The offers of ``items`` in order, looking codes up; unknown codes raise ValidationError."""
    wanted = sorted({item.strip() for item in items if isinstance(item, str)})
    by_code: dict[str, Offer] = {}
    if wanted:
        by_code = {
            offer.code: offer
            for offer in session.scalars(
                select(Offer)
                .where(Offer.code.in_(wanted))
                .options(selectinload(Offer.capacities).selectinload(OfferCapacity.period), selectinload(Offer.schools))
            )
        }
    missing = [code for code in wanted if code not in by_code]
    if missing:
        raise ValidationError([f"{label}: offer {code} does not exist" for code in missing])
    return [by_code[item.strip()] if isinstance(item, str) else item for item in items]


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
