"""Runs simulation tasks in a separate process, so that a job over its time limit is really stopped.

Aer cannot be interrupted from Python, so every simulation runs in one long-lived child process
(started once per process, early, while the parent transpiles). A task over its deadline gets
the child killed within a fraction of a second; the next task starts a fresh child.
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
import time
from dataclasses import replace
from typing import Any, Callable

from qrt_runner.simulation.task import SimTask


class TaskTimeout(Exception):
    """The task ran past its deadline and the simulator process was killed."""

    def __init__(self, ran_s: float):
        super().__init__(f"stopped after {ran_s:.2f} s")
        self.ran_s = ran_s


class SimulatorDied(RuntimeError):
    """The simulator process ended without answering (crash, out of memory, or aborted)."""


class SimulationFailed(RuntimeError):
    """Aer reported an error for the task (the message carries its traceback)."""


class ProcessExecutor:
    """A simulator child process with kill-on-deadline semantics; thread-safe, one task at a time."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._connection = None
        self._lock = threading.Lock()
        self._next_id = 0

    def warm_up(self) -> None:
        """Start the child now (in the background), so its import cost overlaps other work."""
        with self._lock:
            if self._process is None or not self._process.is_alive():
                self._start()

    def _start(self) -> None:
        from qrt_runner.simulation.worker import serve

        parent, child = self._context.Pipe()
        process = self._context.Process(target=serve, args=(child,), daemon=True, name="qrt-simulator")
        process.start()
        child.close()
        self._process, self._connection, self._ready = process, parent, False
        self._child_circuits: set[str] = set()

    def _await_ready(self) -> None:
        if not self._ready:
            kind, _, _ = self._receive(None)
            if kind != "ready":
                raise SimulatorDied("the simulator process did not start")
            self._ready = True

    def _receive(self, timeout: float | None):
        if timeout is not None and not self._connection.poll(max(timeout, 0.0)):
            raise TimeoutError
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            self._kill()
            raise SimulatorDied("the simulator process ended before answering (aborted, crashed or out of memory)") from None

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
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
            if self._process is None or not self._process.is_alive():
                self._start()
            self._await_ready()
            self._next_id += 1
            task_id = self._next_id
            self._connection.send((task_id, self._without_known_circuits(task)))
            if task.circuit_keys:  # only once the child has them
                self._child_circuits.update(task.circuit_keys)
            kind, _, _ = self._receive(None)
            started = time.time()
            if on_start is not None:
                on_start(started)
            end = deadline(started)
            try:
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
            self._connection.send(("clear", None))
            self._child_circuits.clear()
        circuits = [None if key in self._child_circuits else circuit for key, circuit in zip(task.circuit_keys, task.circuits)]
        return replace(task, circuits=circuits)

    def abort(self) -> None:
        """Kill the child now, from any thread: the task running in it ends with SimulatorDied."""
        process = self._process
        if process is not None and process.is_alive():
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


def default_executor() -> ProcessExecutor:
    """The process-wide simulator executor (its simulators are cached across runs)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ProcessExecutor()
        atexit.register(_DEFAULT.shutdown)
    return _DEFAULT
