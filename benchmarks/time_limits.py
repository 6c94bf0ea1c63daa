"""How promptly qrt_runner stops work at a time limit, a cancel, a dead parent or a dead store.

Run it with ``.venv/bin/python benchmarks/time_limits.py`` (about 1 minute on an idle machine;
``--repeats N``, default 3). The tests check what happens (a job over its limit is CANCELLED, an
expired session refuses the rest, a killed parent leaves no simulator behind, a dead store turns
offline after one call): in seconds against the speed of the same work on the same machine, so
that they pass on a loaded one. The promptness itself, in absolute seconds, is measured here.

Cases (Aer single-threaded; the work that gets stopped would take a minute or more):

* ``max_execution_time_stop_s``: a job with ``max_execution_time=1`` (EfficientSU2 on 20 qubits,
  300 parameter sets): seconds from RUNNING to CANCELLED, past the 1 s limit. Goal < 1.
* ``cancel_s``: ``ExecutionMode.cancel()`` on a session whose job runs the same work: seconds
  until ``job.result()`` has raised. Goal < 2.
* ``session_expiry_s``: a session with ``max_time=2.5`` running 120 parameter sets (18 qubits) in
  jobs of 6 through ``run_experiment``: seconds from its first job's start + 2.5 s to the end of
  the run. Goal < 2.
* ``simulator_death_s``: ``qrt-run`` killed (SIGKILL) in the middle of a job: seconds until its
  simulator process is gone. Goal < 1.
* ``store_offline_s``: a tracking store that stops answering, with ``timeout_s=1``: seconds that
  three calls (two metrics, the end) cost past the first call's 1 s timeout. Goal < 1.5.
* ``background_wake_s``: a background step waiting for the main thread to be idle: seconds from
  ``background.waiting()`` to the step going on. Goal < 0.25.

The table shows the median and the worst of the repeats, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from qiskit.circuit.library import efficient_su2

from qrt_runner import background
from qrt_runner.config.compose import compose_spec
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.modes import ExecutionMode
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.tasks.runner import run_experiment

QRT_RUN = str(Path(sys.executable).with_name("qrt-run"))
GOALS = {
    "max_execution_time_stop_s": 1.0,
    "cancel_s": 2.0,
    "session_expiry_s": 2.0,
    "simulator_death_s": 1.0,
    "store_offline_s": 1.5,
    "background_wake_s": 0.25,
}


def _long_pub():
    circuit = efficient_su2(20, reps=2)
    return (circuit, ["Z" * 20], np.random.default_rng(0).uniform(0, 1, (300, circuit.num_parameters)))


def max_execution_time_stop(backend: LocalBackend) -> float:
    job = Estimator(backend, options=EstimatorOptions(default_precision=0, max_execution_time=1.0)).run([_long_pub()])
    try:
        job.result()
    except Exception:  # noqa: BLE001 - RuntimeJobMaxTimeoutError, what is timed
        pass
    history = dict(job.status_history)
    return history["CANCELLED"] - history["RUNNING"] - 1.0


def cancel(backend: LocalBackend) -> float:
    mode = ExecutionMode("session", backend.executor, max_time=600)
    job = Estimator(backend, mode, options=EstimatorOptions(default_precision=0)).run([_long_pub()])
    while not job.running():
        time.sleep(0.01)
    started = time.perf_counter()
    mode.cancel()
    try:
        job.result()
    except Exception:  # noqa: BLE001 - the cancelled job's error, what is timed
        pass
    return time.perf_counter() - started


def session_expiry() -> float:
    spec = compose_spec(
        [
            "circuit=efficient_su2",
            "circuit.num_qubits=18",
            "circuit.reps=2",
            "circuit.parameter_values.num_sets=120",
            "observables=paulis",
            f"observables.terms=[{'Z' * 18}]",
            "primitive.default_precision=0",
            "session.mode=session",
            "session.max_time=2.5",
            "session.parameter_sets_per_job=6",
            "backend.max_parallel_threads=1",
            "tracking=none",
        ]
    )
    result = run_experiment(spec)
    ended = time.time()
    first = min(t for job in result.jobs for s, t in job.status_history if s == "RUNNING")
    return ended - (first + 2.5)


def simulator_death() -> float:
    args = [
        "circuit=efficient_su2",
        "circuit.num_qubits=18",
        "circuit.reps=4",
        "circuit.parameter_values.num_sets=60",
        "session.parameter_sets_per_job=12",
        "observables=paulis",
        f"observables.terms=[{'Z' * 18}]",
        "primitive.default_precision=0",
        "backend.max_parallel_threads=1",
        "tracking=none",
        "hydra.run.dir=out",
    ]
    with tempfile.TemporaryDirectory() as folder:
        proc = subprocess.Popen([QRT_RUN, *args], cwd=folder, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if "job 1/5 done" in line:
                break
        children = [
            int(child)
            for task in Path(f"/proc/{proc.pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
        (simulator,) = [c for c in children if "simulation.worker" in Path(f"/proc/{c}/cmdline").read_text()]
        proc.kill()
        proc.wait()
        killed = time.perf_counter()
        while _alive(simulator):
            time.sleep(0.001)
        return time.perf_counter() - killed


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def store_offline() -> float:
    from qrt_runner.tracking.mlflow_store import open_store
    from qrt_runner.tracking.tracker import LiveStore, RunTracker

    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{folder}/mlflow.db", "bench")
        live = LiveStore(store.uri, "bench", 1.0, opener=lambda uri, experiment: store)
        tracker = RunTracker(Path(folder) / "run", live)
        tracker.start("bench", {})
        tracker.log_metrics({"energy": -1.0}, step=1)
        release, answered = threading.Event(), threading.Event()
        original = store.log

        def stuck(*args, **kwargs):
            release.wait(30)
            try:
                return original(*args, **kwargs)
            finally:
                answered.set()

        store.log = stuck
        started = time.perf_counter()
        tracker.log_metrics({"energy": -1.5}, step=2)
        tracker.log_metrics({"energy": -1.7}, step=3)
        tracker.end("FINISHED")
        elapsed = time.perf_counter() - started - 1.0
        release.set()
        answered.wait(30)  # the abandoned call ends before its store's folder goes
        return elapsed


def background_wake() -> float:
    woke: list[float] = []
    previous = background._MAX_WAIT_S
    background._MAX_WAIT_S = 60.0
    try:

        def work() -> None:
            background.step()
            woke.append(time.perf_counter())

        background.submit(work, "the benchmark")
        time.sleep(0.2)
        with background.waiting():
            idle = time.perf_counter()
            while not woke:
                time.sleep(0.001)
        background.drain()
    finally:
        background._MAX_WAIT_S = previous
    return woke[0] - idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    backend = LocalBackend.create("aer", threads=1, seed_simulator=3)
    cases = {
        "max_execution_time_stop_s": lambda: max_execution_time_stop(backend),
        "cancel_s": lambda: cancel(backend),
        "session_expiry_s": session_expiry,
        "simulator_death_s": simulator_death,
        "store_offline_s": store_offline,
        "background_wake_s": background_wake,
    }
    print(f"{'case':<28}{'median':>9}{'worst':>9}{'goal':>8}")
    for name, case in cases.items():
        times = [case() for _ in range(args.repeats)]
        worst = max(times)
        verdict = "ok" if worst < GOALS[name] else "OVER"
        print(f"{name:<28}{statistics.median(times):>9.3f}{worst:>9.3f}{'< ' + format(GOALS[name], 'g'):>8}  {verdict}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
