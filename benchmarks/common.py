"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path


def cpu_seconds() -> float:
    """CPU time of this process (all threads) plus its live children (qrt's simulator process)."""
    total = time.process_time()
    for child in multiprocessing.active_children():
        try:
            tasks = Path(f"/proc/{child.pid}/task").iterdir()
            total += sum(int((t / "schedstat").read_text().split()[0]) for t in tasks) / 1e9
        except (OSError, ValueError, IndexError):
            return float("nan")
    return total
