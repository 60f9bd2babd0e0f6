"""Solving a round's instance in a child process, with a wall-clock limit the parent enforces.

The solver runs in a child process (a fresh interpreter) because a solve may
overrun its own time limit and a crash must never take the caller down with
it.  One child solves the round's proposal and then, on the same network,
every method it is compared with (one start-up and one network for all of
them).  The child does not check its results: the parent checks the proposal
against the instance it sent before anything is written
(:func:`placement.rounds.solving.finish_solve`), and that is the one check.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import solver
from placement.errors import PlacementError

#: Seconds the child may take beyond the policy's own time limit, per method (start-up, building the network).
WALL_CLOCK_MARGIN_S = 30.0


#: What the caller is handed for each compared method: its result document, or why it failed.
Compared = Callable[[str, dict[str, Any] | None, str | None], None]


class SolveFailed(PlacementError):
    """The solver crashed, was killed, overran its time, or returned something invalid."""


def _end_with_parent() -> None:  # pragma: no cover  (runs in the child process)
    """End this process when the worker that started it dies (a killed worker leaves no solve running)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(3)

    threading.Thread(target=watch, name="praktik-parent-watch", daemon=True).start()


def _child(  # pragma: no cover  (runs in the child process; exercised by tests/placement/test_solving.py)
    conn: multiprocessing.connection.Connection,
    instance_doc: dict[str, Any],
    methods: Sequence[str],
    previous: dict[str, Any] | None,
) -> None:
    """Send ``("ok", method, result)`` or ``("error", method, why)`` per method, the proposal first."""
    _end_with_parent()
    try:
        instance = solver.load_instance(instance_doc)
        if previous is not None:
            result = solver.solve(instance, method=methods[0], previous=solver.result_from_dict(previous))
            conn.send(("ok", methods[0], result.to_dict()))
            return
        prepared = solver.PreparedRound(instance)  # one network for every method
        for method in methods:
            try:
                conn.send(("ok", method, prepared.solve(method).to_dict()))
            except Exception as exc:
                conn.send(("error", method, f"{type(exc).__name__}: {exc}"))
                if method == methods[0]:
                    return
    except solver.InstanceError as exc:
        conn.send(("error", methods[0], "; ".join(exc.problems[:20])))
    except Exception as exc:
        conn.send(("error", methods[0], f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def solve_out_of_process(
    instance_doc: dict[str, Any],
    *,
    method: str = "optimal",
    previous: dict[str, Any] | None = None,
    compare: Sequence[str] = (),
    on_compared: Compared | None = None,
    wall_clock_s: float | None = None,
) -> dict[str, Any]:
    """Solve ``instance_doc`` with ``method`` in a child process and return the result document.

    With ``compare`` (a new round only), the same child goes on to solve each
    of those methods on the same network, and each result, or why it failed,
    is handed to ``on_compared(method, result, error)`` as it arrives; a
    failed or overrunning comparison does not take the proposal with it.
    Raises :class:`SolveFailed` when the proposal's solve fails, the child
    dies, or a method exceeds ``wall_clock_s`` (default: the policy's time
    limit plus a margin, for each method); the child is killed then, so
    nothing keeps running.
    """
    if previous is not None and compare:
        raise ValueError("an incremental solve is not compared with other methods")
    if wall_clock_s is None:
        wall_clock_s = float(instance_doc.get("policy", {}).get("time_limit_s", 60)) + WALL_CLOCK_MARGIN_S
    methods = [method, *(m for m in compare if m != method)]
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child, args=(sender, instance_doc, methods, previous), name="praktik-solver", daemon=True
    )
    process.start()
    sender.close()
    proposal: dict[str, Any] | None = None
    try:
        for k, expected in enumerate(methods):
            message = _receive(receiver, process, wall_clock_s, proposal=k == 0)
            if message is None:  # a comparison overran or the child died after the proposal
                for rest in methods[k:]:
                    _tell(on_compared, rest, None, f"the solver stopped before it finished {rest}")
                break
            kind, got, payload = message
            if k == 0:
                if kind != "ok":
                    raise SolveFailed(f"the solver failed: {payload}")
                proposal = dict(payload)
            else:
                _tell(on_compared, got, dict(payload) if kind == "ok" else None, None if kind == "ok" else payload)
            if got != expected:  # pragma: no cover - the child answers in order
                raise SolveFailed(f"the solver answered {got!r} where {expected!r} was due")
    finally:
        if process.is_alive():
            process.kill()
        process.join(10)
        receiver.close()
        process.close()
    assert proposal is not None
    return proposal


def _receive(
    receiver: multiprocessing.connection.Connection,
    process: multiprocessing.process.BaseProcess,
    wall_clock_s: float,
    *,
    proposal: bool,
) -> tuple[str, str, Any] | None:
    """The child's next message; for the proposal, :class:`SolveFailed` where a comparison gets None."""
    if not receiver.poll(wall_clock_s):
        if proposal:
            raise SolveFailed(f"the solver did not finish within {wall_clock_s:.0f} s and was stopped")
        return None
    try:
        message: tuple[str, str, Any] = receiver.recv()
    except EOFError:
        if not proposal:
            return None
        process.join(5)
        raise SolveFailed(f"the solver process ended unexpectedly (exit code {process.exitcode})") from None
    return message


def _tell(on_compared: Compared | None, method: str, result: dict[str, Any] | None, error: str | None) -> None:
    if on_compared is not None:
        on_compared(method, result, error)
