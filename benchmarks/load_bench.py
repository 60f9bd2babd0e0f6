"""Benchmark: a preference window's load, and employers answering, through gunicorn on PostgreSQL and SQLite.

    pip install -e '.[bench]'                                         # gunicorn, aiohttp
    python -m benchmarks.load_bench                                   # both databases, 50 users, 10 minutes each
    python -m benchmarks.load_bench --database sqlite --minutes 1 --users 20    # a short run

For each database the demo region is loaded into a fresh database (for
PostgreSQL one made for the run on ``--postgres`` and dropped after it), the
season laid on today so that the pupils' window is open.  The run then
gives ``--pupils`` demo pupils a login code each, and makes a published
round in the demo's last period with ``--employers`` employers' contacts
able to log in, each with the pupils placed at their offers to answer.

gunicorn serves ``web.wsgi:app`` on loopback (``--workers`` processes of
``--threads`` threads; by default 5 synchronous workers, as the README's
production section runs it).  ``--users`` simulated people in one asyncio
process (aiohttp), without pause between requests, run two scenarios one
after the other, each for ``--minutes``:

``pupils``
    A pupil logs in with their code, makes 30 requests and logs out, and
    the next pupil of the list takes over.  Of the requests 80 % read: the
    home page, the offer list (any page, any sector, a distance limit, a
    keyword, sorted by distance or title), the ranking and the placement,
    and the page a change leads back to; 20 % write: adding an offer from
    the list last seen, moving a choice up or down, removing one.
``employers``
    An employer's contact logs in with their password, looks at the
    overview, their offers and the demand in their sectors, and confirms or
    declines the placements there one by one (a fifth of the requests while
    any are left to answer), then logs out for the next employer.

Every request is timed from sending to the last byte of the answer.  An
error is a connection failure, a server error, or an answer other than the
one the request must get (a refused change counts: each simulated person
sends only changes the rules allow).  A lost write is a change that was
answered as done but is not in the database afterwards: every pupil's
ranking and every answered placement is compared with what the clients
did.  The report gives requests per second, p50/p95/p99 per kind of
request, errors, lost writes, and the CPU seconds the web workers, the
database server (PostgreSQL's processes; SQLite runs inside the workers)
and the client used per request.  Everything is printed and written to
``OUT/load-DATABASE.json``.  The run is bounded (``--minutes``), on
loopback only, and not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.db import make_engine
from placement.demo import load_demo_region, school_year
from placement.enums import AssignmentStatus, RoundStatus
from placement.migrate import upgrade
from placement.organisation import accounts
from placement.rounds import setup as rounds

REPO = Path(__file__).resolve().parent.parent
SESSION_REQUESTS = 30
PASSWORD = "lastprovets-lösenord"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
LISTED = re.compile(r'<li class="offer" data-offer="([^"]+)"')
ERROR_FLASH = 'class="flash flash-error"'
KEYWORDS = ["bageri", "verkstad", "förskola", "butik", "data", "vård", "kök", "djur", "bygg", "hotell"]
SECTORS = ["", "", "", "it", "retail", "health", "construction", "education", "hospitality", "vehicles"]


# --- the world ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class World:
    pupils: list[tuple[int, str]]  # (pupil id, login code)
    rankings: dict[int, list[str]]  # pupil id -> offer codes, first choice first, as the run starts
    max_choices: int
    employers: list[tuple[str, list[int]]]  # (contact e-mail, assignments to answer)


def prepare(url: str, *, pupils: int, employers: int, seed: int) -> World:
    """The demo region with login codes for ``pupils`` pupils and a published round for ``employers`` employers."""
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(seed)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        summary = load_demo_region(session)
        season = school_year(summary.periods[0].start_date)
        rounds.create_round(session, f"PRAO åk 8 {season}", [p.code for p in summary.periods], actor=audit.CLI)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        window = session.scalars(select(m.PreferenceWindow)).one()
        first, last = summary.periods[0], summary.periods[-1]
        # Pupils of the first period rank; pupils of the last are placed in the published round.
        choosing = session.scalars(
            select(m.Pupil)
            .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
            .where(m.SchoolClass.period_id == first.id, m.Pupil.self_arranged_offer_id.is_(None))
            .order_by(m.Pupil.id)
        ).all()
        chosen = rng.sample(list(choosing), min(pupils, len(choosing)))
        codes = [(p.id, login_codes.issue(session, p, actor=audit.CLI).code) for p in chosen]
        rankings: dict[int, list[str]] = {p.id: [] for p in chosen}
        for pupil_id, code in session.execute(
            select(m.Preference.pupil_id, m.Offer.code)
            .join(m.Offer, m.Offer.id == m.Preference.offer_id)
            .where(m.Preference.pupil_id.in_(list(rankings)))
            .order_by(m.Preference.pupil_id, m.Preference.rank)
        ):
            rankings[pupil_id].append(code)
        answering = _published_round(session, last, employers, rng)
    engine.dispose()
    return World(codes, rankings, window.max_choices, answering)


def _published_round(
    session: Session, period: m.Period, employers: int, rng: random.Random
) -> list[tuple[str, list[int]]]:
    """A published round in ``period``: pupils placed at ``employers`` employers' offers; their contacts log in."""
    published = rounds.create_round(session, "Lastprov", [period.code], actor=audit.CLI)
    published.status = RoundStatus.PUBLISHED
    published.confirm_deadline = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    waiting = list(
        session.scalars(
            select(m.Pupil.id)
            .join(m.SchoolClass, m.Pupil.class_id == m.SchoolClass.id)
            .where(m.SchoolClass.period_id == period.id, m.Pupil.self_arranged_offer_id.is_(None))
            .order_by(m.Pupil.id)
        )
    )
    rng.shuffle(waiting)
    capacities = session.execute(
        select(m.Offer.id, m.Offer.employer_id, m.OfferCapacity.places)
        .join(m.OfferCapacity, m.OfferCapacity.offer_id == m.Offer.id)
        .join(m.Employer, m.Employer.id == m.Offer.employer_id)
        .where(m.OfferCapacity.period_id == period.id, m.OfferCapacity.places > 0, m.Employer.status == "approved")
        .order_by(m.Offer.employer_id, m.Offer.id)
    ).all()
    by_employer: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for offer_id, employer_id, places in capacities:
        by_employer[employer_id].append((offer_id, places))
    picked = sorted(by_employer, key=lambda e: -sum(p for _o, p in by_employer[e]))[:employers]
    answering: list[tuple[str, list[int]]] = []
    for employer_id in picked:
        contact = session.scalars(
            select(m.User)
            .join(m.EmployerMembership, m.EmployerMembership.user_id == m.User.id)
            .where(m.EmployerMembership.employer_id == employer_id)
        ).first()
        if contact is None or contact.email is None:
            continue
        accounts.set_password(contact, PASSWORD)
        contact.email_verified_at = contact.email_verified_at or dt.datetime.now(dt.UTC)
        assignments = []
        for offer_id, places in by_employer[employer_id]:
            for _ in range(places):
                if not waiting:
                    break
                assignment = m.Assignment(
                    round_id=published.id,
                    pupil_id=waiting.pop(),
                    offer_id=offer_id,
                    period_id=period.id,
                    status=AssignmentStatus.PUBLISHED,
                )
                session.add(assignment)
                assignments.append(assignment)
        session.flush()
        answering.append((contact.email, [a.id for a in assignments]))
    return answering


