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

The offers a pupil may choose are those :func:`offers.visible_offers` lists
for the pupil's school and the period of the pupil's class, and for which
:func:`preferences.ineligibility` finds nothing (minimum age, requirements).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement.cohorts import preferences
from placement.db import utcnow
from placement.employers.offers import places_in, visible_offers
from placement.enums import Sector
from placement.errors import Conflict, NotFound, ValidationError
from placement.geo import distance_km
from placement.models import (
    Offer,
    Preference,
    PreferenceWindow,
    Pupil,
    User,
)
from placement.organisation import season

logger = logging.getLogger(__name__)

#: Longest keyword accepted in the offer search.
MAX_QUERY = 100


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
    #: ``title`` or ``distance``.
    order: str = "title"


@dataclasses.dataclass(frozen=True)
class OfferLine:
    """One offer as the pupil's list shows it."""

    offer: Offer
    distance_km: float | None
    places: int
    #: The offer's place in the pupil's ranking, or None when not ranked.
    rank: int | None


def pupil_of(session: Session, user: User) -> Pupil:
    """The pupil of a pupil account; NotFound for any other account."""
    if user.pupil_id is None:
        raise NotFound(f"user {user.id} is not a pupil's account")
    pupil = session.get(Pupil, user.pupil_id)
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


def choosable_offers(session: Session, pupil: Pupil, filters: OfferFilter = OfferFilter()) -> list[OfferLine]:
    """The offers ``pupil`` may rank for their class's period, filtered, with distance from their school.

    Nothing when the class has no period yet.  With ``max_km`` set, offers
    whose workplace has no coordinates are left out (their distance is unknown).
    """
    period = pupil.school_class.period
    if period is None:
        return []
    ranks = {p.offer_id: p.rank for p in preferences.preferences_of(session, pupil)}
    words = filters.query.casefold().split()
    school = pupil.school
    origin = (school.lat, school.lon) if school.lat is not None and school.lon is not None else None
    lines: list[OfferLine] = []
    declined = preferences.declined_offers(session, pupil)
    for offer in visible_offers(session, period=period, sector=filters.sector, school=school):
        if preferences.ineligibility(pupil, offer, period, declined=declined) is not None:
            continue
        if words:
            haystack = f"{offer.title}\n{offer.description}\n{offer.employer.name}".casefold()
            if not all(word in haystack for word in words):
                continue
        workplace = offer.workplace
        distance = None
        if origin is not None and workplace.lat is not None and workplace.lon is not None:
            distance = distance_km(origin, (workplace.lat, workplace.lon))
        if filters.max_km is not None and (distance is None or distance > filters.max_km):
            continue
        lines.append(OfferLine(offer, distance, places_in(offer, period), ranks.get(offer.id)))
    if filters.order == "distance":
        lines.sort(key=lambda line: (line.distance_km is None, line.distance_km or 0.0, line.offer.title.casefold()))
    return lines


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
