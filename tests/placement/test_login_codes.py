"""Pupils' login codes: issued once in plain text, found by their first group, revoked at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.errors import NotFound
from placement.organisation.accounts import AuthenticationFailed
from tests import factories as f

STAFF = audit.Actor("user:7")


def test_an_issued_code_logs_the_pupil_in_however_it_is_typed(db_session: Session) -> None:
    pupil = f.pupil(db_session, first_name="Åsa", last_name="Öberg")
    issued = login_codes.issue(db_session, pupil, actor=STAFF)

    assert issued.pupil_name == "Åsa Öberg"
    groups = issued.code.split("-")
    assert [len(g) for g in groups] == [4, 4, 4]
    assert set(issued.code.replace("-", "")) <= set(login_codes.ALPHABET)
    user = login_codes.authenticate(db_session, issued.code.lower().replace("-", " "))
    assert user.pupil_id == pupil.id
    stored = db_session.scalars(select(m.User).where(m.User.pupil_id == pupil.id)).one()
    assert stored.login_code_hash is not None
    assert issued.code not in stored.login_code_hash
    assert stored.login_code_id == groups[0]


def test_a_wrong_code_and_a_code_of_nobody_fail_alike(db_session: Session) -> None:
    pupil = f.pupil(db_session)
    issued = login_codes.issue(db_session, pupil, actor=STAFF)
    wrong_secret = issued.code[:-1] + ("A" if issued.code[-1] != "A" else "B")
    for attempt in (wrong_secret, "ZZZZ-ZZZZ-ZZZZ", "", "x"):
        with pytest.raises(AuthenticationFailed, match="wrong credentials"):
            login_codes.authenticate(db_session, attempt)


def test_reissuing_voids_the_old_code_and_its_sessions(db_session: Session) -> None:
    pupil = f.pupil(db_session)
    first = login_codes.issue(db_session, pupil, actor=STAFF)
    version = login_codes.authenticate(db_session, first.code).session_version
    second = login_codes.issue(db_session, pupil, actor=STAFF)

    with pytest.raises(AuthenticationFailed):
        login_codes.authenticate(db_session, first.code)
    user = login_codes.authenticate(db_session, second.code)
    assert user.session_version > version
    actions = db_session.scalars(select(m.AuditEvent.action).where(m.AuditEvent.entity_id == pupil.id)).all()
    assert actions.count("pupil.login_code.issue") == 2


def test_a_revoked_code_stops_working(db_session: Session) -> None:
    pupil = f.pupil(db_session)
    issued = login_codes.issue(db_session, pupil, actor=STAFF)
    assert login_codes.has_code(db_session, [pupil.id]) == {pupil.id}
    login_codes.revoke(db_session, pupil, actor=STAFF)
    assert login_codes.has_code(db_session, [pupil.id]) == set()
    with pytest.raises(AuthenticationFailed):
        login_codes.authenticate(db_session, issued.code)
    with pytest.raises(NotFound):
        login_codes.revoke(db_session, pupil, actor=STAFF)


def test_an_inactive_account_cannot_log_in_with_its_code(db_session: Session) -> None:
    pupil = f.pupil(db_session)
    issued = login_codes.issue(db_session, pupil, actor=STAFF)
    login_codes.pupil_account(db_session, pupil).active = False
    with pytest.raises(AuthenticationFailed):
        login_codes.authenticate(db_session, issued.code)


def test_codes_are_hashed_at_their_own_cost_and_unknown_codes_cost_the_same(db_session: Session) -> None:
    """A known and an unknown code are compared against hashes of one kind, so their answers take as long."""
    pupil = f.pupil(db_session)
    issued = login_codes.issue(db_session, pupil, actor=STAFF)
    method = login_codes.CODE_HASH_METHOD + "$"
    user = login_codes.credentials(db_session, issued.code)
    assert user.secret_hash is not None
    assert user.secret_hash.startswith(method)
    nobody = login_codes.credentials(db_session, "ZZZZ-ZZZZ-ZZZZ")
    assert nobody.user is None
    assert nobody.dummy_hash.startswith(method)
    assert login_codes.authenticate(db_session, issued.code).pupil_id == pupil.id