# --- the server -----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(url: str, *, workers: int, threads: int, out: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """gunicorn serving the app on a free loopback port until the block ends."""
    port = _free_port()
    env = os.environ | {
        "PRAKTIK_DATABASE_URL": url,
        "PRAKTIK_SECRET_KEY": "load-benchmark",
        "PRAKTIK_BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = (out / "gunicorn.log").open("ab")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "web.wsgi:app",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", "gthread" if threads > 1 else "sync", "--threads", str(threads),
            "--log-level", "warning", "--timeout", "120",
        ],
        cwd=REPO, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn stopped at start; see {out / 'gunicorn.log'}")
            time.sleep(0.1)
        for _ in range(300):  # the workers are up
            if len(_children(server.pid)) >= workers:
                break
            time.sleep(0.1)
        yield base, server
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of these processes (and their waited-for children) so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / ticks  # utime, stime, cutime, cstime
    return total


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
    return pids


# --- the clients ----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Tally:
    timings: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    examples: list[str] = dataclasses.field(default_factory=list)

    def note_error(self, kind: str, what: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 20:
            self.examples.append(f"{kind}: {what}")


class Person:
    """One simulated person: an aiohttp session with its own cookies."""

    def __init__(self, base: str, tally: Tally) -> None:
        import aiohttp

        self.base = base
        self.tally = tally
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=120)
        )
        self.token = ""
        self.logged_in = False
        #: Requests made in this session.
        self.made = 0

    async def request(self, kind: str, method: str, path: str, *, expect: int, data: Any = None) -> tuple[int, str]:
        self.made += 1
        started = time.perf_counter()
        try:
            async with self.http.request(method, self.base + path, data=data, allow_redirects=False) as answer:
                body = await answer.text()
                status = answer.status
        except Exception as exc:
            self.tally.note_error(kind, f"{method} {path}: {type(exc).__name__} {exc}")
            return 0, ""
        self.tally.timings[kind].append(time.perf_counter() - started)
        if status != expect:
            said = " ".join(re.sub(r"<[^>]+>", " ", body.split("<main", 1)[-1]).split())[:160]
            self.tally.note_error(kind, f"{method} {path}: {status}, expected {expect}: {said}")
        found = TOKEN.search(body)
        if found:
            self.token = found[1]
        return status, body

    async def close(self) -> None:
        await self.http.close()


