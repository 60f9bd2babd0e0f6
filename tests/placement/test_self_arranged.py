"""A school's entry for a pupil's self-arranged placement stays the school's until it is accepted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import self_arranged
from placement.cohorts.self_arranged import SelfArranged
from placement.employers import for_employer, registration
from placement.employers import registry as employers
from placement.enums import EmployerStatus, OfferKind, Role, Sector
from placement.errors import NotFound
from tests import factories as f

ORG = "556677-8899"
ACTOR = audit.Actor("school-test")


def _entry(**overrides: object) -> SelfArranged:
    fields: dict[str, object] = {
        "employer_name": "Mormors Bageri AB",
        "org_number": ORG,
        "address": "Bagargatan 3, 424 85 Angered",
        "title": "Bagarlärling",
        "sector": Sector.HOSPITALITY,
        "supervisor_name": "Greta Mjöl",
        "supervisor_phone": "031-12 34 56",
        "risk_assessed": True,
    }
    return SelfArranged(**(fields | overrides))  # type: ignore[arg-type]


def _pupil(session: Session, school: m.School | None = None) -> m.Pupil:
    klass = f.school_class(session, school=school or f.school(session), period=f.period(session))
    return f.pupil(session, school_class=klass)


def test_an_entry_with_a_registered_companys_number_writes_nothing_into_the_company(db_session: Session) -> None:
    company = f.employer(db_session, org_number=ORG, name="Mormors Bageri AB")
    before = (len(company.workplaces), len(company.offers))
    pupil = _pupil(db_session)
    offer = self_arranged.register_self_arranged(db_session, pupil, _entry(), actor=ACTOR)
    db_session.refresh(company)
    assert (len(company.workplaces), len(company.offers)) == before
    entry = offer.employer
    assert entry is not company
    assert entry.entered_by_school_id == pupil.school_id
    assert entry.is_school_entry
    assert offer.kind is OfferKind.SELF_ARRANGED
    assert pupil.self_arranged_offer_id == offer.id
    # A second pupil of the same school at the same company uses the school's same entry.
    again = self_arranged.register_self_arranged(db_session, _pupil(db_session, pupil.school), _entry(), actor=ACTOR)
    assert again.employer is entry
    # The company's contact sees the entry waiting, with the pupil, and accepts it: it joins the company.
    contact = f.user(db_session, Role.EMPLOYER_CONTACT)
    db_session.add(m.EmployerMembership(user=contact, employer=company))
    db_session.flush()
    [first, _second] = for_employer.school_entries(db_session, contact)
    assert first.pupils == [pupil.full_name]
    assert first.employer is company
    owner = employers.accept_school_entry(
        db_session, for_employer.own_school_entry(db_session, contact, entry.id), actor=ACTOR
    )
    assert owner is company
    db_session.refresh(company)
    assert {o.id for o in company.offers} >= {offer.id, again.id}
    assert db_session.get(m.Employer, entry.id) is None
    assert for_employer.school_entries(db_session, contact) == []


def test_an_entry_never_blocks_the_companys_own_registration_and_a_coordinator_can_accept_it(
    db_session: Session,
) -> None:
    pupil = _pupil(db_session)
    offer = self_arranged.register_self_arranged(db_session, pupil, _entry(), actor=ACTOR)
    entry = offer.employer
    registered = registration.register(
        db_session,
        name="Mormors Bageri AB",
        org_number=ORG,
        contact_name="Greta Mjöl",
        email="greta@mormors.example",
        password="ett-långt-lösenord",
        secret_key="s",
        base_url="http://localhost",
    )
    assert registered is not None
    company, _contact = registered
    assert company.id != entry.id
    assert employers.registered_with(db_session, ORG) is company
    # A coordinator's approval of the entry merges it into the company that registered since.
    owner = employers.approve_employer(db_session, entry, actor=ACTOR)
    assert owner is company
    db_session.refresh(offer)
    assert offer.employer_id == company.id


def test_accepting_an_entry_without_a_registered_company_makes_it_one(db_session: Session) -> None:
    offer = self_arranged.register_self_arranged(db_session, _pupil(db_session), _entry(), actor=ACTOR)
    entry = offer.employer
    accepted = employers.approve_employer(db_session, entry, actor=ACTOR)
    assert accepted is entry
    assert (entry.entered_by_school_id, entry.status) == (None, EmployerStatus.APPROVED)
    assert employers.registered_with(db_session, ORG) is entry
    actions = set(db_session.scalars(select(m.AuditEvent.action)))
    assert {"employer.entry.create", "employer.entry.adopt"} <= actions


def test_another_companys_contact_neither_sees_nor_accepts_the_entry(db_session: Session) -> None:
    offer = self_arranged.register_self_arranged(db_session, _pupil(db_session), _entry(), actor=ACTOR)
    other = f.employer(db_session, org_number="556016-3007")
    contact = f.user(db_session, Role.EMPLOYER_CONTACT)
    db_session.add(m.EmployerMembership(user=contact, employer=other))
    db_session.flush()
    assert for_employer.school_entries(db_session, contact) == []
    with pytest.raises(NotFound):
        for_employer.own_school_entry(db_session, contact, offer.employer_id)


def test_two_registered_employers_cannot_share_a_number_but_schools_entries_can(db_session: Session) -> None:
    f.employer(db_session, org_number=ORG)
    for _ in range(2):
        self_arranged.register_self_arranged(db_session, _pupil(db_session), _entry(), actor=ACTOR)
    assert db_session.scalar(select(func.count(m.Employer.id)).where(m.Employer.org_number == ORG)) == 3
    db_session.add(m.Employer(code="E-dup", name="Dubblett", org_number=ORG))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()
