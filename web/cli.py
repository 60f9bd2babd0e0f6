"""The ``praktik`` command line.

Database commands build the Flask app to read the configuration; ``solve`` and
``compare`` come from the solver and import neither Flask nor SQLAlchemy.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session

#: Subcommands that live elsewhere and are imported only when run.
LAZY_COMMANDS = {
    "solve": "solver.cli:solve_command",
    "compare": "solver.cli:compare_command",
}


class PraktikGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attr = LAZY_COMMANDS[cmd_name].split(":")
            command: click.Command = getattr(importlib.import_module(module_name), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=PraktikGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
def main(verbose: bool) -> None:
    """Praktik: coordinate school work placements (PRAO)."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _app(database_url: str | None = None) -> Flask:
    """The app for one command; its database connections are closed when the command ends."""
    from web.app import create_app

    app = create_app({"DATABASE_URL": database_url} if database_url else None)
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(app.extensions["praktik.engine"].dispose)
    return app


@contextmanager
def _transaction(app: Flask) -> Iterator[Session]:
    """One transaction: committed when the block succeeds, rolled back otherwise."""
    from sqlalchemy.orm import Session

    with Session(app.extensions["praktik.engine"], expire_on_commit=False) as session, session.begin():
        yield session


def _fail(problems: list[str], code: int = 2) -> None:
    for problem in problems:
        click.echo(problem, err=True)
    sys.exit(code)


@main.command("check-config")
def check_config() -> None:
    """Report every unsafe, missing or notable production setting; exit status 1 when one is unsafe or missing."""
    from web.config import production_findings

    app = _app()
    findings = production_findings(app.config)
    for finding in findings:
        click.echo(f"{finding.level}: {finding.variable}: {finding.text}")
    failing = [f for f in findings if f.level in ("unsafe", "missing")]
    click.echo(f"{len(failing)} to fix, {len(findings) - len(failing)} to note." if findings else "Nothing to fix.")
    sys.exit(1 if failing else 0)


