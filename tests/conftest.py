"""Shared fixtures: compose the real config tree, run the CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qrt_runner.config.compose import compose_config, compose_spec

REPO = Path(__file__).resolve().parents[1]
QRT_RUN = Path(sys.executable).with_name("qrt-run")
# Small and single-threaded: two xdist workers share the 2 CPU cores.
FAST = ["backend.max_parallel_threads=1", "tracking=none"]

__all__ = ["FAST", "QRT_RUN", "REPO", "compose_config", "run_cli", "spec_for"]
spec_for = compose_spec


def run_cli(args: list[str], cwd: Path, timeout: float = 180, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed ``qrt-run`` in a subprocess."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        [str(QRT_RUN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env
    )


@pytest.fixture
def compose_spec():
    return spec_for
