"""Who may reach what: every route of the app, for every role, with another tenant's ids.

The routes are read from ``app.url_map`` when the test runs, so a route added
later is covered without touching this file.  Two tenants are built: school A
and B (classes, pupils with login codes, staff), employer A and B (workplace,
offer, contact), and one published round placing A's pupils at A's offer and
B's pupils at B's offer.  Each route's int parameters are filled by name with
tenant B's objects and requested as tenant A's user of each role:

- anonymous on a protected page: 302 to a login page;
- a logged-in user of another role: 404;
- the route's own role with B's ids: 404 (the coordinator excepted: a
  coordinator may see every tenant);
- the route's own role with A's ids: 200, or after a POST 302 (not to a login
  page) or a refused form (400/409/422); 409 also for a page whose object is
  not in the right state yet (feedback before the placement): the positive
  control that the refusals above are not an artefact of the test.

Pages are also read for names: an employer never sees a pupil not placed with
it, school staff never another school's pupils, a pupil never another pupil.

A route that fits no rule below (no known blueprint, not listed as public)
fails the test: deny by default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import re
from collections.abc import Callable

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

import solver
from placement import audit
from placement import models as m
from placement.cohorts import login_codes
from placement.db import utcnow
from placement.enums import MailState, OfferKind, OfferStatus, Role, Sector
from placement.organisation import accounts, invitations
from placement.rounds import assignments, solving
from placement.rounds.setup import create_round
from tests import factories as f

PASSWORD = "ett-långt-lösenord"

#: Blueprints whose every route belongs to one role (web/access.py ``require_role``).
ROLE_OF_BLUEPRINT = {
    "coordinator": Role.COORDINATOR,
    "school": Role.SCHOOL_STAFF,
    "employer": Role.EMPLOYER_CONTACT,
    "pupil": Role.PUPIL,
}

#: Routes anyone may reach, with the reason.  Nothing else is public.
PUBLIC_ENDPOINTS = {
    "main.index": "the start page: region figures without personal data; sends a logged-in user to its home",
    "main.set_language": "the language switch: stores the choice in the visitor's own session",
    "main.health": "the health check of the load balancer: no data",
    "auth.login": "the login page for staff, employers and coordinators",
    "auth.forgot_password": "asks for a reset link; answers the same whether or not the address has an account",
    "auth.set_password": "a signed, expiring, single-use link is the credential (tested in test_first_coordinator.py)",
    "auth.invitation": "a signed, expiring, single-use invitation link is the credential (test_invitations.py)",
}
PUBLIC_PREFIXES = {
    "/pupil-login": "pupils log in with their personal code",
    "/register": "an employer registers and verifies its e-mail address before having an account",
}
#: Routes for any logged-in user, whatever the role.
ANY_LOGGED_IN = {
    "auth.logout": "every logged-in user may log out (the session's end is tested in test_security.py)",
}
#: Routes whose positive control cannot be made from the two tenants, with the reason.
NO_POSITIVE_CONTROL: dict[str, str] = {}

#: Parameter names (without ``_id``) and the kind of object they name.
PARAM_KINDS = {
    "round": "round",
    "allocation_round": "round",
    "pupil": "pupil",
    "student": "pupil",
    "assignment": "assignment",
    "placement": "assignment",
    "school": "school",
    "class": "class",
    "school_class": "class",
    "klass": "class",
    "employer": "employer",
    "workplace": "workplace",
    "site": "workplace",
    "offer": "offer",
    "message": "message",
    "outbox": "message",
    "period": "period",
    "user": "user",
    "member": "user",
    "staff": "staff",
    "contact": "contact",
    "coordinator": "coordinator",
    "invitation": "invitation",
    "entry": "entry",
}
#: Objects every user of the role may see whoever owns them: the round and its
#: periods are region-wide; pupils and school staff browse every employer's offers.
SHARED_KINDS = {
    Role.COORDINATOR: {"round", "period", "pupil", "assignment", "school", "class", "employer", "workplace"}
    | {"offer", "message", "user", "staff", "contact", "coordinator", "invitation", "entry"},
    Role.SCHOOL_STAFF: {"round", "period", "offer", "employer", "workplace"},
    Role.EMPLOYER_CONTACT: {"round", "period"},
    Role.PUPIL: {"round", "period", "offer", "employer", "workplace"},
}
#: Values for string parameters.
STRING_VALUES = {"fmt": "csv", "kind": "instance", "code": "sv", "lang": "sv"}
UNKNOWN_ID = 987_654_321

ROLES: list[Role | None] = [None, Role.COORDINATOR, Role.SCHOOL_STAFF, Role.EMPLOYER_CONTACT, Role.PUPIL]
NAMES = {
    "A": [("Alvina", "Quarnström"), ("Bertil", "Xylander"), ("Cecilia", "Yxhammar")],
    "B": [("Dagny", "Zetterqvist"), ("Elof", "Wuolanne"), ("Freja", "Vinterkvist")],
}
_serial = itertools.count(1)
_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclasses.dataclass
class Tenant:
    """One school and one employer with their people; the first two pupils are placed with the employer."""

    name: str
    period: m.Period
    school: m.School
    klass: m.SchoolClass
    pupils: list[m.Pupil]
    staff: m.User
    employer: m.Employer
    workplace: m.Workplace
    offer: m.Offer
    contact: m.User
    pupil_user: m.User
    assignments: list[m.Assignment]
    message: m.OutboxMessage
    #: A second coordinator, and invitations to the school and to the employer.
    coordinator: m.User
    school_invitation: m.Invitation
    employer_invitation: m.Invitation
    #: The school's entry for a self-arranged placement at the employer, waiting to be accepted.
    entry: m.Employer

    def ids(self, allocation_round: m.AllocationRound, role: Role | None) -> dict[str, int]:
        user = {Role.SCHOOL_STAFF: self.staff, Role.EMPLOYER_CONTACT: self.contact, Role.PUPIL: self.pupil_user}
        return {
            "round": allocation_round.id,
            "period": self.period.id,
            "pupil": self.pupils[0].id,
            "assignment": self.assignments[0].id,
            "school": self.school.id,
            "class": self.klass.id,
            "employer": self.employer.id,
            "workplace": self.workplace.id,
            "offer": self.offer.id,
            "message": self.message.id,
            "user": user.get(role, self.staff).id if role else self.staff.id,
            "staff": self.staff.id,
            "contact": self.contact.id,
            "coordinator": self.coordinator.id,
            "invitation": (self.employer_invitation if role is Role.EMPLOYER_CONTACT else self.school_invitation).id,
            "entry": self.entry.id,
        }


def _tenant(session: Session, name: str, coordinator: m.User) -> Tenant:
    period = f.period(session, code=f"acc-{name}-{next(_serial)}", name=f"Period {name}")
    school = f.school(session, name=f"Skola {name} i test")
    klass = f.school_class(session, school=school, period=period, name=f"8{name}")
    pupils = [f.pupil(session, school_class=klass, first_name=first, last_name=last) for first, last in NAMES[name]]
    staff = f.user(session, Role.SCHOOL_STAFF, display_name=f"Syv {name}")
    session.add(m.SchoolMembership(user=staff, school=school))
    employer = f.employer(session, name=f"Arbetsgivare {name} AB", municipality=school.municipality)
    workplace = f.workplace(session, employer=employer, name=f"Arbetsplats {name}")
    offer = f.offer(
        session,
        workplace=workplace,
        title=f"Praktik hos {name}",
        sector=Sector.IT,
        status=OfferStatus.ACTIVE,
        places={period: 2},
        risk_assessment_confirmed_at=f.RISK_CONFIRMED,
    )
    contact = f.user(session, Role.EMPLOYER_CONTACT, display_name=f"Handledare {name}", email_verified_at=utcnow())
    session.add(m.EmployerMembership(user=contact, employer=employer))
    for user in (staff, contact):
        accounts.set_password(user, PASSWORD)
    for pupil in pupils:
        login_codes.issue(session, pupil, actor=audit.Actor.of(coordinator))
        session.add(m.Preference(pupil=pupil, offer=offer, rank=1))
    message = m.OutboxMessage(
        kind="round_published",
        dedup_key=f"access-test:{name}:{next(_serial)}",
        recipient=contact.email or "",
        user_id=contact.id,
        subject=f"Placeringar för {name}",
        body="Hej",
        message_id=f"<access-{name}-{next(_serial)}@praktik.test>",
        state=MailState.SENT,
        next_attempt_at=utcnow(),
        sent_at=utcnow(),
    )
    session.add(message)
    colleague = f.user(
        session, Role.COORDINATOR, display_name=f"Samordnare {name}", municipality_id=school.municipality_id
    )
    session.flush()
    invite = functools.partial(
        invitations.invite, session, invited_by=coordinator, secret_key="access", base_url="http://localhost"
    )
    school_invitation = invite(invitations.Target.school_staff(school), email=f"ny-{name}@skola.example", name="Ny")
    employer_invitation = invite(
        invitations.Target.employer_contact(employer), email=f"ny-{name}@ab.example", name="Ny"
    )
    entry = f.employer(
        session, name=f"Skolans uppgift {name}", org_number=employer.org_number, entered_by_school=school
    )
    f.offer(
        session,
        workplace=f.workplace(session, employer=entry),
        kind=OfferKind.SELF_ARRANGED,
        title=f"Egen prao hos {name}",
        places={period: 1},
    )
    return Tenant(
        name=name,
        period=period,
        school=school,
        klass=klass,
        pupils=pupils,
        staff=staff,
        employer=employer,
        workplace=workplace,
        offer=offer,
        contact=contact,
        pupil_user=login_codes.pupil_account(session, pupils[0]),
        assignments=[],
        message=message,
        coordinator=colleague,
        school_invitation=school_invitation,
        employer_invitation=employer_invitation,
        entry=entry,
    )


@dataclasses.dataclass
class World:
    coordinator: m.User
    allocation_round: m.AllocationRound
    a: Tenant
    b: Tenant
    #: Each tenant's municipality's own round (a draft over its period).
    round_a: m.AllocationRound
    round_b: m.AllocationRound

    def user(self, role: Role) -> m.User:
        return {
            Role.COORDINATOR: self.coordinator,
            Role.SCHOOL_STAFF: self.a.staff,
            Role.EMPLOYER_CONTACT: self.a.contact,
            Role.PUPIL: self.a.pupil_user,
        }[role]


def build_world(session: Session) -> World:
    """Two tenants and a round solved and published the way the coordinator does it."""
    coordinator = f.user(session, Role.COORDINATOR, display_name="Samordnare i test")
    accounts.set_password(coordinator, PASSWORD)
    actor = audit.Actor.of(coordinator)
    a = _tenant(session, "A", coordinator)
    b = _tenant(session, "B", coordinator)
    # B's first pupil also wished for A's offer: employer A must still not see the pupil.
    session.add(m.Preference(pupil=b.pupils[0], offer=a.offer, rank=2))
    session.flush()
    allocation_round = create_round(
        session, "Åtkomstprov", [a.period.code, b.period.code], actor=actor, policy={"time_limit_s": 20}
    )
    build = solving.begin_solve(session, allocation_round.id, actor=actor)
    result = solver.solve(solver.load_instance(build.instance), seed=0)
    solving.finish_solve(session, allocation_round.id, build.instance, result.to_dict(), actor=actor)
    assignments.publish(session, allocation_round.id, utcnow() + dt.timedelta(days=7), actor=actor)
    session.flush()
    for tenant in (a, b):
        tenant.assignments = list(
            session.scalars(
                select(m.Assignment)
                .where(m.Assignment.round_id == allocation_round.id, m.Assignment.offer_id == tenant.offer.id)
                .order_by(m.Assignment.id)
            )
        )
        placed = [x.pupil for x in tenant.assignments]
        # Each offer has two places in the tenant's own period: two pupils placed, the third not.
        tenant.pupils = placed + [p for p in tenant.pupils if p not in placed]
        tenant.pupil_user = login_codes.pupil_account(session, tenant.pupils[0])
        assert len(placed) == 2, tenant
    own_rounds = [
        create_round(
            session,
            f"Kommunens omgång {tenant.name}",
            [tenant.period.code],
            actor=actor,
            municipality_id=tenant.school.municipality_id,
        )
        for tenant in (a, b)
    ]
    return World(coordinator, allocation_round, a, b, *own_rounds)


# --- logging in ------------------------------------------------------------------------------------------------------


def _page_token(client: FlaskClient) -> str:
    """A CSRF token of the client's session, from any page (the base template has the language forms)."""
    html = client.get("/no-such-page").get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token on the 404 page"
    return match.group(1)