async def one_after_another(run: Run, visit: Callable[[Person, int, random.Random], Awaitable[None]]) -> None:
    """The people of the queue one after another, each visiting in a session of their own, logged out after."""
    rng = random.Random(hash(asyncio.current_task()))
    while time.monotonic() < run.stop:
        item = await run.queue.get()
        person = Person(run.base, run.tally)
        try:
            await visit(person, item, rng)
            if person.logged_in:
                await person.request("logout", "POST", "/auth/logout", expect=302, data={"csrf_token": person.token})
        finally:
            await person.close()
            run.queue.put_nowait(item)


async def log_in(person: Person, kind: str, page: str, form: dict[str, str], landing: tuple[str, str]) -> None:
    """The login form read, sent, and the page it leads to read (with the new session's token)."""
    await person.request(f"{kind} page", "GET", page, expect=200)
    status, _ = await person.request(kind, "POST", page, expect=302, data=form | {"csrf_token": person.token})
    if status == 302:
        person.logged_in = True
        await person.request(landing[0], "GET", landing[1], expect=200)


#: The pages read besides the offer list (pupils) or the answers (employers): (kind, path, weight).
PUPIL_PAGES = [("ranking", "/pupil/choices", 18), ("home", "/pupil/", 15), ("placement", "/pupil/placement", 7)]
EMPLOYER_PAGES = [
    ("employer overview", "/employer/", 40),
    ("employer offers", "/employer/offers", 25),
    ("employer demand", "/employer/demand", 15),
]


async def read_one(person: Person, rng: random.Random, pages: list[tuple[str, str, int]]) -> None:
    kind, path, _weight = rng.choices(pages, weights=[weight for *_page, weight in pages])[0]
    await person.request(kind, "GET", path, expect=200)


