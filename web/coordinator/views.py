"""Coordinator views: thin, each calls one service in ``placement`` and commits.

The module is a little over 500 lines because the coordinator has the most pages;
each view stays a few lines that call one service.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from placement import audit
from placement.employers import offers as offer_service
from placement.employers import registry as employers
from placement.enums import ArtifactKind, MailState, RoundStatus, UnansweredRule
from placement.mail import outbox as mail
from placement.models import User
from placement.organisation import for_coordinator as organisation_scope
from placement.organisation import season
from placement.reports import exports, planning
from placement.rounds import assignments, changes, jobs, review, solving
from placement.rounds import for_coordinator as round_scope
from placement.rounds import setup as rounds
from placement.runtime import queue as job_queue
from placement.runtime import scheduler, worker
from web import labels
from web.coordinator import bp
from web.coordinator.forms import (
    ActionForm,
    AutomationForm,
    ConfirmedActionForm,
    ManualForm,
    MoveForm,
    NewRoundForm,
    PeriodForm,
    PolicyForm,
    PublishForm,
    RejectForm,
    RunForm,
    WindowForm,
    to_local,
    to_utc,
)
from web.extensions import db

logger = logging.getLogger(__name__)
PAGE = 100
#: Offers listed on a pupil's page to move them to; a search finds the others.
MOVE_OPTIONS_SHOWN = 25


def _actor() -> audit.Actor:
    return audit.Actor.of(current_user._get_current_object())


def _user() -> User:
    user: User = current_user._get_current_object()
    return user


def _place() -> int | None:
    """The municipality the coordinator acts for, or None for the whole region."""
    return organisation_scope.municipality_of(_user())


def _form_problems(form: Any) -> None:
    for field, errors in form.errors.items():
        label = getattr(form, field).label.text if hasattr(form, field) else field
        for error in errors:
            flash(f"{label}: {error}", "error")


# --- overview and season ---------------------------------------------------------------------------------------------


@bp.get("/")
def overview() -> ResponseReturnValue:
    return render_template(
        "coordinator/overview.html",
        plan=planning.planning_overview(db, _place()),
        pending=employers.pending_employers(db, _place()),
        window=season.current_window(db),
        rounds=round_scope.rounds(db, _user())[:5],
        reject_form=RejectForm(),
        action=ActionForm(),
    )


@bp.post("/employers/<int:employer_id>/approve")
def approve_employer(employer_id: int) -> ResponseReturnValue:
    employer = organisation_scope.employer_for(db, _user(), employer_id)
    if ActionForm().validate_on_submit():
        name = employers.approve_employer(db, employer, actor=_actor()).name  # a school's entry may have merged
        db.commit()
        flash(_("%(name)s är godkänd; dess erbjudanden kan nu visas för elever.", name=name), "info")
    return redirect(url_for(".overview"))


@bp.post("/employers/<int:employer_id>/reject")
def reject_employer(employer_id: int) -> ResponseReturnValue:
    employer = organisation_scope.employer_for(db, _user(), employer_id)
    form = RejectForm()
    if form.validate_on_submit():
        employers.reject_employer(db, employer, form.reason.data or "", actor=_actor())
        db.commit()
        flash(_("%(name)s är avslagen.", name=employer.name), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".overview"))


@bp.get("/season")
def season_page() -> ResponseReturnValue:
    window = season.current_window(db) or season.latest_window(db)
    window_form = WindowForm()
    if window is not None:
        window_form.name.data = window.name
        window_form.opens_at.data = to_local(window.opens_at)
        window_form.closes_at.data = to_local(window.closes_at)
        window_form.max_choices.data = window.max_choices
    else:
        window_form.max_choices.data = 8
    schools = season.schools_with_classes(db, _place())
    return render_template(
        "coordinator/season.html",
        periods=season.periods(db),
        period_form=PeriodForm(),
        window=window,
        window_form=window_form,
        schools=[s.school for s in schools],
        classes={s.school.id: s.classes for s in schools},
        regional=_place() is None,
        action=ActionForm(),
    )


@bp.post("/season/periods")
def add_period() -> ResponseReturnValue:
    form = PeriodForm()
    if form.validate_on_submit():
        assert form.start_date.data is not None
        assert form.end_date.data is not None
        period = season.create_period(
            db,
            code=form.code.data or "",
            name=form.name.data or "",
            start_date=form.start_date.data,
            end_date=form.end_date.data,
            actor=_actor(),
        )
        db.commit()
        flash(_("Perioden %(code)s är tillagd.", code=period.code), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".season_page"))


@bp.post("/season/window")
def save_window() -> ResponseReturnValue:
    form = WindowForm()
    if not form.validate_on_submit():
        _form_problems(form)
        return redirect(url_for(".season_page"))
    fields = {
        "name": form.name.data or "",
        "opens_at": to_utc(form.opens_at.data),
        "closes_at": to_utc(form.closes_at.data),
        "max_choices": form.max_choices.data,
    }
    window = season.current_window(db) or season.latest_window(db)
    if window is None:
        season.create_preference_window(db, actor=_actor(), **fields)  # type: ignore[arg-type]
    else:
        season.update_preference_window(db, window, actor=_actor(), **fields)
    db.commit()
    flash(_("Valperioden är sparad."), "info")
    return redirect(url_for(".season_page"))


@bp.post("/season/schools/<int:school_id>/classes")
def save_class_periods(school_id: int) -> ResponseReturnValue:
    school = organisation_scope.school_for(db, _user(), school_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    chosen = {
        int(key.removeprefix("class-")): value
        for key, value in request.form.items()
        if key.startswith("class-") and key.removeprefix("class-").isdigit()
    }
    changed = season.set_class_periods(db, school, chosen, actor=_actor())
    db.commit()
    flash(_("%(school)s: %(n)d klasser ändrade.", school=school.name, n=changed), "info")
    return redirect(url_for(".season_page") + f"#school-{school.id}")


# --- rounds ----------------------------------------------------------------------------------------------------------


@bp.get("/rounds")
def round_list() -> ResponseReturnValue:
    form = NewRoundForm()
    form.periods.choices = [SelectChoice(p.code, f"{p.name} ({p.code})") for p in season.periods(db)]
    form.fill(rounds.DEFAULT_POLICY)
    form.periods.data = [p.code for p in season.periods(db)]
    return render_template("coordinator/rounds.html", rounds=round_scope.rounds(db, _user()), form=form)


@bp.post("/rounds")
def create_round() -> ResponseReturnValue:
    form = NewRoundForm()
    form.periods.choices = [SelectChoice(p.code) for p in season.periods(db)]
    if not form.validate_on_submit():
        _form_problems(form)
        return redirect(url_for(".round_list"))
    allocation_round = rounds.create_round(
        db,
        form.name.data or "",
        form.periods.data or [],
        actor=_actor(),
        policy=form.policy(),
        municipality_id=_place(),
    )
    window = season.current_window(db) or season.latest_window(db)
    allocation_round.preference_window_id = window.id if window else None
    db.commit()
    return redirect(url_for(".round_page", round_id=allocation_round.id))


@bp.get("/rounds/<int:round_id>")
def round_page(round_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    recent = jobs.round_jobs(db, round_id, limit=5)
    db.commit()  # reaping a dead worker is stored
    live = next((j for j in recent if j.state.value in ("queued", "running")), None)
    queue = _queue()
    no_worker = live is not None and queue is not None and job_queue.workers_alive(queue) == 0
    figures = None
    if review.is_solved(db, round_id):
        figures = review.round_review(db, round_id)
    policy_form = PolicyForm()
    policy_form.fill(rounds.merged_policy(allocation_round.policy))
    publish_form = PublishForm()
    automation_form = _automation_form()
    automation_form.preference_window.data = allocation_round.preference_window_id or 0
    automation_form.auto_run.data = allocation_round.auto_run
    automation_form.unanswered_rule.data = allocation_round.unanswered_rule.value
    return render_template(
        "coordinator/round.html",
        automation_form=automation_form,
        round=allocation_round,
        jobs=recent,
        live=live,
        no_worker=no_worker,
        figures=figures,
        changes=changes.pending_changes(db, round_id),
        manual=assignments.manual_pupils(db, round_id),
        policy_form=policy_form,
        publish_form=publish_form,
        run_form=RunForm(),
        action=ActionForm(),
        schools=organisation_scope.schools(db, _user()),
        RoundStatus=RoundStatus,
    )


@bp.get("/rounds/<int:round_id>/status.json")
def round_status(round_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    job = jobs.latest_job(db, round_id)
    db.commit()
    return {"round": allocation_round.status.value, "job": dict(jobs.job_view(job)) if job else None}


@bp.post("/rounds/<int:round_id>/policy")
def save_policy(round_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    form = PolicyForm()
    if form.validate_on_submit():
        rounds.update_policy(db, allocation_round, form.policy(), actor=_actor())
        db.commit()
        flash(_("Inställningarna är sparade; de gäller nästa körning."), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".round_page", round_id=round_id))


def _automation_form() -> AutomationForm:
    form = AutomationForm()
    windows = season.preference_windows(db)
    form.preference_window.choices = [SelectChoice(0, _("ingen"))] + [
        SelectChoice(w.id, f"{w.name} ({w.opens_at:%Y-%m-%d} – {w.closes_at:%Y-%m-%d})") for w in windows
    ]
    return form


@bp.post("/rounds/<int:round_id>/automation")
def save_automation(round_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    form = _automation_form()
    if form.validate_on_submit():
        rounds.update_automation(
            db,
            allocation_round,
            auto_run=bool(form.auto_run.data),
            unanswered_rule=UnansweredRule(form.unanswered_rule.data),
            preference_window_id=form.preference_window.data or None,
            actor=_actor(),
        )
        db.commit()
        flash(_("Automatiken är sparad."), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".round_page", round_id=round_id))


@bp.post("/rounds/<int:round_id>/run")
def run_round(round_id: int) -> ResponseReturnValue:
    form = RunForm()
    if not form.validate_on_submit():
        abort(400)
    allocation_round = round_scope.round_for(db, _user(), round_id)
    started = season.started(allocation_round.periods)
    if started and form.confirmed.data != "yes":  # say what running means for pupils already out first
        return _confirm_page(allocation_round, "run", form, started=started)
    job = jobs.enqueue(db, round_id, actor=_actor())
    db.commit()
    _start_solve(job.id)
    flash(_("Fördelningen körs i bakgrunden. Sidan uppdateras av sig själv."), "info")
    return redirect(url_for(".round_page", round_id=round_id))


def _queue() -> job_queue.Queue | None:
    """The job queue solves go to (``PRAKTIK_QUEUE_URL``), one per app; None runs them on this host."""
    url = current_app.config.get("QUEUE_URL")
    if not url:
        return None
    queue: job_queue.Queue = current_app.extensions.setdefault("praktik.queue", job_queue.Queue(url))
    return queue


def _start_solve(job_id: int) -> None:
    """Hand a committed solve job to the job queue, or without one start a worker process on this host."""
    launcher = current_app.config.get("SOLVE_LAUNCHER")
    queue = _queue()
    if launcher is not None:
        launcher(job_id)
    elif queue is not None:
        job_queue.dispatch_solve(queue, db.session_factory, job_id)
    else:
        log = Path(current_app.instance_path) / "worker.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        worker.launch(job_id, current_app.config["DATABASE_URL"], log_path=log)


@bp.post("/rounds/<int:round_id>/publish")
def publish_round(round_id: int) -> ResponseReturnValue:
    form = PublishForm()
    if form.validate_on_submit():
        deadline = to_utc(form.deadline.data)
        assert deadline is not None
        base_url = current_app.config["BASE_URL"]
        if form.confirmed.data != "yes":  # first what it will do, then a deliberate second click
            preview = assignments.preview_publication(db, round_id, deadline, actor=_actor(), base_url=base_url)
            db.rollback()
            allocation_round = round_scope.round_for(db, _user(), round_id)
            return _confirm_page(allocation_round, "publish", form, started=preview.started, preview=preview)
        assignments.publish(db, round_id, deadline, actor=_actor(), base_url=base_url)
        db.commit()
        flash(_("Omgången är publicerad. Arbetsgivarna svarar senast %(when)s.", when=form.deadline.data), "info")
    else:
        _form_problems(form)
    return redirect(url_for(".round_page", round_id=round_id))


def _confirm_page(
    allocation_round: Any, action: str, form: Any, *, started: list[Any], preview: Any = None
) -> ResponseReturnValue:
    """What a big action on the round will do, with the button that does it and the way back."""
    form.confirmed.data = "yes"
    return render_template(
        "coordinator/confirm_round_action.html",
        round=allocation_round,
        action=action,
        form=form,
        started=started,
        preview=preview,
    )


@bp.post("/rounds/<int:round_id>/changes/accept")
def accept_changes(round_id: int) -> ResponseReturnValue:
    form = ConfirmedActionForm()
    if form.validate_on_submit():
        if form.confirmed.data != "yes":
            allocation_round = round_scope.round_for(db, _user(), round_id)
            pending = changes.pending_changes(db, round_id)
            return _confirm_page(
                allocation_round, "accept", form, started=season.started(allocation_round.periods), preview=pending
            )
        changed = changes.accept_changes(db, round_id, actor=_actor())
        db.commit()
        flash(_("%(n)d ändringar är genomförda och publicerade.", n=changed), "info")
    return redirect(url_for(".round_page", round_id=round_id))


@bp.post("/rounds/<int:round_id>/changes/discard")
def discard_changes(round_id: int) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        changes.discard_changes(db, round_id, actor=_actor())
        db.commit()
        flash(_("De föreslagna ändringarna är borttagna."), "info")
    return redirect(url_for(".round_page", round_id=round_id))


@bp.get("/rounds/<int:round_id>/pupils")
def round_pupils(round_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    show = request.args.get("show", "all")
    if show not in review.FILTERS:
        show = "all"
    query = request.args.get("q", "")[:100]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    lines, total = review.pupil_lines(db, round_id, query=query, show=show, limit=PAGE, offset=(page - 1) * PAGE)
    return render_template(
        "coordinator/pupils.html",
        round=allocation_round,
        lines=lines,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        show=show,
        query=query,
        filters=review.FILTERS,
    )


@bp.get("/rounds/<int:round_id>/pupils/<int:pupil_id>")
def round_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    allocation_round = round_scope.round_for(db, _user(), round_id)
    story = review.pupil_story(db, round_id, pupil_id)
    pupil, _period = assignments.pupil_in(db, allocation_round, pupil_id)
    current = assignments.current(db, round_id, pupil_id)
    offers = offer_service.by_codes(db, story.preferences)
    query = request.args.get("q", "")[:100]
    options = (
        assignments.move_options(db, round_id, pupil_id, query=query)
        if allocation_round.status is RoundStatus.PROPOSED
        else []
    )
    return render_template(
        "coordinator/pupil.html",
        options=options[:MOVE_OPTIONS_SHOWN],
        options_total=len(options),
        query=query,
        offers=offers,
        round=allocation_round,
        pupil=pupil,
        story=story,
        current=current,
        move_form=MoveForm(),
        manual_form=ManualForm(),
        action=ActionForm(),
        RoundStatus=RoundStatus,
    )


def _pupil_redirect(round_id: int, pupil_id: int) -> ResponseReturnValue:
    return redirect(url_for(".round_pupil", round_id=round_id, pupil_id=pupil_id))


@bp.post("/rounds/<int:round_id>/pupils/<int:pupil_id>/move")
def move_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    form = MoveForm()
    if form.validate_on_submit():
        placed = assignments.move(db, round_id, pupil_id, form.offer.data or "", actor=_actor(), lock=form.lock.data)
        db.commit()
        flash(_("Eleven är flyttad till %(offer)s.", offer=placed.offer.code), "info")
    else:
        _form_problems(form)
    return _pupil_redirect(round_id, pupil_id)


@bp.post("/rounds/<int:round_id>/pupils/<int:pupil_id>/lock")
def lock_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        assignments.lock(db, round_id, pupil_id, actor=_actor())
        db.commit()
        flash(_("Placeringen är låst; en ny körning behåller den."), "info")
    return _pupil_redirect(round_id, pupil_id)


@bp.post("/rounds/<int:round_id>/pupils/<int:pupil_id>/unlock")
def unlock_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        assignments.unlock(db, round_id, pupil_id, actor=_actor())
        db.commit()
        flash(_("Placeringen är upplåst."), "info")
    return _pupil_redirect(round_id, pupil_id)


@bp.post("/rounds/<int:round_id>/pupils/<int:pupil_id>/manual")
def manual_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    form = ManualForm()
    if form.validate_on_submit():
        assignments.mark_manual(db, round_id, pupil_id, actor=_actor(), note=form.note.data or "")
        db.commit()
        flash(_("Eleven placeras för hand och lämnas utanför nästa körning."), "info")
    return _pupil_redirect(round_id, pupil_id)


@bp.post("/rounds/<int:round_id>/pupils/<int:pupil_id>/unmanual")
def unmanual_pupil(round_id: int, pupil_id: int) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        assignments.unmark_manual(db, round_id, pupil_id, actor=_actor())
        db.commit()
        flash(_("Eleven är med i nästa körning igen."), "info")
    return _pupil_redirect(round_id, pupil_id)


# --- exports ---------------------------------------------------------------------------------------------------------


@bp.get("/rounds/<int:round_id>/export/placements.<fmt>")
def export_placements(round_id: int, fmt: str) -> ResponseReturnValue:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    allocation_round = round_scope.round_for(db, _user(), round_id)
    scope = exports.scope(db, school_code=request.args.get("school"), employer_code=request.args.get("employer"))
    rows = exports.placement_rows(
        db,
        round_id,
        school_id=scope.school.id if scope.school else None,
        employer_id=scope.employer.id if scope.employer else None,
    )
    headers = labels.headers(exports.COLUMNS, labels.PLACEMENT_COLUMNS)
    if fmt == "csv":
        body = exports.to_csv(rows, headers)
    else:
        body = exports.to_xlsx(rows, headers, title=str(labels.PLACEMENTS_SHEET))
    audit.record(db, _actor(), "round.export", "allocation_round", round_id, after={"format": fmt, "scope": scope.code})
    db.commit()
    mimetype = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return _download(body, mimetype, exports.filename(allocation_round, scope.kind, fmt, scope.code))


@bp.get("/rounds/<int:round_id>/export/<kind>.json")
def export_artifact(round_id: int, kind: str) -> ResponseReturnValue:
    if kind not in set(ArtifactKind):
        abort(404)
    round_scope.round_for(db, _user(), round_id)
    artifact = solving.latest_artifact(db, round_id, ArtifactKind(kind))
    if artifact is None:
        abort(404)
    audit.record(db, _actor(), "round.export", "allocation_round", round_id, after={"format": kind})
    db.commit()
    body = json.dumps(json.loads(artifact.body), indent=1, ensure_ascii=False).encode()
    return _download(body, "application/json", f"praktik-round-{round_id}-{kind}.json")


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "sv")


# --- scheduler and outbox --------------------------------------------------------------------------------------------


@bp.get("/scheduler")
def scheduler_page() -> ResponseReturnValue:
    state = request.args.get("state") or None
    try:
        wanted = MailState(state) if state else None
    except ValueError:
        abort(404)
    return render_template(
        "coordinator/scheduler.html",
        jobs=scheduler.job_overview(db),
        running=scheduler.is_running(db),
        runs=scheduler.recent_runs(db),
        queue=job_queue.overview(queue) if (queue := _queue()) else None,
        messages=mail.outbox(db, state=wanted),
        counts=mail.counts(db),
        state=wanted,
        MailState=MailState,
        action=ActionForm(),
    )


@bp.post("/outbox/<int:message_id>/resend")
def resend_message(message_id: int) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    message = mail.resend(db, message_id, actor=_actor())
    db.commit()
    flash(_("Meddelandet till %(to)s skickas igen.", to=message.recipient), "info")
    return redirect(url_for(".scheduler_page"))