def log_in(app: Flask, user: m.User | None) -> FlaskClient:
    """A client logged in as ``user`` (anonymous for None); staff log in with PASSWORD."""
    client = app.test_client()
    if user is None:
        return client
    role = user.role
    if role is Role.PUPIL:
        # Pupils log in with a code (another helper's page): the session Flask-Login would write is made here.
        with app.test_request_context():
            assert login_user(user)
            written = dict(session)
        with client.session_transaction() as sess:
            sess.update(written)
    else:
        response = client.post(
            "/auth/login", data={"email": user.email, "password": PASSWORD, "csrf_token": _page_token(client)}
        )
        assert response.status_code == 302, f"{role} could not log in: {response.status_code}"
    assert client.get("/no-such-page").status_code == 404
    return client


# --- the routes ------------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    rule: Rule
    method: str
    kind: str  # "public", "any", "role" or "unclassified"
    role: Role | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.rule.rule} ({self.rule.endpoint})"

    def params(self) -> list[tuple[str, str]]:
        """(converter, name) of each parameter."""
        return [(conv or "default", name) for conv, name in _PARAM.findall(self.rule.rule)]

    def url(self, fill: Callable[[str, str], object]) -> str:
        return _PARAM.sub(lambda mt: str(fill(mt.group(1) or "default", mt.group(2))), self.rule.rule)


