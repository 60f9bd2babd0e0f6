"""School staff's views: thin, each checks its form, calls the domain and commits.

Records are found only through the school staff's scoping modules
(``placement.organisation.for_school``, ``placement.cohorts.for_school``),
which answer NotFound (404) for a school, class or pupil that is not the
user's, so that ids cannot be probed.
"""

from __future__ import annotations

import functools
import hmac
import logging
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from placement import audit, uploads
from placement.cohorts import for_school as school_pupils
from placement.cohorts import imports as cohort_import
from placement.cohorts import login_codes, self_arranged
from placement.cohorts.for_school import PupilStatus
from placement.cohorts.self_arranged import SelfArranged
from placement.errors import ImportRejected, NotFound
from placement.models import User
from placement.organisation import for_school as school_staff
from placement.organisation import invitations, season
from placement.organisation.for_school import class_for, school_for, schools_of
from placement.reports import for_school as school_status
from web import labels, people
from web.extensions import db
from web.labels import sector_label
from web.school import bp
from web.school.forms import (
    ActionForm,
    ChoiceForm,
    CodesForm,
    ConfirmImportForm,
    PeriodForm,
    SelfArrangedForm,
    UploadForm,
)

logger = logging.getLogger(__name__)

#: The key under which the session remembers the upload waiting for confirmation.
UPLOAD_KEY = "school_cohort_upload"
PUPIL_LOGIN_PATH = "/pupil-login/"


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _actor() -> audit.Actor:
    return audit.Actor.of(_user())


def _form_problems(form: Any) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# --- home and classes -------------------------------------------------------------------------------------------


@bp.get("/")
def home() -> ResponseReturnValue:
    return render_template(
        "school/home.html", summaries=school_pupils.school_summaries(db, _user()), statuses=school_pupils.STATUSES
    )


def _period_form(current: int | None) -> PeriodForm:
    form = PeriodForm()
    form.period.choices = [SelectChoice(0, _("ingen period ännu"))] + [
        SelectChoice(p.id, f"{p.name} ({p.start_date:%Y-%m-%d} – {p.end_date:%Y-%m-%d})") for p in season.periods(db)
    ]
    if not form.is_submitted():
        form.period.data = current or 0
    return form


@bp.get("/classes/<int:class_id>")
def class_page(class_id: int) -> ResponseReturnValue:
    klass = class_for(db, _user(), class_id)
    wanted = request.args.get("status") or None
    status = PupilStatus(wanted) if wanted in set(PupilStatus) else None
    lines = school_pupils.class_lines(db, _user(), class_id)
    return render_template(
        "school/class.html",
        klass=klass,
        lines=[line for line in lines if status is None or line.status is status],
        total=len(lines),
        status=status,
        statuses=school_pupils.STATUSES,
        period_form=_period_form(klass.period_id),
        codes_form=CodesForm(),
        many_schools=len(schools_of(db, _user())) > 1,
    )


@bp.post("/classes/<int:class_id>/period")
def set_period(class_id: int) -> ResponseReturnValue:
    klass = class_for(db, _user(), class_id)
    form = _period_form(klass.period_id)
    if form.validate_on_submit():
        season.set_class_periods(db, klass.school, {klass.id: str(form.period.data or "")}, actor=_actor())
        db.commit()
        flash(_("Klass %(name)s: perioden är sparad.", name=klass.name), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".class_page", class_id=class_id))


@bp.post("/classes/<int:class_id>/codes")
def issue_codes(class_id: int) -> ResponseReturnValue:
    klass = class_for(db, _user(), class_id)
    form = CodesForm()
    if not form.validate_on_submit():
        _form_problems(form)
        return redirect(url_for(".class_page", class_id=class_id))
    issued = school_pupils.issue_codes(db, _user(), class_id, only_missing=form.which.data == "missing", actor=_actor())
    db.commit()
    logger.info("%s login codes issued for class %s by %s", len(issued), class_id, _actor().label)
    return _sheet(issued, klass.name, back=url_for(".class_page", class_id=class_id))


def _sheet(issued: list[Any], title: str, *, back: str) -> Response:
    login_url = current_app.config["BASE_URL"].rstrip("/") + PUPIL_LOGIN_PATH
    body = render_template("school/codes.html", issued=issued, title=title, login_url=login_url, back=back)
    return _no_store(Response(body, mimetype="text/html"))


# --- cohort import -----------------------------------------------------------------------------------------------


def _upload_form() -> UploadForm:
    form = UploadForm()
    form.school.choices = [SelectChoice(s.id, s.name) for s in schools_of(db, _user())]
    if not form.is_submitted() and request.args.get("school", type=int):
        form.school.data = request.args.get("school", type=int)
    return form


@bp.get("/import")
def import_page() -> ResponseReturnValue:
    return render_template("school/import.html", form=_upload_form())


