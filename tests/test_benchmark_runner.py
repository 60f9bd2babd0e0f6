"""The benchmark runner's own measurements: what docs/benchmarks.md reports must be what happened."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.run import measure

CHILD_HOLDS_MEMORY = """
import os, time
pid = os.fork()
if pid == 0:
    block = bytearray(300 * 1024 * 1024)
    for k in range(0, len(block), 4096):
        block[k] = 1
    time.sleep(2.5)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_peak_memory_counts_worker_processes(tmp_path: Path) -> None:
    """A solve that works in worker processes is measured with them, not by its parent alone."""
    code, wall, peak_mb, timed_out = measure([sys.executable, "-c", CHILD_HOLDS_MEMORY], tmp_path / "log", 60)
    assert (code, timed_out) == (0, False)
    assert wall >= 2.5
    assert peak_mb >= 300


def test_a_run_over_its_time_is_killed_and_reported(tmp_path: Path) -> None:
    code, wall, _, timed_out = measure([sys.executable, "-c", "import time; time.sleep(30)"], tmp_path / "log", 1)
    assert timed_out
    assert code != 0
    assert wall < 10


def test_the_runners_own_memory_is_not_counted(tmp_path: Path) -> None:
    """The runner holds generated rounds in memory; a forked child must not be charged for them."""
    held = bytearray(400 * 1024 * 1024)
    for k in range(0, len(held), 4096):
        held[k] = 1
    code, _, peak_mb, _ = measure([sys.executable, "-c", "import time; time.sleep(0.5)"], tmp_path / "log", 60)
    assert code == 0
    assert 0 < peak_mb < 100
    del held
