"""Employer views: organisation and workplaces, offers, demand, the pupils placed with the employer, feedback.

Thin: each view parses its form, calls one service of
``placement.employers.for_employer`` (which checks that the object belongs
to one of the user's employers, else 404), commits, and redirects or renders.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice

from placement import audit
from placement.employers import for_employer as scope
from placement.employers import offers
from placement.employers import registry as employers
from placement.models import Offer, User, Workplace
from placement.organisation import invitations, season
from placement.reports import for_employer as employer_reports
from placement.rounds import answers
from placement.rounds import for_employer as own_placements
from web import people
from web.employer import bp
from web.employer.forms import DeclineForm, FeedbackForm, OfferForm, WithdrawForm, WorkplaceForm, offer_form
from web.extensions import db


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _actor() -> audit.Actor:
    return audit.Actor.of(_user())


# --- placements ------------------------------------------------------------------------------------------------------


@bp.get("/")
def placements() -> ResponseReturnValue:
    return render_template(
        "employer/placements.html",
        lines=own_placements.employer_placements(db, current_user.id),
        feedback=own_placements.feedback_state(db, _user()),
        decline_form=DeclineForm(),
    )


@bp.post("/placements/<int:assignment_id>/confirm")
def confirm(assignment_id: int) -> ResponseReturnValue:
    assignment = own_placements.own_assignment(db, _user(), assignment_id)
    if FlaskForm().validate_on_submit():
        answers.confirm(db, assignment, actor=_actor(), base_url=current_app.config["BASE_URL"])
        db.commit()
        flash(_("Placeringen är bekräftad."), "info")
    return redirect(url_for(".placements"))


@bp.post("/placements/<int:assignment_id>/decline")
def decline(assignment_id: int) -> ResponseReturnValue:
    assignment = own_placements.own_assignment(db, _user(), assignment_id)
    form = DeclineForm()
    if form.validate_on_submit():
        answers.decline(db, assignment, form.reason.data or "", actor=_actor())
        db.commit()
        flash(_("Ni har avböjt placeringen. Samordnaren placerar eleven på nytt."), "info")
    else:
        flash(_("Skriv ett skäl till att ni avböjer."), "error")
    return redirect(url_for(".placements"))


@bp.route("/placements/<int:assignment_id>/feedback", methods=["GET", "POST"])
def feedback(assignment_id: int) -> ResponseReturnValue:
    user = _user()
    assignment = own_placements.feedback_target(db, user, assignment_id)
    form = FeedbackForm()
    if form.validate_on_submit():
        own_placements.give_feedback(
            db, user, assignment.id, rating=int(form.rating.data or 0), comment=form.comment.data or ""
        )
        db.commit()
        flash(_("Tack för ert omdöme!"), "info")
        return redirect(url_for(".placements"))
    pupil = assignment.pupil
    return render_template(
        "employer/feedback.html",
        form=form,
        assignment=assignment,
        pupil_name=pupil.full_name,
        school=pupil.school.name,
        class_name=pupil.school_class.name,
    ), 400 if form.errors else 200


# --- organisation and workplaces -------------------------------------------------------------------------------------


@bp.get("/organisation")
def organisation() -> ResponseReturnValue:
    return render_template(
        "employer/organisation.html",
        employers=scope.own_employers(db, _user()),
        entries=scope.school_entries(db, _user()),
    )


@bp.post("/entries/<int:entry_id>/accept")
def accept_entry(entry_id: int) -> ResponseReturnValue:
    """Take a placement a school entered for a pupil into the employer's own records."""
    entry = scope.own_school_entry(db, _user(), entry_id)
    if FlaskForm().validate_on_submit():
        name = employers.accept_school_entry(db, entry, actor=_actor()).name
        db.commit()
        flash(_("Placeringen hör nu till %(name)s.", name=name), "info")
    return redirect(url_for(".organisation"))


# --- colleagues ------------------------------------------------------------------------------------------------------


@bp.get("/colleagues")
def colleagues() -> ResponseReturnValue:
    """The contacts of the user's employers, the invitations to them, and a form to invite a colleague to each."""
    places = []
    for employer in scope.own_employers(db, _user()):
        members, sent = scope.colleagues(db, _user(), employer.id)
        places.append((employer, members, sent, people.states(sent)))
    return render_template(
        "employer/colleagues.html", places=places, form=people.InviteForm(), days=invitations.MAX_AGE.days
    )