def pupil_visit(run: Run) -> Callable[[Person, int, random.Random], Awaitable[None]]:
    """A pupil logs in, makes :data:`SESSION_REQUESTS` requests, 80 % reads and 20 % writes."""
    world = run.world
    codes = dict(world.pupils)

    async def visit(person: Person, pupil_id: int, rng: random.Random) -> None:
        await log_in(person, "pupil login", "/pupil-login/", {"code": codes[pupil_id]}, ("home", "/pupil/"))
        listed: list[str] = []
        ranking = world.rankings[pupil_id]
        while person.logged_in and person.made < SESSION_REQUESTS and time.monotonic() < run.stop:
            roll = rng.random()
            if roll < 0.2:  # a write, and the page it leads back to
                await _pupil_change(person, rng, ranking, listed, world.max_choices)
            elif roll < 0.60:
                _, body = await person.request("offers", "GET", "/pupil/offers" + _offer_query(rng), expect=200)
                listed = LISTED.findall(body) or listed
            else:
                await read_one(person, rng, PUPIL_PAGES)

    return visit


def _offer_query(rng: random.Random) -> str:
    parts = []
    if rng.random() < 0.3:
        parts.append(f"page={rng.randint(2, 6)}")
    sector = rng.choice(SECTORS)
    if sector:
        parts.append(f"sector={sector}")
    if rng.random() < 0.25:
        parts.append(f"max_km={rng.choice([3, 5, 10, 20])}")
    if rng.random() < 0.15:
        parts.append(f"q={rng.choice(KEYWORDS)}")
    if rng.random() < 0.2:
        parts.append("order=title")
    return "?" + "&".join(parts) if parts else ""


async def _pupil_change(
    person: Person, rng: random.Random, ranking: list[str], listed: list[str], max_choices: int
) -> None:
    """One change the rules allow and the page it leads back to; the ranking updated when the page confirms it."""
    unranked = [code for code in listed if code not in ranking]
    choice = rng.random()
    if ranking and (choice < 0.3 or (not unranked and choice < 0.7) or len(ranking) >= max_choices):
        code = rng.choice(ranking)
        kind, path, form = "remove choice", "/pupil/choices/remove", {"offer": code}
        after = [c for c in ranking if c != code]
    elif ranking and choice < 0.6 and len(ranking) > 1:
        code = rng.choice(ranking)
        index = ranking.index(code)
        direction = "up" if index > 0 and (index == len(ranking) - 1 or rng.random() < 0.5) else "down"
        kind, path, form = "move choice", "/pupil/choices/move", {"offer": code, "direction": direction}
        after = list(ranking)
        target = index - 1 if direction == "up" else index + 1
        after.insert(target, after.pop(index))
    elif unranked:
        code = rng.choice(unranked)
        kind, path, form = "add choice", "/pupil/choices/add", {"offer": code, "next": "/pupil/offers"}
        after = [*ranking, code]
    else:
        await person.request("offers", "GET", "/pupil/offers", expect=200)
        return
    status, _ = await person.request(kind, "POST", path, expect=302, data=form | {"csrf_token": person.token})
    if status != 302:
        return
    landing = "/pupil/offers" if kind == "add choice" else "/pupil/choices"
    _, page = await person.request("page after a change", "GET", landing, expect=200)
    if ERROR_FLASH in page:
        person.tally.note_error(kind, f"refused: {re.sub(r'<[^>]+>', '', page.split(ERROR_FLASH, 1)[1])[:120]}")
    else:
        ranking[:] = after


@dataclasses.dataclass
class Run:
    """What the simulated people of one scenario share."""

    base: str
    world: World
    tally: Tally
    stop: float
    #: The answers employers' contacts saw done: assignment id -> "confirm" or "decline".
    answers: dict[int, str]
    queue: asyncio.Queue[int] = dataclasses.field(default_factory=asyncio.Queue)


