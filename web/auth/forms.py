from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from placement.organisation import accounts


class LoginForm(FlaskForm):
    email = EmailField(_l("E-post"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Logga in"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Logga ut"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nytt lösenord"),
        validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)],
        description=_l("Minst %(n)d tecken.", n=accounts.MIN_PASSWORD_LENGTH),
    )
    password_again = PasswordField(
        _l("Upprepa lösenordet"),
        validators=[DataRequired(), EqualTo("password", message=_l("Lösenorden är inte lika."))],
    )
    submit = SubmitField(_l("Spara lösenordet"))


def _stripped(value: str | None) -> str | None:
    return value.strip() if value else value


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-post"), validators=[DataRequired(), Email(), Length(max=254)], filters=[_stripped])
    submit = SubmitField(_l("Skicka en länk"))


class AcceptInvitationForm(SetPasswordForm):
    """Accepting an invitation without an account: the name others see, and a password."""

    name = StringField(_l("Ditt namn"), validators=[DataRequired(), Length(max=200)], filters=[_stripped])
    submit = SubmitField(_l("Skapa kontot"))


class JoinForm(FlaskForm):
    """Accepting an invitation with the account one is logged in with."""

    submit = SubmitField(_l("Ta emot inbjudan"))
