"""Shared fixtures: compose the real config tree, run the CLI in a subprocess."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qrt_runner.config.compose import compose_config, compose_spec
from servers import free_port
from servers import mlflow_server as watched_mlflow_server

REPO = Path(__file__).resolve().parents[1]
QRT_RUN = Path(sys.executable).with_name("qrt-run")
# Small and single-threaded: two xdist workers share the 2 CPU cores.
FAST = ["backend.max_parallel_threads=1", "tracking=none"]
# The timeout of a subprocess or a wait: it bounds a hang only. A test's assertions never depend on
# the machine's speed; a loaded machine (make test beside other work) runs 5-10 times slower.
HANG_S = 900

__all__ = [
    "FAST",
    "HANG_S",
    "QRT_RUN",
    "REPO",
    "compose_config",
    "free_port",
    "job_seconds",
    "mlflow_server",
    "process_gone",
    "ran_s",
    "run_cli",
    "spec_for",
    "start_mlflow_server",
    "stop_mlflow_server",
]
spec_for = compose_spec


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie counts: it runs nothing, and its parent reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


def run_cli(
    args: list[str], cwd: Path, timeout: float = HANG_S, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run the installed ``qrt-run`` in a subprocess."""
    # no Ray token authentication: a local Ray would write ~/.ray/auth_token, which turns it on for
    # every later `ray start --head` of this user
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled", **(env or {})}
    return subprocess.run([str(QRT_RUN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


def run_in_own_process_group(code: str, timeout: float = HANG_S) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a subprocess leading a process group of its own (so that a signal it
    sends to its group, as a terminal's Ctrl-C reaches a foreground group, stays there)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, start_new_session=True, timeout=timeout
    )


def ran_s(job) -> float:
    """Seconds a job ran: from RUNNING to its final status (DONE, CANCELLED or ERROR)."""
    history = dict(job.status_history)
    return job.status_history[-1][1] - history["RUNNING"]


def job_seconds(overrides: list[str]) -> float:
    """Seconds the slowest job of ``run_experiment(spec_for(overrides))`` ran, here and now.

    The baseline of a test that races a time limit against work: a limit set to a multiple of
    what the same work takes on this machine, under its present load, keeps the side of the race
    that wins the same on a fast machine and on a loaded one (make test runs on both).
    """
    from qrt_runner.tasks.runner import run_experiment

    result = run_experiment(spec_for(overrides))
    assert result.status == "FINISHED", result.error
    return max(ran_s(job) for job in result.jobs)


@pytest.fixture
def compose_spec():
    return spec_for


def start_mlflow_server(folder: Path, port: int | None = None) -> tuple[str, contextlib.ExitStack]:
    """An MLflow tracking server on loopback with its store in ``folder`` (reused when restarted
    on the same ``port``), under the tests' server watchdog (tests/servers.py): it never outlives
    the tests. Stop it with :func:`stop_mlflow_server`."""
    server = contextlib.ExitStack()
    with contextlib.ExitStack() as starting:
        starting.enter_context(server)  # closed if the start fails
        uri = server.enter_context(
            watched_mlflow_server(f"sqlite:///{folder / 'server.db'}", folder / "server-artifacts", port=port)
        )
        starting.pop_all()
    return uri, server


def stop_mlflow_server(server: contextlib.ExitStack) -> None:
    server.close()


@pytest.fixture
def mlflow_server(tmp_path):
    """The URI of an MLflow tracking server on loopback, stopped after the test."""
    folder = tmp_path / "server"
    folder.mkdir()
    uri, server = start_mlflow_server(folder)
    yield uri
    stop_mlflow_server(server)
