"""The organisation's register by hand: the region, municipalities and schools, added and changed one at a time.

The import (:mod:`placement.organisation.school_imports`) keeps the register
in step with Skolverket's file; these operations serve the coordinator's
forms.  Each one checks every field first and raises :class:`ValidationError`
listing every problem, each naming the record and the field
(``school 12: field "code": ...``); then it checks that the school unit code,
or the municipality's name and code, are free (:class:`Taken`, a
:class:`Conflict`); only then does it write, audit and flush.  The caller
commits.

Who may change what (the whole region, or one municipality) is the caller's
to decide through :mod:`placement.organisation.for_coordinator`: these
functions take the records it found.

A school's location: coordinates given (both) are stored as they are
(MANUAL).  Otherwise a new school, or one whose address changed, is located
through the geocoder when the caller gives one, and waits for it (PENDING)
when not; an unchanged address keeps its location.
"""

from __future__ import annotations

import contextlib
import decimal
import logging
import math
import numbers
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import audit, validation
from placement.collation import swedish_key
from placement.db import violated_constraint
from placement.enums import GeoStatus
from placement.errors import Conflict, ValidationError
from placement.geo import Geocoder, normalise_address
from placement.import_cells import column_length
from placement.models import Municipality, Region, School
from placement.organisation import locations
from placement.organisation.school_imports import DEFAULT_NEED_INDEX, MAX_NEED_INDEX, MIN_NEED_INDEX

logger = logging.getLogger(__name__)

MAX_SCHOOL_NAME = column_length(School.name)
MAX_SCHOOL_CODE = column_length(School.code)
MAX_ADDRESS = column_length(School.address)
MAX_MUNICIPALITY_NAME = column_length(Municipality.name)

MUNICIPALITY_FIELDS = frozenset({"name", "code"})
SCHOOL_FIELDS = frozenset({"code", "name", "municipality", "address", "need_index", "lat", "lon"})

#: Statuses that saving a school retries with the geocoder even when its address did not change.
_RETRY = (GeoStatus.PENDING, GeoStatus.FAILED)

_CODE_CHARACTERS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIGITS = re.compile(r"[0-9]+")


class Taken(Conflict):
    """A value that must be unique is another record's: ``field`` is taken by ``holder`` (its name)."""

    def __init__(self, message: str, *, field: str, holder: str) -> None:
        self.field = field
        self.holder = holder
        super().__init__(message)


# --- field rules (also used by the forms) -----------------------------------------------------------------------


def school_code(value: object) -> str:
    """A school's code as stored, or ValueError saying why not.

    Spaces are removed ("1234 5678" is 12345678).  A code of digits only is a
    school unit code of Skolverket's register and has eight digits; a short
    local code ("S01", as instance files use) has letters, digits, ``.``,
    ``-`` and ``_``.
    """
    code = "".join(str(value or "").split())
    if not code:
        raise ValueError("is required")
    if _DIGITS.fullmatch(code):
        if len(code) != 8:
            raise ValueError(f'"{code}" is not a school unit code: it has {len(code)} digits, not eight')
        return code
    if len(code) > MAX_SCHOOL_CODE:
        raise ValueError(f"is longer than {MAX_SCHOOL_CODE} characters")
    if not _CODE_CHARACTERS.fullmatch(code):
        raise ValueError(f'"{code}" is not a code: only letters, digits, ".", "-" and "_"')
    return code


def municipality_code(value: object) -> str | None:
    """A kommunkod (four digits, spaces removed), None when empty, or ValueError saying why not."""
    code = "".join(str(value or "").split())
    if not code:
        return None
    if not (_DIGITS.fullmatch(code) and len(code) == 4):
        raise ValueError(f'"{code}" is not a municipality code (kommunkod): four digits, e.g. 1480')
    return code


def in_register_order(schools: Iterable[School]) -> list[School]:
    """Schools by municipality, then by name, in Swedish alphabetical order."""
    return sorted(schools, key=lambda s: (swedish_key(s.municipality.name), swedish_key(s.name), s.id))


# --- municipalities ---------------------------------------------------------------------------------------------


