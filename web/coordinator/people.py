"""Coordinator views of people: other coordinators, a school's staff, the employers and their contacts, and invitations.

Thin: each view finds its record through ``placement.organisation.for_coordinator``
(a municipality's coordinator reaches its own municipality only; anything else
is 404), calls one service and commits.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from placement import audit
from placement.employers import registry as employers
from placement.models import Invitation, User
from placement.organisation import for_coordinator as scope
from placement.organisation import invitations
from web import people
from web.coordinator import bp
from web.coordinator.forms import ActionForm
from web.extensions import db

#: The municipality choice that stands for the whole region.
REGION = 0


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _links() -> dict[str, Any]:
    return {"secret_key": current_app.config["SECRET_KEY"], "base_url": current_app.config["BASE_URL"]}


def _coordinator_form() -> people.CoordinatorInviteForm:
    form = people.CoordinatorInviteForm()
    places = [SelectChoice(m.id, m.name) for m in scope.municipalities(db, _user())]
    form.municipality.choices = (
        [SelectChoice(REGION, _("hela regionen")), *places] if scope.is_regional(_user()) else places
    )
    return form


@bp.get("/people")
def people_page() -> ResponseReturnValue:
    members, sent = scope.coordinators(db, _user())
    return render_template(
        "coordinator/people.html",
        members=members,
        sent=sent,
        states=people.states(sent),
        form=_coordinator_form(),
        days=invitations.MAX_AGE.days,
    )


@bp.post("/people/invitations")
def invite_coordinator() -> ResponseReturnValue:
    form = _coordinator_form()

    def invite(**fields: str) -> Invitation:
        target = scope.coordinator_target(db, _user(), form.municipality.data or None)
        return invitations.invite(db, target, invited_by=_user(), **fields)

    people.send_invitation(invite, form)
    return redirect(url_for(".people_page"))


@bp.post("/people/<int:coordinator_id>/remove")
def remove_coordinator(coordinator_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    member = scope.remove_coordinator(db, _user(), coordinator_id)
    db.commit()
    flash(_("%(name)s är inte längre samordnare och är utloggad.", name=member.display_name), "info")
    return redirect(url_for(".people_page"))


def _back(invitation: Invitation) -> str:
    if invitation.school_id is not None:
        return url_for(".school_staff", school_id=invitation.school_id)
    if invitation.employer_id is not None:
        return url_for(".employer_contacts", employer_id=invitation.employer_id)
    return url_for(".people_page")


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_invitation(invitation_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    invitation = scope.invitation_for(db, _user(), invitation_id)
    invitations.resend(db, invitation, actor=audit.Actor.of(_user()), **_links())
    db.commit()
    flash(_("Inbjudan till %(email)s är skickad igen; den förra länken slutar gälla.", email=invitation.email), "info")
    return redirect(_back(invitation))


@bp.post("/invitations/<int:invitation_id>/withdraw")
def withdraw_invitation(invitation_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    invitation = invitations.withdraw(
        db, scope.invitation_for(db, _user(), invitation_id), actor=audit.Actor.of(_user())
    )
    db.commit()
    flash(_("Inbjudan till %(email)s är återkallad.", email=invitation.email), "info")
    return redirect(_back(invitation))


# --- a school's staff and an employer's contacts --------------------------------------------------------------------


def _place_page(
    target: invitations.Target, *, invite_url: str, remove: str, member: str, place: dict[str, int], lead: str
) -> str:
    """The people of a school or an employer, the invitations to it and the form to invite someone."""
    sent = invitations.invitations_to(db, target)
    return render_template(
        "coordinator/place_people.html",
        title=target.organisation,
        members=invitations.members_of(db, target),
        sent=sent,
        states=people.states(sent),
        form=people.InviteForm(),
        invite_url=invite_url,
        remove=remove,
        member=member,
        place=place,
        days=invitations.MAX_AGE.days,
        lead=lead,
    )


def _invite_to(target: invitations.Target) -> None:
    people.send_invitation(functools.partial(invitations.invite, db, target, invited_by=_user()))


@bp.get("/schools/<int:school_id>/staff")
def school_staff(school_id: int) -> ResponseReturnValue:
    school = scope.school_for(db, _user(), school_id)
    return _place_page(
        invitations.Target.school_staff(school),
        invite_url=url_for(".invite_school_staff", school_id=school.id),
        remove="coordinator.remove_school_staff",
        member="staff_id",
        place={"school_id": school.id},
        lead=_("Personal på skolan lägger in klasser och elever och följer elevernas val."),
    )


@bp.post("/schools/<int:school_id>/staff/invitations")
def invite_school_staff(school_id: int) -> ResponseReturnValue:
    _invite_to(invitations.Target.school_staff(scope.school_for(db, _user(), school_id)))
    return redirect(url_for(".school_staff", school_id=school_id))


@bp.post("/schools/<int:school_id>/staff/<int:staff_id>/remove")
def remove_school_staff(school_id: int, staff_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    scope.remove_school_member(db, _user(), school_id, staff_id)
    db.commit()
    flash(_("Personen är borttagen från skolan och utloggad."), "info")
    return redirect(url_for(".school_staff", school_id=school_id))


@bp.get("/employers")
def employer_list() -> ResponseReturnValue:
    """The registered employers the coordinator reaches, with their contacts and active offers."""
    return render_template(
        "coordinator/employers.html", lines=employers.employer_lines(db, scope.municipality_of(_user()))
    )


@bp.get("/employers/<int:employer_id>/contacts")
def employer_contacts(employer_id: int) -> ResponseReturnValue:
    employer = scope.employer_for(db, _user(), employer_id)
    return _place_page(
        invitations.Target.employer_contact(employer),
        invite_url=url_for(".invite_employer_contact", employer_id=employer.id),
        remove="coordinator.remove_employer_contact",
        member="contact_id",
        place={"employer_id": employer.id},
        lead=_("Kontaktpersoner lägger upp erbjudanden och svarar på vilka elever arbetsgivaren tar emot."),
    )


@bp.post("/employers/<int:employer_id>/contacts/invitations")
def invite_employer_contact(employer_id: int) -> ResponseReturnValue:
    _invite_to(invitations.Target.employer_contact(scope.employer_for(db, _user(), employer_id)))
    return redirect(url_for(".employer_contacts", employer_id=employer_id))


@bp.post("/employers/<int:employer_id>/contacts/<int:contact_id>/remove")
def remove_employer_contact(employer_id: int, contact_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    scope.remove_employer_member(db, _user(), employer_id, contact_id)
    db.commit()
    flash(_("Personen är borttagen som kontaktperson och utloggad."), "info")
    return redirect(url_for(".employer_contacts", employer_id=employer_id))
