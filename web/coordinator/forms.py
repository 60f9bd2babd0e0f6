"""Forms of the coordinator's pages.  Times are entered in Europe/Stockholm and stored in UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from web.labels import MECHANISM_LABELS

LOCAL = ZoneInfo("Europe/Stockholm")


def to_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A local (Europe/Stockholm) wall-clock time from a form, as an aware UTC time.

    Across daylight-saving changes: a time the spring change skips (02:30 on the
    last Sunday of March) is read with winter time, so it is the instant that
    clocks show as 03:30; a time the autumn change repeats (02:30 on the last
    Sunday of October) is its first occurrence, in summer time.
    """
    if moment is None:
        return None
    return moment.replace(tzinfo=LOCAL).astimezone(dt.UTC)


def to_local(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(LOCAL).replace(tzinfo=None)


class CheckboxList(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PolicyFields:
    """The policy fields shared by the new-round form and the policy form.

    The limits mirror :data:`placement.rounds.setup.POLICY_LIMITS` and
    :data:`placement.rounds.setup.MECHANISMS`, which
    :func:`placement.rounds.setup.policy_problems` checks again.
    """

    mechanism = RadioField(
        _l("Fördelningssätt"),
        choices=[SelectChoice(value, label) for value, label in MECHANISM_LABELS.items()],
        default="optimal",
    )
    reserve_share = DecimalField(
        _l("Reserverad andel av varje erbjudandes platser för elever från skolor med högt behov (%)"),
        places=1,
        validators=[
            Optional(),
            NumberRange(0, 100, message=_l("Ange en andel från 0 till 100 procent, eller lämna fältet tomt.")),
        ],
    )

    max_distance_km = DecimalField(
        _l("Största avstånd från skolan (km) för placering utanför elevens val"),
        places=1,
        validators=[InputRequired(), NumberRange(min=1, max=200)],
    )
    assign_unranked = BooleanField(_l("Placera elever som inte fått något av sina val på närmaste lämpliga plats"))
    fairness_school = DecimalField(
        _l("Vikt: rättvisa mellan skolor"), places=1, validators=[InputRequired(), NumberRange(0, 10)]
    )
    fairness_gender = DecimalField(
        _l("Vikt: rättvisa mellan kön"), places=1, validators=[InputRequired(), NumberRange(0, 10)]
    )
    fairness_need = DecimalField(
        _l("Vikt: rättvisa för skolor med högt behovsindex"), places=1, validators=[InputRequired(), NumberRange(0, 10)]
    )
    time_limit_s = IntegerField(
        _l("Tidsgräns för lösaren (sekunder)"), validators=[InputRequired(), NumberRange(1, 3600)]
    )
    seed = IntegerField(_l("Slumpfrö (samma frö ger samma resultat)"), validators=[InputRequired(), NumberRange(min=0)])

    def policy(self) -> dict[str, object]:
        mechanism = str(self.mechanism.data or "optimal")  # type: ignore[attr-defined]
        share = self.reserve_share.data  # type: ignore[attr-defined]
        # Empty: the solver reserves the high-need tercile's share of the pupils;
        # with the optimisation, reserves play no part and are not kept.
        reserves = {"high_need_share": float(share) / 100} if mechanism == "da-reserves" and share is not None else None
        return {
            "mechanism": mechanism,
            "reserves": reserves,
            "max_distance_km": float(self.max_distance_km.data or 0),  # type: ignore[attr-defined]
            "assign_unranked": bool(self.assign_unranked.data),  # type: ignore[attr-defined]
            "fairness": {
                "school": float(self.fairness_school.data or 0),  # type: ignore[attr-defined]
                "gender": float(self.fairness_gender.data or 0),  # type: ignore[attr-defined]
                "need": float(self.fairness_need.data or 0),  # type: ignore[attr-defined]
            },
            "time_limit_s": int(self.time_limit_s.data or 0),  # type: ignore[attr-defined]
            "seed": int(self.seed.data or 0),  # type: ignore[attr-defined]
        }

    def fill(self, policy: dict[str, object]) -> None:
        fairness = policy.get("fairness") or {}
        assert isinstance(fairness, dict)
        reserves = policy.get("reserves") or {}
        assert isinstance(reserves, dict)
        share = reserves.get("high_need_share")
        self.mechanism.data = policy.get("mechanism") or "optimal"  # type: ignore[attr-defined]
        self.reserve_share.data = None if share is None else round(100 * float(share), 1)  # type: ignore[attr-defined]
        self.max_distance_km.data = policy.get("max_distance_km")  # type: ignore[attr-defined]
        self.assign_unranked.data = bool(policy.get("assign_unranked"))  # type: ignore[attr-defined]
        self.fairness_school.data = fairness.get("school")  # type: ignore[attr-defined]
        self.fairness_gender.data = fairness.get("gender")  # type: ignore[attr-defined]
        self.fairness_need.data = fairness.get("need")  # type: ignore[attr-defined]
        self.time_limit_s.data = policy.get("time_limit_s")  # type: ignore[attr-defined]
        self.seed.data = policy.get("seed")  # type: ignore[attr-defined]


class NewRoundForm(PolicyFields, FlaskForm):
    name = StringField(_l("Namn på omgången"), validators=[DataRequired(), Length(max=200)])
    periods = CheckboxList(_l("Perioder"), validators=[DataRequired()])
    submit = SubmitField(_l("Skapa omgång"))


class PolicyForm(PolicyFields, FlaskForm):
    submit = SubmitField(_l("Spara inställningar"))


class RunForm(FlaskForm):
    #: Set by the confirmation page: the coordinator has read what running means now.
    confirmed = HiddenField()
    submit = SubmitField(_l("Kör fördelningen"))


class PublishForm(FlaskForm):
    deadline = DateTimeLocalField(
        _l("Arbetsgivarna ska svara senast"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    #: Set by the confirmation page, which shows what publishing does first.
    confirmed = HiddenField()
    submit = SubmitField(_l("Förhandsgranska publiceringen"))


class MoveForm(FlaskForm):
    offer = StringField(_l("Erbjudandets kod"), validators=[DataRequired(), Length(max=40)])
    lock = BooleanField(_l("Lås placeringen"))
    submit = SubmitField(_l("Flytta eleven"))


class ManualForm(FlaskForm):
    note = StringField(_l("Anteckning"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Placera för hand"))


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""

    submit = SubmitField()


class ConfirmedActionForm(FlaskForm):
    """A big action's button: the first click shows what it will do, the second (``confirmed``) does it."""

    confirmed = HiddenField()


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Skäl"), validators=[DataRequired(), Length(max=1000)])
    submit = SubmitField(_l("Avslå"))


class PeriodForm(FlaskForm):
    code = StringField(_l("Kod"), validators=[DataRequired(), Length(max=20)])
    name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=120)])
    start_date = DateField(_l("Första dag"), validators=[DataRequired()])
    end_date = DateField(_l("Sista dag"), validators=[DataRequired()])
    submit = SubmitField(_l("Lägg till period"))


class WindowForm(FlaskForm):
    name = StringField(_l("Namn"), validators=[DataRequired(), Length(max=200)])
    opens_at = DateTimeLocalField(_l("Öppnar"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    closes_at = DateTimeLocalField(_l("Stänger"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    max_choices = IntegerField(_l("Antal val en elev får rangordna"), validators=[InputRequired(), NumberRange(1, 20)])
    submit = SubmitField(_l("Spara valperioden"))


class AutomationForm(FlaskForm):
    """What the scheduler does for a round."""

    preference_window = SelectField(_l("Valperiod"), coerce=int, validators=[InputRequired()])
    auto_run = BooleanField(_l("Kör fördelningen automatiskt när valperioden stänger"))
    unanswered_rule = RadioField(
        _l("Placeringar som arbetsgivaren inte har svarat på vid svarstidens slut"),
        choices=[
            SelectChoice("confirm", _l("räknas som bekräftade")),
            SelectChoice("release", _l("släpps, och eleven placeras på nytt")),
        ],
        validators=[InputRequired()],
    )
    submit = SubmitField(_l("Spara automatiken"))
