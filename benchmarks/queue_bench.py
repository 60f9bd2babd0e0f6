"""Benchmark: the outbox sent by ``praktik worker`` through the job queue, and how fast jobs reach a worker.

    python -m benchmarks.queue_bench [--messages 5000] [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Makes a fresh PostgreSQL database (the app's tables and the queue's), starts
an SMTP server on loopback that accepts everything (aiosmtpd) and one
``praktik worker`` process, then:

1. **mail**: queues ``--messages`` messages in the outbox (the size of a
   publication's mail for a region: one per pupil, school contact and
   employer), asks the queue to send the outbox as the scheduler does every
   minute, and times until the last one is accepted by the SMTP server:
   messages per second through one worker;
2. **hand-over**: defers ``--handovers`` outbox sends one after another on an
   empty outbox and times each from the defer to its end: what the queue adds
   to a job (LISTEN/NOTIFY wake-up, fetch, acknowledgement).

Prints both; the figures go in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from placement.db import make_engine
from placement.enums import MailState
from placement.mail import outbox as mail
from placement.migrate import upgrade
from placement.models import OutboxMessage
from placement.runtime import queue

DATABASE = "praktik_bench_queue"


class _Accept:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 OK"


def _fresh(admin_url: str) -> str:
    admin = create_engine(make_url(admin_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    queue.ensure_schema(url)
    return url


def _queue_mail(make_session: sessionmaker[Session], count: int) -> None:
    with make_session() as session, session.begin():
        for n in range(count):
            mail.enqueue(
                session,
                kind="employer_reminder",
                recipient=f"kontakt{n}@foretag.example",
                locale="sv",
                context={"name": "Kim", "employer": "Bageriet AB", "deadline": "1 dec", "unanswered": 1, "url": "u"},
                dedup_key=f"bench:{n}",
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--handovers", type=int, default=50)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)

    url = _fresh(args.postgres)
    accept = _Accept()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(accept, hostname="127.0.0.1", port=port)
    smtp.start()
    engine = make_engine(url)
    make_session = sessionmaker(bind=engine, expire_on_commit=False)
    instance = tempfile.mkdtemp(prefix="praktik-queue-bench-")
    log = open(Path(instance) / "worker.log", "ab")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "worker"],
        env=dict(
            os.environ,
            PRAKTIK_DATABASE_URL=url,
            PRAKTIK_QUEUE_URL=url,
            PRAKTIK_INSTANCE_PATH=instance,
            PRAKTIK_MAIL_HOST="127.0.0.1",
            PRAKTIK_MAIL_PORT=str(port),
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    handle = queue.Queue(url)
    try:
        while queue.workers_alive(handle) < 2:
            time.sleep(0.1)
        _queue_mail(make_session, args.messages)
        started = time.perf_counter()
        while True:
            handle.mail()  # as the scheduler's minute does; one waits at most
            with make_session() as session:
                sent = session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.state == MailState.SENT))
            if sent == args.messages:
                break
            time.sleep(0.2)
        mail_s = time.perf_counter() - started
        print(f"mail: {args.messages} messages in {mail_s:.1f} s through one worker: {args.messages / mail_s:.0f}/s")

        handovers = []
        for _ in range(args.handovers):
            began = time.perf_counter()
            job = handle.mail()
            assert job is not None
            while True:
                with handle.engine().connect() as conn:
                    status = conn.scalar(
                        text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job}
                    )
                if status in ("succeeded", "failed"):
                    break
                time.sleep(0.002)
            handovers.append(time.perf_counter() - began)
        handovers.sort()
        print(
            f"hand-over (defer to acknowledged end, empty outbox, {args.handovers} jobs): "
            f"median {statistics.median(handovers) * 1000:.0f} ms, "
            f"p95 {handovers[int(len(handovers) * 0.95) - 1] * 1000:.0f} ms"
        )
    finally:
        handle.close()
        worker.terminate()
        worker.wait(60)
        log.close()
        smtp.stop()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
