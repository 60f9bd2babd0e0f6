"""Importing employers with their workplaces and offers from CSV or XLSX.

The import works in two phases (:mod:`placement.import_cells`):
every row is checked against the file and the database and every problem is
collected (raising :class:`ImportRejected` with all of them, nothing
written), and only then are all rows written in the caller's transaction.
With ``dry_run=True`` it stops after the first phase (the web preview).
Employers are matched by organisation number, workplaces by employer, name
and address; a re-import updates what it names instead of duplicating it.
Each import appends one audit event holding counts.

The module is longer than most (about 650 lines) because it is one importer
end to end: its columns, the sector vocabulary in Swedish and English, each
cell's check, the grouping of rows into offers and the writes, which are read
together.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from placement import audit, codes, validation
from placement.db import utcnow
from placement.employers import registry as employers
from placement.enums import EmployerStatus, GeoStatus, Sector
from placement.errors import ImportRejected
from placement.geo import normalise_address
from placement.import_cells import (
    Cells,
    Column,
    ImportReport,
    Invalid,
    column_length,
    integer,
    listed,
    match_columns,
    problem,
    read,
    row_coordinates,
    shown,
    tags,
    unused,
)
from placement.models import Employer, Municipality, Offer, OfferCapacity, Period, Workplace
from placement.tabular import Row, normalise_header

logger = logging.getLogger(__name__)

EMPLOYER_COLUMNS = (
    Column(
        "org_number",
        ("Organisationsnummer", "Org number", "Orgnr", "Org nr", "Organisation number", "Organization number"),
        required=True,
    ),
    Column("employer", ("Arbetsgivare", "Employer", "Företag", "Company"), required=True),
    Column("workplace", ("Arbetsplats", "Workplace")),
    Column("address", ("Adress", "Address", "Besöksadress", "Visiting address"), required=True),
    Column("lat", ("Lat", "Latitude", "Latitud")),
    Column("lon", ("Lon", "Longitude", "Longitud", "Lng")),
    Column("title", ("Titel", "Title"), required=True),
    Column("description", ("Beskrivning", "Description")),
    Column("sector", ("Bransch", "Sector", "Sektor"), required=True),
    Column("min_age", ("Minimiålder", "Min age", "Minimum age", "Lägsta ålder")),
    Column("requirements", ("Krav", "Requirements")),
    Column("supervisor_name", ("Handledare", "Supervisor")),
    Column("supervisor_phone", ("Telefon", "Phone", "Handledarens telefon", "Supervisor phone")),
    Column("supervisor_email", ("E-post", "Email", "E-mail", "Handledarens e-post", "Supervisor email")),
    Column("risk_assessment", ("Riskbedömning", "Risk assessment")),
    Column("period", ("Period",)),
    Column("places", ("Platser", "Places", "Antal platser", "Number of places")),
)

#: A column of places in one period, e.g. "Platser w45" or "Places w45".
_PERIOD_PLACES = re.compile(
    r"^(?:antal\s+platser|platser|number\s+of\s+places|places)\s*:?\s+(?P<code>\S.*)$", re.IGNORECASE
)


# --- Employers, workplaces and offers -------------------------------------------------------------------------

_SECTOR_NAMES = {
    Sector.HEALTH: (
        "Vård",
        "Hälsa",
        "Vård och omsorg",
        "Omsorg",
        "Hälso- och sjukvård",
        "Sjukvård",
        "Tandvård",
        "Health",
        "Healthcare",
        "Care",
    ),
    Sector.EDUCATION: ("Utbildning", "Skola", "Förskola", "Fritidshem", "Education", "School", "Preschool"),
    Sector.RETAIL: ("Handel", "Butik", "Detaljhandel", "Försäljning", "Retail", "Shop", "Sales"),
    Sector.HOSPITALITY: (
        "Hotell",
        "Restaurang",
        "Hotell och restaurang",
        "Café",
        "Storkök",
        "Besöksnäring",
        "Turism",
        "Hospitality",
        "Hotel",
        "Restaurant",
        "Tourism",
    ),
    Sector.CONSTRUCTION: ("Bygg", "Bygg och anläggning", "Byggnad", "Anläggning", "Construction", "Building"),
    Sector.MANUFACTURING: ("Industri", "Tillverkning", "Produktion", "Manufacturing", "Industry", "Production"),
    Sector.IT: ("IT", "Data", "IT och data", "ICT", "Software"),
    Sector.TRANSPORT: ("Transport", "Logistik", "Lager", "Transport och logistik", "Logistics", "Warehouse"),
    Sector.OFFICE: ("Kontor", "Administration", "Ekonomi", "Bank", "Försäkring", "Office", "Finance"),
    Sector.CULTURE: ("Kultur", "Media", "Kultur och media", "Musik", "Bibliotek", "Culture", "Arts", "Library"),
    Sector.PUBLIC: (
        "Offentlig förvaltning",
        "Offentlig sektor",
        "Kommun",
        "Myndighet",
        "Räddningstjänst",
        "Polis",
        "Public",
        "Public sector",
        "Government",
    ),
    Sector.AGRICULTURE: (
        "Lantbruk",
        "Jordbruk",
        "Naturbruk",
        "Skogsbruk",
        "Djurvård",
        "Trädgård",
        "Agriculture",
        "Farming",
        "Forestry",
    ),
    Sector.VEHICLES: ("Fordon", "Bil", "Verkstad", "Bilverkstad", "Vehicles", "Automotive"),
    Sector.BEAUTY: ("Frisör", "Skönhet", "Hår och skönhet", "Hudvård", "Beauty", "Hairdressing"),
    Sector.SPORTS: ("Idrott", "Sport", "Fritid", "Idrott och fritid", "Friskvård", "Sports", "Leisure", "Fitness"),
    Sector.SCIENCE: ("Naturvetenskap", "Forskning", "Laboratorium", "Science", "Research", "Laboratory"),
}


def _sector_words(text: str) -> list[str]:
    return [word for word in normalise_header(text.replace("&", " ")).split() if word not in {"och", "and"}]


_SECTORS = {" ".join(_sector_words(name)): sector for sector, names in _SECTOR_NAMES.items() for name in names} | {
    sector.value: sector for sector in Sector
}


def _sector(text: str) -> Sector:
    """A sector from its Swedish or English name; "Vård/Hälsa" is health, as its first known word says."""
    words = _sector_words(text)
    for key in (" ".join(words), *words):
        if key in _SECTORS:
            return _SECTORS[key]
    raise Invalid(f"{shown(text)} is not a sector (e.g. Vård, Handel, Bygg, Industri, IT, Kontor)")


def _org_number(text: str) -> str:
    """A Swedish organisation number, normalised to NNNNNN-NNNN (:func:`employers.normalise_org_number`)."""
    try:
        return employers.normalise_org_number(text)
    except employers.OrgNumberError as exc:
        if exc.reason == "format":
            raise Invalid(f"{shown(text)} is not an organisation number (NNNNNN-NNNN)") from None
        raise Invalid(f"{shown(text)} is not a valid organisation number (its check digit is wrong)") from None


def _min_age(text: str) -> int:
    age = integer(text, "an age")
    if not 12 <= age <= 20:  # offer.min_age_range
        raise Invalid(f"{age} is not a minimum age for pupils (12-20)")
    return age


def _places(text: str) -> int:
    places = integer(text, "a number of places")
    if places < 0:  # offer_capacity.places_not_negative
        raise Invalid(f"{places} is not a number of places (0 or more)")
    return places


def _phone(text: str) -> str:
    if len(text) > _PHONE_LENGTH:
        raise Invalid(f"is longer than {_PHONE_LENGTH} characters")
    if not re.fullmatch(r"\+?[\d\s()/-]{5,}", text):
        raise Invalid(f"{shown(text)} is not a phone number")
    return text


def _email(text: str) -> str:
    """An e-mail address, checked and normalised as everywhere (:func:`validation.normalise_email`)."""
    if len(text) > _EMAIL_LENGTH:
        raise Invalid(f"is longer than {_EMAIL_LENGTH} characters")
    try:
        return validation.normalise_email(text)
    except validation.InvalidEmail:
        raise Invalid(f"{shown(text)} is not an e-mail address") from None


_YES = frozenset({"ja", "j", "yes", "y", "x", "true", "sant", "1"})
_NO = frozenset({"nej", "n", "no", "false", "falskt", "0"})


def _yes_no(text: str) -> bool:
    answer = text.casefold()
    if answer in _YES | _NO:
        return answer in _YES
    raise Invalid(f"{shown(text)} is neither yes nor no (ja/nej)")


@dataclasses.dataclass(frozen=True)
class _OfferRow:
    number: int
    org_number: str
    employer_name: str
    workplace_name: str
    address: str
    coordinates: tuple[float, float] | None
    #: The offer's fields the file gives, as stored (title and sector always).
    fields: dict[str, Any]
    #: None when the file has no risk assessment column.
    risk_assessed: bool | None
    #: Places by period, with the header (field) that gave them.
    places: dict[Period, tuple[int, str]]

    @property
    def workplace_key(self) -> tuple[str, str, str]:
        return (self.org_number, self.workplace_name.casefold(), normalise_address(self.address))

    @property
    def offer_key(self) -> tuple[str, str, str, str]:
        return (*self.workplace_key, str(self.fields["title"]).casefold())


_EMPLOYER_LENGTH = column_length(Employer.name)
_WORKPLACE_LENGTH = column_length(Workplace.name)
_ADDRESS_LENGTH = column_length(Workplace.address)
_TITLE_LENGTH = column_length(Offer.title)
_SUPERVISOR_LENGTH = column_length(Offer.supervisor_name)
_PHONE_LENGTH = column_length(Offer.supervisor_phone)
_EMAIL_LENGTH = column_length(Offer.supervisor_email)


def _offer_row(
    row: Row, headers: dict[str, str], place_columns: dict[str, Period], periods: dict[str, Period], problems: list[str]
) -> _OfferRow | None:
    cells = Cells(row, headers, problems)
    org_number = cells.parse("org_number", _org_number, required=True)
    employer_name = cells.text("employer", required=True, max_length=_EMPLOYER_LENGTH)
    workplace_name = cells.text("workplace", max_length=_WORKPLACE_LENGTH) or employer_name
    address = cells.text("address", required=True, max_length=_ADDRESS_LENGTH)
    fields: dict[str, Any] = {
        "title": cells.text("title", required=True, max_length=_TITLE_LENGTH),
        "sector": cells.parse("sector", _sector, required=True),
    }
    optional: dict[str, Callable[[], Any]] = {
        "description": lambda: cells.text("description"),
        "min_age": lambda: cells.parse("min_age", _min_age),
        "requirements": lambda: tags(cells.text("requirements")),
        "supervisor_name": lambda: cells.text("supervisor_name", max_length=_SUPERVISOR_LENGTH) or None,
        "supervisor_phone": lambda: cells.parse("supervisor_phone", _phone),
        "supervisor_email": lambda: cells.parse("supervisor_email", _email),
    }
    fields |= {field: read() for field, read in optional.items() if field in headers}
    risk_assessed = bool(cells.parse("risk_assessment", _yes_no)) if "risk_assessment" in headers else None
    coordinates = row_coordinates(cells)
    places = _row_places(cells, place_columns, periods)
    if not cells.ok:
        return None
    assert org_number is not None
    return _OfferRow(
        row.number, org_number, employer_name, workplace_name, address, coordinates, fields, risk_assessed, places
    )


def _row_places(
    cells: Cells, place_columns: dict[str, Period], periods: dict[str, Period]
) -> dict[Period, tuple[int, str]]:
    """Places by period: from "Platser <period>" columns, or from a "Period" and a "Platser" column."""
    if "period" in cells.headers:
        period = cells.parse("period", lambda code: _period(periods, code), required=True)
        places = cells.parse("places", _places, required=True)
        return {} if period is None or places is None else {period: (places, "period")}
    found: dict[Period, tuple[int, str]] = {}
    for header, period in place_columns.items():
        places = cells.parse(header, _places)
        if places is not None:
            found[period] = (places, header)
    if not found and cells.ok:
        cells.fail(next(iter(place_columns)), "no places are given in any period")
    return found


def _period(periods: dict[str, Period], code: str) -> Period:
    try:
        return periods[code.casefold()]
    except KeyError:
        raise Invalid(f"period {shown(code)} does not exist") from None


def _place_column_problems(
    headers: dict[str, str], place_columns: dict[str, str], periods: dict[str, Period]
) -> list[str]:
    problems = [
        f'column "{header}": period {shown(code)} does not exist'
        for header, code in place_columns.items()
        if code.casefold() not in periods
    ]
    pair = [headers[field] for field in ("period", "places") if field in headers]
    if pair and place_columns:
        problems.append('give places either in "Platser <period>" columns or in "Period" and "Platser", not both')
    elif len(pair) == 1:
        problems.append(
            f'column "{pair[0]}" needs a column "{"Platser" if "period" in headers else "Period"}" beside it'
        )
    elif not pair and not place_columns:
        problems.append(
            'no places are given: add "Platser <period>" columns (e.g. "Platser w45"), or "Period" and "Platser"'
        )
    if ("lat" in headers) != ("lon" in headers):
        problems.append('give both a "Lat" and a "Lon" column, or neither')
    return problems


@dataclasses.dataclass
class _OfferGroup:
    """One offer of the file: its first row, and its places gathered from every row that gives it."""

    row: _OfferRow
    places: dict[Period, tuple[int, int]]  # period -> (places, row number)


def _group_offers(
    rows: list[_OfferRow], headers: dict[str, str], problems: list[str]
) -> tuple[list[_OfferGroup], dict[tuple[str, str, str], tuple[float, float]]]:
    """The offers of the file, and the coordinates its workplaces are given.

    Rows may repeat an employer, a workplace or an offer (one row per period
    of places); what they repeat must agree, and no period may get places twice.
    """
    employer_rows: dict[str, _OfferRow] = {}
    located_rows: dict[tuple[str, str, str], _OfferRow] = {}
    groups: dict[tuple[str, str, str, str], _OfferGroup] = {}
    for row in rows:
        first = employer_rows.setdefault(row.org_number, row)
        if row.employer_name.casefold() != first.employer_name.casefold():
            problems.append(
                problem(
                    row.number,
                    headers["employer"],
                    f"{shown(row.employer_name)} differs from {shown(first.employer_name)} "
                    f"given for {row.org_number} in row {first.number}",
                )
            )
            continue
        if row.coordinates is not None:
            located = located_rows.setdefault(row.workplace_key, row)
            if located.coordinates != row.coordinates:
                problems.append(
                    problem(row.number, headers["lat"], f"row {located.number} places this workplace elsewhere")
                )
                continue
        group = groups.get(row.offer_key)
        if group is None:
            groups[row.offer_key] = _OfferGroup(row, {p: (n, row.number) for p, (n, _field) in row.places.items()})
            continue
        differing = [
            f for f, value in row.fields.items() if value not in (None, "", []) and value != group.row.fields[f]
        ]
        if differing:
            problems.append(
                problem(
                    row.number,
                    headers[differing[0]],
                    f"differs from row {group.row.number}, which gives the same offer",
                )
            )
        for period, (places, field) in row.places.items():
            if period in group.places:
                problems.append(
                    problem(
                        row.number,
                        headers[field],
                        f'places in period "{period.code}" are already given for this offer '
                        f"in row {group.places[period][1]}",
                    )
                )
            else:
                group.places[period] = (places, row.number)
    coordinates = {key: row.coordinates for key, row in located_rows.items() if row.coordinates is not None}
    return list(groups.values()), coordinates


class _Existing:
    """The database's employers, workplaces and offers that rows of the file name, loaded at once."""

    def __init__(self, session: Session, org_numbers: Iterable[str]) -> None:
        found = session.scalars(
            select(Employer).where(Employer.org_number.in_(set(org_numbers)), employers.registered())
        )
        self.employers = {employer.org_number: employer for employer in found}
        org_of = {employer.id: org for org, employer in self.employers.items()}
        workplaces = session.scalars(select(Workplace).where(Workplace.employer_id.in_(org_of)))
        self.workplaces = {_workplace_key(org_of[w.employer_id], w.name, w.address): w for w in workplaces}
        offers = session.scalars(
            select(Offer)
            .where(Offer.workplace_id.in_([w.id for w in self.workplaces.values()]))
            .options(selectinload(Offer.capacities))
        )
        self.offers: defaultdict[tuple[int, str], list[Offer]] = defaultdict(list)
        for offer in offers:
            self.offers[(offer.workplace_id, offer.title.casefold())].append(offer)