@bp.post("/import")
def import_preview() -> ResponseReturnValue:
    form = _upload_form()
    if not form.validate_on_submit():
        return render_template("school/import.html", form=form), 400
    upload = form.file.data
    data = upload.read()
    filename = upload.filename or "upload.csv"
    school = school_for(db, _user(), form.school.data or 0)
    previous = session.pop(UPLOAD_KEY, None)
    if previous:  # a new upload replaces the one waiting for confirmation
        uploads.UploadStore(db).discard(str(previous))
        db.commit()
    try:
        report = cohort_import.import_cohort(db, school, data, filename, actor=_actor(), dry_run=True)
    except ImportRejected as exc:
        db.rollback()
        return _preview(form, school, filename, problems=exc.problems)
    db.rollback()  # a preview writes nothing
    token = uploads.UploadStore(db).put(_user(), school.id, filename, data)
    db.commit()
    session[UPLOAD_KEY] = token
    confirm = ConfirmImportForm(formdata=None, token=token)
    return _preview(form, school, filename, report=report, confirm=confirm)


def _preview(
    form: UploadForm,
    school: Any,
    filename: str,
    *,
    problems: list[str] | None = None,
    report: Any = None,
    confirm: ConfirmImportForm | None = None,
) -> Response:
    body = render_template(
        "school/import_preview.html",
        form=form,
        school=school,
        filename=filename,
        problems=problems or [],
        report=report,
        confirm=confirm,
    )
    return _no_store(Response(body, mimetype="text/html"))


@bp.post("/import/confirm")
def import_confirm() -> ResponseReturnValue:
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    token = form.token.data or ""
    expected = session.get(UPLOAD_KEY) or ""
    if not hmac.compare_digest(token.encode(), str(expected).encode()):
        raise NotFound("upload: not this session's")
    store = uploads.UploadStore(db)
    staged = store.get(_user(), token)
    school = school_for(db, _user(), staged.school_id)
    try:
        report = cohort_import.import_cohort(db, school, staged.data, staged.filename, actor=_actor(), dry_run=False)
    except ImportRejected as exc:
        db.rollback()
        return _preview(_upload_form(), school, staged.filename, problems=exc.problems)
    store.discard(token)  # with the import, in its transaction
    db.commit()
    session.pop(UPLOAD_KEY, None)
    flash(
        _(
            "%(school)s: %(created)d nya elever, %(updated)d ändrade, %(unchanged)d oförändrade, "
            "%(classes)d nya klasser.",
            school=school.name,
            created=report.created["pupils"],
            updated=report.updated["pupils"],
            unchanged=report.unchanged["pupils"],
            classes=report.created["classes"],
        ),
        "info",
    )
    return redirect(url_for(".home"))


# --- a pupil -----------------------------------------------------------------------------------------------------


def _choice_form(pupil: Any) -> tuple[ChoiceForm, list[Any]]:
    form = ChoiceForm()
    eligible = school_pupils.eligible_offers(db, pupil)
    form.pick.choices = [SelectChoice("", _("– välj ett erbjudande –"))] + [
        SelectChoice(o.code, f"{o.title}, {o.employer.name} ({o.code})", optgroup=sector_label(o.sector))
        for o in sorted(eligible, key=lambda o: (sector_label(o.sector), o.title.casefold(), o.code))
    ]
    return form, eligible


def _pupil_page(pupil_id: int, *, self_form: SelfArrangedForm | None = None, status: int = 200) -> ResponseReturnValue:
    line = school_pupils.pupil_line(db, _user(), pupil_id)
    choice_form, eligible = _choice_form(line.pupil)
    return render_template(
        "school/pupil.html",
        line=line,
        pupil=line.pupil,
        ranking=school_pupils.ranking(db, _user(), pupil_id),
        window=season.current_window(db),
        choice_form=choice_form,
        eligible=eligible,
        self_form=self_form or SelfArrangedForm(formdata=None),
        action=ActionForm(),
    ), status


@bp.get("/pupils/<int:pupil_id>")
def pupil_page(pupil_id: int) -> ResponseReturnValue:
    return _pupil_page(pupil_id)


def _to_pupil(pupil_id: int, anchor: str) -> ResponseReturnValue:
    return redirect(url_for(".pupil_page", pupil_id=pupil_id) + f"#{anchor}")


@bp.post("/pupils/<int:pupil_id>/choices")
def change_choices(pupil_id: int) -> ResponseReturnValue:
    form = ChoiceForm()
    if not form.validate_on_submit():
        _form_problems(form)
        return _to_pupil(pupil_id, "choices")
    current = [p.offer.code for p in school_pupils.ranking(db, _user(), pupil_id)]
    operation, _sep, code = request.form.get("op", "add").partition(":")
    if operation == "add":
        added = [c for c in ((form.code.data or "").strip().upper(), (form.pick.data or "").strip()) if c]
        if not added:
            flash(_("Skriv en kod eller välj ett erbjudande."), "error")
            return _to_pupil(pupil_id, "choices")
        codes = current + [c for c in dict.fromkeys(added) if c not in current]
    else:
        codes = school_pupils.reordered(current, operation, code)
    school_pupils.save_preferences(db, _user(), pupil_id, codes, actor=_actor())
    db.commit()
    flash(_("Valen är sparade."), "info")
    return _to_pupil(pupil_id, "choices")


