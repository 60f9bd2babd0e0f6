"""Loading the demo region (``data/demo/region.json``) into an empty database.

The dataset is made by ``python -m data.generate``; data/README.md describes
it.  Rows go in with bulk INSERTs (a few thousand pupils and tens of thousands
of preferences in seconds), and only the documented demo logins get a
password or login code: hashing one per pupil would take minutes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import QueryableAttribute, Session
from werkzeug.security import generate_password_hash

import data
from placement import audit
from placement.collation import swedish_key
from placement.db import Base
from placement.enums import EmployerStatus, Gender, GeoStatus, OfferKind, OfferStatus, Role, Sector
from placement.errors import Conflict, ValidationError
from placement.models import (
    Employer,
    EmployerMembership,
    Municipality,
    Offer,
    OfferCapacity,
    Period,
    Preference,
    PreferenceWindow,
    Pupil,
    School,
    SchoolClass,
    SchoolMembership,
    User,
    Workplace,
    distances,
    offer_school,
)

logger = logging.getLogger(__name__)

FORMAT = "praktik-demo/1"

#: Tables that must be empty before the demo region is loaded.
_MUST_BE_EMPTY: tuple[type[Base], ...] = (Municipality, Period, School, Employer, Pupil, User, PreferenceWindow)


@dataclasses.dataclass(frozen=True)
class DemoLogin:
    """An account of the demo region that can log in, with its password or pupil login code."""

    role: str
    #: E-mail address, or the pupil's id (``external_id``) for a pupil.
    login: str
    secret: str


@dataclasses.dataclass(frozen=True)
class DemoSummary:
    """What was loaded: the periods (for a first allocation round), counts, and the demo logins."""

    periods: tuple[Period, ...]
    municipalities: int
    schools: int
    classes: int
    employers: int
    pending_employers: int
    offers: int
    pupils: int
    self_arranged: int
    preferences: int
    users: int
    logins: tuple[DemoLogin, ...]

    def __str__(self) -> str:
        return (
            f"{self.municipalities} municipalities, {self.schools} schools ({self.classes} classes), "
            f"{len(self.periods)} periods, {self.employers} employers ({self.pending_employers} awaiting approval), "
            f"{self.offers} offers, {self.pupils} pupils ({self.self_arranged} with a self-arranged placement), "
            f"{self.preferences} preferences, {self.users} users"
        )


def default_dataset() -> Path:
    """The committed dataset, found through the ``data`` package (works in an editable install)."""
    return Path(data.__file__).parent / "demo" / "region.json"


def load_demo_region(
    session: Session,
    path: Path | None = None,
    *,
    actor: audit.Actor = audit.CLI,
    today: dt.date | None = None,
) -> DemoSummary:
    """Insert the demo region into an empty database and flush; the caller commits.

    The season is laid on ``today`` (default: today, UTC) by :func:`laid_on`,
    so that the demo is alive whenever it is loaded.  Raises Conflict if the
    database already holds data, ValidationError if the file is not a
    ``praktik-demo/1`` dataset.
    """
    for model in _MUST_BE_EMPTY:
        if session.scalar(select(model).limit(1)) is not None:
            raise Conflict(
                f"the database already holds data (table {model.__tablename__}); "
                "the demo region loads only into an empty database"
            )
    path = path or default_dataset()
    region: dict[str, Any] = json.loads(path.read_bytes())
    if region.get("format") != FORMAT:
        raise ValidationError(f"{path}: format is {region.get('format')!r}, expected {FORMAT!r}")
    region = laid_on(region, today or dt.datetime.now(dt.UTC).date())
    summary = _Loader(session, region).load()
    audit.record(
        session,
        actor,
        "demo.load",
        "region",
        after={
            "dataset": path.name,
            "seed": region["seed"],
            "periods": [p.code for p in summary.periods],
            **_counts(summary),
        },
    )
    session.flush()
    logger.info("Demo region loaded from %s by %s: %s", path, actor.label, summary)
    return summary


def _counts(summary: DemoSummary) -> dict[str, int]:
    values = {f.name: getattr(summary, f.name) for f in dataclasses.fields(summary)}
    return {name: value for name, value in values.items() if isinstance(value, int)}


class _Loader:
    """Inserts a dataset table by table and maps the dataset's codes to the new row ids.

    Rows go in with plain bulk INSERTs and the ids are read back by code in one
    query per table: the database was empty, so every row found is ours.  (Bulk
    INSERT ... RETURNING is several times slower here, on both engines.)
    """

    def __init__(self, session: Session, region: dict[str, Any]) -> None:
        self.session = session
        self.region = region
        self.secrets = {login["login"]: login["secret"] for login in region["demo_logins"]}

    def load(self) -> DemoSummary:
        region = self.region
        municipality_ids = self._municipalities()
        period_ids = self._periods()
        self._preference_window()
        school_ids, class_ids = self._schools(municipality_ids, period_ids)
        users = {u["email"]: u for u in region["users"]}
        self._insert(User, [self._user(u) for u in users.values()])
        user_ids = self._ids(User.email, User.id)
        coordinator_id = next(user_ids[e] for e, u in users.items() if u["role"] == Role.COORDINATOR)
        employer_ids, workplace_ids = self._employers(municipality_ids, coordinator_id)
        self._memberships(users, user_ids, school_ids, employer_ids)
        offer_ids = self._offers(employer_ids, workplace_ids, user_ids, period_ids, school_ids)
        pupil_ids = self._pupils(school_ids, class_ids, offer_ids)
        preferences = self._preferences(pupil_ids, offer_ids)
        distances.store_missing(self.session)  # the bulk INSERTs passed the ORM by
        return DemoSummary(
            periods=tuple(self.session.scalars(select(Period).order_by(Period.start_date))),
            municipalities=len(municipality_ids),
            schools=len(school_ids),
            classes=len(class_ids),
            employers=len(employer_ids),
            pending_employers=sum(1 for e in region["employers"] if e["status"] == EmployerStatus.PENDING),
            offers=len(offer_ids),
            pupils=len(pupil_ids),
            self_arranged=sum(1 for p in region["pupils"] if p["self_arranged"]),
            preferences=preferences,
            users=len(user_ids) + len(pupil_ids),
            logins=tuple(DemoLogin(**login) for login in region["demo_logins"]),
        )

    def _insert(self, target: type[Base] | Table, rows: list[dict[str, Any]]) -> None:
        """Bulk-insert ``rows`` when there are any (an empty list would insert one default row)."""
        if rows:
            self.session.execute(insert(target), rows)

    def _ids(self, key: QueryableAttribute[Any], id_column: QueryableAttribute[int]) -> dict[Any, int]:
        return dict(self.session.execute(select(key, id_column)).all())

    def _municipalities(self) -> dict[str, int]:
        self._insert(Municipality, [{"code": m["code"], "name": m["name"]} for m in self.region["municipalities"]])
        return self._ids(Municipality.code, Municipality.id)

    def _periods(self) -> dict[str, int]:
        rows = [
            {
                "code": p["code"],
                "name": p["name"],
                "start_date": dt.date.fromisoformat(p["start"]),
                "end_date": dt.date.fromisoformat(p["end"]),
            }
            for p in self.region["periods"]
        ]
        self._insert(Period, rows)
        return self._ids(Period.code, Period.id)

    def _preference_window(self) -> None:
        window = self.region["preference_window"]
        self.session.add(
            PreferenceWindow(
                name=window["name"],
                opens_at=_moment(window["opens_at"]),
                closes_at=_moment(window["closes_at"]),
                max_choices=window["max_choices"],
            )
        )

    def _schools(
        self, municipality_ids: dict[str, int], period_ids: dict[str, int]
    ) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        """Schools by code, and their classes by (school code, class name)."""
        schools = self.region["schools"]
        rows = [
            {
                "municipality_id": municipality_ids[s["municipality"]],
                "code": s["code"],
                "name": s["name"],
                "address": s["address"],
                "lat": s["lat"],
                "lon": s["lon"],
                "geo_status": GeoStatus.MANUAL,
                "need_index": s["need_index"],
            }
            for s in schools
        ]
        self._insert(School, rows)
        school_ids = self._ids(School.code, School.id)
        class_rows = [
            {"school_id": school_ids[s["code"]], "name": c["name"], "year": 8, "period_id": period_ids[c["period"]]}
            for s in schools
            for c in s["classes"]
        ]
        self._insert(SchoolClass, class_rows)
        school_codes = {i: code for code, i in school_ids.items()}
        class_ids = {
            (school_codes[school_id], name): class_id
            for school_id, name, class_id in self.session.execute(
                select(SchoolClass.school_id, SchoolClass.name, SchoolClass.id)
            )
        }
        return school_ids, class_ids

    def _user(self, user: dict[str, Any]) -> dict[str, Any]:
        secret = self.secrets.get(user["email"])
        return {
            "role": Role(user["role"]),
            "email": user["email"],
            "display_name": user["display_name"],
            "password_hash": generate_password_hash(secret) if secret else None,
            # The demo's addresses count as verified: its employer contact can log in at once.
            "email_verified_at": dt.datetime.now(dt.UTC),
        }

    def _employers(
        self, municipality_ids: dict[str, int], coordinator_id: int
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Employers by code, and their workplaces by employer code."""
        employers = self.region["employers"]
        rows = [
            {
                "code": e["code"],
                "name": e["name"],
                "org_number": e["org_number"],
                "municipality_id": municipality_ids[e["municipality"]],
                "status": EmployerStatus(e["status"]),
                "reviewed_at": _moment(e["reviewed_at"]) if e["reviewed_at"] else None,
                "reviewed_by_id": coordinator_id if e["reviewed_at"] else None,
                "phone": e["phone"],
                "email": e["email"],
            }
            for e in employers
        ]
        self._insert(Employer, rows)
        employer_ids = self._ids(Employer.code, Employer.id)
        workplace_rows = [
            {
                "employer_id": employer_ids[e["code"]],
                "name": e["workplace"]["name"],
                "address": e["workplace"]["address"],
                "lat": e["workplace"]["lat"],
                "lon": e["workplace"]["lon"],
                "geo_status": GeoStatus.MANUAL,
            }
            for e in employers
        ]
        self._insert(Workplace, workplace_rows)
        by_employer_id = self._ids(Workplace.employer_id, Workplace.id)
        return employer_ids, {code: by_employer_id[i] for code, i in employer_ids.items()}

    def _memberships(
        self,
        users: dict[str, dict[str, Any]],
        user_ids: dict[str, int],
        school_ids: dict[str, int],
        employer_ids: dict[str, int],
    ) -> None:
        school_rows = [
            {"user_id": user_ids[email], "school_id": school_ids[u["school"]]}
            for email, u in users.items()
            if u["role"] == Role.SCHOOL_STAFF
        ]
        employer_rows = [
            {"user_id": user_ids[email], "employer_id": employer_ids[u["employer"]]}
            for email, u in users.items()
            if u["role"] == Role.EMPLOYER_CONTACT
        ]
        self._insert(SchoolMembership, school_rows)
        self._insert(EmployerMembership, employer_rows)

    def _offers(
        self,
        employer_ids: dict[str, int],
        workplace_ids: dict[str, int],
        user_ids: dict[str, int],
        period_ids: dict[str, int],
        school_ids: dict[str, int],
    ) -> dict[str, int]:
        """Offers with their places and school restrictions; the offers' ids by code.

        A confirmed risk assessment is recorded as confirmed by the employer's contact.
        """
        offers = [(e, o) for e in self.region["employers"] for o in e["offers"]]
        rows = [
            {
                "code": o["code"],
                "employer_id": employer_ids[e["code"]],
                "workplace_id": workplace_ids[e["code"]],
                "kind": OfferKind(o["kind"]),
                "status": OfferStatus.ACTIVE,
                "title": o["title"],
                "title_key": swedish_key(o["title"])[:200],
                "description": o["description"],
                "sector": Sector(o["sector"]),
                "min_age": o["min_age"],
                "requirements": o["requirements"],
                "supervisor_name": o["supervisor"]["name"],
                "supervisor_phone": o["supervisor"]["phone"],
                "supervisor_email": o["supervisor"]["email"],
                "risk_assessment_confirmed_at": (
                    _moment(o["risk_assessment_confirmed_at"]) if o["risk_assessment_confirmed_at"] else None
                ),
                "risk_assessment_confirmed_by_id": (
                    user_ids[e["contact"]["email"]] if o["risk_assessment_confirmed_at"] else None
                ),
            }
            for e, o in offers
        ]
        self._insert(Offer, rows)
        offer_ids = self._ids(Offer.code, Offer.id)
        capacities = [
            {"offer_id": offer_ids[o["code"]], "period_id": period_ids[code], "places": places}
            for _, o in offers
            for code, places in o["capacity"].items()
        ]
        self._insert(OfferCapacity, capacities)
        restricted = [
            {"offer_id": offer_ids[o["code"]], "school_id": school_ids[code]}
            for _, o in offers
            for code in o["schools"]
        ]
        self._insert(offer_school, restricted)
        return offer_ids

    def _pupils(
        self, school_ids: dict[str, int], class_ids: dict[tuple[str, str], int], offer_ids: dict[str, int]
    ) -> dict[str, int]:
        """Pupils, each with a user account; the pupils' ids by dataset id (their ``external_id``)."""
        pupils = self.region["pupils"]
        rows = [
            {
                "school_id": school_ids[p["school"]],
                "class_id": class_ids[p["school"], p["class"]],
                "external_id": p["id"],
                "first_name": p["first_name"],
                "last_name": p["last_name"],
                "gender": Gender(p["gender"]) if p["gender"] else None,
                "birth_year": p["birth_year"],
                "birth_month": p["birth_month"],
                "attributes": p["attributes"],
                "self_arranged_offer_id": offer_ids[p["self_arranged"]] if p["self_arranged"] else None,
            }
            for p in pupils
        ]
        self._insert(Pupil, rows)
        pupil_ids = self._ids(Pupil.external_id, Pupil.id)
        accounts = [
            {
                "role": Role.PUPIL,
                "display_name": f"{p['first_name']} {p['last_name']}",
                "pupil_id": pupil_ids[p["id"]],
                "login_code_hash": generate_password_hash(self.secrets[p["id"]]) if p["id"] in self.secrets else None,
                # The code's first group finds the account (placement.cohorts.login_codes).
                "login_code_id": self.secrets[p["id"]].split("-", 1)[0] if p["id"] in self.secrets else None,
            }
            for p in pupils
        ]
        self._insert(User, accounts)
        return pupil_ids

    def _preferences(self, pupil_ids: dict[str, int], offer_ids: dict[str, int]) -> int:
        rows = [
            {"pupil_id": pupil_ids[p["id"]], "offer_id": offer_ids[code], "rank": rank}
            for p in self.region["pupils"]
            for rank, code in enumerate(p["preferences"], start=1)
        ]
        self._insert(Preference, rows)
        return len(rows)