@main.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (runs the migrations)."""
    from placement.migrate import upgrade

    app = _app()
    upgrade(app.extensions["praktik.engine"])
    click.echo(f"Database at {app.extensions['praktik.engine'].url.render_as_string()} is up to date.")
    if app.config["QUEUE_URL"]:
        from placement.runtime import queue

        created = queue.ensure_schema(app.config["QUEUE_URL"])
        click.echo("The job queue's tables were created." if created else "The job queue's tables are in place.")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup(file: Path) -> None:
    """Write a consistent copy of the database to FILE (SQLite's online backup, or pg_dump's archive)."""
    from placement.runtime import backup as backups

    app = _app()
    try:
        report = backups.backup(app.config["DATABASE_URL"], file)
    except backups.BackupError as exc:
        _fail([str(exc)])
    click.echo(f"Backup written to {report.path} ({report.size_bytes} bytes; {report.checked}).")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite a database that holds data already.")
def restore(file: Path, replace: bool) -> None:
    """Replace the database with the backup FILE, all or nothing; then run praktik init-db."""
    from placement.runtime import backup as backups

    app = _app()
    try:
        backups.restore(app.config["DATABASE_URL"], app.extensions["praktik.engine"], file, replace=replace)
    except backups.BackupError as exc:
        _fail([str(exc)])
    click.echo(f"Database restored from {file}. Run praktik init-db to bring its schema up to date.")


@main.command("create-coordinator")
@click.option("--email", required=True, help="The coordinator's e-mail address (their login).")
@click.option("--name", required=True, help="The coordinator's name as others see it.")
@click.option(
    "--municipality",
    default=None,
    help="Make a coordinator of this municipality only (created if missing); without it, of the whole region.",
)
def create_coordinator(email: str, name: str, municipality: str | None) -> None:
    """Create a coordinator account and print a one-time link (valid 48 hours) to set its password.

    When PRAKTIK_MAIL_HOST is set the same link is also queued for e-mail to the
    coordinator (the scheduler sends it).
    """
    from placement import audit
    from placement.enums import MailKind
    from placement.errors import PlacementError
    from placement.organisation import password_links

    app = _app()
    secret, base_url = app.config["SECRET_KEY"], app.config["BASE_URL"]
    mailed = app.config["MAIL_CONFIGURED"]
    try:
        with _transaction(app) as session:
            user = password_links.create_coordinator(
                session, email=email, name=name, municipality=municipality, actor=audit.CLI
            )
            link = password_links.link_for(user, secret_key=secret, base_url=base_url)
            if mailed:
                password_links.mail_link(session, user, MailKind.ACCOUNT_CREATED, secret_key=secret, base_url=base_url)
            scope = user.municipality.name if user.municipality else None
    except PlacementError as exc:
        _fail(getattr(exc, "problems", None) or [str(exc)])
    of = f"of {scope}" if scope else "of the whole region"
    click.echo(f"Coordinator {user.email} ({of}) created.")
    click.echo(f"Open this link within {password_links.hours_valid()} hours to set the password (it works once):")
    click.echo(link)
    if mailed:
        click.echo(f"The same link is queued for e-mail to {user.email}; the scheduler sends it.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--database", type=click.Path(dir_okay=False, path_type=Path), help="SQLite file to (re)create.")
@click.option("--no-serve", is_flag=True, help="Load the demo region and stop.")
def demo(host: str, port: int, database: Path | None, no_serve: bool) -> None:
    """Load the demo region into a fresh SQLite database and serve the app."""
    probe = _app("sqlite://")
    path = database or Path(probe.instance_path) / "praktik-demo.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    app = _app(f"sqlite:///{path}")
    _load_demo(app, where=str(path))
    if not no_serve:
        click.echo(f"\nServing on http://{host}:{port}/ (Ctrl+C stops)")
        app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command("load-demo")
def load_demo() -> None:
    """Load the demo region into the configured database (PRAKTIK_DATABASE_URL), which must be empty.

    The schema is created or upgraded first.  For trying Praktik on
    PostgreSQL and for the load benchmark; ``praktik demo`` makes its own
    SQLite file instead.
    """
    from placement.errors import Conflict

    app = _app()
    try:
        _load_demo(app, where=app.extensions["praktik.engine"].url.render_as_string(hide_password=True))
    except Conflict as exc:
        _fail([f"praktik load-demo: {exc}"])


def _load_demo(app: Flask, *, where: str) -> None:
    """The demo region and its draft round into ``app``'s database (migrated first); the logins printed."""
    from placement import audit, demo
    from placement.migrate import upgrade
    from placement.rounds import setup as rounds

    upgrade(app.extensions["praktik.engine"])
    with _transaction(app) as session:
        summary = demo.load_demo_region(session)
        season = demo.school_year(summary.periods[0].start_date)
        rounds.create_round(session, f"PRAO åk 8 {season}", [p.code for p in summary.periods], actor=audit.CLI)
    click.echo(f"Demo region loaded into {where}.")
    click.echo(str(summary))
    click.echo("\nDemo logins:")
    for login in summary.logins:
        click.echo(f"  {login.role:<18} {login.login:<40} {login.secret}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the app with Flask's server (for production use gunicorn, see README)."""
    app = _app()
    if not app.config["SECRET_KEY_FROM_ENV"]:
        click.echo(
            "note: PRAKTIK_SECRET_KEY is not set; sessions are signed with the key kept in the instance folder "
            "(several hosts need the same PRAKTIK_SECRET_KEY)",
            err=True,
        )
    app.run(host=host, port=port, debug=False, use_reloader=False)


@main.command()
@click.option(
    "--sweep-seconds",
    default=60,
    show_default=True,
    type=click.IntRange(1, 60),
    help="How often the sweeps run (below 60 only for tests and demos).",
)
def scheduler(sweep_seconds: int) -> None:
    """Run the scheduler: windows, deadlines, reminders, mail, digest and purge (one process per database)."""
    from placement.runtime import scheduler as scheduler_process
    from placement.runtime.schedule import Settings

    app = _app()
    logging.getLogger().setLevel(logging.INFO)
    scheduler_process.run(Settings.from_config(app.config), sweep_seconds=sweep_seconds)


@main.command()
@click.option(
    "--solves",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="How many solves this worker runs at once (a 100,000-pupil round needs 2-3 GB of memory).",
)
def worker(solves: int) -> None:
    """Run a worker of the job queue (PRAKTIK_QUEUE_URL): solves, incremental rounds and outgoing mail."""
    from placement.runtime import queue
    from placement.runtime.schedule import Settings

    app = _app()
    if not app.config["QUEUE_URL"]:
        _fail(["PRAKTIK_QUEUE_URL is not set: without a job queue each run starts its own worker on the web host"])
    logging.getLogger().setLevel(logging.INFO)
    queue.run_worker(Settings.from_config(app.config), solves=solves)


@main.command()
@click.option("--dry-run", is_flag=True, help="Say what would be purged; change nothing.")
@click.option("--months", type=click.IntRange(1, 240), help="Retention in months (default: PRAKTIK_RETENTION_MONTHS).")
def purge(dry_run: bool, months: int | None) -> None:
    """Purge personal data of pupils whose season ended longer ago than the retention period."""
    from placement import audit
    from placement.db import utcnow
    from placement.retention import purge as retention

    app = _app()
    retention_months = months or int(app.config["RETENTION_MONTHS"])
    with _transaction(app) as session:
        if dry_run:
            plan = retention.plan(session, now=utcnow(), retention_months=retention_months)
            click.echo(f"Would purge {len(plan.pupil_ids)} pupils whose season ended before {plan.cutoff:%Y-%m-%d}")
            for kind, count in sorted(plan.counts.items()):
                click.echo(f"  {kind}: {count}")
            return
        record = retention.purge(session, now=utcnow(), retention_months=retention_months, actor=audit.CLI)
    if record is None:
        click.echo("Nothing to purge.")
    else:
        click.echo(f"Purged data of pupils whose season ended before {record.cutoff:%Y-%m-%d}:")
        for kind, count in sorted(record.counts.items()):
            click.echo(f"  {kind}: {count}")


@main.group("import")
def import_group() -> None:
    """Import cohorts or employers with offers from CSV or XLSX (all rows or none)."""


@import_group.command("cohort")
@click.option("--school", "school_code", required=True, help="Code of the school the pupils belong to.")
@click.option("--dry-run", is_flag=True, help="Validate and report, write nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_cohort(school_code: str, dry_run: bool, file: Path) -> None:
    """Import a school's classes and pupils."""
    from sqlalchemy import select

    from placement import audit
    from placement.cohorts import imports as cohort_import
    from placement.errors import PlacementError
    from placement.models import School

    app = _app()
    try:
        with _transaction(app) as session:
            school = session.scalars(select(School).where(School.code == school_code)).first()
            if school is None:
                _fail([f'school "{school_code}" does not exist'])
            report = cohort_import.import_cohort(
                session, school, file.read_bytes(), file.name, actor=audit.CLI, dry_run=dry_run
            )
    except PlacementError as exc:
        _fail(getattr(exc, "problems", [str(exc)]))
    click.echo(str(report))


@import_group.command("employers")
@click.option("--approve", is_flag=True, help="Approve new employers at once (the coordinator's own list).")
@click.option("--dry-run", is_flag=True, help="Validate and report, write nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_employers(approve: bool, dry_run: bool, file: Path) -> None:
    """Import employers, workplaces and offers."""
    from placement import audit
    from placement.employers import imports as employer_import
    from placement.errors import PlacementError

    app = _app()
    try:
        with _transaction(app) as session:
            report = employer_import.import_employers(
                session, file.read_bytes(), file.name, actor=audit.CLI, approve=approve, dry_run=dry_run
            )
    except PlacementError as exc:
        _fail(getattr(exc, "problems", [str(exc)]))
    click.echo(str(report))


@import_group.command("schools")
@click.option("--dry-run", is_flag=True, help="Validate and report, write nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_schools(dry_run: bool, file: Path) -> None:
    """Import schools (e.g. from Skolverket's school unit register), updating them by school unit code."""
    from placement import audit
    from placement.errors import PlacementError
    from placement.organisation import school_imports

    app = _app()
    try:
        with _transaction(app) as session:
            report = school_imports.import_schools(
                session, file.read_bytes(), file.name, actor=audit.CLI, dry_run=dry_run
            )
    except PlacementError as exc:
        _fail(getattr(exc, "problems", [str(exc)]))
    click.echo(str(report))


@main.command()
@click.option("--limit", type=int, help="Look up at most this many addresses.")
def geocode(limit: int | None) -> None:
    """Geocode every school and workplace address not yet located (one request a second)."""
    from placement import audit
    from placement.geo import Geocoder, GeocoderSettings
    from placement.organisation import locations

    app = _app()
    try:
        settings = GeocoderSettings.from_config(app.config)
    except ValueError as exc:
        _fail([f"geocoder settings: {exc} (set PRAKTIK_GEOCODER_USER_AGENT and PRAKTIK_GEOCODER_URL)"])
    with Geocoder(settings) as geocoder, _transaction(app) as session:
        counts = locations.locate_pending(session, geocoder, actor=audit.CLI, limit=limit)
    statuses = ", ".join(f"{status.value} {n}" for status, n in sorted(counts.by_status.items()))
    click.echo(f"Located {counts.total} addresses ({counts.requests} requests, {counts.cache_hits} cached): {statuses}")
    if counts.stopped:
        click.echo(f"stopped early: {counts.stopped}", err=True)


@main.command("export-round")
@click.argument("round_id", metavar="ROUND", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_round(round_id: int, output: Path) -> None:
    """Write round ROUND (its id) as a praktik-instance/1 file."""
    from placement.errors import PlacementError
    from placement.rounds import bridge
    from placement.rounds import setup as rounds

    app = _app()
    try:
        with _transaction(app) as session:
            build = bridge.build_instance(session, rounds.get_round(session, round_id))
    except PlacementError as exc:
        _fail(getattr(exc, "problems", [str(exc)]))
    for note in build.notes:
        click.echo(f"note: {note}", err=True)
    _write_json(output, build.instance)
    click.echo(
        f"Wrote {output}: {len(build.instance['students'])} pupils, {len(build.instance['offers'])} offers "
        f"(sha256 {build.input_hash[:12]})."
    )


def _write_json(path: Path, document: dict[str, Any]) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


if __name__ == "__main__":  # pragma: no cover
    main()
