"""Forms of the pupil's pages.  Every form is small: pupils are 13 to 15 and often on a phone."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional

from placement.cohorts.for_pupil import MAX_QUERY
from placement.rounds.for_pupil import MAX_COMMENT
from web.labels import SECTORS


class CodeLoginForm(FlaskForm):
    code = StringField(
        _l("Din kod"),
        validators=[DataRequired(message=_l("Skriv koden du har fått av skolan.")), Length(max=40)],
        render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"},
    )
    submit = SubmitField(_l("Logga in"))


class ChoiceForm(FlaskForm):
    """Add or remove one offer (by its code) in the pupil's ranking."""

    offer = HiddenField(validators=[DataRequired(), Length(max=40)])


class MoveForm(ChoiceForm):
    direction = HiddenField(validators=[AnyOf(["up", "down"])])


class EvaluationForm(FlaskForm):
    # The rating's bounds mirror the ``rating_range`` constraint of pupil_evaluation.
    rating = RadioField(
        _l("Hur var din prao?"),
        choices=[
            SelectChoice("1", _l("1 – dålig")),
            SelectChoice("2", "2"),
            SelectChoice("3", "3"),
            SelectChoice("4", "4"),
            SelectChoice("5", _l("5 – mycket bra")),
        ],
        validators=[InputRequired(message=_l("Välj ett betyg."))],
    )
    recommend = RadioField(
        _l("Skulle du rekommendera platsen till en kompis?"),
        choices=[SelectChoice("yes", _l("Ja")), SelectChoice("no", _l("Nej"))],
        validators=[InputRequired(message=_l("Svara ja eller nej."))],
    )
    comment = TextAreaField(
        _l("Vill du berätta något mer? (frivilligt)"), validators=[Optional(), Length(max=MAX_COMMENT)]
    )
    submit = SubmitField(_l("Skicka svaret"))


class OfferFilterForm(FlaskForm):
    """The filters of the offer list: a GET form, so without CSRF, read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Sökord"), validators=[Optional(), Length(max=MAX_QUERY)])
    sector = SelectField(_l("Bransch"), validators=[Optional()])
    max_km = IntegerField(
        _l("Högst så här långt från skolan (km)"), validators=[Optional(), NumberRange(min=1, max=200)]
    )
    order = SelectField(
        _l("Sortera"),
        choices=[SelectChoice("distance", _l("efter avstånd")), SelectChoice("title", _l("efter titel"))],
        default="distance",
        validators=[Optional()],
    )
    submit = SubmitField(_l("Visa"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sector.choices = [
            SelectChoice("", _l("Alla branscher")),
            *(SelectChoice(sector.value, label) for sector, label in sorted(SECTORS.items(), key=lambda i: str(i[1]))),
        ]