def _moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def laid_on(region: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The dataset with its season moved by whole weeks, so that its choice window opened a week ago Monday.

    The window is then open on ``today`` for two to three weeks more, and
    the periods follow in the weeks after it, as in the dataset; periods
    are named and coded by their new weeks (``w45``, "Vecka 45–46 2026"),
    and the window by its new school year.  Reviews and risk assessments
    move with the season, and each pupil's birth month by as many months as
    the first day of their period moved, so that every age on that day
    stays what the dataset made it.  Loading
    twice on one day gives the same region.
    """
    region = json.loads(json.dumps(region))  # a deep copy: the caller's dict stays as it is
    window = region["preference_window"]
    opened = _moment(window["opens_at"]).date()
    shift = (today - dt.timedelta(days=today.weekday() + 7)) - (opened - dt.timedelta(days=opened.weekday()))
    if not shift:
        return region
    codes: dict[str, str] = {}
    months: dict[str, int] = {}  # by how many months each period's first day moved
    for period in region["periods"]:
        old = dt.date.fromisoformat(period["start"])
        start = old + shift
        months[period["code"]] = (start.year - old.year) * 12 + start.month - old.month
        end = dt.date.fromisoformat(period["end"]) + shift
        first, last = start.isocalendar(), end.isocalendar()
        weeks = f"{first.week}" if first.week == last.week else f"{first.week}–{last.week}"
        codes[period["code"]] = f"w{first.week:02d}"
        period.update(code=codes[period["code"]], name=f"Vecka {weeks} {last.year}", start=str(start), end=str(end))
    season = school_year(dt.date.fromisoformat(min(p["start"] for p in region["periods"])))
    window["name"] = re.sub(r"\d{4}/\d{2}", season, window["name"])
    for key in ("opens_at", "closes_at"):
        window[key] = (_moment(window[key]) + shift).isoformat()
    period_of = {(s["code"], c["name"]): c["period"] for s in region["schools"] for c in s["classes"]}
    for school in region["schools"]:
        for school_class in school["classes"]:
            school_class["period"] = codes[school_class["period"]]
    for employer in region["employers"]:
        if employer["reviewed_at"]:
            employer["reviewed_at"] = (_moment(employer["reviewed_at"]) + shift).isoformat()
        for offer in employer["offers"]:
            offer["capacity"] = {codes[code]: places for code, places in offer["capacity"].items()}
            if offer["risk_assessment_confirmed_at"]:
                offer["risk_assessment_confirmed_at"] = (
                    _moment(offer["risk_assessment_confirmed_at"]) + shift
                ).isoformat()
    for pupil in region["pupils"]:
        born = pupil["birth_year"] * 12 + pupil["birth_month"] - 1 + months[period_of[pupil["school"], pupil["class"]]]
        pupil["birth_year"], pupil["birth_month"] = divmod(born, 12)
        pupil["birth_month"] += 1
    return region


def school_year(day: dt.date) -> str:
    """The school year ``day`` falls in, as Swedish schools write it: "2026/27" from July 2026 to June 2027."""
    first = day.year if day.month >= 7 else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"
