"""Forms of the coordinator's organisation pages.  Validators mirror ``placement.organisation.registry``."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import EmailField, Field, FloatField, HiddenField, SelectField, StringField, SubmitField
from wtforms import ValidationError as FieldError
from wtforms.validators import DataRequired, Email, InputRequired, Length, NumberRange, Optional, StopValidation

from placement.organisation import registry

#: The need index's bounds as Swedish readers write them ("0,1").
_NEED_LOW = f"{registry.MIN_NEED_INDEX:g}".replace(".", ",")
_NEED_HIGH = f"{registry.MAX_NEED_INDEX:g}".replace(".", ",")


def _school_code(form: FlaskForm, field: Field) -> None:
    """The rule of ``registry.school_code``, its failures in the user's language."""
    data = "".join(str(field.data or "").split())
    if data and data == getattr(form, "current_code", None):
        field.data = data  # an existing code may stay as it is
        return
    try:
        field.data = registry.school_code(data)
    except ValueError as exc:
        if data.isascii() and data.isdigit():
            raise FieldError(_l("En skolenhetskod har åtta siffror, till exempel 12345678.")) from exc
        if len(data) > registry.MAX_SCHOOL_CODE:
            raise FieldError(_l("Koden får vara högst %(n)d tecken.", n=registry.MAX_SCHOOL_CODE)) from exc
        raise FieldError(
            _l("Koden får bara innehålla bokstäver a–z, siffror, punkt, bindestreck och understreck.")
        ) from exc


def _municipality_code(form: FlaskForm, field: Field) -> None:
    try:
        field.data = registry.municipality_code(field.data)
    except ValueError as exc:
        raise FieldError(_l("En kommunkod har fyra siffror, till exempel 1480.")) from exc


class NumberField(FloatField):
    """A number as Swedish readers write it too: a decimal comma is read as a point ("1,05" is 1.05).

    An empty field is None, for ``Optional`` or ``InputRequired`` to judge; text that is not a number
    says so once, without the range and the other checks repeating it.
    """

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and not valuelist[0].strip():
            self.data = None
            return
        super().process_formdata([value.strip().replace(",", ".") for value in valuelist])

    def pre_validate(self, form: FlaskForm) -> None:
        if self.process_errors:
            raise StopValidation()


def _both_or_neither(form: SchoolForm, field: Field) -> None:
    if form.lon.process_errors:
        return  # the longitude says what is wrong with it
    if (form.lat.data is None) != (form.lon.data is None):
        raise FieldError(_l("Fyll i både latitud och longitud, eller ingen av dem."))


class RegionForm(FlaskForm):
    name = StringField(
        _l("Regionens namn"),
        validators=[DataRequired(), Length(max=120)],
        description=_l("Visas på startsidan, till exempel Göteborgsregionen eller Ale kommun."),
    )
    contact_email = EmailField(
        _l("Samordningens e-postadress (frivilligt)"),
        validators=[Optional(), Email(), Length(max=254)],
        description=_l("Dit skolor, arbetsgivare och vårdnadshavare skriver med frågor."),
    )
    submit = SubmitField(_l("Spara regionen"))


class MunicipalityForm(FlaskForm):
    """Adds a municipality (prefix "new"), or renames one and sets its code (prefix "edit", with its id)."""

    municipality = HiddenField(validators=[Optional()])
    name = StringField(_l("Kommunens namn"), validators=[DataRequired(), Length(max=registry.MAX_MUNICIPALITY_NAME)])
    code = StringField(
        _l("Kommunkod (frivilligt)"),
        validators=[Optional(), Length(max=8), _municipality_code],
        description=_l("Fyra siffror, till exempel 1480 för Göteborg."),
    )
    submit = SubmitField(_l("Spara kommunen"))


class SchoolForm(FlaskForm):
    #: The school's own code when editing: it may stay even if it predates the code rule.
    current_code: str | None = None

    name = StringField(_l("Skolans namn"), validators=[DataRequired(), Length(max=registry.MAX_SCHOOL_NAME)])
    code = StringField(
        _l("Skolenhetskod"),
        validators=[DataRequired(), _school_code],
        description=_l("Åtta siffror från Skolverkets skolenhetsregister, till exempel 12345678."),
    )
    municipality = SelectField(_l("Kommun"), coerce=int, validators=[InputRequired()])
    address = StringField(
        _l("Besöksadress"),
        validators=[DataRequired(), Length(max=registry.MAX_ADDRESS)],
        description=_l("Gatuadress, postnummer och ort, till exempel Storgatan 1, 411 38 Göteborg."),
    )
    # Mirrors the ``lat_range`` and ``lon_range`` constraints of school.
    lat = NumberField(_l("Latitud (frivilligt)"), validators=[Optional(), NumberRange(-90, 90), _both_or_neither])
    lon = NumberField(_l("Longitud (frivilligt)"), validators=[Optional(), NumberRange(-180, 180)])
    need_index = NumberField(
        _l("Behovsindex"),
        default=registry.DEFAULT_NEED_INDEX,
        validators=[
            InputRequired(),
            NumberRange(
                registry.MIN_NEED_INDEX,
                registry.MAX_NEED_INDEX,
                message=_l(
                    "Ange ett tal från %(low)s till %(high)s; 1,0 är genomsnittet.",
                    low=_NEED_LOW,
                    high=_NEED_HIGH,
                ),
            ),
        ],
        description=_l("Skolans socioekonomiska behov: 1,0 är genomsnittet, högre tal betyder större behov."),
    )
    submit = SubmitField(_l("Spara skolan"))


class SchoolUploadForm(FlaskForm):
    file = FileField(
        _l("Fil med skolor (CSV eller XLSX)"),
        validators=[
            FileRequired(_l("Välj en fil.")),
            FileAllowed(["csv", "txt", "tsv", "xlsx"], _l("Filen ska vara CSV eller XLSX.")),
        ],
    )
    submit = SubmitField(_l("Förhandsgranska"))


class ConfirmSchoolImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Importera alla rader"))
