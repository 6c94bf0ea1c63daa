"""Runs simulation tasks in a separate process, so that a job over its time limit is really stopped.

Aer cannot be interrupted from Python, so every simulation runs in one long-lived child process
(started once per process, early, while the parent transpiles). A task over its deadline gets
the child killed within a fraction of a second; the next task starts a fresh child.

The child is a plain ``python`` subprocess that talks over an inherited socket
(:mod:`~qrt_runner.execution.simulation.channel`), not a ``multiprocessing`` process: it starts the same
way whatever start method the caller's process uses (Hydra's joblib launcher runs points in
loky workers, whose start method a ``spawn`` child could not restore). It never outlives its
parent (see :mod:`~qrt_runner.execution.simulation.worker`).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from qrt_runner import background
from qrt_runner.errors import JobError
from qrt_runner.execution.simulation.channel import Channel
from qrt_runner.execution.simulation.task import SimTask

_BOOTSTRAP = (
    "import json, os, sys\n"
    "sys.path[:] = json.loads(os.environ.pop('QRT_SIMULATOR_SYS_PATH'))\n"
    "from qrt_runner.execution.simulation.worker import main\n"
    "main()\n"
)


class TaskTimeout(Exception):
    """The task ran past its deadline and the simulator process was killed."""

    def __init__(self, ran_s: float):
        super().__init__(f"stopped after {ran_s:.2f} s")
        self.ran_s = ran_s


class SimulatorDied(JobError):
    """The simulator process ended without answering (crash, out of memory, or aborted)."""


class SimulationFailed(JobError):
    """Aer reported an error for the task (the message carries its traceback)."""


class ProcessExecutor:
    """A simulator child process with kill-on-deadline semantics; thread-safe, one task at a time."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._connection: Channel | None = None
        self._lock = threading.Lock()
        self._next_id = 0

    def warm_up(self) -> None:
        """Start the child now (in the background), so its import cost overlaps other work."""
        with self._lock:
            if not self._alive():
                self._start()

    @property
    def pid(self) -> int | None:
        """The child's process id (None when no child runs)."""
        return self._process.pid if self._alive() and self._process is not None else None

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _start(self) -> None:
        if self._process is not None:
            self._kill()
        parent, child = socket.socketpair()
        env = {**os.environ, "QRT_SIMULATOR_SYS_PATH": json.dumps(sys.path)}
        command = [sys.executable, "-c", _BOOTSTRAP, str(child.fileno()), str(os.getpid())]
        try:
            # its own process group: a terminal's Ctrl-C (sent to the whole foreground group) is the
            # parent's to handle, and reached the child while its interpreter started, before it could
            # ignore it (a "Fatal Python error" on the run's stderr, a dead simulator)
            self._process = _spawn(
                command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL, process_group=0
            )
        finally:
            child.close()
        self._connection, self._ready = Channel(parent), False
        self._child_circuits: set[str] = set()

    def _await_ready(self) -> None:
        if not self._ready:
            kind, _, _ = self._receive(None)
            if kind != "ready":
                raise SimulatorDied("the simulator process did not start")
            self._ready = True

    def _receive(self, timeout: float | None):
        assert self._connection is not None  # run() starts the child (and its channel) first
        if timeout is not None and not self._connection.poll(max(timeout, 0.0)):
            raise TimeoutError
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            self._kill()
            raise SimulatorDied(
                "the simulator process ended before answering (aborted, crashed or out of memory)"
            ) from None

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def run(
        self,
        task: SimTask,
        deadline: Callable[[float], float],
        on_start: Callable[[float], None] | None = None,
    ) -> tuple[Any, float]:
        """Run ``task``; ``deadline(start_time)`` gives the absolute time by which it must end.

        Returns:
            The task's output and the seconds it ran.

        Raises:
            TaskTimeout: it was still running at the deadline (the process was killed).
        """
        with self._lock:
            if not self._alive():
                self._start()
            self._await_ready()
            self._next_id += 1
            task_id = self._next_id
            assert self._connection is not None  # _start() above opened it
            self._connection.send((task_id, self._without_known_circuits(task)))
            if task.circuit_keys:  # only once the child has them
                self._child_circuits.update(task.circuit_keys)
            kind, _, _ = self._receive(None)
            started = time.time()
            if on_start is not None:
                on_start(started)
            end = deadline(started)
            try:
                with background.waiting():  # this process is idle: background work may run
                    kind, _, payload = self._receive(end - time.time())
            except TimeoutError:
                self._kill()
                raise TaskTimeout(time.time() - started) from None
            except BaseException:
                self._kill()
                raise
            if kind == "error":
                raise SimulationFailed(f"simulation failed: {payload.strip().splitlines()[-1]}")
            return payload

    def _without_known_circuits(self, task: SimTask) -> SimTask:
        """A copy of ``task`` in which circuits the child already holds are None."""
        if not task.circuit_keys:
            return task
        if len(self._child_circuits) + len(task.circuit_keys) > _MAX_CACHED_CIRCUITS:
            assert self._connection is not None  # called from run(), once the child runs
            self._connection.send(("clear", None))
            self._child_circuits.clear()
        circuits = [
            None if key in self._child_circuits else circuit for key, circuit in zip(task.circuit_keys, task.circuits)
        ]
        return replace(task, circuits=circuits)

    def abort(self) -> None:
        """Kill the child now, from any thread: the task running in it ends with SimulatorDied."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()

    def shutdown(self) -> None:
        """Stop the child process."""
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.send(None)
                except OSError:
                    pass
            self._kill()


_MAX_CACHED_CIRCUITS = 256
_DEFAULT: ProcessExecutor | None = None
_SPAWN_REQUESTS: queue.SimpleQueue | None = None
_SPAWN_LOCK = threading.Lock()


def _spawn(command: list[str], **options: Any) -> subprocess.Popen:
    """``subprocess.Popen`` run on one long-lived thread of this process.

    Linux sends the child's parent-death signal when the *thread* that started it ends, so a
    child started from a job's worker thread would die with that thread; started here, it dies
    only with the process.
    """
    global _SPAWN_REQUESTS
    with _SPAWN_LOCK:
        if _SPAWN_REQUESTS is None:
            _SPAWN_REQUESTS = queue.SimpleQueue()
            threading.Thread(target=_spawn_loop, args=(_SPAWN_REQUESTS,), name="qrt-spawner", daemon=True).start()
    done: Future = Future()
    _SPAWN_REQUESTS.put((command, options, done))
    return done.result()


def _spawn_loop(requests: queue.SimpleQueue) -> None:
    while True:
        command, options, done = requests.get()
        try:
            done.set_result(subprocess.Popen(command, **options))
        except BaseException as exc:  # reported to the caller
            done.set_exception(exc)


def default_executor() -> ProcessExecutor:
    """The process-wide simulator executor (its simulators are cached across runs)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ProcessExecutor()
        atexit.register(_DEFAULT.shutdown)
    return _DEFAULT