def routes(app: Flask) -> list[Route]:
    """Every (rule, method) of the app but static files, sorted."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        blueprint = rule.endpoint.split(".", 1)[0]
        for method in sorted(set(rule.methods or ()) - {"HEAD", "OPTIONS"}):
            if rule.endpoint in PUBLIC_ENDPOINTS or any(rule.rule.startswith(p) for p in PUBLIC_PREFIXES):
                found.append(Route(rule, method, "public", None))
            elif rule.endpoint in ANY_LOGGED_IN:
                found.append(Route(rule, method, "any", None))
            elif blueprint in ROLE_OF_BLUEPRINT:
                found.append(Route(rule, method, "role", ROLE_OF_BLUEPRINT[blueprint]))
            else:
                found.append(Route(rule, method, "unclassified", None))
    return sorted(found, key=lambda r: (r.rule.rule, r.method))


def param_kind(name: str) -> str | None:
    """The kind of object an int parameter names: by its name, else the closest known name inside it."""
    stem = name.removesuffix("_id")
    if stem in PARAM_KINDS:
        return PARAM_KINDS[stem]
    for key in sorted(PARAM_KINDS, key=len, reverse=True):
        if key in stem:
            return PARAM_KINDS[key]
    return None


def filler(ids: dict[str, int]) -> Callable[[str, str], object]:
    def fill(converter: str, name: str) -> object:
        if converter == "int":
            kind = param_kind(name)
            return ids[kind] if kind else UNKNOWN_ID
        return STRING_VALUES.get(name, "x")

    return fill


def foreign(route: Route, role: Role) -> bool:
    """Whether B's ids in this route name something the role's tenant A user must not reach."""
    shared = SHARED_KINDS[role]
    return any(conv == "int" and param_kind(name) not in shared for conv, name in route.params())


def request(client: FlaskClient, route: Route, url: str, token: str | None) -> TestResponse:
    if route.method == "GET":
        return client.get(url)
    return client.open(
        url,
        method=route.method,
        data={"csrf_token": token or ""},
        headers={"Referer": "http://localhost/"},
    )


def _to_login(response: TestResponse) -> bool:
    location = response.headers.get("Location", "")
    path = re.sub(r"^https?://[^/]+", "", location)
    return response.status_code == 302 and (path.startswith("/auth/login") or path.startswith("/pupil-login"))


# --- the matrix ------------------------------------------------------------------------------------------------------


def forbidden_names(world: World, role: Role) -> list[str]:
    """Names of pupils that tenant A's user of ``role`` must never see."""
    a, b = world.a, world.b
    if role is Role.EMPLOYER_CONTACT:
        hidden = [a.pupils[2], *b.pupils]  # not placed with employer A
    elif role is Role.SCHOOL_STAFF:
        hidden = list(b.pupils)
    elif role is Role.PUPIL:
        hidden = [*a.pupils[1:], *b.pupils]
    else:
        return []
    return [word for p in hidden for word in (p.first_name, p.last_name)]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