def employer_visit(run: Run) -> Callable[[Person, int, random.Random], Awaitable[None]]:
    """An employer's contact logs in, looks around and answers their placements one by one."""

    async def visit(person: Person, index: int, rng: random.Random) -> None:
        email, assignment_ids = run.world.employers[index]
        form = {"email": email, "password": PASSWORD}
        await log_in(person, "staff login", "/auth/login", form, ("employer overview", "/employer/"))
        pending = [a for a in assignment_ids if a not in run.answers]
        while person.logged_in and person.made < SESSION_REQUESTS and time.monotonic() < run.stop:
            roll = rng.random()
            if roll < 0.2 and pending:
                assignment_id = pending.pop()
                answer = "confirm" if rng.random() < 0.8 else "decline"
                reason = {"reason": "Vi har inte plats."} if answer == "decline" else {}
                path = f"/employer/placements/{assignment_id}/{answer}"
                status, _ = await person.request(
                    f"{answer} placement", "POST", path, expect=302, data={"csrf_token": person.token} | reason
                )
                if status == 302:
                    run.answers[assignment_id] = answer
            else:
                await read_one(person, rng, EMPLOYER_PAGES)

    return visit


async def _run(scenario: str, run: Run, users: int) -> Tally:
    if scenario == "pupils":
        for pupil_id, _code in run.world.pupils:
            run.queue.put_nowait(pupil_id)
        tasks = [one_after_another(run, pupil_visit(run)) for _ in range(min(users, len(run.world.pupils)))]
    else:
        for index in range(len(run.world.employers)):
            run.queue.put_nowait(index)
        people = min(users, len(run.world.employers))
        tasks = [one_after_another(run, employer_visit(run)) for _ in range(people)]
    await asyncio.gather(*tasks)
    return run.tally


# --- checking and reporting ------------------------------------------------------------------------------------------


async def _scenario(scenario: str, base: str, world: World, args: argparse.Namespace, answers: dict[int, str]) -> Tally:
    run = Run(base, world, Tally(), time.monotonic() + args.minutes * 60, answers)
    return await _run(scenario, run, args.users)


def lost_writes(url: str, world: World, answers: dict[int, str]) -> dict[str, int]:
    """Changes the clients saw done that the database does not hold."""
    engine = make_engine(url)
    with Session(engine) as session:
        stored: dict[int, list[str]] = defaultdict(list)
        for pupil_id, code in session.execute(
            select(m.Preference.pupil_id, m.Offer.code)
            .join(m.Offer, m.Offer.id == m.Preference.offer_id)
            .where(m.Preference.pupil_id.in_(list(world.rankings)))
            .order_by(m.Preference.pupil_id, m.Preference.rank)
        ):
            stored[pupil_id].append(code)
        rankings = sum(1 for pupil_id, ranking in world.rankings.items() if stored[pupil_id] != ranking)
        answered = select(m.Assignment.id, m.Assignment.status).where(m.Assignment.id.in_(list(answers) or [0]))
        statuses = dict(session.execute(answered).all())
        expected = {"confirm": AssignmentStatus.CONFIRMED, "decline": AssignmentStatus.DECLINED}
        placements = sum(1 for a, answer in answers.items() if statuses.get(a) is not expected[answer])
    engine.dispose()
    return {"rankings": rankings, "placement answers": placements}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def summarise(tally: Tally, seconds: float, cpu: dict[str, float]) -> dict[str, Any]:
    everything = [t for times in tally.timings.values() for t in times]
    requests = len(everything)
    writes = sum(
        len(times) for kind, times in tally.timings.items()
        if kind.endswith((" choice", " placement", "login", "logout"))
    )  # fmt: skip
    kinds = {
        kind: {
            "requests": len(times),
            "p50_ms": 1000 * percentile(times, 0.5),
            "p95_ms": 1000 * percentile(times, 0.95),
            "p99_ms": 1000 * percentile(times, 0.99),
            "errors": tally.errors.get(kind, 0),
        }
        for kind, times in sorted(tally.timings.items())
    }
    return {
        "seconds": seconds,
        "requests": requests,
        "requests_per_second": requests / seconds if seconds else 0.0,
        "writes_share": writes / requests if requests else 0.0,
        "p50_ms": 1000 * percentile(everything, 0.5),
        "p95_ms": 1000 * percentile(everything, 0.95),
        "p99_ms": 1000 * percentile(everything, 0.99),
        "mean_ms": 1000 * statistics.fmean(everything) if everything else 0.0,
        "errors": sum(tally.errors.values()),
        "error_examples": tally.examples,
        "cpu_ms_per_request": {name: 1000 * value / requests if requests else 0.0 for name, value in cpu.items()},
        "kinds": kinds,
    }