def _workplace_key(org_number: str, name: str, address: str) -> tuple[str, str, str]:
    return (org_number, name.casefold(), normalise_address(address))


def _risk_changes(offer: Offer | None, assessed: bool | None, now: dt.datetime, actor: audit.Actor) -> dict[str, Any]:
    """The offer's risk assessment fields after a "yes" or "no" (AFS 2012:3)."""
    confirmed = offer is not None and offer.risk_assessment_confirmed_at is not None
    if assessed and not confirmed:
        return {"risk_assessment_confirmed_at": now, "risk_assessment_confirmed_by_id": actor.user_id}
    if assessed is False and confirmed:
        return {"risk_assessment_confirmed_at": None, "risk_assessment_confirmed_by_id": None}
    return {}


def import_employers(
    session: Session,
    data: bytes,
    filename: str,
    *,
    actor: audit.Actor,
    municipality: Municipality | None = None,
    approve: bool = False,
    dry_run: bool = False,
) -> ImportReport:
    """Import employers, their workplaces and offers from a CSV or XLSX file: every row, or none.

    Each row is one offer.  Employers are found by organisation number, or
    created awaiting approval (approved at once with ``approve``, for the
    coordinator's own list) in ``municipality``; existing employers are not
    changed.  Workplaces are found by employer, name and address, or created;
    given coordinates make their location MANUAL, otherwise new ones await
    geocoding.  Offers are found by workplace and title and updated, or
    created with the next free code.  Raises :class:`ImportRejected` listing
    every problem, writing nothing.
    """
    table = read(data, filename)
    periods = {period.code.casefold(): period for period in session.scalars(select(Period))}
    place_codes = {header: match["code"] for header in table.headers if (match := _PERIOD_PLACES.match(header))}
    columns = match_columns(table, EMPLOYER_COLUMNS, set_aside=lambda header: header in place_codes)
    problems = columns.problems + _place_column_problems(columns.headers, place_codes, periods)
    if problems:
        raise ImportRejected(problems)

    place_columns = {header: periods[code.casefold()] for header, code in place_codes.items()}
    headers = columns.headers | {header: header for header in place_columns}
    rows = [parsed for row in table.rows if (parsed := _offer_row(row, headers, place_columns, periods, problems))]
    groups, coordinates = _group_offers(rows, headers, problems)
    existing = _Existing(session, (group.row.org_number for group in groups))
    matches: list[Offer | None] = []
    for group in groups:
        workplace = existing.workplaces.get(group.row.workplace_key)
        candidates = [] if workplace is None else existing.offers[(workplace.id, group.row.offer_key[3])]
        if len(candidates) > 1:
            problems.append(
                f"row {group.row.number}: the workplace already has {len(candidates)} offers titled "
                f"{shown(group.row.fields['title'])}; change them in Praktik instead"
            )
        matches.append(candidates[0] if candidates else None)
    if problems:
        raise ImportRejected(listed(problems))

    report = ImportReport(rows=len(table.rows), dry_run=dry_run, warnings=[unused(h) for h in columns.unknown])
    now = utcnow()
    employers = _place_employers(
        session,
        groups,
        existing=existing,
        report=report,
        municipality=municipality,
        approve=approve,
        actor=actor,
        now=now,
    )
    workplaces = _place_workplaces(
        session, groups, existing=existing, coordinates=coordinates, employers=employers, report=report
    )
    offer_codes = codes.OFFERS.following(session)
    for group, offer in zip(groups, matches, strict=True):
        row = group.row
        risk = _risk_changes(offer, row.risk_assessed, now, actor)
        if offer is None:
            report.created["offers"] += 1
            if not dry_run:
                session.add(
                    Offer(
                        code=next(offer_codes),
                        employer_id=employers[row.org_number].id,
                        workplace_id=workplaces[row.workplace_key].id,
                        capacities=[OfferCapacity(period_id=p.id, places=n) for p, (n, _row) in group.places.items()],
                        **row.fields,
                        **risk,
                    )
                )
            continue
        changes = {field: value for field, value in row.fields.items() if getattr(offer, field) != value} | risk
        capacities = {capacity.period_id: capacity for capacity in offer.capacities}
        places = {
            period.id: n
            for period, (n, _row) in group.places.items()
            if period.id not in capacities or capacities[period.id].places != n
        }
        if not changes and not places:
            report.unchanged["offers"] += 1
            continue
        report.updated["offers"] += 1
        if not dry_run:
            for field, value in changes.items():
                setattr(offer, field, value)
            for period_id, n in places.items():
                if period_id in capacities:
                    capacities[period_id].places = n
                else:
                    offer.capacities.append(OfferCapacity(period_id=period_id, places=n))

    if not dry_run:
        session.flush()
        counts = {
            "rows": report.rows,
            **{f"{kind}_created": n for kind, n in report.created.items()},
            **{f"{kind}_updated": n for kind, n in report.updated.items()},
        }
        audit.record(
            session, actor, "import.employers", "employer", after={"format": table.format, "approve": approve, **counts}
        )
        logger.info("Employers imported by %s: %s", actor.label, counts)
    return report