def test_every_route_refuses_other_roles_and_tenants(app: Flask, db_session: Session, role: Role | None) -> None:
    world = build_world(db_session)
    app.config["SOLVE_LAUNCHER"] = lambda job_id: None  # a run starts no worker process
    client = log_in(app, world.user(role) if role else None)
    token = _page_token(client)
    b_ids = world.b.ids(world.allocation_round, role)
    a_ids = world.a.ids(world.allocation_round, role)
    failures: list[str] = []
    pages: dict[str, str] = {}
    positive: list[Route] = []

    def read(route: Route, url: str, response: TestResponse) -> None:
        readable = response.mimetype in ("text/html", "application/json", "text/csv", "text/calendar")
        if route.method == "GET" and response.status_code == 200 and readable:
            pages[url] = response.get_data(as_text=True)

    all_routes = routes(app)
    assert any(r.kind == "role" for r in all_routes)
    for route in all_routes:
        if route.kind == "unclassified":
            failures.append(f"{route.label}: no role and not listed as public in this test (deny by default)")
            continue
        if route.kind == "public":
            if route.method == "GET":
                url = route.url(filler(b_ids))
                response = client.get(url)
                if response.status_code >= 500:
                    failures.append(f"{route.label} as {role}: {response.status_code}")
                read(route, url, response)
            continue
        url = route.url(filler(b_ids))
        if role is None:
            response = request(client, route, url, token)
            if not _to_login(response):
                failures.append(f"{url} [{route.label}] anonymous: {response.status_code}, expected 302 to login")
            continue
        if route.kind == "any":
            continue  # see ANY_LOGGED_IN
        if route.role is not role:
            response = request(client, route, url, token)
            if response.status_code != 404:
                failures.append(f"{url} [{route.label}] as {role.value}: {response.status_code}, expected 404")
            continue
        if foreign(route, role):
            response = request(client, route, url, token)
            if response.status_code != 404:
                failures.append(f"{url} [{route.label}] as {role.value} of A with B's ids: {response.status_code}")
        elif route.method == "GET":
            read(route, url, client.get(url))  # shared objects: reachable, but read for names
        positive.append(route)

    # Positive controls: tenant A's own ids for the route's role.  GETs first, so pages are read before changes.
    for route in sorted(positive, key=lambda r: r.method != "GET"):
        assert role is not None
        if route.rule.endpoint in NO_POSITIVE_CONTROL:
            continue
        unknown = [name for conv, name in route.params() if conv == "int" and param_kind(name) is None]
        if unknown:
            failures.append(f"{route.label}: unknown parameter {unknown}; add it to PARAM_KINDS for a positive control")
            continue
        url = route.url(filler(a_ids))
        response = request(client, route, url, token)
        if route.method == "GET":
            ok = response.status_code in (200, 409)  # 409: reached, but the object's state refuses (e.g. too early)
        else:
            refused_form = response.status_code in (400, 409, 422) and "CSRF" not in response.get_data(as_text=True)
            ok = (
                response.status_code == 200
                or refused_form
                or (response.status_code in (302, 303) and not _to_login(response))
            )
        if not ok:
            failures.append(f"{url} [{route.label}] as {role.value} of A with A's ids: {response.status_code}")
        read(route, url, response)

    if role is not None:
        for word in forbidden_names(world, role):
            for url, text in pages.items():
                if word in text:
                    failures.append(f"{url} as {role.value} shows the name {word!r} of a pupil it must not see")

    assert not failures, "\n".join(failures)


