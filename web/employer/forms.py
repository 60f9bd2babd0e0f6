"""Forms of the employer's pages and of the public registration.  Validators mirror the services' checks."""

from __future__ import annotations

from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    FloatField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms import ValidationError as FieldError
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, NumberRange, Optional

from placement.employers import offers
from placement.employers import registry as employers
from placement.models import Period
from placement.organisation import accounts
from web.labels import SECTORS

#: A sanity bound on places per period (the database only requires 0 or more: ``places_not_negative``).
MAX_PLACES = 200


def _org_number(form: FlaskForm, field: Field) -> None:
    """The rule of ``employers.normalise_org_number``, its two failures in the user's language."""
    try:
        field.data = employers.normalise_org_number(field.data or "")
    except employers.OrgNumberError as exc:
        if exc.reason == "format":
            raise FieldError(_l("Skriv organisationsnumret med 10 siffror, till exempel 556677-8899.")) from exc
        raise FieldError(_l("Kontrollsiffran stämmer inte. Kontrollera att numret är rätt skrivet.")) from exc


class SignupForm(FlaskForm):
    name = StringField(_l("Organisationens namn"), validators=[DataRequired(), Length(max=200)])
    org_number = StringField(
        _l("Organisationsnummer"),
        validators=[DataRequired(), Length(max=13), _org_number],
        description=_l("10 siffror, till exempel 556677-8899."),
    )
    contact_name = StringField(_l("Ditt namn"), validators=[DataRequired(), Length(max=200)])
    phone = StringField(_l("Telefon (frivilligt)"), validators=[Optional(), Length(max=40)])
    email = EmailField(_l("E-postadress"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Lösenord"),
        validators=[DataRequired(), Length(min=accounts.MIN_PASSWORD_LENGTH, max=200)],
        description=_l("Minst %(n)d tecken.", n=accounts.MIN_PASSWORD_LENGTH),
    )
    password_again = PasswordField(
        _l("Lösenord igen"),
        validators=[DataRequired(), EqualTo("password", message=_l("Lösenorden är inte lika."))],
    )
    submit = SubmitField(_l("Registrera"))


class ResendForm(FlaskForm):
    email = EmailField(_l("E-postadress"), validators=[DataRequired(), Email(), Length(max=254)])
    submit = SubmitField(_l("Skicka en ny länk"))


def _both_or_neither(form: WorkplaceForm, field: Field) -> None:
    if (form.lat.data is None) != (form.lon.data is None):
        raise FieldError(_l("Fyll i både latitud och longitud, eller ingen av dem."))


class WorkplaceForm(FlaskForm):
    employer = SelectField(_l("Organisation"), coerce=int, validators=[InputRequired()])
    name = StringField(_l("Arbetsplatsens namn"), validators=[DataRequired(), Length(max=200)])
    address = StringField(
        _l("Adress"),
        validators=[DataRequired(), Length(max=300)],
        description=_l("Gatuadress, postnummer och ort, till exempel Storgatan 1, 411 38 Göteborg."),
    )
    # Mirrors the ``lat_range`` and ``lon_range`` constraints of workplace.
    lat = FloatField(_l("Latitud (frivilligt)"), validators=[Optional(), NumberRange(-90, 90), _both_or_neither])
    lon = FloatField(_l("Longitud (frivilligt)"), validators=[Optional(), NumberRange(-180, 180)])
    submit = SubmitField(_l("Spara arbetsplatsen"))


class OfferForm(FlaskForm):
    """The offer's fields; :func:`offer_form` adds one places field per period."""

    title = StringField(_l("Rubrik"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(
        _l("Beskrivning"),
        validators=[DataRequired(), Length(max=5000)],
        description=_l("Vad eleven får göra och se under praon."),
    )
    sector = SelectField(
        _l("Bransch"),
        choices=[SelectChoice(sector.value, label) for sector, label in SECTORS.items()],
        validators=[InputRequired()],
    )
    workplace = SelectField(_l("Arbetsplats"), coerce=int, validators=[InputRequired()])
    min_age = IntegerField(
        _l("Lägsta ålder (frivilligt)"),
        # Mirrors the ``min_age_range`` constraint of offer.
        validators=[Optional(), NumberRange(*offers.MIN_AGE_RANGE)],
    )
    requirements = StringField(
        _l("Krav (frivilligt)"),
        validators=[Optional(), Length(max=400)],
        description=_l("Korta ord separerade med kommatecken, till exempel svenska, körkort."),
    )
    hours = StringField(
        _l("Arbetstider (frivilligt)"),
        validators=[Optional(), Length(max=200)],
        description=_l("Till exempel 08.00–15.00, lunch 11.30."),
    )
    bring = TextAreaField(_l("Ta med eller ha på dig (frivilligt)"), validators=[Optional(), Length(max=2000)])
    supervisor_name = StringField(_l("Handledarens namn"), validators=[Optional(), Length(max=200)])
    supervisor_phone = StringField(_l("Handledarens telefon"), validators=[Optional(), Length(max=40)])
    supervisor_email = EmailField(_l("Handledarens e-post"), validators=[Optional(), Email(), Length(max=254)])
    risk_assessment = BooleanField(
        _l(
            "Vi har gjort en riskbedömning för minderåriga enligt Arbetsmiljöverkets föreskrifter (AFS 2012:3) "
            "för de arbetsuppgifter eleven får"
        )
    )
    submit = SubmitField(_l("Spara erbjudandet"))

    #: (period, field name) for each period, in start-date order; set by :func:`offer_form`.
    period_fields: ClassVar[list[tuple[Period, str]]] = []

    def places_fields(self) -> list[tuple[Period, Any]]:
        return [(period, self[name]) for period, name in self.period_fields]

    def places(self) -> dict[int, int]:
        return {period.id: int(self[name].data or 0) for period, name in self.period_fields}

    def requirement_tags(self) -> list[str]:
        return [tag.strip() for tag in (self.requirements.data or "").split(",") if tag.strip()]


def offer_form(periods: list[Period], **kwargs: Any) -> OfferForm:
    """An :class:`OfferForm` with a places field ``places_<period id>`` for each period."""

    class _OfferForm(OfferForm):
        pass

    names = []
    for period in periods:
        name = f"places_{period.id}"
        label = f"{period.name} ({period.start_date:%Y-%m-%d} – {period.end_date:%Y-%m-%d})"
        field = IntegerField(label, validators=[InputRequired(), NumberRange(0, MAX_PLACES)], default=0)
        setattr(_OfferForm, name, field)
        names.append((period, name))
    _OfferForm.period_fields = names
    return _OfferForm(**kwargs)


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Varför drar ni tillbaka erbjudandet?"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Dra tillbaka erbjudandet"))


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Skäl till att ni avböjer"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Avböj"))


class FeedbackForm(FlaskForm):
    rating = RadioField(
        _l("Hur fungerade praon?"),
        coerce=int,
        choices=[
            SelectChoice(1, _l("1 – fungerade inte")),
            SelectChoice(2, _l("2 – fungerade dåligt")),
            SelectChoice(3, _l("3 – fungerade godtagbart")),
            SelectChoice(4, _l("4 – fungerade bra")),
            SelectChoice(5, _l("5 – fungerade mycket bra")),
        ],
        validators=[InputRequired(message=_l("Välj ett betyg från 1 till 5."))],
    )
    comment = TextAreaField(
        _l("Kommentar (frivilligt)"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Skriv kort om hur praon gick. Skolan och samordningen kan läsa det."),
    )
    submit = SubmitField(_l("Skicka omdömet"))
