"""Employer views: the pupils placed with the employer, to confirm or decline."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from placement.models import Assignment
from placement.services import assignments, audit
from web.employer import bp
from web.extensions import db


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Skäl till att ni avböjer"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Avböj"))


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user._get_current_object())


def _own(assignment_id: int) -> Assignment:
    """The placement, if it is at one of the user's employers; 404 otherwise."""
    assignment = assignments.for_employer_user(db, current_user.id, assignment_id)
    if assignment is None:
        abort(404)
    return assignment


@bp.get("/")
def placements() -> ResponseReturnValue:
    return render_template(
        "employer/placements.html",
        lines=assignments.employer_placements(db, current_user.id),
        decline_form=DeclineForm(),
    )


@bp.post("/placements/<int:assignment_id>/confirm")
def confirm(assignment_id: int) -> ResponseReturnValue:
    assignment = _own(assignment_id)
    if FlaskForm().validate_on_submit():
        assignments.confirm(db, assignment, actor=_actor(), base_url=current_app.config["BASE_URL"])
        db.commit()
        flash(_("Placeringen är bekräftad."), "info")
    return redirect(url_for(".placements"))


@bp.post("/placements/<int:assignment_id>/decline")
def decline(assignment_id: int) -> ResponseReturnValue:
    assignment = _own(assignment_id)
    form = DeclineForm()
    if form.validate_on_submit():
        assignments.decline(db, assignment, form.reason.data or "", actor=_actor())
        db.commit()
        flash(_("Ni har avböjt placeringen. Samordnaren placerar eleven på nytt."), "info")
    else:
        flash(_("Skriv ett skäl till att ni avböjer."), "error")
    return redirect(url_for(".placements"))
