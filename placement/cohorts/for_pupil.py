"""What a pupil may see and do with their choices, for one logged-in pupil at a time.

Every function takes the pupil itself (found from the logged-in account by
:func:`pupil_of`), never a pupil id from outside, so a pupil can reach only
their own choices.  Their placement and evaluation are
:mod:`placement.rounds.for_pupil`.

Choices are changed one step at a time (add, move, remove); each step
computes the whole new ranking and stores it with
:func:`preferences.set_preferences`, which checks everything again and
audits.  The steps check the window, the number of choices and eligibility
first and raise the small errors below, so that the pupil sees a message in
their own language rather than the service's.

The offers a pupil may choose are those for which
:func:`preferences.ineligibility` finds nothing in the period of the pupil's
class (visible, open to the school, places, minimum age, requirements);
the list asks the database the same (:func:`preferences.eligible`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from placement import audit
from placement.cohorts import preferences
from placement.db import utcnow
from placement.enums import Sector
from placement.errors import Conflict, NotFound, ValidationError
from placement.models import (
    Employer,
    Offer,
    OfferCapacity,
    Preference,
    PreferenceWindow,
    Pupil,
    SchoolClass,
    SchoolDistance,
    User,
)
from placement.organisation import season

logger = logging.getLogger(__name__)

#: Longest keyword accepted in the offer search.
MAX_QUERY = 100
#: Offers on one page of the pupil's list.
PER_PAGE = 20


class WindowClosed(Conflict):
    """Choices cannot be changed now: no window is open."""


class TooManyChoices(ValidationError):
    """The pupil has already ranked as many offers as the window allows."""


class NotChoosable(ValidationError):
    """The offer is not one this pupil may rank (or does not exist)."""


@dataclasses.dataclass(frozen=True)
class WindowState:
    """The preference window that matters to the pupil now, and whether it is open."""

    window: PreferenceWindow | None
    #: ``open``, ``upcoming``, ``closed`` or ``none``.
    state: str

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@dataclasses.dataclass(frozen=True)
class OfferFilter:
    """What the pupil filters the offers by; empty values filter nothing."""

    sector: Sector | None = None
    max_km: float | None = None
    query: str = ""
    #: ``distance`` (nearest first) or ``title``.
    order: str = "distance"


@dataclasses.dataclass(frozen=True)
class OfferLine:
    """One offer as the pupil's list shows it."""

    offer: Offer
    distance_km: float | None
    places: int
    #: The offer's place in the pupil's ranking, or None when not ranked.
    rank: int | None


@dataclasses.dataclass(frozen=True)
class OfferPage:
    """One page of the pupil's offer list, and how many offers and pages the filters leave."""

    lines: list[OfferLine]
    total: int
    page: int
    pages: int


def pupil_of(session: Session, user: User) -> Pupil:
    """The pupil of a pupil account; NotFound for any other account."""
    if user.pupil_id is None:
        raise NotFound(f"user {user.id} is not a pupil's account")
    pupil = session.get(
        Pupil,
        user.pupil_id,
        options=[joinedload(Pupil.school_class).joinedload(SchoolClass.period), joinedload(Pupil.school)],
    )
    if pupil is None:
        raise NotFound(f"user {user.id}: pupil {user.pupil_id} does not exist")
    return pupil


def window_state(session: Session, now: dt.datetime | None = None) -> WindowState:
    """The open window; else the next one to open; else the one that closed last."""
    now = now or utcnow()
    current = season.current_window(session, now)
    if current is not None:
        return WindowState(current, "open")
    upcoming = session.scalars(
        select(PreferenceWindow)
        .where(PreferenceWindow.opens_at > now)
        .order_by(PreferenceWindow.opens_at, PreferenceWindow.id)
        .limit(1)
    ).first()
    if upcoming is not None:
        return WindowState(upcoming, "upcoming")
    latest = season.latest_window(session)
    return WindowState(latest, "closed" if latest is not None else "none")


# --- offers --------------------------------------------------------------------------------------------------------