@bp.post("/employers/<int:employer_id>/invitations")
def invite(employer_id: int) -> ResponseReturnValue:
    scope.own_employer(db, _user(), employer_id)
    people.send_invitation(functools.partial(scope.invite_colleague, db, _user(), employer_id))
    return redirect(url_for(".colleagues"))


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_invitation(invitation_id: int) -> ResponseReturnValue:
    invitation = scope.own_invitation(db, _user(), invitation_id)
    if FlaskForm().validate_on_submit():
        invitations.resend(
            db,
            invitation,
            actor=_actor(),
            secret_key=current_app.config["SECRET_KEY"],
            base_url=current_app.config["BASE_URL"],
        )
        db.commit()
        flash(
            _("Inbjudan till %(email)s är skickad igen; den förra länken slutar gälla.", email=invitation.email), "info"
        )
    return redirect(url_for(".colleagues"))


@bp.post("/invitations/<int:invitation_id>/withdraw")
def withdraw_invitation(invitation_id: int) -> ResponseReturnValue:
    invitation = scope.own_invitation(db, _user(), invitation_id)
    if FlaskForm().validate_on_submit():
        invitations.withdraw(db, invitation, actor=_actor())
        db.commit()
        flash(_("Inbjudan till %(email)s är återkallad.", email=invitation.email), "info")
    return redirect(url_for(".colleagues"))


@bp.post("/employers/<int:employer_id>/contacts/<int:contact_id>/remove")
def remove_colleague(employer_id: int, contact_id: int) -> ResponseReturnValue:
    if FlaskForm().validate_on_submit():
        scope.remove_colleague(db, _user(), employer_id, contact_id)
        db.commit()
        flash(_("Personen är borttagen som kontaktperson och utloggad."), "info")
    return redirect(url_for(".colleagues"))


def _workplace_form(obj: Workplace | None = None) -> WorkplaceForm:
    form = WorkplaceForm(obj=obj)
    own = scope.own_employers(db, _user())
    form.employer.choices = [SelectChoice(e.id, e.name) for e in own]
    if obj is not None:
        form.employer.choices = [SelectChoice(obj.employer_id, obj.employer.name)]
        form.employer.data = obj.employer_id
    elif len(own) == 1 and form.employer.data is None:
        form.employer.data = own[0].id
    return form


@bp.route("/workplaces/new", methods=["GET", "POST"])
def new_workplace() -> ResponseReturnValue:
    form = _workplace_form()
    if form.validate_on_submit():
        workplace = employers.add_workplace(
            db,
            scope.own_employer(db, _user(), form.employer.data),
            name=form.name.data or "",
            address=form.address.data or "",
            lat=form.lat.data,
            lon=form.lon.data,
            actor=_actor(),
        )
        db.commit()
        flash(_("Arbetsplatsen är sparad."), "info")
        return redirect(url_for(".workplace", workplace_id=workplace.id))
    return render_template("employer/workplace.html", form=form, workplace=None), 400 if form.errors else 200


@bp.route("/workplaces/<int:workplace_id>", methods=["GET", "POST"])
def workplace(workplace_id: int) -> ResponseReturnValue:
    found = scope.own_workplace(db, _user(), workplace_id)
    form = _workplace_form(found)
    if form.validate_on_submit():
        # Without coordinates a changed address waits for the geocoder; an unchanged one keeps its place.
        given = form.lat.data is not None or form.lon.data is not None
        coordinates = {"lat": form.lat.data, "lon": form.lon.data} if given else {}
        employers.update_workplace(
            db, found, actor=_actor(), name=form.name.data or "", address=form.address.data or "", **coordinates
        )
        db.commit()
        flash(_("Arbetsplatsen är sparad."), "info")
        return redirect(url_for(".workplace", workplace_id=found.id))
    markers = []
    if found.lat is not None and found.lon is not None:
        markers = [{"lat": found.lat, "lon": found.lon, "label": found.name}]
    return render_template(
        "employer/workplace.html", form=form, workplace=found, markers=markers
    ), 400 if form.errors else 200


# --- offers ----------------------------------------------------------------------------------------------------------


