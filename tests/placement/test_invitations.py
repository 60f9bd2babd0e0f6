"""Invitations: a stored, mailed, signed link that works once, expires, can be resent and withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.enums import MailKind, Role
from placement.errors import Conflict, NotFound, ValidationError
from placement.organisation import accounts, invitations
from placement.organisation.invitations import State, Target
from tests import factories as f

SECRET = "invitation-secret"
BASE = "https://praktik.example"
PASSWORD = "ett-långt-lösenord"


def _invite(session: Session, target: Target, email: str = "asa@skola.example", **kw: object) -> m.Invitation:
    inviter = kw.pop("invited_by", None) or f.user(session, Role.COORDINATOR, display_name="Kim Samordnare")
    return invitations.invite(
        session, target, email=email, name="Åsa Ö", invited_by=inviter, secret_key=SECRET, base_url=BASE, **kw
    )


def _token(invitation: m.Invitation) -> str:
    return invitations.link_for(invitation, secret_key=SECRET, base_url=BASE).rsplit("/", 1)[1]


def test_an_invitation_is_mailed_and_creates_the_account_and_membership_once(db_session: Session) -> None:
    school = f.school(db_session, name="Ängsskolan")
    invitation = _invite(db_session, Target.school_staff(school), email=" Asa@Skola.Example ")
    assert invitation.email == "asa@skola.example"
    [message] = db_session.scalars(select(m.OutboxMessage)).all()
    assert message.kind is MailKind.INVITATION
    assert message.recipient == "asa@skola.example"
    assert "Kim Samordnare" in message.body
    assert "som personal på Ängsskolan" in message.body
    assert invitations.link_for(invitation, secret_key=SECRET, base_url=BASE) in message.body

    token = _token(invitation)
    user = invitations.accept_new(db_session, token, secret_key=SECRET, name=" Åsa Öberg ", password=PASSWORD)
    assert (user.role, user.display_name, user.email_verified_at is not None) == (Role.SCHOOL_STAFF, "Åsa Öberg", True)
    assert [ms.school_id for ms in user.school_memberships] == [school.id]
    assert accounts.authenticate(db_session, "asa@skola.example", PASSWORD) is user
    assert invitations.state(invitation) is State.ACCEPTED
    with pytest.raises(NotFound, match="accepted"):
        invitations.accept_new(db_session, token, secret_key=SECRET, name="X", password=PASSWORD)
    actions = set(db_session.scalars(select(m.AuditEvent.action)))
    assert {"invitation.create", "invitation.accept", "user.create"} <= actions


def test_a_link_is_refused_when_expired_tampered_with_replaced_by_a_resend_or_withdrawn(db_session: Session) -> None:
    employer = f.employer(db_session)
    invitation = _invite(db_session, Target.employer_contact(employer), email="per@bageriet.example")
    first = _token(invitation)
    with pytest.raises(NotFound):
        invitations.invitation_for(db_session, first[:-3] + "abc", secret_key=SECRET)
    with pytest.raises(NotFound):
        invitations.invitation_for(db_session, first, secret_key="another-key")

    invitations.resend(db_session, invitation, actor=audit.CLI, secret_key=SECRET, base_url=BASE)
    second = _token(invitation)
    assert second != first
    with pytest.raises(NotFound, match="newer"):
        invitations.invitation_for(db_session, first, secret_key=SECRET)
    assert invitations.invitation_for(db_session, second, secret_key=SECRET) is invitation
    assert db_session.query(m.OutboxMessage).count() == 2  # the resend mailed the new link

    invitation.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db_session.flush()
    assert invitations.state(invitation) is State.EXPIRED
    with pytest.raises(ValidationError, match="expired"):
        invitations.invitation_for(db_session, second, secret_key=SECRET)
    invitations.resend(db_session, invitation, actor=audit.CLI, secret_key=SECRET, base_url=BASE)
    assert invitations.state(invitation) is State.PENDING  # a resend revives an expired invitation

    invitations.withdraw(db_session, invitation, actor=audit.CLI)
    with pytest.raises(NotFound, match="withdrawn"):
        invitations.invitation_for(db_session, _token(invitation), secret_key=SECRET)
    with pytest.raises(Conflict):
        invitations.resend(db_session, invitation, actor=audit.CLI, secret_key=SECRET, base_url=BASE)


def test_an_address_with_an_account_joins_with_it_and_an_account_of_another_kind_is_refused(
    db_session: Session,
) -> None:
    first, second = f.school(db_session), f.school(db_session)
    staff = f.user(db_session, Role.SCHOOL_STAFF, email="asa@skola.example")
    db_session.add(m.SchoolMembership(user=staff, school=first))
    db_session.flush()
    invitation = _invite(db_session, Target.school_staff(second))
    token = _token(invitation)
    with pytest.raises(Conflict, match="log in"):
        invitations.accept_new(db_session, token, secret_key=SECRET, name="Åsa", password=PASSWORD)
    other = f.user(db_session, Role.SCHOOL_STAFF, email="other@skola.example")
    with pytest.raises(NotFound, match="another address"):
        invitations.accept_existing(db_session, token, other, secret_key=SECRET)
    invitations.accept_existing(db_session, token, staff, secret_key=SECRET)
    db_session.refresh(staff)
    assert {ms.school_id for ms in staff.school_memberships} == {first.id, second.id}

    contact = f.user(db_session, Role.EMPLOYER_CONTACT, email="per@bageriet.example")
    wrong_kind = _invite(db_session, Target.school_staff(second), email="per@bageriet.example")
    with pytest.raises(Conflict, match="another kind"):
        invitations.accept_existing(db_session, _token(wrong_kind), contact, secret_key=SECRET)


def test_inviting_a_member_or_someone_invited_already_is_refused(db_session: Session) -> None:
    school = f.school(db_session)
    staff = f.user(db_session, Role.SCHOOL_STAFF, email="asa@skola.example")
    db_session.add(m.SchoolMembership(user=staff, school=school))
    db_session.flush()
    with pytest.raises(Conflict, match="member already"):
        _invite(db_session, Target.school_staff(school), email="ASA@skola.example")
    _invite(db_session, Target.school_staff(school), email="bo@skola.example")
    with pytest.raises(Conflict, match="invited already"):
        _invite(db_session, Target.school_staff(school), email="bo@skola.example")
    # To another school, or once the first has been withdrawn, it can be sent.
    _invite(db_session, Target.school_staff(f.school(db_session)), email="bo@skola.example")
    with pytest.raises(ValidationError, match="email"):
        _invite(db_session, Target.school_staff(school), email="inte-en-adress")


def test_a_coordinator_invitation_gives_the_municipality_scope_and_removing_a_member_ends_sessions(
    db_session: Session,
) -> None:
    ale = f.municipality(db_session, name="Ale")
    invitation = _invite(db_session, Target.coordinator(ale), email="lo@ale.example")
    user = invitations.accept_new(db_session, _token(invitation), secret_key=SECRET, name="Lo", password=PASSWORD)
    assert (user.role, user.municipality_id) == (Role.COORDINATOR, ale.id)

    school = f.school(db_session)
    staff = f.user(db_session, Role.SCHOOL_STAFF)
    membership = m.SchoolMembership(user=staff, school=school)
    db_session.add(membership)
    db_session.flush()
    before = staff.get_id()
    invitations.remove_school_member(db_session, membership, actor=audit.CLI)
    assert staff.get_id() != before  # the session cookie of the old version is void
    assert staff.school_memberships == []


def test_ended_invitations_are_deleted_with_their_address_after_thirty_days(db_session: Session) -> None:
    school = f.school(db_session)
    now = dt.datetime.now(dt.UTC)
    pending, accepted, withdrawn, expired = (
        _invite(db_session, Target.school_staff(school), email=f"{name}@skola.example")
        for name in ("pending", "accepted", "withdrawn", "expired")
    )
    accepted.accepted_at = now - dt.timedelta(days=31)
    withdrawn.withdrawn_at = now - dt.timedelta(days=31)
    expired.expires_at = now - dt.timedelta(days=31)
    recent = _invite(db_session, Target.school_staff(school), email="recent@skola.example")
    recent.withdrawn_at = now - dt.timedelta(days=29)
    db_session.flush()
    assert invitations.prune(db_session, now) == 3
    left = set(db_session.scalars(select(m.Invitation.email)))
    assert left == {pending.email, recent.email}
