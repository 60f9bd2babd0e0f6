"""The pupil's pages: home, offers, ranking, placement, evaluation.

The pupil is always the logged-in account's own pupil (:func:`_pupil`);
no URL carries a pupil id.  Each view calls one service of
``placement.cohorts.for_pupil`` and commits.
"""

from __future__ import annotations

import logging

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from placement import audit
from placement.cohorts import for_pupil as choosing
from placement.cohorts.for_pupil import NotChoosable, OfferFilter, TooManyChoices, WindowClosed
from placement.enums import Sector
from placement.errors import PlacementError
from placement.models import Pupil
from placement.rounds import for_pupil as placed
from placement.rounds.for_pupil import AlreadyEvaluated, EvaluationNotOpen
from web.extensions import db
from web.pupil import bp
from web.pupil.forms import ChoiceForm, EvaluationForm, MoveForm, OfferFilterForm

logger = logging.getLogger(__name__)

#: Offers per page of the list (and markers on its map).

#: What the pupil is told when a change is refused, in their language.
REFUSALS = {
    WindowClosed: _l("Valperioden är stängd, så dina val kan inte ändras nu."),
    TooManyChoices: _l("Du har redan valt så många erbjudanden som du får. Ta bort ett val först."),
    NotChoosable: _l("Det erbjudandet kan du inte välja."),
    EvaluationNotOpen: _l("Du kan svara på utvärderingen när praon är slut."),
    AlreadyEvaluated: _l("Du har redan svarat på utvärderingen. Tack!"),
}


def _pupil() -> Pupil:
    return choosing.pupil_of(db, current_user._get_current_object())


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user._get_current_object())


def _refused(exc: PlacementError) -> None:
    db.rollback()
    message = next((text for kind, text in REFUSALS.items() if isinstance(exc, kind)), None)
    if message is None:
        raise exc  # web/errors.py shows it
    flash(str(message), "error")


def _back(default: str) -> str:
    """Back to the page the form was on (its own path only), else ``default``."""
    target = request.form.get("next") or ""
    return target if target.startswith("/pupil/") and not target.startswith("//") else default


# --- home ------------------------------------------------------------------------------------------------------------


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template("pupil/home.html", status=placed.status(db, _pupil()))


# --- offers ----------------------------------------------------------------------------------------------------------


@bp.get("/offers")
def offers() -> ResponseReturnValue:
    pupil = _pupil()
    form = OfferFilterForm(formdata=request.args)
    if request.args and not form.validate():
        for field, errors in form.errors.items():
            label = getattr(form, field).label.text
            for error in errors:
                flash(f"{label}: {error}", "error")
    valid = not form.errors
    filters = OfferFilter(
        sector=Sector(form.sector.data) if valid and form.sector.data else None,
        max_km=float(form.max_km.data) if valid and form.max_km.data else None,
        query=(form.q.data or "").strip() if valid else "",
        order="title" if valid and form.order.data == "title" else "distance",
    )
    listed = choosing.choosable_offers(db, pupil, filters, page=request.args.get("page", 1, type=int) or 1)
    markers = [
        {
            "lat": line.offer.workplace.lat,
            "lon": line.offer.workplace.lon,
            "label": f"{line.offer.title} – {line.offer.employer.name}",
        }
        for line in listed.lines
        if line.offer.workplace.lat is not None and line.offer.workplace.lon is not None
    ]
    query = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "pupil/offers.html",
        status=placed.status(db, pupil),
        form=form,
        lines=listed.lines,
        total=listed.total,
        page=listed.page,
        pages=listed.pages,
        query=query,
        markers=markers,
    )


# --- choices ---------------------------------------------------------------------------------------------------------


@bp.get("/choices")
def choices() -> ResponseReturnValue:
    pupil = _pupil()
    return render_template("pupil/choices.html", status=placed.status(db, pupil), choices=choosing.choices(db, pupil))


@bp.post("/choices/add")
def add_choice() -> ResponseReturnValue:
    form = ChoiceForm()
    if form.validate_on_submit():
        try:
            ranked = choosing.add_choice(db, _pupil(), form.offer.data or "", actor=_actor())
        except (WindowClosed, TooManyChoices, NotChoosable) as exc:
            _refused(exc)
        else:
            db.commit()
            flash(_("Tillagt i dina val. Du har nu %(n)d val.", n=len(ranked)), "info")
    else:
        flash(_("Något gick fel. Försök igen."), "error")
    return redirect(_back(url_for(".offers")))


@bp.post("/choices/move")
def move_choice() -> ResponseReturnValue:
    form = MoveForm()
    if form.validate_on_submit():
        step = -1 if form.direction.data == "up" else 1
        try:
            choosing.move_choice(db, _pupil(), form.offer.data or "", step, actor=_actor())
        except (WindowClosed, NotChoosable) as exc:
            _refused(exc)
        else:
            db.commit()
            flash(_("Ordningen är sparad."), "info")
    else:
        flash(_("Något gick fel. Försök igen."), "error")
    return redirect(url_for(".choices"))


@bp.post("/choices/remove")
def remove_choice() -> ResponseReturnValue:
    form = ChoiceForm()
    if form.validate_on_submit():
        try:
            choosing.remove_choice(db, _pupil(), form.offer.data or "", actor=_actor())
        except WindowClosed as exc:
            _refused(exc)
        else:
            db.commit()
            flash(_("Valet är borttaget."), "info")
    else:
        flash(_("Något gick fel. Försök igen."), "error")
    return redirect(url_for(".choices"))


# --- placement and evaluation ----------------------------------------------------------------------------------------


@bp.get("/placement")
def placement() -> ResponseReturnValue:
    pupil = _pupil()
    if not placed.has_placement(db, pupil):
        return render_template("pupil/not_published.html", status=placed.status(db, pupil))
    found = placed.placement_of(db, pupil)
    workplace = found.offer.workplace
    markers = []
    if workplace.lat is not None and workplace.lon is not None:
        markers.append({"lat": workplace.lat, "lon": workplace.lon, "label": f"{found.offer.employer.name}"})
    return render_template("pupil/placement.html", placement=found, markers=markers)


@bp.get("/placement.ics")
def placement_ics() -> ResponseReturnValue:
    attachment = placed.placement_calendar(db, _pupil(), locale=str(get_locale()))
    return Response(
        attachment.data,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="prao.ics"'},
    )


@bp.route("/evaluation", methods=["GET", "POST"])
def evaluation() -> ResponseReturnValue:
    pupil = _pupil()
    found = placed.placement_of(db, pupil)  # NotFound (404) before publication
    form = EvaluationForm()
    if form.validate_on_submit():
        try:
            placed.evaluate(
                db,
                pupil,
                rating=int(form.rating.data or 0),
                recommend=form.recommend.data == "yes",
                comment=form.comment.data or "",
                actor=_actor(),
            )
        except (EvaluationNotOpen, AlreadyEvaluated) as exc:
            _refused(exc)
            return render_template("pupil/evaluation.html", placement=found, form=form), 409
        db.commit()
        flash(_("Tack för ditt svar!"), "info")
        return redirect(url_for(".evaluation"))
    return render_template("pupil/evaluation.html", placement=found, form=form), 400 if form.errors else 200
