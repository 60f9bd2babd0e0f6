"""Profile: where a web worker's CPU goes, page by page, for the pupils' and the employers' busiest pages.

    python -m benchmarks.page_profile [--repeat 50] [--postgres URL]

Loads the demo region (laid on today) into a fresh SQLite file (or, with
``--postgres``, into a PostgreSQL database made for the run and dropped
after it), logs in a pupil and an employer's contact through the app's own
test client, and reads each page ``--repeat`` times in this one process.
For each page it prints the CPU milliseconds per request (this process
only: on PostgreSQL the server's own work is not in it), the SQL statements
per request, and the share of the CPU spent in each part of the stack,
from a pyinstrument profile: the database driver, SQLAlchemy, templates
(Jinja, Babel, WTForms, MarkupSafe), the web framework (Flask, Werkzeug,
Flask-Login, Flask-WTF, itsdangerous), password hashing, and Praktik's own
code.  Pages are read one at a time, so this is the cost of a request
without the queueing of ``benchmarks.load_bench``.  Needs the ``bench``
extra for pyinstrument.
"""

from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

from pyinstrument import Profiler
from pyinstrument.frame import Frame
from sqlalchemy import event

from benchmarks.load_bench import PASSWORD, database, prepare

PUPIL_PAGES = [
    "/pupil/",
    "/pupil/offers",
    "/pupil/offers?sector=it&max_km=10",
    "/pupil/offers?q=bageri",
    "/pupil/offers?page=4&order=title",
    "/pupil/choices",
    "/pupil/placement",
]
EMPLOYER_PAGES = ["/employer/", "/employer/offers", "/employer/demand"]
#: Parts of the stack, by the file a sampled frame runs in (the first that matches).
PARTS = [
    ("password hashing", re.compile(r"hashlib|werkzeug/security")),
    ("database driver", re.compile(r"psycopg|sqlite3")),
    ("SQLAlchemy", re.compile(r"sqlalchemy")),
    ("templates", re.compile(r"jinja2|babel|wtforms|markupsafe|/templates/")),
    ("web framework", re.compile(r"flask|werkzeug|itsdangerous|flask_login|flask_wtf|blinker")),
    ("Praktik", re.compile(r"/(placement|web|solver)/")),
]


_DRIVER_CALLS = re.compile(r"^(Cursor|Connection)\.")


def _part(path: str) -> str:
    return next((name for name, pattern in PARTS if pattern.search(path)), "other")


def _shares(profiler: Profiler) -> dict[str, float]:
    """The share of the CPU whose innermost Python frame ran in each part of the stack.

    A built-in function counts for the part that called it, but the
    database cursor's and connection's own methods (SQLite runs inside
    them) count as the database driver.
    """
    counts: collections.Counter[str] = collections.Counter()

    def walk(frame: Frame, caller: str) -> None:
        if frame.is_synthetic:  # its time is its parent's own time, counted there
            return
        path = frame.file_path or ""
        if path.startswith("<"):
            part = "database driver" if _DRIVER_CALLS.match(frame.function or "") else caller
        else:
            part = _part(path)
        counts[part] += frame.total_self_time
        for child in frame.children:
            walk(child, part)

    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    if root is not None:
        walk(root, "other")
    total = sum(counts.values()) or 1.0
    return {name: counts[name] / total for name, _pattern in [*PARTS, ("other", None)]}


def main(argv: list[str] | None = None) -> int:
    from web.app import create_app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--postgres", help="profile against PostgreSQL (an admin URL) instead of SQLite")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as folder,
        database("postgresql" if args.postgres else "sqlite", args.postgres or "", Path(folder)) as url,
    ):
        world = prepare(url, pupils=5, employers=5, seed=0)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "profile", "TESTING": False, "WTF_CSRF_ENABLED": False})
        engine = app.extensions["praktik.engine"]
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        pupil, contact = app.test_client(), app.test_client()
        assert pupil.post("/pupil-login/", data={"code": world.pupils[0][1]}).status_code == 302
        assert (
            contact.post("/auth/login", data={"email": world.employers[0][0], "password": PASSWORD}).status_code == 302
        )
        print(
            f"{'page':<38} {'CPU ms':>7} {'SQL':>4}  " + "  ".join(f"{name:>8.8}" for name, _p in PARTS) + "     other"
        )
        for client, pages in ((pupil, PUPIL_PAGES), (contact, EMPLOYER_PAGES)):
            for page in pages:
                assert client.get(page).status_code == 200, page
                statements.clear()
                client.get(page)
                queries = len(statements)
                started = time.process_time()
                for _ in range(args.repeat):
                    client.get(page)
                cpu = (time.process_time() - started) / args.repeat * 1000  # without the profiler's own cost
                profiler = Profiler(interval=0.0005)
                profiler.start()
                for _ in range(args.repeat):
                    client.get(page)
                profiler.stop()
                shares = _shares(profiler)
                cells = "  ".join(f"{shares[name]:>8.0%}" for name, _p in PARTS)
                print(f"{page:<38} {cpu:>7.1f} {queries:>4}  {cells}  {shares['other']:>8.0%}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