@bp.get("/offers")
def offer_list() -> ResponseReturnValue:
    user = _user()
    return render_template(
        "employer/offers.html",
        rows=scope.offer_rows(db, user),
        periods=season.periods(db),
        employers=scope.own_employers(db, user),
        has_workplaces=bool(scope.own_workplaces(db, user)),
    )


def _offer_form(offer: Offer | None) -> OfferForm:
    user = _user()
    form = offer_form(season.periods(db))
    own = scope.own_workplaces(db, user)
    several = len({w.employer_id for w in own}) > 1
    form.workplace.choices = [
        SelectChoice(w.id, f"{w.name}, {w.employer.name}" if several else w.name)
        for w in own
        if offer is None or w.employer_id == offer.employer_id
    ]
    if request.method == "GET" and offer is not None:
        form.title.data = offer.title
        form.description.data = offer.description
        form.sector.data = offer.sector.value
        form.workplace.data = offer.workplace_id
        form.min_age.data = offer.min_age
        form.requirements.data = ", ".join(offer.requirements or [])
        form.hours.data = offer.hours
        form.bring.data = offer.bring
        form.supervisor_name.data = offer.supervisor_name
        form.supervisor_phone.data = offer.supervisor_phone
        form.supervisor_email.data = offer.supervisor_email
        form.risk_assessment.data = offer.risk_assessment_confirmed_at is not None
        places = {c.period_id: c.places for c in offer.capacities}
        for period, field in form.places_fields():
            field.data = places.get(period.id, 0)
    return form


def _save(form: OfferForm, offer_id: int | None) -> Offer:
    return scope.save_offer(
        db,
        _user(),
        offer_id,
        workplace_id=form.workplace.data,
        title=form.title.data or "",
        description=form.description.data or "",
        sector=form.sector.data or "",
        min_age=form.min_age.data,
        requirements=form.requirement_tags(),
        hours=form.hours.data,
        bring=form.bring.data,
        supervisor_name=form.supervisor_name.data,
        supervisor_phone=form.supervisor_phone.data,
        supervisor_email=form.supervisor_email.data,
        places=form.places(),
        risk_assessment=bool(form.risk_assessment.data),
    )


def _offer_page(form: OfferForm, offer: Offer | None, **context: Any) -> ResponseReturnValue:
    return render_template(
        "employer/offer.html",
        form=form,
        offer=offer,
        problem=scope.visibility_code(offer) if offer is not None else None,
        **context,
    ), 400 if form.errors else 200


@bp.route("/offers/new", methods=["GET", "POST"])
def new_offer() -> ResponseReturnValue:
    form = _offer_form(None)
    if not form.workplace.choices:
        flash(_("Lägg till en arbetsplats innan du lägger upp ett erbjudande."), "info")
        return redirect(url_for(".new_workplace"))
    if form.validate_on_submit():
        offer = _save(form, None)
        db.commit()
        flash(_("Erbjudandet är sparat."), "info")
        return redirect(url_for(".offer", offer_id=offer.id))
    return _offer_page(form, None)


@bp.route("/offers/<int:offer_id>", methods=["GET", "POST"])
def offer(offer_id: int) -> ResponseReturnValue:
    found = scope.own_offer(db, _user(), offer_id)
    form = _offer_form(found)
    if form.validate_on_submit():
        _save(form, found.id)
        db.commit()
        flash(_("Erbjudandet är sparat."), "info")
        return redirect(url_for(".offer", offer_id=found.id))
    return _offer_page(form, found, withdraw_form=WithdrawForm(), withdrawal=offers.withdrawal(db, found))


@bp.post("/offers/<int:offer_id>/withdraw")
def withdraw_offer(offer_id: int) -> ResponseReturnValue:
    found = scope.own_offer(db, _user(), offer_id)
    form = WithdrawForm()
    if form.validate_on_submit():
        offers.withdraw_offer(db, found, actor=_actor(), reason=form.reason.data or "")
        db.commit()
        flash(_("Erbjudandet är tillbakadraget. Eleverna ser det inte längre."), "info")
    else:
        flash(_("Skriv varför ni drar tillbaka erbjudandet."), "error")
    return redirect(url_for(".offer", offer_id=found.id))


# --- demand ----------------------------------------------------------------------------------------------------------


@bp.get("/demand")
def demand() -> ResponseReturnValue:
    return render_template("employer/demand.html", demand=employer_reports.demand(db, _user()))
