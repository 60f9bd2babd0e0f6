from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, Email, Length


class LoginForm(FlaskForm):
    email = EmailField(_l("E-post"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Lösenord"), validators=[DataRequired(), Length(max=256)])
    submit = SubmitField(_l("Logga in"))


class LogoutForm(FlaskForm):
    submit = SubmitField(_l("Logga ut"))
