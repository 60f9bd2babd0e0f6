"""Translated labels of the domain's closed sets, and the template filters that show them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from markupsafe import Markup

from placement.cohorts.for_school import PupilStatus
from placement.enums import AssignmentStatus, Gender, GeoStatus, JobRunState, JobState, MailState, RoundStatus, Sector
from placement.organisation.invitations import State as InvitationState

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

#: The scheduler's jobs by id (placement.runtime.scheduler.job_specs).
SCHEDULER_JOBS = {
    "windows": _l("Öppnar och stänger valperioder, kör omgångar som ska köras automatiskt"),
    "deadlines": _l("Tillämpar regeln för obesvarade placeringar vid svarstidens slut"),
    "reminders": _l("Påminner skolor och arbetsgivare"),
    "mail": _l("Skickar e-post från utkorgen"),
    "digest": _l("Veckosammanfattning till samordnare (måndagar 07.00)"),
    "purge": _l("Gallrar personuppgifter efter lagringstiden (varje natt 03.30)"),
}

#: The job queue's tasks (placement.runtime.queue) and its jobs' states (Procrastinate's).
QUEUE_TASKS = {
    "praktik.solve_round": _l("Fördelning av en omgång"),
    "praktik.send_outbox": _l("Skickar e-post från utkorgen"),
}
QUEUE_STATES = {
    "todo": _l("väntar"),
    "doing": _l("pågår"),
    "succeeded": _l("klar"),
    "failed": _l("misslyckades"),
    "cancelled": _l("avbruten"),
    "aborting": _l("avbryts"),
    "aborted": _l("avbruten"),
}

GENDERS = {Gender.FEMALE: _l("flickor"), Gender.MALE: _l("pojkar"), Gender.OTHER: _l("annat"), "unknown": _l("okänt")}

NEED_TERCILES = {
    "low need": _l("lågt behov"),
    "middle need": _l("medelbehov"),
    "high need": _l("högt behov"),
}


#: The mechanisms a round can be allocated by (placement.rounds.setup.MECHANISMS).
MECHANISM_LABELS = {
    "optimal": _l("Optimering"),
    "da-reserves": _l("Uppskjuten acceptans med reserverade platser"),
}

#: What choosing each mechanism means, shown beside the choice on the set-up form.
MECHANISM_TRADE_OFFS = {
    "optimal": _l(
        "Fler elever får något av sina tre första val och färre placeras utanför sina val, och motorn jämnar ut "
        "utfallet mellan skolor, kön och behovsgrupper. Men en elev kan ibland vinna på att rangordna taktiskt, "
        "till exempel genom att lämna bort ett erbjudande från sin lista."
    ),
    "da-reserves": _l(
        "Eleverna söker i tur och ordning efter sina listor och platserna lottas bland de sökande, med en del av "
        "platserna på varje erbjudande reserverade för elever från skolor med högt behov. I lottningen kan en ärlig "
        "rangordning aldrig skada eleven, och helt säkert är det när varje elev har minst lika många lediga platser "
        "inom sitt avstånd som perioden har elever (granskningen visar om det gäller). Oftast får färre elever "
        "något av sina tre första val än med optimeringen."
    ),
}

#: Every method of the review's trade-off table: the two mechanisms and the references.
METHOD_LABELS = {
    **MECHANISM_LABELS,
    "mcf": _l("Lägsta rangkostnad, utan rättviseviktning"),
    "da": _l("Uppskjuten acceptans"),
    "fcfs": _l("Först till kvarn"),
}

#: The measures of the review's trade-off table (placement.rounds.review.TRADE_OFF_MEASURES):
#: a label and one line on what it means.  The definitions are those of docs/formats.md, "Equity measures".
MEASURES = {
    "placed": (_l("Placerade elever"), _l("Antal elever som fick en praoplats.")),
    "share_top3": (
        _l("Topp tre"),
        _l("Andel av alla elever i omgången som fick något av sina tre första val."),
    ),
    "share_unranked": (
        _l("Utanför valen"),
        _l("Andel av alla elever i omgången som placerades på ett erbjudande som de inte hade valt."),
    ),
    "need_top3": (
        _l("Topp tre per behovsgrupp (lågt / medel / högt behov)"),
        _l(
            "Bland elever som rangordnat minst ett erbjudande som de kan få: andelen i topp tre, för skolor med "
            "lågt, medel och högt behovsindex (varje grupp ungefär en tredjedel av eleverna)."
        ),
    ),
    "school_spread": (
        _l("Skillnad mellan skolor"),
        _l(
            "Högsta minus lägsta andel i topp tre bland skolorna, räknat på elever som rangordnat; bara skolor med "
            "minst 20 sådana elever räknas."
        ),
    ),
    "gender_spread": (
        _l("Skillnad mellan kön"),
        _l(
            "Högsta minus lägsta andel i topp tre mellan könen (flickor, pojkar, annat, okänt), för grupper med "
            "minst 20 elever som rangordnat."
        ),
    ),
    "need_spread": (
        _l("Skillnad mellan behovsgrupper"),
        _l("Högsta minus lägsta andel i topp tre mellan de tre behovsgrupperna."),
    ),
    "worst_group": (
        _l("Sämst ställda grupp"),
        _l(
            "Den lägsta andelen i topp tre bland alla räknade grupper (skolor, kön och behovsgrupper), och vilken "
            "grupp det är."
        ),
    ),
    "female_male_gap": (
        _l("Flickor − pojkar"),
        _l(
            "Flickornas andel i topp tre minus pojkarnas. Över noll: flickorna fick oftare något av sina tre "
            "första val."
        ),
    ),
    "unplaced_by_need": (
        _l("Utan plats per behovsgrupp (lågt / medel / högt behov)"),
        _l("Antal elever i varje behovsgrupp som inte fick någon plats."),
    ),
    "popular_by_need": (
        _l("Populära erbjudanden per behovsgrupp (lågt / medel / högt behov)"),
        _l(
            "De mest eftersökta erbjudandena är den tiondel som har flest sökande per plats, om de har fler "
            "sökande än platser. Av eleverna som valt minst ett av dem: andelen som fick ett av dem."
        ),
    ),
    "popular_high_low": (
        _l("Populära erbjudanden, högt mot lågt behov"),
        _l(
            "Andelen ovan för högt behov delad med andelen för lågt behov. 1 betyder lika tillgång; under 1 att "
            "elever från skolor med högt behov trängs undan från de populära erbjudandena."
        ),
    ),
    "strategy_proof": (
        _l("Säkert att rangordna ärligt"),
        _l(
            "Ja: ingen elev kan vinna på att rangordna i någon annan ordning än sin verkliga. Nej: en elev kan "
            "ibland vinna på att rangordna taktiskt. För uppskjuten acceptans med reserverade platser beror det på "
            "omgången: ja när varje elev har minst lika många lediga platser inom sitt avstånd som perioden har "
            "elever."
        ),
    ),
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


def points(value: float | None, signed: bool = False) -> str:
    """A difference of two shares, in percentage points."""
    if value is None:
        return "–"
    unit = _l("procentenheter")
    return f"{100 * value:{'+' if signed else ''}.1f} {unit}"


def measure_value(value: Any, kind: str, school_names: Mapping[str, str] | None = None) -> str:
    """One value of the review's trade-off table, as its ``kind`` reads (placement.rounds.review.TradeOffRow)."""
    if value is None:
        return "–"
    if kind == "count":
        return str(value)
    if kind == "share":
        return percent(value)
    if kind in ("points", "signed_points"):
        return points(value, signed=kind == "signed_points")
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == "terciles_share":
        return " / ".join(percent(v) for v in value)
    if kind == "terciles_count":
        return " / ".join("–" if v is None else str(v) for v in value)
    if kind == "worst":
        group = str(value.get("group"))
        name = (school_names or {}).get(group) if value.get("dimension") == "school" else None
        return f"{percent(value.get('rate'))} ({name or group_label(group)})"
    if kind == "yes_no":
        return str(_l("Ja") if value else _l("Nej"))
    raise ValueError(f"unknown measure kind {kind!r}")