def report(database: str, scenario: str, figures: dict[str, Any], lost: dict[str, int], settings: str) -> str:
    lines = [
        f"## {database}, {scenario} ({settings})",
        "",
        f"{figures['requests']:,} requests in {figures['seconds']:.0f} s: "
        f"**{figures['requests_per_second']:.1f} req/s**, "
        f"p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms; "
        f"{figures['writes_share']:.0%} writes; errors {figures['errors']}; "
        f"lost writes {sum(lost.values())} ({', '.join(f'{k} {v}' for k, v in lost.items())}).",
        "",
        "CPU per request: " + ", ".join(f"{k} {v:.1f} ms" for k, v in figures["cpu_ms_per_request"].items()) + ".",
        "",
        "| request | count | p50 ms | p95 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind, row in figures["kinds"].items():
        timings = " | ".join(f"{row[key]:.0f}" for key in ("p50_ms", "p95_ms", "p99_ms"))
        lines.append(f"| {kind} | {row['requests']:,} | {timings} | {row['errors']} |")
    if figures["error_examples"]:
        lines += ["", "Errors, first ones:", *(f"- {e}" for e in figures["error_examples"])]
    return "\n".join(lines) + "\n"


# --- the run --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, postgres: str, out: Path) -> Iterator[str]:
    """A fresh database for the run: an SQLite file in ``out``, or one made on the PostgreSQL server ``postgres``."""
    if kind == "sqlite":
        path = out / "load.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    name = f"praktik_load_{os.getpid()}"
    admin = make_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--scenarios", nargs="+", choices=["pupils", "employers"], default=["pupils", "employers"])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pupils", type=int, default=400, help="pupils given a login code")
    parser.add_argument("--employers", type=int, default=60, help="employers with placements to answer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    settings = f"{args.users} users, {args.workers} workers × {args.threads} threads"
    for kind in kinds:
        with database(kind, args.postgres, args.out) as url:
            started = time.monotonic()
            world = prepare(url, pupils=args.pupils, employers=args.employers, seed=args.seed)
            print(f"{kind}: demo region and the run's logins ready in {time.monotonic() - started:.0f} s", flush=True)
            results: dict[str, Any] = {}
            answers: dict[int, str] = {}
            with serving(url, workers=args.workers, threads=args.threads, out=args.out) as (base, server):
                for scenario in args.scenarios:
                    workers = _children(server.pid)
                    before = {
                        "web workers": _cpu_seconds(workers),
                        "database": _cpu_seconds(_postgres_pids()) if kind == "postgresql" else 0.0,
                        "client": time.process_time(),
                    }
                    began = time.monotonic()
                    tally = asyncio.run(_scenario(scenario, base, world, args, answers))
                    seconds = time.monotonic() - began
                    cpu = {
                        "web workers": _cpu_seconds(workers) - before["web workers"],
                        # Backends that ended meanwhile are counted in their parent's waited-for children.
                        "database": (_cpu_seconds(_postgres_pids()) if kind == "postgresql" else 0.0)
                        - before["database"],
                        "client": time.process_time() - before["client"],
                    }
                    if kind == "sqlite":
                        cpu.pop("database")
                    figures = summarise(tally, seconds, cpu)
                    lost = lost_writes(url, world, answers if scenario == "employers" else {})
                    results[scenario] = figures | {"lost_writes": lost}
                    print(report(kind, scenario, figures, lost, settings), flush=True)
            (args.out / f"load-{kind}.json").write_text(
                json.dumps({"settings": vars(args) | {"out": str(args.out)}, "results": results}, indent=2)
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
