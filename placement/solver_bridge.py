"""Running the solver for a round, out of process, and storing what it returns.

The solver runs in a child process (a fresh interpreter) with a wall-clock
limit enforced by the parent, because CP-SAT and friends may overrun their own
time limits and a crash must never take the caller down with it
(RELIABILITY.md R2).  The child re-verifies its result with the independent
checker before handing it back; the parent checks it again against the
instance it sent before anything is written.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
from typing import Any

import solver
from placement.errors import PlacementError

#: Seconds the child may take beyond the policy's own time limit (start-up, checking).
WALL_CLOCK_MARGIN_S = 30.0


class SolveFailed(PlacementError):
    """The solver crashed, was killed, overran its time, or returned something invalid."""


def _child(  # pragma: no cover  (runs in the child process; exercised by tests/placement/test_solving.py)
    conn: multiprocessing.connection.Connection,
    instance_doc: dict[str, Any],
    method: str,
    previous: dict[str, Any] | None,
) -> None:
    try:
        instance = solver.load_instance(instance_doc)
        prior = solver.result_from_dict(previous) if previous is not None else None
        result = solver.solve(instance, method=method, previous=prior)
        violations = solver.check(instance, result)
        if violations:
            conn.send(("error", "the checker rejected the solver's result: " + "; ".join(map(str, violations[:5]))))
        else:
            conn.send(("ok", result.to_dict()))
    except solver.InstanceError as exc:
        conn.send(("error", "; ".join(exc.problems[:20])))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def solve_out_of_process(
    instance_doc: dict[str, Any],
    *,
    method: str = "optimal",
    previous: dict[str, Any] | None = None,
    wall_clock_s: float | None = None,
) -> dict[str, Any]:
    """Solve ``instance_doc`` in a child process and return the result document.

    Raises :class:`SolveFailed` when the child fails, dies or exceeds
    ``wall_clock_s`` (default: the policy's time limit plus a margin); the
    child is killed then, so nothing keeps running.
    """
    if wall_clock_s is None:
        wall_clock_s = float(instance_doc.get("policy", {}).get("time_limit_s", 60)) + WALL_CLOCK_MARGIN_S
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, instance_doc, method, previous), name="praktik-solver", daemon=True
    )
    process.start()
    sender.close()
    try:
        if not receiver.poll(wall_clock_s):
            raise SolveFailed(f"the solver did not finish within {wall_clock_s:.0f} s and was stopped")
        try:
            kind, payload = receiver.recv()
        except EOFError:
            process.join(5)
            raise SolveFailed(f"the solver process ended unexpectedly (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join(10)
        receiver.close()
        process.close()
    if kind != "ok":
        raise SolveFailed(f"the solver failed: {payload}")
    return dict(payload)