@bp.post("/pupils/<int:pupil_id>/self-arranged")
def save_self_arranged(pupil_id: int) -> ResponseReturnValue:
    pupil = school_pupils.pupil_for(db, _user(), pupil_id)
    form = SelfArrangedForm()
    if not form.validate_on_submit():
        return _pupil_page(pupil_id, self_form=form, status=400)
    entry = SelfArranged(
        employer_name=form.employer_name.data or "",
        org_number=form.org_number.data or "",
        address=form.address.data or "",
        title=form.title.data or "",
        sector=form.sector_value(),
        supervisor_name=form.supervisor_name.data or "",
        supervisor_phone=form.supervisor_phone.data or None,
        supervisor_email=form.supervisor_email.data or None,
        risk_assessed=bool(form.risk_assessed.data),
    )
    offer = self_arranged.register_self_arranged(db, pupil, entry, actor=_actor())
    db.commit()
    flash(_("Den egna praoplatsen är registrerad (%(code)s).", code=offer.code), "info")
    return _to_pupil(pupil_id, "self-arranged")


@bp.post("/pupils/<int:pupil_id>/self-arranged/remove")
def remove_self_arranged(pupil_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    self_arranged.remove_self_arranged(db, school_pupils.pupil_for(db, _user(), pupil_id), actor=_actor())
    db.commit()
    flash(_("Den egna praoplatsen är borttagen; eleven är med i fördelningen igen."), "info")
    return _to_pupil(pupil_id, "self-arranged")


@bp.post("/pupils/<int:pupil_id>/code")
def issue_pupil_code(pupil_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    issued = login_codes.issue(db, school_pupils.pupil_for(db, _user(), pupil_id), actor=_actor())
    db.commit()
    return _sheet([issued], issued.pupil_name, back=url_for(".pupil_page", pupil_id=pupil_id))


@bp.post("/pupils/<int:pupil_id>/code/revoke")
def revoke_pupil_code(pupil_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    login_codes.revoke(db, school_pupils.pupil_for(db, _user(), pupil_id), actor=_actor())
    db.commit()
    flash(_("Koden är återkallad och slutar gälla direkt."), "info")
    return _to_pupil(pupil_id, "code")


# --- colleagues --------------------------------------------------------------------------------------------------


@bp.get("/staff")
def staff() -> ResponseReturnValue:
    """The staff of the user's schools, the invitations to them, and a form to invite a colleague to each."""
    places = []
    for school in schools_of(db, _user()):
        members, sent = school_staff.colleagues(db, _user(), school.id)
        places.append((school, members, sent, people.states(sent)))
    return render_template("school/staff.html", places=places, form=people.InviteForm(), days=invitations.MAX_AGE.days)


@bp.post("/schools/<int:school_id>/invitations")
def invite(school_id: int) -> ResponseReturnValue:
    school_for(db, _user(), school_id)
    people.send_invitation(functools.partial(school_staff.invite_colleague, db, _user(), school_id))
    return redirect(url_for(".staff"))


@bp.post("/invitations/<int:invitation_id>/resend")
def resend_invitation(invitation_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    invitation = school_staff.own_invitation(db, _user(), invitation_id)
    invitations.resend(
        db,
        invitation,
        actor=_actor(),
        secret_key=current_app.config["SECRET_KEY"],
        base_url=current_app.config["BASE_URL"],
    )
    db.commit()
    flash(_("Inbjudan till %(email)s är skickad igen; den förra länken slutar gälla.", email=invitation.email), "info")
    return redirect(url_for(".staff"))


@bp.post("/invitations/<int:invitation_id>/withdraw")
def withdraw_invitation(invitation_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    invitation = invitations.withdraw(db, school_staff.own_invitation(db, _user(), invitation_id), actor=_actor())
    db.commit()
    flash(_("Inbjudan till %(email)s är återkallad.", email=invitation.email), "info")
    return redirect(url_for(".staff"))


@bp.post("/schools/<int:school_id>/staff/<int:staff_id>/remove")
def remove_colleague(school_id: int, staff_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    school_staff.remove_colleague(db, _user(), school_id, staff_id)
    db.commit()
    flash(_("Personen är borttagen från skolan och utloggad."), "info")
    return redirect(url_for(".staff"))


# --- export ------------------------------------------------------------------------------------------------------


@bp.get("/export.<fmt>")
def export(fmt: str) -> ResponseReturnValue:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    school_id = request.args.get("school", type=int)
    if "school" in request.args and school_id is None:
        abort(404)
    school = school_for(db, _user(), school_id) if school_id is not None else None
    rows = school_status.status_rows(db, _user(), school_id=school_id)
    headers = labels.headers(school_status.STATUS_COLUMNS, labels.STATUS_COLUMNS)
    if fmt == "csv":
        body = school_status.status_csv(rows, headers, labels.pupil_statuses())
    else:
        body = school_status.status_xlsx(rows, headers, labels.pupil_statuses(), title=str(labels.PUPILS_SHEET))
    audit.record(
        db,
        _actor(),
        "school.export",
        "school",
        school.id if school else None,
        after={"format": fmt, "rows": len(rows)},
    )
    db.commit()
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{school_status.export_filename(fmt, school)}"'
    return _no_store(response)