def region(session: Session) -> Region | None:
    """The region this installation serves, once a coordinator has named it."""
    return session.get(Region, 1)


def save_region(session: Session, *, name: str, contact_email: str | None, actor: audit.Actor) -> Region:
    """Name the region and give its coordinators' address (shown on the public pages)."""
    label = "region"
    problems: list[str] = []
    clean_name = validation.text(problems, label, "name", name, max_length=column_length(Region.name))
    clean_email = validation.optional_email(problems, label, "contact_email", contact_email)
    if problems:
        raise ValidationError(problems)
    found = region(session)
    before = None if found is None else {"name": found.name, "contact_email": found.contact_email}
    if found is None:
        found = Region(id=1, name=clean_name, contact_email=clean_email)
        session.add(found)
    else:
        found.name, found.contact_email = clean_name, clean_email
    session.flush()
    after = {"name": clean_name, "contact_email": clean_email}
    audit.record(session, actor, "region.save", "region", 1, before=before, after=after)
    return found


def add_municipality(session: Session, *, name: str, code: str | None = None, actor: audit.Actor) -> Municipality:
    """Add a municipality; ``code`` is its kommunkod (optional).

    Raises ValidationError listing every bad field, or :class:`Taken` when
    the name (in any case) or the code belongs to another municipality.
    """
    label = "new municipality"
    problems: list[str] = []
    clean_name = _municipality_name(problems, label, name)
    clean_code = _field(problems, label, "code", municipality_code, code)
    if problems:
        raise ValidationError(problems)
    _check_municipality_free(session, label, None, clean_name, clean_code)
    municipality = Municipality(name=clean_name, code=clean_code)
    with _unique(session, label):
        session.add(municipality)
        session.flush()
    audit.record(
        session,
        actor,
        "municipality.create",
        "municipality",
        municipality.id,
        after={"name": municipality.name, "code": municipality.code},
    )
    session.flush()
    logger.info("Municipality %s (%s) added by %s", municipality.name, municipality.code, actor.label)
    return municipality


def update_municipality(
    session: Session, municipality: Municipality, *, actor: audit.Actor, **fields: Any
) -> Municipality:
    """Rename a municipality (``name``) or set its kommunkod (``code``; None or "" clears it)."""
    label = f"municipality {municipality.id}"
    unknown = sorted(set(fields) - MUNICIPALITY_FIELDS)
    if unknown:
        raise ValidationError([f'{label}: field "{name}": cannot be changed' for name in unknown])
    problems: list[str] = []
    values: dict[str, Any] = {}
    if "name" in fields:
        values["name"] = _municipality_name(problems, label, fields["name"])
    if "code" in fields:
        values["code"] = _field(problems, label, "code", municipality_code, fields["code"])
    if problems:
        raise ValidationError(problems)
    _check_municipality_free(
        session, label, municipality.id, values.get("name", municipality.name), values.get("code", municipality.code)
    )
    with _unique(session, label):
        before, after = audit.changes(municipality, values)
        session.flush()
    if after:
        audit.record(session, actor, "municipality.update", "municipality", municipality.id, before=before, after=after)
        session.flush()
        logger.info("Municipality %s changed by %s: %s", municipality.id, actor.label, sorted(after))
    return municipality


def _municipality_name(problems: list[str], label: str, value: object) -> str:
    name = " ".join(value.split()) if isinstance(value, str) else value
    return validation.text(problems, label, 'field "name":', name, max_length=MAX_MUNICIPALITY_NAME)


def _check_municipality_free(session: Session, label: str, own_id: int | None, name: str, code: str | None) -> None:
    query = select(Municipality)
    if own_id is not None:
        query = query.where(Municipality.id != own_id)
    for other in session.scalars(query):
        if " ".join(other.name.split()).casefold() == name.casefold():
            raise Taken(f'{label}: field "name": "{other.name}" already exists', field="name", holder=other.name)
        if code is not None and other.code == code:
            raise Taken(
                f'{label}: field "code": {code} is already the code of "{other.name}"', field="code", holder=other.name
            )


#: The unique constraints a concurrent write can make a form lose, and the field each guards.
_UNIQUE_FIELDS = {
    "uq_municipality_name": "name",
    "uq_municipality_code": "code",
    "uq_school_code": "code",
}


