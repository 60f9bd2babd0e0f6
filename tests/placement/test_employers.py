"""Registering and reviewing employers, and their workplaces."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash

from placement import audit, codes
from placement import models as m
from placement.employers import registry as employers
from placement.enums import EmployerStatus, GeoStatus, Role
from placement.errors import Conflict, ValidationError
from tests import factories as f

VOLVO = "556012-5790"
GOTEBORG = "212000-1355"


def register(session: Session, **kw: object) -> tuple[m.Employer, m.User]:
    args: dict[str, object] = {
        "name": "Volvo Lastvagnar AB",
        "org_number": VOLVO,
        "contact_email": "Kontakt@Volvo.example.se",
        "contact_name": "Karin Karlsson",
        "password": "ett långt lösenord",
        "actor": audit.CLI,
    }
    args.update(kw)
    return employers.register_employer(session, **args)  # type: ignore[arg-type]


def events(session: Session, action: str) -> list[m.AuditEvent]:
    return list(session.scalars(select(m.AuditEvent).where(m.AuditEvent.action == action).order_by(m.AuditEvent.id)))


def count(session: Session, model: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- organisation numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("5560125790", VOLVO),
        ("556012-5790", VOLVO),
        (" 556012 5790 ", VOLVO),
        ("2120001355", GOTEBORG),
        ("165560125790", VOLVO),  # Skatteverket's 12-digit form with the "16" prefix, as registers export it
        ("16556012-5790", VOLVO),
    ],
)
def test_org_number_is_normalised(raw: str, normalised: str) -> None:
    assert employers.normalise_org_number(raw) == normalised


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("556012-5791", "check digit"),  # one digit off: Luhn catches it
        ("556021-5790", "check digit"),  # two digits swapped
        ("55601257", "10 digits"),
        ("19556012-5790", "10 digits"),
        ("55601A-5790", "10 digits"),
        ("55601-25790", "10 digits"),
        ("175560125790", "10 digits"),  # 12 digits, but not the "16" form
        ("165560125791", "check digit"),
    ],
)
def test_org_number_is_checked(raw: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        employers.normalise_org_number(raw)


# --- registering ----------------------------------------------------------------------------------------------------


def test_registering_creates_a_pending_employer_and_its_contact(db_session: Session) -> None:
    municipality = f.municipality(db_session)
    employer, user = register(db_session, org_number="5560125790", phone="031-66 00 00", municipality=municipality)
    assert employer.status is EmployerStatus.PENDING
    assert employer.org_number == VOLVO
    assert employer.code.startswith("E")
    assert employer.municipality is municipality
    assert user.role is Role.EMPLOYER_CONTACT
    assert user.email == "kontakt@volvo.example.se"
    assert user.display_name == "Karin Karlsson"
    assert user.password_hash is not None
    assert user.password_hash != "ett långt lösenord"
    assert check_password_hash(user.password_hash, "ett långt lösenord")
    membership = db_session.scalars(select(m.EmployerMembership).where(m.EmployerMembership.user_id == user.id)).one()
    assert membership.employer_id == employer.id
    assert employer in employers.pending_employers(db_session)
    event = events(db_session, "employer.register")[0]
    assert event.entity_id == employer.id
    assert event.after is not None
    assert event.after["org_number"] == VOLVO
    assert event.after["status"] == "pending"
    assert events(db_session, "user.create")[0].entity_id == user.id


def test_employer_codes_follow_the_highest_in_use(db_session: Session) -> None:
    f.employer(db_session, code="E0417")
    employer, _ = register(db_session)
    assert employer.code == "E0418"


def test_a_code_taken_meanwhile_is_retried(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    f.employer(db_session, code="E0500")
    real = codes.next_code
    answers = iter(["E0500"])  # the first answer is stale, as if another process took it

    def racing(*args: object, **kwargs: object) -> str:
        return next(answers, None) or real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(codes, "next_code", racing)
    employer, user = register(db_session)
    assert employer.code == "E0501"
    assert db_session.get(m.User, user.id) is user


def test_duplicate_org_number_is_a_conflict_naming_it(db_session: Session) -> None:
    register(db_session)
    users_before = count(db_session, m.User)
    with pytest.raises(Conflict, match="organisation number 556012-5790 is already registered"):
        register(db_session, org_number="5560125790", contact_email="annan@example.se")
    assert count(db_session, m.User) == users_before


def test_duplicate_email_is_a_conflict_whatever_the_case(db_session: Session) -> None:
    register(db_session)
    employers_before = count(db_session, m.Employer)
    with pytest.raises(Conflict, match=r"kontakt@volvo\.example\.se already has an account"):
        register(db_session, org_number=GOTEBORG, contact_email="KONTAKT@volvo.example.se")
    assert count(db_session, m.Employer) == employers_before


def test_bad_registration_names_every_problem_and_writes_nothing(db_session: Session) -> None:
    employers_before, users_before = count(db_session, m.Employer), count(db_session, m.User)
    with pytest.raises(ValidationError) as info:
        register(db_session, name=" ", org_number="556012-5791", contact_email="inte-en-adress", password="kort")
    problems = " | ".join(info.value.problems)
    assert "name is required" in problems
    assert "check digit" in problems
    assert "contact_email" in problems
    assert "password must have at least 10 characters" in problems
    assert (count(db_session, m.Employer), count(db_session, m.User)) == (employers_before, users_before)
    assert events(db_session, "employer.register") == []


# --- reviewing ------------------------------------------------------------------------------------------------------


def test_approving_records_who_and_when(db_session: Session) -> None:
    coordinator = f.user(db_session)
    employer, _ = register(db_session)
    employers.approve_employer(db_session, employer, actor=audit.Actor.of(coordinator))
    assert employer.status is EmployerStatus.APPROVED
    assert employer.reviewed_by_id == coordinator.id
    assert employer.reviewed_at is not None
    assert employer not in employers.pending_employers(db_session)
    event = events(db_session, "employer.approve")[0]
    assert event.actor_id == coordinator.id
    assert event.before == {"status": "pending", "rejection_reason": None}
    assert event.after == {"status": "approved", "rejection_reason": None}


def test_approving_twice_is_a_conflict(db_session: Session) -> None:
    employer, _ = register(db_session)
    employers.approve_employer(db_session, employer, actor=audit.CLI)
    with pytest.raises(Conflict, match="status is approved"):
        employers.approve_employer(db_session, employer, actor=audit.CLI)
    assert len(events(db_session, "employer.approve")) == 1


def test_a_stale_object_cannot_approve_twice(db_session: Session) -> None:
    """The status check is in the UPDATE itself, not in the Python object."""
    employer, _ = register(db_session)
    employers.approve_employer(db_session, employer, actor=audit.CLI)
    set_committed_value(employer, "status", EmployerStatus.PENDING)  # what a stale copy would believe
    with pytest.raises(Conflict, match="status is approved"):
        employers.approve_employer(db_session, employer, actor=audit.CLI)
    assert len(events(db_session, "employer.approve")) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejection_needs_a_reason(db_session: Session, reason: str) -> None:
    employer, _ = register(db_session)
    with pytest.raises(ValidationError, match="rejection_reason is required"):
        employers.reject_employer(db_session, employer, reason, actor=audit.CLI)
    assert employer.status is EmployerStatus.PENDING


def test_rejecting_keeps_the_reason_and_hides_from_the_queue(db_session: Session) -> None:
    employer, _ = register(db_session)
    employers.reject_employer(db_session, employer, " Inte en arbetsplats för minderåriga ", actor=audit.CLI)
    assert employer.status is EmployerStatus.REJECTED
    assert employer.rejection_reason == "Inte en arbetsplats för minderåriga"
    assert employers.pending_employers(db_session) == []
    event = events(db_session, "employer.reject")[0]
    assert event.before == {"status": "pending", "rejection_reason": None}
    assert event.after == {"status": "rejected", "rejection_reason": "Inte en arbetsplats för minderåriga"}
    with pytest.raises(Conflict):
        employers.reject_employer(db_session, employer, "igen", actor=audit.CLI)


def test_a_rejected_employer_can_be_approved_later(db_session: Session) -> None:
    employer, _ = register(db_session)
    employers.reject_employer(db_session, employer, "oklart", actor=audit.CLI)
    employers.approve_employer(db_session, employer, actor=audit.CLI)
    assert employer.status is EmployerStatus.APPROVED
    assert employer.rejection_reason is None


def test_pending_employers_are_oldest_first_and_only_pending(db_session: Session) -> None:
    first, _ = register(db_session)
    second, _ = register(db_session, org_number=GOTEBORG, contact_email="prao@goteborg.example.se")
    f.employer(db_session, status=EmployerStatus.APPROVED)
    f.employer(db_session, status=EmployerStatus.REJECTED)
    assert employers.pending_employers(db_session) == [first, second]


# --- workplaces -----------------------------------------------------------------------------------------------------


def test_workplace_with_coordinates_is_manual(db_session: Session) -> None:
    employer = f.employer(db_session)
    workplace = employers.add_workplace(
        db_session, employer, name="Tuve", address="Tuvevägen 1, Göteborg", lat=57.75, lon=11.93, actor=audit.CLI
    )
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (57.75, 11.93, GeoStatus.MANUAL)
    assert workplace.employer is employer
    event = events(db_session, "workplace.create")[0]
    assert event.entity_id == workplace.id
    assert event.after is not None
    assert event.after["geo_status"] == "manual"


def test_workplace_without_coordinates_waits_for_the_geocoder(db_session: Session) -> None:
    workplace = employers.add_workplace(
        db_session, f.employer(db_session), name="Tuve", address="Tuvevägen 1, Göteborg", actor=audit.CLI
    )
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (None, None, GeoStatus.PENDING)


@pytest.mark.parametrize(
    ("lat", "lon", "message"),
    [
        (91.0, 11.9, "lat 91.0 is outside -90..90"),
        (57.7, -180.5, "lon -180.5 is outside -180..180"),
        (57.7, None, "give lat and lon together"),
        (float("nan"), 11.9, "lat nan is not a number"),
        ("57.7", 11.9, "is not a number"),
    ],
)
def test_workplace_coordinates_are_checked(db_session: Session, lat: object, lon: object, message: str) -> None:
    employer = f.employer(db_session)
    with pytest.raises(ValidationError, match=message):
        employers.add_workplace(db_session, employer, name="X", address="Y 1", lat=lat, lon=lon, actor=audit.CLI)  # type: ignore[arg-type]
    assert employer.workplaces == []


def test_workplace_needs_name_and_address(db_session: Session) -> None:
    with pytest.raises(ValidationError) as info:
        employers.add_workplace(db_session, f.employer(db_session), name="", address=" ", actor=audit.CLI)
    assert len(info.value.problems) == 2


def test_new_address_sends_the_workplace_back_to_the_geocoder(db_session: Session) -> None:
    workplace = f.workplace(db_session)
    employers.update_workplace(db_session, workplace, address="Nygatan 2, Borås", actor=audit.CLI)
    assert (workplace.address, workplace.lat, workplace.lon) == ("Nygatan 2, Borås", None, None)
    assert workplace.geo_status is GeoStatus.PENDING
    event = events(db_session, "workplace.update")[0]
    assert event.before is not None
    assert event.after is not None
    assert event.before["address"] == "Storgatan 1, 411 38 Göteborg"
    assert event.after == {"address": "Nygatan 2, Borås", "lat": None, "lon": None, "geo_status": "pending"}


def test_new_address_with_coordinates_stays_located(db_session: Session) -> None:
    workplace = f.workplace(db_session, geo_status=GeoStatus.PENDING, lat=None, lon=None)
    employers.update_workplace(db_session, workplace, address="Nygatan 2, Borås", lat=57.72, lon=12.94, actor=audit.CLI)
    assert (workplace.lat, workplace.lon, workplace.geo_status) == (57.72, 12.94, GeoStatus.MANUAL)


def test_unchanged_workplace_writes_no_event(db_session: Session) -> None:
    workplace = f.workplace(db_session)
    employers.update_workplace(db_session, workplace, name=workplace.name, actor=audit.CLI)
    assert events(db_session, "workplace.update") == []


def test_workplace_update_refuses_unknown_fields_and_half_coordinates(db_session: Session) -> None:
    workplace = f.workplace(db_session)
    with pytest.raises(ValidationError, match="cannot change employer_id"):
        employers.update_workplace(db_session, workplace, employer_id=99, actor=audit.CLI)
    with pytest.raises(ValidationError, match="give lat and lon together"):
        employers.update_workplace(db_session, workplace, lat=57.0, actor=audit.CLI)
    assert workplace.lat == 57.705


def test_registration_and_the_import_apply_the_same_rule() -> None:
    """One rule: what registration accepts the employer import accepts, and the other way round."""
    from placement import import_cells
    from placement.employers import imports as employer_import

    for raw in ("165560125790", "556012-5790", "5560125791", "55601-25790", "175560125790", "55601A-5790"):
        try:
            registered: str | None = employers.normalise_org_number(raw)
        except ValidationError:
            registered = None
        try:
            imported: str | None = employer_import._org_number(raw)
        except import_cells.Invalid:
            imported = None
        assert registered == imported, raw
