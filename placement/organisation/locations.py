"""Locating schools and workplaces: geocoded through a database cache, or given directly.

Only a school's or a workplace's own address is ever sent to the geocoder.
Each normalised address is looked up once: an answer (OK, NOT_FOUND or
IMPLAUSIBLE) is kept in ``geocode_cache`` and reused without a request.  A
FAILED answer is kept too, so that a server in trouble is not asked again at
once; it is retried after :data:`FAILED_RETRY_AFTER`, or at once with
``retry_failed=True``.

A record has coordinates exactly when its status is OK or MANUAL; every other
status leaves them empty and marks the record for the coordinator to fix,
either by correcting the address or by giving coordinates directly.

Functions flush; the caller commits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
import numbers
from collections import Counter
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import audit
from placement.db import utcnow
from placement.enums import GeoStatus
from placement.errors import ValidationError
from placement.geo import GeoAnswer, Geocoder, normalise_address
from placement.models import GeocodeCache, School, Workplace

logger = logging.getLogger(__name__)

#: How long a FAILED answer is reused before the address is asked again.
FAILED_RETRY_AFTER = dt.timedelta(hours=1)

#: Longest normalised address the cache holds (the width of its column).
MAX_QUERY = 400

NO_ADDRESS = GeoAnswer(GeoStatus.NOT_FOUND, detail="no address given")

Located = School | Workplace

#: Where an answer came from: the geocoder, the cache, or nowhere (no address).
Source = Literal["geocoder", "cache", "none"]


@dataclasses.dataclass
class LocateCounts:
    """What :func:`locate_pending` did."""

    schools: int = 0
    workplaces: int = 0
    #: Answers fetched from the geocoder, and answers taken from the cache.
    requests: int = 0
    cache_hits: int = 0
    by_status: Counter[GeoStatus] = dataclasses.field(default_factory=Counter)
    #: Why the run stopped before the end (the geocoder kept failing), or None.
    stopped: str | None = None

    @property
    def total(self) -> int:
        return self.schools + self.workplaces


def cached_answer(session: Session, address: str) -> GeoAnswer | None:
    """The stored answer for ``address``, e.g. to show the coordinator why it failed."""
    row = _cache_row(session, normalise_address(address))
    return None if row is None else _answer(row)


def geocode_address(
    session: Session,
    geocoder: Geocoder,
    address: str,
    *,
    retry_failed: bool = False,
    now: dt.datetime | None = None,
) -> GeoAnswer:
    """Geocode ``address``, from the cache when it can be; never raises for a geocoder failure."""
    answer, _source = _geocode(session, geocoder, address, retry_failed=retry_failed, now=now)
    return answer


def locate_school(
    session: Session,
    geocoder: Geocoder,
    school: School,
    *,
    actor: audit.Actor,
    retry_failed: bool = False,
    now: dt.datetime | None = None,
) -> GeoAnswer:
    """Geocode a school's address and store the outcome on it (audited when it changes)."""
    answer, _source = _locate(session, geocoder, school, actor=actor, retry_failed=retry_failed, now=now)
    return answer


def locate_workplace(
    session: Session,
    geocoder: Geocoder,
    workplace: Workplace,
    *,
    actor: audit.Actor,
    retry_failed: bool = False,
    now: dt.datetime | None = None,
) -> GeoAnswer:
    """Geocode a workplace's address and store the outcome on it (audited when it changes)."""
    answer, _source = _locate(session, geocoder, workplace, actor=actor, retry_failed=retry_failed, now=now)
    return answer


def set_coordinates(session: Session, obj: Located, lat: float, lon: float, *, actor: audit.Actor) -> None:
    """Give a school's or workplace's coordinates directly (status MANUAL)."""
    label = _label(obj)
    problems: list[str] = []
    values: dict[str, float] = {}
    for name, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            problems.append(f"{label}: {name} {value!r} is not a number")
        elif not -limit <= value <= limit:
            problems.append(f"{label}: {name} {value} is outside -{limit}..{limit}")
        else:
            values[name] = float(value)
    if problems:
        raise ValidationError(problems)
    _apply(session, obj, {**values, "geo_status": GeoStatus.MANUAL}, actor=actor, action="set_coordinates")
    session.flush()


