"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import time
from pathlib import Path

from qrt_runner.execution.simulation.executor import default_executor


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its live simulator process."""
    total = time.process_time()
    pid = default_executor().pid
    if pid is not None:
        try:
            tasks = Path(f"/proc/{pid}/task").iterdir()
            total += sum(int((t / "schedstat").read_text().split()[0]) for t in tasks) / 1e9
        except (OSError, ValueError, IndexError):
            return float("nan")
    return total
