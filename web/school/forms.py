"""Forms of the school staff's pages.  Lengths mirror the columns they fill (placement/models)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from placement.enums import Sector
from web.labels import SECTORS


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField()


class PeriodForm(FlaskForm):
    #: 0 stands for "no period yet"; the choices are the season's periods.
    period = SelectField(_l("Praoperiod"), coerce=int, validators=[InputRequired()])
    submit = SubmitField(_l("Spara perioden"))


class UploadForm(FlaskForm):
    school = SelectField(_l("Skola"), coerce=int, validators=[InputRequired()])
    file = FileField(
        _l("Fil med klasser och elever (CSV eller XLSX)"),
        validators=[
            FileRequired(_l("Välj en fil.")),
            FileAllowed(["csv", "txt", "tsv", "xlsx"], _l("Filen ska vara CSV eller XLSX.")),
        ],
    )
    submit = SubmitField(_l("Förhandsgranska"))


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField(_l("Importera alla rader"))


class CodesForm(FlaskForm):
    which = RadioField(
        _l("Vilka elever får en ny kod?"),
        choices=[
            SelectChoice("missing", _l("Bara elever som inte har någon kod")),
            SelectChoice("all", _l("Alla elever i klassen (gamla koder slutar gälla)")),
        ],
        default="missing",
        validators=[InputRequired()],
    )
    submit = SubmitField(_l("Skapa koder och visa inloggningslappar"))


class ChoiceForm(FlaskForm):
    """Adds a choice by offer code or from the list; the move and remove buttons post ``op`` with the same token."""

    code = StringField(_l("Erbjudandets kod"), validators=[Optional(), Length(max=40)])
    pick = SelectField(_l("eller välj bland erbjudanden eleven kan välja"), validate_choice=False)
    submit = SubmitField(_l("Lägg till valet"))


class SelfArrangedForm(FlaskForm):
    employer_name = StringField(_l("Arbetsgivare"), validators=[DataRequired(), Length(max=200)])
    org_number = StringField(_l("Organisationsnummer (NNNNNN-NNNN)"), validators=[DataRequired(), Length(max=13)])
    address = StringField(_l("Arbetsplatsens adress"), validators=[DataRequired(), Length(max=300)])
    title = StringField(_l("Vad eleven ska göra (t.ex. butiksbiträde)"), validators=[DataRequired(), Length(max=200)])
    sector = SelectField(
        _l("Bransch"),
        choices=[SelectChoice(s.value, label) for s, label in SECTORS.items()],
        validators=[InputRequired()],
    )
    supervisor_name = StringField(_l("Handledare"), validators=[DataRequired(), Length(max=200)])
    supervisor_phone = StringField(_l("Handledarens telefon"), validators=[Optional(), Length(max=40)])
    supervisor_email = StringField(_l("Handledarens e-post"), validators=[Optional(), Email(), Length(max=254)])
    risk_assessed = BooleanField(
        _l("Arbetsgivaren har gjort en riskbedömning för minderåriga (AFS 2012:3)"),
        validators=[DataRequired(_l("Praon kan registreras först när riskbedömningen är gjord."))],
    )
    submit = SubmitField(_l("Registrera egen praoplats"))

    def sector_value(self) -> Sector:
        return Sector(self.sector.data)