def group_label(value: str) -> str:
    if value in NEED_TERCILES:
        return str(NEED_TERCILES[value])
    try:
        return str(GENDERS[Gender(value)])
    except ValueError:
        return str(GENDERS.get(value, value))  # type: ignore[call-overload]


#: A pupil's status as the school follows it (placement.cohorts.for_school.PupilStatus).
PUPIL_STATUSES = {
    PupilStatus.NO_CHOICES: _l("inga val ännu"),
    PupilStatus.CHOICES: _l("har rangordnat val"),
    PupilStatus.PLACED: _l("placerad, inväntar svar"),
    PupilStatus.CONFIRMED: _l("bekräftad"),
    PupilStatus.DECLINED: _l("avböjd av arbetsgivaren"),
    PupilStatus.SELF_ARRANGED: _l("egen praoplats"),
}

#: Headers of the placement lists' columns (placement.reports.exports.COLUMNS).
PLACEMENT_COLUMNS = {
    "school": _l("Skola"),
    "class_name": _l("Klass"),
    "last_name": _l("Efternamn"),
    "first_name": _l("Förnamn"),
    "pupil_code": _l("Elevkod"),
    "period": _l("Period"),
    "start": _l("Från"),
    "end": _l("Till"),
    "employer": _l("Arbetsgivare"),
    "offer_code": _lp("column", "Erbjudande"),
    "offer_title": _l("Titel"),
    "workplace": _l("Arbetsplats"),
    "address": _l("Adress"),
    "supervisor": _l("Handledare"),
    "supervisor_phone": _l("Handledarens telefon"),
    "supervisor_email": _l("Handledarens e-post"),
    "rank": _l("Val nr"),
    "status": _l("Status"),
}
#: Headers of the school's status export's columns (placement.reports.for_school.STATUS_COLUMNS).
STATUS_COLUMNS = {
    **{key: PLACEMENT_COLUMNS[key] for key in ("school", "class_name", "last_name", "first_name", "pupil_code")},
    "status": PLACEMENT_COLUMNS["status"],
    "choices": _l("Antal val"),
    **{key: PLACEMENT_COLUMNS[key] for key in ("employer", "offer_code", "offer_title", "period", "start", "end")},
}
#: The sheets' names in the XLSX exports.
PLACEMENTS_SHEET = _l("Placeringar")
PUPILS_SHEET = _l("Elever")