def _place_employers(
    session: Session,
    groups: list[_OfferGroup],
    *,
    existing: _Existing,
    report: ImportReport,
    municipality: Municipality | None,
    approve: bool,
    actor: audit.Actor,
    now: dt.datetime,
) -> dict[str, Employer]:
    """The employer of every organisation number in the file: found, or new (flushed unless a dry run)."""
    names: dict[str, str] = {}
    for group in groups:
        names.setdefault(group.row.org_number, group.row.employer_name)
    employer_codes = codes.EMPLOYERS.following(session)
    employers: dict[str, Employer] = {}
    for org, name in names.items():
        employer = existing.employers.get(org)
        if employer is not None:
            report.unchanged["employers"] += 1
            if name.casefold() != employer.name.casefold():
                report.warnings.append(
                    f'{org} is already registered as "{employer.name}"; the name {shown(name)} was not used'
                )
        else:
            report.created["employers"] += 1
            employer = Employer(
                code=next(employer_codes),
                name=name,
                org_number=org,
                municipality_id=municipality.id if municipality else None,
                status=EmployerStatus.APPROVED if approve else EmployerStatus.PENDING,
                reviewed_at=now if approve else None,
                reviewed_by_id=actor.user_id if approve else None,
            )
            if not report.dry_run:
                session.add(employer)
        employers[org] = employer
    if not report.dry_run:
        session.flush()
    return employers


