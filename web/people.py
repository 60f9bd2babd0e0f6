"""What the three places that manage people share: the invitation form and how an invitation's state reads.

School staff (their colleagues), employer contacts (theirs) and coordinators
(school staff, employer contacts and other coordinators) each list the
people of a place, the invitations to it, and invite someone; the pages use
the macro in ``templates/_people.html`` with these.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from placement.models import Invitation
from placement.organisation import invitations


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
