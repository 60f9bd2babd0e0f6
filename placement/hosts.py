"""Processes of this host: whether one still runs.

A job row names the host and pid of the process that works on it; a process
of this host that is gone is found at once, without waiting for its
heartbeat to go stale.
"""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover  (a process of another user)
        return True
    # A killed child of this process stays a zombie until reaped: not alive.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ", 1)[1][:1] != "Z"
    except OSError:  # pragma: no cover  (no /proc)
        return True
