"""What the three places that manage people share: the invitation form and how an invitation's state reads.

School staff (their colleagues), employer contacts (theirs) and coordinators
(school staff, employer contacts and other coordinators) each list the
people of a place, the invitations to it, and invite someone; the pages use
the macro in ``templates/_people.html`` with these.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, flash
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from placement.models import Invitation
from placement.organisation import invitations
from web.extensions import db


def _stripped(value: str | None) -> str | None:
    return value.strip() if value else value


class InviteForm(FlaskForm):
    name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=200)], filters=[_stripped])
    email = EmailField(_l("E-post"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_stripped])
    submit = SubmitField(_l("Skicka inbjudan"))


class CoordinatorInviteForm(InviteForm):
    #: 0 is the whole region; the choices are the municipalities the inviting coordinator reaches.
    municipality = SelectField(_l("Samordnare för"), coerce=int)


def states(rows: list[Invitation]) -> dict[int, invitations.State]:
    """Each invitation's state now, by id, for the list of invitations."""
    return {row.id: invitations.state(row) for row in rows}


def flash_problems(form: FlaskForm) -> None:
    """Each problem of a form that failed its checks, as a message naming its field."""
    for name, errors in form.errors.items():
        for error in errors:
            flash(f"{getattr(form, name).label.text}: {error}", "error")


def send_invitation(invite: Callable[..., Invitation], form: InviteForm | None = None) -> None:
    """Check the invitation form and send it through ``invite`` (a scoped ``invite`` taking the form's fields).

    ``invite`` is called with ``email``, ``name``, ``secret_key`` and
    ``base_url``; the transaction is committed and the user told, or the
    form's problems are flashed.
    """
    form = form or InviteForm()
    if not form.validate_on_submit():
        flash_problems(form)
        return
    invitation = invite(
        email=form.email.data or "",
        name=form.name.data or "",
        secret_key=current_app.config["SECRET_KEY"],
        base_url=current_app.config["BASE_URL"],
    )
    db.commit()
    flash(_("Inbjudan till %(email)s är skickad.", email=invitation.email), "info")