#: Coordinator pages that act for the whole region: a coordinator of one municipality gets 404 there.
REGIONAL_ONLY = {
    "coordinator.save_region",
    "coordinator.add_municipality",
    "coordinator.update_municipality",
    "coordinator.add_period",
    "coordinator.save_window",
    "coordinator.scheduler_page",
    "coordinator.resend_message",
}


def test_a_coordinator_of_one_municipality_reaches_its_own_records_and_nothing_of_another(
    app: Flask, db_session: Session
) -> None:
    """Every coordinator route as tenant A's municipality's coordinator: B's ids and the region's pages are 404."""
    world = build_world(db_session)
    app.config["SOLVE_LAUNCHER"] = lambda job_id: None
    for tenant in (world.a, world.b):  # a third place, for the pupil the region's round left without one
        tenant.offer.capacities[0].places = 3
    db_session.flush()
    for own_round in (world.round_a, world.round_b):  # solved, so that its pupils' and files' pages exist
        actor = audit.Actor.of(world.coordinator)
        build = solving.begin_solve(db_session, own_round.id, actor=actor)
        result = solver.solve(solver.load_instance(build.instance), seed=0)
        solving.finish_solve(db_session, own_round.id, build.instance, result.to_dict(), actor=actor)
    own = world.a.coordinator
    accounts.set_password(own, PASSWORD)
    db_session.flush()
    client = log_in(app, own)
    token = _page_token(client)
    ids = {
        tenant: {
            **tenant_world.ids(round_, Role.COORDINATOR),
            "coordinator": tenant_world.coordinator.id,
            "pupil": tenant_world.pupils[2].id,  # the pupil the municipality's own round placed
        }
        for tenant, tenant_world, round_ in (("A", world.a, world.round_a), ("B", world.b, world.round_b))
    }
    ids["A"]["coordinator"] = f.user(
        db_session, Role.COORDINATOR, municipality_id=world.a.school.municipality_id, display_name="Kollega A"
    ).id
    region_round = world.allocation_round.id
    failures: list[str] = []
    pages: dict[str, str] = {}
    coordinator_routes = [r for r in routes(app) if r.role is Role.COORDINATOR]
    assert coordinator_routes
    for route in sorted(coordinator_routes, key=lambda r: r.method != "GET"):
        has_ids = any(conv == "int" for conv, _name in route.params())
        if route.rule.endpoint in REGIONAL_ONLY:
            response = request(client, route, route.url(filler(ids["A"])), token)
            if response.status_code != 404:
                failures.append(f"{route.label}: the region's page answered {response.status_code}, expected 404")
            continue
        if has_ids:
            for label, fill in (("B's ids", ids["B"]), ("the region's round", {**ids["A"], "round": region_round})):
                if label == "the region's round" and "round_id" not in route.rule.rule:
                    continue
                response = request(client, route, route.url(filler(fill)), token)
                if response.status_code != 404:
                    failures.append(f"{route.label} with {label}: {response.status_code}, expected 404")
        url = route.url(filler(ids["A"]))
        response = request(client, route, url, token)
        if route.method == "GET":
            ok = response.status_code in (200, 409)
            if response.status_code == 200 and response.mimetype == "text/html":
                pages[url] = response.get_data(as_text=True)
        else:
            ok = response.status_code in (200, 400, 409, 422) or (
                response.status_code in (302, 303) and not _to_login(response)
            )
        if not ok:
            failures.append(f"{url} [{route.label}] with A's own ids: {response.status_code}")
    hidden = [world.b.school.name, *(word for p in world.b.pupils for word in (p.first_name, p.last_name))]
    for url, text in pages.items():
        failures += [f"{url} shows {word!r} of the other municipality" for word in hidden if word in text]
    assert not failures, "\n".join(failures)


def test_the_matrix_knows_every_parameter(app: Flask) -> None:
    """Every int parameter of every route maps to an object kind, so B's ids really are B's objects."""
    unknown = {
        f"{r.rule.rule}: {name}"
        for r in routes(app)
        for conv, name in r.params()
        if conv == "int" and param_kind(name) is None
    }
    assert not unknown, f"add these parameter names to PARAM_KINDS: {sorted(unknown)}"


def test_the_two_tenants_are_apart(db_session: Session) -> None:
    world = build_world(db_session)
    a, b = world.a, world.b
    assert a.school.id != b.school.id
    assert a.employer.id != b.employer.id
    assert {x.offer_id for x in a.assignments} == {a.offer.id}
    assert {x.offer_id for x in b.assignments} == {b.offer.id}
    assert all(p.school_id == a.school.id for p in a.pupils)
    assert world.a.pupil_user.pupil_id == a.pupils[0].id
    assert world.a.pupil_user.login_code_hash is not None