@contextlib.contextmanager
def _unique(session: Session, label: str) -> Iterator[None]:
    """Write in a savepoint; a unique constraint lost to a concurrent write becomes :class:`Taken`."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as exc:
        field = _UNIQUE_FIELDS.get(violated_constraint(exc) or "")
        if field is None:
            raise
        raise Taken(f'{label}: field "{field}": already taken', field=field, holder="") from exc


# --- schools ----------------------------------------------------------------------------------------------------


def add_school(
    session: Session,
    municipality: Municipality,
    *,
    code: str,
    name: str,
    address: str,
    need_index: object = DEFAULT_NEED_INDEX,
    lat: object = None,
    lon: object = None,
    actor: audit.Actor,
    geocoder: Geocoder | None = None,
) -> School:
    """Add a school of ``municipality``.

    With ``lat`` and ``lon`` it is located as given (MANUAL); without, its
    address is geocoded with ``geocoder``, or it waits for the geocoder
    (PENDING) when there is none.  Raises ValidationError listing every bad
    field, or :class:`Taken` when the code is another school's.
    """
    label = "new school"
    problems: list[str] = []
    clean_code = _field(problems, label, "code", school_code, code)
    clean_name = validation.text(problems, label, 'field "name":', name, max_length=MAX_SCHOOL_NAME)
    clean_address = validation.text(problems, label, 'field "address":', address, max_length=MAX_ADDRESS)
    clean_need = _need_index(problems, label, need_index)
    coordinates = _coordinates(problems, label, lat, lon)
    if problems:
        raise ValidationError(problems)
    _check_code_free(session, label, None, clean_code)
    school = School(
        municipality_id=municipality.id,
        code=clean_code,
        name=clean_name,
        address=clean_address,
        need_index=clean_need,
        lat=None,
        lon=None,
        geo_status=GeoStatus.PENDING,
    )
    with _unique(session, label):
        session.add(school)
        session.flush()
    audit.record(
        session,
        actor,
        "school.create",
        "school",
        school.id,
        after={
            "code": school.code,
            "name": school.name,
            "municipality_id": municipality.id,
            "address": school.address,
            "need_index": school.need_index,
        },
    )
    _locate(session, school, coordinates, relocate=True, geocoder=geocoder, actor=actor)
    session.flush()
    logger.info("School %s (%s) added by %s", school.code, school.name, actor.label)
    return school


def update_school(
    session: Session, school: School, *, actor: audit.Actor, geocoder: Geocoder | None = None, **fields: Any
) -> School:
    """Change a school's fields: any of :data:`SCHOOL_FIELDS` (``municipality`` is a Municipality).

    ``lat`` and ``lon`` come together.  Numbers locate the school as given
    (MANUAL).  None for both means it has no coordinates of its own: a MANUAL
    location is dropped and the address located again; a geocoded one is
    kept unless the address changed.  A changed address (compared as the
    geocoder would send it) is geocoded with ``geocoder``, or waits for it
    (PENDING).  With a geocoder, a school still PENDING or whose lookup
    FAILED is looked up again.
    """
    label = f"school {school.id}"
    unknown = sorted(set(fields) - SCHOOL_FIELDS)
    if unknown:
        raise ValidationError([f'{label}: field "{name}": cannot be changed' for name in unknown])
    problems: list[str] = []
    values: dict[str, Any] = {}
    if "code" in fields:
        given = "".join(str(fields["code"] or "").split())
        # An existing code that predates the rule (e.g. from an instance file) may stay as it is.
        values["code"] = given if given == school.code else _field(problems, label, "code", school_code, given)
    if "name" in fields:
        values["name"] = validation.text(problems, label, 'field "name":', fields["name"], max_length=MAX_SCHOOL_NAME)
    if "municipality" in fields:
        if isinstance(fields["municipality"], Municipality) and fields["municipality"].id is not None:
            values["municipality_id"] = fields["municipality"].id
        else:
            problems.append(f'{label}: field "municipality": is not a municipality')
    if "address" in fields:
        values["address"] = validation.text(
            problems, label, 'field "address":', fields["address"], max_length=MAX_ADDRESS
        )
    if "need_index" in fields:
        values["need_index"] = _need_index(problems, label, fields["need_index"])
    coordinates = None
    cleared = False
    if ("lat" in fields) != ("lon" in fields):
        problems.append(f'{label}: field "{"lon" if "lat" in fields else "lat"}": give lat and lon together')
    elif "lat" in fields:
        coordinates = _coordinates(problems, label, fields["lat"], fields["lon"])
        cleared = fields["lat"] is None and fields["lon"] is None
    if problems:
        raise ValidationError(problems)
    if "code" in values:
        _check_code_free(session, label, school.id, values["code"])

    moved = "address" in values and normalise_address(values["address"]) != normalise_address(school.address or "")
    relocate = moved or (cleared and school.geo_status is GeoStatus.MANUAL)
    if coordinates is None and relocate and geocoder is None:
        values |= {"lat": None, "lon": None, "geo_status": GeoStatus.PENDING}
    with _unique(session, label):
        before, after = audit.changes(school, values)
        session.flush()
    if after:
        audit.record(session, actor, "school.update", "school", school.id, before=before, after=after)
        session.expire(school, ["municipality"])
    retry = geocoder is not None and school.geo_status in _RETRY
    _locate(session, school, coordinates, relocate=relocate or retry, geocoder=geocoder, actor=actor)
    session.flush()
    if after:
        logger.info("School %s changed by %s: %s", school.code, actor.label, sorted(after))
    return school


def _locate(
    session: Session,
    school: School,
    coordinates: tuple[float, float] | None,
    *,
    relocate: bool,
    geocoder: Geocoder | None,
    actor: audit.Actor,
) -> None:
    if coordinates is not None:
        locations.set_coordinates(session, school, *coordinates, actor=actor)
    elif relocate and geocoder is not None:
        answer = locations.locate_school(session, geocoder, school, actor=actor, retry_failed=True)
        logger.info("School %s located: %s %s", school.code, answer.status.value, answer.detail or "")


def _check_code_free(session: Session, label: str, own_id: int | None, code: str) -> None:
    query = select(School).where(School.code == code)
    if own_id is not None:
        query = query.where(School.id != own_id)
    other = session.scalars(query).first()
    if other is not None:
        raise Taken(
            f'{label}: field "code": {code} is already the code of school {other.id} "{other.name}"',
            field="code",
            holder=other.name,
        )


# --- helpers ----------------------------------------------------------------------------------------------------


def _field(problems: list[str], label: str, field: str, rule: Any, value: object) -> Any:
    """``rule(value)``, or None with a problem naming the record and the field."""
    try:
        return rule(value)
    except ValueError as exc:
        problems.append(f'{label}: field "{field}": {exc}')
        return None


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real | decimal.Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _need_index(problems: list[str], label: str, value: object) -> float:
    number = _number(value)
    if number is None:
        problems.append(f'{label}: field "need_index": {value!r} is not a number (1.0 is the average)')
        return DEFAULT_NEED_INDEX
    if not MIN_NEED_INDEX <= number <= MAX_NEED_INDEX:
        problems.append(
            f'{label}: field "need_index": {number:g} is outside {MIN_NEED_INDEX:g}-{MAX_NEED_INDEX:g} '
            "(greater than 0; 1.0 is the average)"
        )
    return number


def _coordinates(problems: list[str], label: str, lat: object, lon: object) -> tuple[float, float] | None:
    """Both coordinates within the ``lat_range``/``lon_range`` constraints, or None for neither."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing = "lat" if lat is None else "lon"
        problems.append(f'{label}: field "{missing}": give lat and lon together, or neither')
        return None
    values: list[float] = []
    for field, value, limit in (("lat", lat, 90), ("lon", lon, 180)):
        number = _number(value)
        if number is None:
            problems.append(f'{label}: field "{field}": {value!r} is not a number')
        elif not -limit <= number <= limit:
            problems.append(f'{label}: field "{field}": {number:g} is outside -{limit}..{limit}')
        else:
            values.append(number)
    if len(values) != 2:
        return None
    return values[0], values[1]
