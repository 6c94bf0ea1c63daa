"""Execution modes emulated locally with Qiskit Runtime's semantics: job, session and batch.

A job is cancelled with ``RuntimeJobMaxTimeoutError`` when it runs past
min(``max_execution_time``, the time its session or batch has left); the simulator process is
killed at that moment. A session's clock starts with its first job; once it has expired or was
closed, new jobs are refused.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from qiskit.primitives import BasePrimitiveJob
from qiskit.providers import JobStatus

from qrt_runner.errors import JobError
from qrt_runner.execution.cost import JobCost, system_limit
from qrt_runner.execution.simulation.executor import ProcessExecutor, TaskTimeout
from qrt_runner.execution.simulation.task import SimTask

_STOP_WAIT_S = 5.0


@dataclass
class Planned:
    """A job before it is submitted: its simulator tasks, how their outputs become its result,
    and its cost (:class:`~qrt_runner.execution.cost.JobCost`: circuits, shots, estimated QPU time)."""

    tasks: list[SimTask]
    postprocess: Callable[[list[Any]], Any]
    cost: JobCost | None = None
    multipliers: dict[str, Any] | None = None  # what multiplies the shots (randomisations, noise factors...)


class SessionClosedError(JobError):
    """A job was submitted to a session or batch that is closed or expired."""


class LocalJob(BasePrimitiveJob):
    """A primitive job run by the local simulator; records its status history and usage."""

    def __init__(self, job_id: str, mode: ExecutionMode):
        super().__init__(job_id)
        self.mode = mode
        self.status_history: list[tuple[str, float]] = [("QUEUED", time.time())]
        self.usage_s = 0.0
        self.limit_s: float | None = None  # the time limit that applied: the smallest of the bounds
        self.limit_reason: str | None = None  # which bound it was
        self.seed_simulator = 0
        self.shots_spent = 0  # shots the simulator sampled for this job
        self.estimate: dict | None = None  # its cost estimated before it ran (qrt_runner.execution.cost)
        self.error: str | None = None
        self._future: Future | None = None

    def _set_status(self, status: str) -> None:
        self.status_history.append((status, time.time()))

    def result(self) -> Any:
        assert self._future is not None  # set when the job is submitted, before it is returned
        return self._future.result()

    def status(self) -> JobStatus:
        return JobStatus[self.status_history[-1][0]]

    def done(self) -> bool:
        return self.status() == JobStatus.DONE

    def running(self) -> bool:
        return self.status() == JobStatus.RUNNING

    def cancelled(self) -> bool:
        return self.status() == JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        return self.status() in (JobStatus.DONE, JobStatus.CANCELLED, JobStatus.ERROR)

    def cancel(self) -> bool:
        if self._future is not None and self._future.cancel():
            self._set_status("CANCELLED")
            return True
        return False


class ExecutionMode:
    """Where jobs run: ``job`` (each on its own), ``session`` or ``batch`` (shared time limit).

    Jobs run one after another, in submission order, on one simulator process.

    A job's time limit is the smallest of its ``max_execution_time``, the time its session or
    batch has left, and the system's limit: like IBM's service, calculated per job from its
    estimated cost (:func:`qrt_runner.execution.cost.system_limit`: 100x the estimated QPU time, between one
    and three hours); each job records which applied. A session with no job queued or running for longer than ``interactive_ttl`` is
    paused (as IBM's sessions are, "due to a lack of queued session jobs"); the next job resumes
    it. ``state_history`` holds ``(state, unix time)``: pending, active, paused, then closed,
    expired or cancelled.

    Args:
        mode: ``job``, ``session`` or ``batch``.
        executor: the simulator process.
        max_time: seconds a session or batch may run, counted from its first job's start.
        interactive_ttl: seconds without a queued job after which a session is paused (None: never).
        system_limit: a fixed system limit for every job instead of the calculated one.
    """

    def __init__(
        self,
        mode: str,
        executor: ProcessExecutor,
        max_time: float | None = None,
        interactive_ttl: float | None = None,
        system_limit: float | None = None,
    ):
        self.mode = mode
        self.executor = executor
        self.max_time = max_time if mode != "job" else None
        self.interactive_ttl = interactive_ttl if mode == "session" else None
        self.system_limit = system_limit
        self.session_id = f"{mode}-{uuid.uuid4().hex[:12]}" if mode != "job" else None
        self.started_at: float | None = None
        self.closed = False
        self.expired = False
        self.cancelled = False
        self.jobs: list[LocalJob] = []
        self.state_history: list[tuple[str, float]] = [("pending", time.time())]
        self._idle_since: float | None = None
        self._queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"qrt-{mode}")

    def __enter__(self) -> ExecutionMode:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def remaining(self) -> float | None:
        """Seconds the session or batch has left (None: no session limit)."""
        if self.max_time is None:
            return None
        if self.started_at is None:
            return self.max_time
        return self.max_time - (time.time() - self.started_at)

    def record(self) -> dict[str, Any] | None:
        """The session or batch as results.json shows it (None in job mode)."""
        if self.mode == "job":
            return None
        return {
            "session_id": self.session_id,
            "mode": self.mode,
            "max_time": self.max_time,
            "interactive_ttl": self.interactive_ttl,
            "state_history": [list(item) for item in self.state_history],
        }

    def _state(self, state: str, at: float | None = None) -> None:
        if self.state_history[-1][0] != state:
            self.state_history.append((state, time.time() if at is None else at))

    def close(self) -> None:
        """Let submitted jobs finish; refuse new ones."""
        self.closed = True
        self._queue.shutdown(wait=True)
        if not (self.expired or self.cancelled):
            self._state("closed")

    def cancel(self) -> None:
        """Close now: queued jobs are cancelled, a running one is stopped (its simulator process
        killed); returns once the stopped job has recorded its CANCELLED status (a few seconds at most)."""
        self.closed = True
        stopped = [job for job in self.jobs if job.cancel()]
        running = [
            job for job in self.jobs if job._future is not None and job._future.running()
        ]  # RUNNING, or about to be
        if running:
            self.cancelled = True
            self.executor.abort()
        self._state("cancelled" if running or stopped else "closed")
        self._queue.shutdown(wait=False, cancel_futures=True)
        wait([job._future for job in running if job._future is not None], timeout=_STOP_WAIT_S)

    def submit(
        self,
        tasks: list[SimTask],
        postprocess: Callable[[list[Any]], Any],
        max_execution_time: float,
        cost: JobCost | None = None,
    ) -> LocalJob:
        """Queue a job made of simulator tasks; ``postprocess`` turns their outputs into its
        result; ``cost``, its estimate, is recorded with it and sets its system limit."""
        if self.closed or self.expired:
            state = "expired" if self.expired else "closed"
            raise SessionClosedError(f"the {self.mode} {self.session_id} is {state}; no new jobs are accepted")
        now = time.time()
        if (
            self.interactive_ttl is not None
            and self._idle_since is not None
            and not any(not j.in_final_state() for j in self.jobs)
            and now - self._idle_since > self.interactive_ttl
        ):
            self._state("paused", self._idle_since + self.interactive_ttl)  # no queued job within the TTL
            self._state("active", now)  # this job resumes it
        job = LocalJob(f"job-{uuid.uuid4().hex[:12]}", self)
        job.estimate = cost.record() if cost is not None else None
        limit = self.system_limit if self.system_limit is not None else system_limit(cost.qpu_s if cost else None)
        self.jobs.append(job)
        job._future = self._queue.submit(self._execute, job, tasks, postprocess, max_execution_time, limit)
        return job

    def _execute(
        self, job: LocalJob, tasks: list[SimTask], postprocess, max_execution_time: float, limit: float
    ) -> Any:
        if self.cancelled:  # the mode was cancelled while this job was being picked up
            job._set_status("CANCELLED")
            job.error = "cancelled: the run was interrupted"
            raise SessionClosedError(job.error)
        remaining = self.remaining()
        if self.expired or (self.started_at is not None and remaining is not None and remaining <= 0):
            self.expired = True
            self._state("expired")
            job._set_status("CANCELLED")
            job.error = f"the {self.mode} {self.session_id} expired before this job started"
            raise SessionClosedError(job.error)
        job.seed_simulator = tasks[0].seed if tasks else 0
        clock: dict[str, float] = {}

        def on_start(started: float) -> None:
            if "start" not in clock:
                clock["start"] = started
                job._set_status("RUNNING")
                if self.started_at is None:
                    self.started_at = started
                if self.mode != "job":
                    self._state("active", started)
                bounds = {"max_execution_time": max_execution_time, "system": limit}
                if self.max_time is not None:
                    bounds[f"{self.mode} max_time"] = self.started_at + self.max_time - started
                job.limit_reason = min(bounds, key=bounds.__getitem__)
                job.limit_s = bounds[job.limit_reason]

        def deadline(started: float) -> float:
            assert job.limit_s is not None  # on_start() set it: the executor calls it first
            return clock["start"] + job.limit_s

        outputs = []
        try:
            for task in tasks:
                if self.cancelled:
                    raise SessionClosedError("cancelled: the run was interrupted")
                output, ran = self.executor.run(task, deadline, on_start)
                job.usage_s += ran
                job.shots_spent += getattr(output, "shots", 0)
                outputs.append(output)
            result = postprocess(outputs)
        except TaskTimeout as exc:
            job.usage_s = time.time() - clock["start"]
            session_limited = (
                self.max_time is not None and (remaining := self.remaining()) is not None and remaining <= 0.05
            )
            if session_limited:
                self.expired = True
                self._state("expired")
                reason = f"the {self.mode} {self.session_id} reached its max_time of {self.max_time:g} s"
            elif job.limit_reason == "system":
                reason = f"the job exceeded the system limit of {limit:g} s"
            else:
                reason = f"the job exceeded max_execution_time={max_execution_time:g} s"
            job.error = f"{reason}; stopped after {exc.ran_s:.2f} s of execution"
            job._set_status("CANCELLED")
            from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError  # imported when needed: seconds

            raise RuntimeJobMaxTimeoutError(f"Job {job.job_id()} was cancelled: {job.error}") from None
        except BaseException as exc:
            job.error = "cancelled: the run was interrupted" if self.cancelled else f"{type(exc).__name__}: {exc}"
            job._set_status("CANCELLED" if self.cancelled else "ERROR")
            raise
        job._set_status("DONE")
        if all(j.in_final_state() or j is job for j in self.jobs):
            self._idle_since = time.time()
        return result