def locate_pending(
    session: Session,
    geocoder: Geocoder,
    *,
    actor: audit.Actor,
    limit: int | None = None,
    max_consecutive_failures: int = 3,
    now: dt.datetime | None = None,
) -> LocateCounts:
    """Geocode every school and then every workplace whose status is PENDING.

    Requests go one at a time through the geocoder's rate limiter (at most
    one a second on the public server), so ``limit`` keeps a run short; the
    rest stay PENDING for the next run.  After ``max_consecutive_failures``
    requests in a row fail (the server is down or refusing us) the run stops.
    """
    counts = LocateCounts()
    schools = list(
        session.scalars(select(School).where(School.geo_status == GeoStatus.PENDING).order_by(School.id).limit(limit))
    )
    room = None if limit is None else max(limit - len(schools), 0)
    workplaces = list(
        session.scalars(
            select(Workplace).where(Workplace.geo_status == GeoStatus.PENDING).order_by(Workplace.id).limit(room)
        )
    )
    pending: list[Located] = [*schools, *workplaces]
    failures_in_a_row = 0
    for obj in pending:
        answer, source = _locate(session, geocoder, obj, actor=actor, retry_failed=False, now=now)
        if isinstance(obj, School):
            counts.schools += 1
        else:
            counts.workplaces += 1
        counts.by_status[answer.status] += 1
        if source == "geocoder":
            counts.requests += 1
        elif source == "cache":
            counts.cache_hits += 1
        fetched_failure = source == "geocoder" and answer.status is GeoStatus.FAILED
        failures_in_a_row = failures_in_a_row + 1 if fetched_failure else 0
        if failures_in_a_row >= max_consecutive_failures:
            counts.stopped = f"{failures_in_a_row} requests in a row failed, the last: {answer.detail}"
            logger.warning("Geocoding run stopped: %s", counts.stopped)
            break
    logger.info(
        "Located %s schools and %s workplaces (%s requests, %s from the cache): %s",
        counts.schools,
        counts.workplaces,
        counts.requests,
        counts.cache_hits,
        dict(counts.by_status),
    )
    return counts


def _locate(
    session: Session,
    geocoder: Geocoder,
    obj: Located,
    *,
    actor: audit.Actor,
    retry_failed: bool,
    now: dt.datetime | None,
) -> tuple[GeoAnswer, Source]:
    answer, source = _geocode(session, geocoder, obj.address or "", retry_failed=retry_failed, now=now)
    fields = {"lat": answer.lat, "lon": answer.lon, "geo_status": answer.status}
    _apply(session, obj, fields, actor=actor, action="geocode")
    session.flush()
    return answer, source


def _geocode(
    session: Session,
    geocoder: Geocoder,
    address: str,
    *,
    retry_failed: bool,
    now: dt.datetime | None,
) -> tuple[GeoAnswer, Source]:
    """The answer for ``address``, and where it came from."""
    query = normalise_address(address)
    if not query:
        return NO_ADDRESS, "none"
    if len(query) > MAX_QUERY:
        raise ValidationError(f'address "{query[:40]}…": longer than {MAX_QUERY} characters')
    now = now or utcnow()
    row = _cache_row(session, query)
    if row is not None and not _due_for_retry(row, now, retry_failed):
        return _answer(row), "cache"
    answer = geocoder.lookup(query)
    fields = {
        "status": answer.status,
        "lat": answer.lat,
        "lon": answer.lon,
        "display_name": answer.display_name,
        "detail": answer.detail,
        "fetched_at": now,
    }
    if row is None:
        try:
            with session.begin_nested():
                session.add(GeocodeCache(query=query, **fields))
        except IntegrityError:
            # Another process stored this address meanwhile: ours is as fresh.
            row = _cache_row(session, query)
            assert row is not None
    if row is not None:
        for name, value in fields.items():
            setattr(row, name, value)
    session.flush()
    return answer, "geocoder"


def _cache_row(session: Session, query: str) -> GeocodeCache | None:
    return session.scalars(select(GeocodeCache).where(GeocodeCache.query == query)).one_or_none()


def _due_for_retry(row: GeocodeCache, now: dt.datetime, retry_failed: bool) -> bool:
    if row.status is not GeoStatus.FAILED:
        return False
    return retry_failed or now - row.fetched_at >= FAILED_RETRY_AFTER


def _answer(row: GeocodeCache) -> GeoAnswer:
    return GeoAnswer(row.status, lat=row.lat, lon=row.lon, display_name=row.display_name, detail=row.detail)


def _apply(session: Session, obj: Located, fields: dict[str, Any], *, actor: audit.Actor, action: str) -> None:
    before, after = audit.changes(obj, fields)
    if not after:
        return
    if obj.id is None:
        session.flush()
    entity = _entity_type(obj)
    audit.record(session, actor, f"{entity}.{action}", entity, obj.id, before=before, after=after)


def _entity_type(obj: Located) -> str:
    return "school" if isinstance(obj, School) else "workplace"


def _label(obj: Located) -> str:
    if isinstance(obj, School):
        return f'school "{obj.code}"'
    return f'workplace "{obj.name}" (id {obj.id})'