def _place_workplaces(
    session: Session,
    groups: list[_OfferGroup],
    *,
    existing: _Existing,
    coordinates: dict[tuple[str, str, str], tuple[float, float]],
    employers: dict[str, Employer],
    report: ImportReport,
) -> dict[tuple[str, str, str], Workplace]:
    """The workplace of every offer: found (given coordinates kept as MANUAL), or new (flushed unless a dry run)."""
    workplaces: dict[tuple[str, str, str], Workplace] = {}
    for group in groups:
        row = group.row
        key = row.workplace_key
        if key in workplaces:
            continue
        located = coordinates.get(key)
        workplace = existing.workplaces.get(key)
        if workplace is None:
            report.created["workplaces"] += 1
            workplace = Workplace(
                employer_id=employers[row.org_number].id,
                name=row.workplace_name,
                address=row.address,
                lat=located[0] if located else None,
                lon=located[1] if located else None,
                geo_status=GeoStatus.MANUAL if located else GeoStatus.PENDING,
            )
            if not report.dry_run:
                session.add(workplace)
        elif located is None or (
            located == (workplace.lat, workplace.lon) and workplace.geo_status is GeoStatus.MANUAL
        ):
            report.unchanged["workplaces"] += 1
        else:
            report.updated["workplaces"] += 1
            if not report.dry_run:
                workplace.lat, workplace.lon = located
                workplace.geo_status = GeoStatus.MANUAL
        workplaces[key] = workplace
    if not report.dry_run:
        session.flush()
    return workplaces
