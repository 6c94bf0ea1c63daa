"""Execution modes: time limits really stop the simulator; sessions expire and refuse jobs."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2
from qiskit_ibm_runtime.exceptions import RuntimeJobMaxTimeoutError

from conftest import FAST, job_seconds, ran_s, spec_for
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.modes import ExecutionMode, SessionClosedError
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.tasks.runner import run_experiment


@pytest.fixture(scope="module")
def backend():
    return LocalBackend.create("aer", threads=1, seed_simulator=3)


def _long_pub(num_sets: int = 300):
    circuit = efficient_su2(20, reps=2)  # ~0.3 s per parameter set: ~90 s if never stopped
    return (circuit, ["Z" * 20], np.random.default_rng(0).uniform(0, 1, (num_sets, circuit.num_parameters)))


@pytest.fixture(scope="module")
def four_sets_s(backend):
    """Seconds a job of 4 of ``_long_pub``'s parameter sets runs here and now: its 300 take 75 times
    as long on any machine. A job stopped at its limit is stopped before it could have simulated 4
    more (how promptly, in seconds, is benchmarks/time_limits.py's measure)."""
    job = Estimator(backend, options=EstimatorOptions(default_precision=0)).run([_long_pub(4)])
    job.result()
    return ran_s(job)


def test_job_over_max_execution_time_is_stopped_at_its_limit(backend, four_sets_s):
    estimator = Estimator(backend, options=EstimatorOptions(default_precision=0, max_execution_time=1.0))
    job = estimator.run([_long_pub()])
    with pytest.raises(RuntimeJobMaxTimeoutError, match="max_execution_time=1"):
        job.result()
    history = dict(job.status_history)
    assert job.status().name == "CANCELLED"
    assert 1.0 <= history["CANCELLED"] - history["RUNNING"] < 1.0 + four_sets_s
    # the simulator process was replaced: the next job runs normally
    small = efficient_su2(2, reps=1)
    value = (
        Estimator(backend, options=EstimatorOptions(default_precision=0))
        .run([(small, ["ZZ"], np.zeros(small.num_parameters))])
        .result()[0]
        .data.evs
    )
    assert value == pytest.approx(1.0)


def test_closed_session_refuses_new_jobs(backend):
    small = efficient_su2(2, reps=1)
    with ExecutionMode("session", backend.executor, max_time=60) as session:
        estimator = Estimator(backend, session)
        estimator.run([(small, ["ZZ"], np.zeros(small.num_parameters))]).result()
        assert session.session_id.startswith("session-")
    with pytest.raises(SessionClosedError, match="is closed"):
        estimator.run([(small, ["ZZ"], np.zeros(small.num_parameters))])


EXPIRING = [
    "circuit=efficient_su2",
    "circuit.num_qubits=18",
    "circuit.reps=2",
    "observables=paulis",
    f"observables.terms=[{'Z' * 18}]",
    "primitive.default_precision=0",
    "session.parameter_sets_per_job=6",
    *FAST,
]


def test_session_expiry_fails_the_run_and_keeps_finished_jobs():
    # max_time is what 4 of its 20 jobs take here and now (the slowest of 2 jobs of the same work,
    # the baseline): on a fast machine as on a loaded one, its first jobs finish and the session
    # expires long before the last one could.
    job_s = job_seconds([*EXPIRING, "circuit.parameter_values.num_sets=12"])
    max_time = round(4 * job_s, 2)
    spec = spec_for(
        [*EXPIRING, "circuit.parameter_values.num_sets=120", "session.mode=session", f"session.max_time={max_time}"]
    )
    result = run_experiment(spec)
    ended = time.time()
    assert result.status == "FAILED"
    if result.error_type == "RuntimeJobMaxTimeoutError":  # the session expired during a job
        assert f"reached its max_time of {max_time:g} s" in result.error
    else:  # a job ended right at the expiry, and the next one found the session expired
        assert result.error_type == "SessionClosedError" and "expired before this job started" in result.error
    statuses = [job.status for job in result.jobs]
    assert statuses[0] == "DONE" and "CANCELLED" in statuses and statuses.count("DONE") < len(statuses)
    done_sets = 6 * statuses.count("DONE")
    evs = result.estimator.evs[:, 0]
    assert np.all(np.isfinite(evs[:done_sets])) and np.all(np.isnan(evs[done_sets:]))
    assert result.session_id.startswith("session-")
    running = [t for job in result.jobs for s, t in job.status_history if s == "RUNNING"]
    # the run ends at expiry: the job running then is stopped before it could have finished
    assert ended - running[0] < max_time + job_s
    assert sum(job.usage_s for job in result.jobs) < max_time + job_s


def test_batch_mode_records_ids_and_status_history():
    spec = spec_for(["experiment=ising_estimator", "session.mode=batch", "session.parameter_sets_per_job=3", *FAST])
    result = run_experiment(spec)
    assert result.status == "FINISHED" and result.session_id.startswith("batch-")
    assert len(result.jobs) == 3  # 8 parameter sets in jobs of at most 3
    for job in result.jobs:
        assert [s for s, _ in job.status_history] == ["QUEUED", "RUNNING", "DONE"] and job.usage_s > 0
    assert len({job.seed_simulator for job in result.jobs}) == 3


def test_in_job_mode_a_timed_out_job_does_not_drop_the_independent_jobs_after_it():
    spec = spec_for(
        [
            "circuit=efficient_su2",
            "circuit.num_qubits=20",
            "circuit.reps=2",
            "circuit.parameter_values.num_sets=24",
            "observables=paulis",
            f"observables.terms=[{'Z' * 20}]",
            "primitive.default_precision=0",
            "primitive.max_execution_time=0.5",
            "session.parameter_sets_per_job=12",
            *FAST,
        ]
    )
    spec_small = spec_for(["experiment=ising_estimator", "session.parameter_sets_per_job=4", *FAST])
    result = run_experiment(spec)
    assert result.status == "FAILED" and [job.status for job in result.jobs] == ["CANCELLED", "CANCELLED"]
    assert "1 more job(s) failed" in result.error
    assert run_experiment(spec_small).status == "FINISHED"  # the simulator process recovers


def test_cancelling_a_mode_stops_the_running_simulation_at_once(backend, four_sets_s):
    mode = ExecutionMode("session", backend.executor, max_time=600)
    estimator = Estimator(backend, mode, options=EstimatorOptions(default_precision=0))
    job = estimator.run([_long_pub()])
    waiting_until = time.time() + 300  # bounds a hang only
    while not job.running():
        assert time.time() < waiting_until, "the job never started"
        time.sleep(0.05)
    started = time.time()
    mode.cancel()
    with pytest.raises(Exception):
        job.result()
    assert time.time() - started < four_sets_s  # stopped, not left to simulate its 300 sets
    assert job.status().name == "CANCELLED"


def test_a_session_pauses_after_its_interactive_ttl_and_the_next_job_resumes_it(backend):
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.h(0)
    with ExecutionMode("session", backend.executor, max_time=600, interactive_ttl=0.2) as session:
        estimator = Estimator(backend, session, options=EstimatorOptions(default_precision=0))
        estimator.run([(circuit, "X")]).result()
        time.sleep(0.5)  # no job queued for longer than the TTL
        job = estimator.run([(circuit, "X")])
        job.result()
    states = [state for state, _ in session.state_history]
    assert states == ["pending", "active", "paused", "active", "closed"]
    times = dict(zip(states[:3], [t for _, t in session.state_history]))
    assert times["paused"] > times["active"]
    assert job.limit_reason == "session max_time" and job.limit_s < 600  # the session had less left than 10800 s
    record = session.record()
    assert record["interactive_ttl"] == 0.2 and record["state_history"][2][0] == "paused"


def test_a_jobs_limit_is_the_smallest_of_its_bounds(backend):
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(1)
    circuit.h(0)
    with ExecutionMode("session", backend.executor, max_time=30, system_limit=50) as session:
        job = Estimator(backend, session, options=EstimatorOptions(default_precision=0, max_execution_time=100)).run(
            [(circuit, "Z")]
        )
        job.result()
    assert job.limit_reason == "session max_time" and 29 < job.limit_s <= 30
    mode = ExecutionMode("job", backend.executor, system_limit=5)
    job = Estimator(backend, mode, options=EstimatorOptions(default_precision=0, max_execution_time=100)).run(
        [(circuit, "Z")]
    )
    job.result()
    assert (job.limit_reason, job.limit_s) == ("system", 5)