#: A school's or a workplace's location status in words.
GEO_STATUSES = {
    GeoStatus.PENDING: _l("Väntar på att adressen slås upp"),
    GeoStatus.OK: _l("Placerad efter adressen"),
    GeoStatus.MANUAL: _l("Placerad med angivna koordinater"),
    GeoStatus.NOT_FOUND: _l("Adressen hittades inte"),
    GeoStatus.IMPLAUSIBLE: _l("Adressen gav en orimlig plats"),
    GeoStatus.FAILED: _l("Uppslagningen misslyckades"),
}

#: An invitation's state as the lists of people show it.
INVITATION_STATES = {
    InvitationState.PENDING: _l("väntar på svar"),
    InvitationState.ACCEPTED: _l("mottagen"),
    InvitationState.WITHDRAWN: _l("återkallad"),
    InvitationState.EXPIRED: _l("har gått ut"),
}


def headers(columns: Sequence[str], labels: Mapping[str, Any]) -> list[str]:
    """The headers of ``columns`` in the user's language."""
    return [str(labels[column]) for column in columns]


def pupil_statuses() -> dict[PupilStatus, str]:
    return {status: str(label) for status, label in PUPIL_STATUSES.items()}


def register(app: Flask) -> None:
    app.add_template_filter(sector_label, "sector_label")
    app.add_template_filter(lambda s: Markup.escape(str(PUPIL_STATUSES[PupilStatus(s)])), "pupil_status")
    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(lambda s: Markup.escape(str(INVITATION_STATES[InvitationState(s)])), "invitation_state")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(group_label, "group_label")
    app.add_template_filter(points, "points")
    app.add_template_filter(measure_value, "measure_value")
    app.add_template_filter(lambda m: Markup.escape(str(METHOD_LABELS.get(m, m))), "method_label")
    app.add_template_filter(lambda m: Markup.escape(str(MECHANISM_TRADE_OFFS.get(m, ""))), "mechanism_trade_off")
    app.add_template_filter(lambda k: Markup.escape(str(MEASURES[k][0])), "measure_label")
    app.add_template_filter(lambda k: Markup.escape(str(MEASURES[k][1])), "measure_meaning")
    app.add_template_filter(lambda s: Markup.escape(str(ROUND_STATUSES.get(RoundStatus(s), s))), "round_status")
    app.add_template_filter(
        lambda s: Markup.escape(str(ASSIGNMENT_STATUSES.get(AssignmentStatus(s), s))), "assignment_status"
    )
    app.add_template_filter(lambda s: Markup.escape(str(JOB_STATES.get(JobState(s), s))), "job_state")
    app.add_template_filter(lambda s: Markup.escape(str(MAIL_STATES.get(MailState(s), s))), "mail_state")
    app.add_template_filter(lambda s: Markup.escape(str(JOB_RUN_STATES.get(JobRunState(s), s))), "job_run_state")
    app.add_template_filter(lambda s: Markup.escape(str(SCHEDULER_JOBS.get(s, s))), "scheduler_job")
    app.add_template_filter(lambda s: Markup.escape(str(QUEUE_TASKS.get(s, s))), "queue_task")
    app.add_template_filter(lambda s: Markup.escape(str(QUEUE_STATES.get(s, s))), "queue_state")