def choosable_offers(
    session: Session, pupil: Pupil, filters: OfferFilter = OfferFilter(), *, page: int = 1, per_page: int = PER_PAGE
) -> OfferPage:
    """One page of the offers ``pupil`` may rank for their class's period, filtered, with distance from their school.

    Filtered (:func:`preferences.eligible`, sector, distance), sorted and
    paged in the database, with the stored distances
    (:mod:`placement.models.distances`); only the page's offers are loaded.
    Keywords are matched in Python over the candidates' titles,
    descriptions and employers' names, because the two databases fold å, ä
    and ö differently.  Nothing when the class has no period yet.  With
    ``max_km`` set, offers whose distance is unknown are left out.
    """
    period = pupil.school_class.period
    if period is None:
        return OfferPage([], 0, 1, 1)
    declined = preferences.declined_offers(session, pupil)
    statement = (
        select(Offer.id, SchoolDistance.km, OfferCapacity.places)
        .join(OfferCapacity, (OfferCapacity.offer_id == Offer.id) & (OfferCapacity.period_id == period.id))
        .outerjoin(
            SchoolDistance,
            (SchoolDistance.workplace_id == Offer.workplace_id) & (SchoolDistance.school_id == pupil.school_id),
        )
        .where(preferences.eligible(session, pupil, period, declined=declined))
    )
    if filters.sector is not None:
        statement = statement.where(Offer.sector == filters.sector)
    if filters.max_km is not None:
        statement = statement.where(SchoolDistance.km <= filters.max_km)
    title = Offer.title_key.collate("C") if session.get_bind().dialect.name == "postgresql" else Offer.title_key
    if filters.order == "distance":
        statement = statement.order_by(SchoolDistance.km.is_(None), SchoolDistance.km, title, Offer.code)
    else:
        statement = statement.order_by(title, Offer.code)
    words = filters.query.casefold().split()
    if words:
        candidates = session.execute(
            statement.add_columns(Offer.title, Offer.description, Employer.name).join(
                Employer, Employer.id == Offer.employer_id
            )
        )
        found = [
            (offer_id, km, places)
            for offer_id, km, places, *text in candidates
            if all(word in "\n".join(text).casefold() for word in words)
        ]
        total = len(found)
        pages, page = _pages(total, page, per_page)
        rows = found[(page - 1) * per_page : page * per_page]
    else:  # the page and, beside each row, how many rows the filters leave (one query, not two)
        counted = statement.add_columns(func.count().over().label("total"))

        def page_rows(number: int) -> list[Any]:
            return list(session.execute(counted.limit(per_page).offset((number - 1) * per_page)).all())

        found_rows = page_rows(max(page, 1))
        if found_rows:
            total = found_rows[0].total
        else:  # past the last page (the last is shown), or nothing at all
            total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
            found_rows = page_rows(_pages(total, page, per_page)[1]) if total else []
        pages, page = _pages(total, page, per_page)
        rows = [(row[0], row[1], row[2]) for row in found_rows]
    loaded = {
        offer.id: offer
        for offer in session.scalars(
            select(Offer)
            .where(Offer.id.in_([offer_id for offer_id, _km, _places in rows]))
            .options(selectinload(Offer.employer), selectinload(Offer.workplace))
        )
    }
    ranks = dict(
        session.execute(select(Preference.offer_id, Preference.rank).where(Preference.pupil_id == pupil.id)).all()
    )
    lines = [OfferLine(loaded[offer_id], km, places, ranks.get(offer_id)) for offer_id, km, places in rows]
    return OfferPage(lines, total, page, pages)


def _pages(total: int, page: int, per_page: int) -> tuple[int, int]:
    """How many pages ``total`` lines fill, and ``page`` brought within them."""
    pages = max(1, -(-total // per_page))
    return pages, min(max(page, 1), pages)


# --- choices -------------------------------------------------------------------------------------------------------


def choices(session: Session, pupil: Pupil) -> list[Preference]:
    """The pupil's ranking, first choice first."""
    return preferences.preferences_of(session, pupil)


def add_choice(
    session: Session, pupil: Pupil, offer_code: str, *, actor: audit.Actor, now: dt.datetime | None = None
) -> list[Preference]:
    """Put the offer last in the pupil's ranking (nothing changes when it is ranked already)."""
    window = _open_window(session, pupil, now)
    codes = _codes(session, pupil)
    code = offer_code.strip()
    if code in codes:
        return choices(session, pupil)
    if len(codes) >= window.max_choices:
        raise TooManyChoices(f"pupil {pupil.id}: {len(codes)} choices already, at most {window.max_choices}")
    _check_choosable(session, pupil, code)
    return _store(session, pupil, [*codes, code], window=window, actor=actor, now=now)


def move_choice(
    session: Session,
    pupil: Pupil,
    offer_code: str,
    step: int,
    *,
    actor: audit.Actor,
    now: dt.datetime | None = None,
) -> list[Preference]:
    """Move the offer ``step`` places (-1 up, +1 down); at either end nothing changes."""
    window = _open_window(session, pupil, now)
    codes = _codes(session, pupil)
    code = offer_code.strip()
    if code not in codes:
        raise NotChoosable(f"pupil {pupil.id}: offer {code} is not among the pupil's choices")
    index = codes.index(code)
    target = min(max(index + step, 0), len(codes) - 1)
    if target == index:
        return choices(session, pupil)
    codes.insert(target, codes.pop(index))
    return _store(session, pupil, codes, window=window, actor=actor, now=now)


def remove_choice(
    session: Session, pupil: Pupil, offer_code: str, *, actor: audit.Actor, now: dt.datetime | None = None
) -> list[Preference]:
    """Take the offer out of the pupil's ranking; the ones below move up."""
    window = _open_window(session, pupil, now)
    codes = _codes(session, pupil)
    code = offer_code.strip()
    if code not in codes:
        return choices(session, pupil)
    codes.remove(code)
    return _store(session, pupil, codes, window=window, actor=actor, now=now)


def _open_window(session: Session, pupil: Pupil, now: dt.datetime | None) -> PreferenceWindow:
    window = season.current_window(session, now)
    if window is None:
        raise WindowClosed(f"pupil {pupil.id}: no preference window is open")
    return window


def _codes(session: Session, pupil: Pupil) -> list[str]:
    """The ranking an edit starts from, read under the ranking's lock (:func:`preferences.lock_ranking`)."""
    preferences.lock_ranking(session, pupil)
    return [p.offer.code for p in preferences.preferences_of(session, pupil)]


def _check_choosable(session: Session, pupil: Pupil, code: str) -> None:
    offer = session.scalars(select(Offer).where(Offer.code == code)).first()
    period = pupil.school_class.period
    if offer is None or period is None:
        raise NotChoosable(f"pupil {pupil.id}: offer {code} cannot be chosen")
    reason = preferences.ineligibility(pupil, offer, period, declined=preferences.declined_offers(session, pupil))
    if reason is not None:
        raise NotChoosable(f"pupil {pupil.id}: offer {code} cannot be chosen: {reason}")


def _store(
    session: Session,
    pupil: Pupil,
    codes: Sequence[str],
    *,
    window: PreferenceWindow,
    actor: audit.Actor,
    now: dt.datetime | None,
) -> list[Preference]:
    return preferences.set_preferences(session, pupil, codes, window=window, actor=actor, now=now)


# --- placement and evaluation --------------------------------------------------------------------------------------
