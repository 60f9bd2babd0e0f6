"""Translated labels of the domain's closed sets, and the template filters that show them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from placement.enums import AssignmentStatus, Gender, JobRunState, JobState, MailState, RoundStatus, Sector

LOCAL = ZoneInfo("Europe/Stockholm")

SECTORS = {
    Sector.HEALTH: _l("Vård och omsorg"),
    Sector.EDUCATION: _l("Skola och förskola"),
    Sector.RETAIL: _l("Handel"),
    Sector.HOSPITALITY: _l("Hotell och restaurang"),
    Sector.CONSTRUCTION: _l("Bygg"),
    Sector.MANUFACTURING: _l("Industri"),
    Sector.IT: _l("IT"),
    Sector.TRANSPORT: _l("Transport och logistik"),
    Sector.OFFICE: _l("Kontor och administration"),
    Sector.CULTURE: _l("Kultur och media"),
    Sector.PUBLIC: _l("Offentlig verksamhet"),
    Sector.AGRICULTURE: _l("Jord, skog och djur"),
    Sector.VEHICLES: _l("Fordon"),
    Sector.BEAUTY: _l("Frisör och skönhet"),
    Sector.SPORTS: _l("Idrott och friskvård"),
    Sector.SCIENCE: _l("Naturvetenskap och teknik"),
}

ROUND_STATUSES = {
    RoundStatus.DRAFT: _l("utkast"),
    RoundStatus.SOLVING: _l("körs"),
    RoundStatus.PROPOSED: _l("förslag"),
    RoundStatus.PUBLISHED: _l("publicerad"),
    RoundStatus.CLOSED: _l("avslutad"),
    RoundStatus.FAILED: _l("misslyckad"),
}

ASSIGNMENT_STATUSES = {
    AssignmentStatus.PROPOSED: _l("föreslagen"),
    AssignmentStatus.PUBLISHED: _l("publicerad, inväntar svar"),
    AssignmentStatus.CONFIRMED: _l("bekräftad"),
    AssignmentStatus.DECLINED: _l("avböjd"),
    AssignmentStatus.WITHDRAWN: _l("återkallad"),
    AssignmentStatus.LOCKED: _l("låst"),
}

JOB_STATES = {
    JobState.QUEUED: _l("i kö"),
    JobState.RUNNING: _l("pågår"),
    JobState.SUCCEEDED: _l("klar"),
    JobState.FAILED: _l("misslyckades"),
}

MAIL_STATES = {
    MailState.QUEUED: _l("i kö"),
    MailState.SENDING: _l("skickas"),
    MailState.SENT: _l("skickat"),
    MailState.FAILED: _l("misslyckades"),
}

JOB_RUN_STATES = {
    JobRunState.RUNNING: _l("pågår"),
    JobRunState.SUCCEEDED: _l("klar"),
    JobRunState.FAILED: _l("misslyckades"),
}

#: The scheduler's jobs by id (placement.scheduler.job_specs).
SCHEDULER_JOBS = {
    "windows": _l("Öppnar och stänger valperioder, kör omgångar som ska köras automatiskt"),
    "deadlines": _l("Tillämpar regeln för obesvarade placeringar vid svarstidens slut"),
    "reminders": _l("Påminner skolor och arbetsgivare"),
    "mail": _l("Skickar e-post från utkorgen"),
    "digest": _l("Veckosammanfattning till samordnare (måndagar 07.00)"),
    "purge": _l("Gallrar personuppgifter efter lagringstiden (varje natt 03.30)"),
}

GENDERS = {Gender.FEMALE: _l("flickor"), Gender.MALE: _l("pojkar"), Gender.OTHER: _l("annat"), "unknown": _l("okänt")}

NEED_TERCILES = {
    "low need": _l("lågt behov"),
    "middle need": _l("medelbehov"),
    "high need": _l("högt behov"),
}


def sector_label(value: str | Sector) -> str:
    try:
        return str(SECTORS[Sector(value)])
    except ValueError:
        return str(value)


def localtime(moment: dt.datetime | None) -> str:
    """A stored UTC time as Swedish wall-clock time."""
    if moment is None:
        return "–"
    return moment.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def group_label(value: str) -> str:
    if value in NEED_TERCILES:
        return str(NEED_TERCILES[value])
    try:
        return str(GENDERS[Gender(value)])
    except ValueError:
        return str(GENDERS.get(value, value))  # type: ignore[call-overload]


def register(app: Flask) -> None:
    app.add_template_filter(sector_label, "sector_label")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(group_label, "group_label")
    app.add_template_filter(lambda s: Markup.escape(str(ROUND_STATUSES.get(RoundStatus(s), s))), "round_status")
    app.add_template_filter(
        lambda s: Markup.escape(str(ASSIGNMENT_STATUSES.get(AssignmentStatus(s), s))), "assignment_status"
    )
    app.add_template_filter(lambda s: Markup.escape(str(JOB_STATES.get(JobState(s), s))), "job_state")
    app.add_template_filter(lambda s: Markup.escape(str(MAIL_STATES.get(MailState(s), s))), "mail_state")
    app.add_template_filter(lambda s: Markup.escape(str(JOB_RUN_STATES.get(JobRunState(s), s))), "job_run_state")
    app.add_template_filter(lambda s: Markup.escape(str(SCHEDULER_JOBS.get(s, s))), "scheduler_job")
