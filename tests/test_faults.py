"""Faults: SIGTERM, SIGKILL, a tracking store that is down or dies, resuming after a kill.

Each test runs ``qrt-run`` in a subprocess and checks that what finished is kept (results.json,
the tracking store), the runs end with the right status, no process is left behind, nothing hangs
for long, and the exit code says what happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import HANG_S, QRT_RUN, free_port, process_gone, run_cli, start_mlflow_server, stop_mlflow_server

pytestmark = pytest.mark.slow  # CLI runs in subprocesses: the full suite, not make test-fast

LONG_JOBS = [
    "circuit=efficient_su2",
    "circuit.num_qubits=18",
    "circuit.reps=4",
    "circuit.parameter_values.num_sets=60",
    "session.parameter_sets_per_job=3",
    "observables=paulis",
    f"observables.terms=[{'Z' * 18}]",
    "primitive.default_precision=0",
    "backend.max_parallel_threads=1",
    "session.mode=batch",
    "hydra.run.dir=out",
]
LONG_VQE = [
    "experiment=vqe_ising",
    "task.optimizer.maxiter=2000",
    "backend.max_parallel_threads=1",
    "hydra.run.dir=out",
]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(QRT_RUN), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(predicate, timeout: float = HANG_S) -> None:
    """Poll ``predicate``; ``timeout`` bounds a hang only (a loaded machine may need minutes)."""
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.1)


def _done_jobs(run_dir: Path) -> int:
    try:
        return sum(1 for line in (run_dir / "tracking.jsonl").read_text().splitlines() if '"op": "metrics"' in line)
    except OSError:
        return 0


def _only_run(db: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    return client, run


def test_sigterm_during_a_job_keeps_the_finished_jobs_and_closes_the_run_killed(tmp_path):
    proc = _start(LONG_JOBS, tmp_path)
    for line in proc.stdout:  # the run prints "job k/N done" as jobs finish
        if "job 2/20 done" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 143, stderr
    assert len(stderr.strip().splitlines()) == 1 and "terminated by SIGTERM" in stderr and "Traceback" not in stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    statuses = [job["status"] for job in results["jobs"]]
    assert results["status"] == "KILLED" and "SIGTERM" in results["error"]
    assert "RUNNING" not in statuses and "QUEUED" not in statuses and statuses[-1] == "CANCELLED"
    finished = [ev for ev in results["evs"] if ev[0] is not None]
    assert len(finished) == 3 * statuses.count("DONE") > 0
    client, run = _only_run(tmp_path / "mlflow.db")
    assert run.info.status == "KILLED" and "SIGTERM" in run.data.tags["failure_reason"]
    assert len(client.get_metric_history(run.info.run_id, "ev/0")) == len(finished)


def test_sigterm_during_an_optimisation_keeps_every_iteration(tmp_path):
    proc = _start(LONG_VQE, tmp_path)
    state = tmp_path / "out" / "optimizer_state.json"
    _wait_for(lambda: state.exists())
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 143, stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    iterations = results["optimization"]["iterations"]
    assert results["status"] == "KILLED" and iterations >= 1 and results["optimization"]["best_energy"] is not None
    client, run = _only_run(tmp_path / "mlflow.db")
    assert run.info.status == "KILLED"
    assert len(client.get_metric_history(run.info.run_id, "energy")) == iterations
    assert json.loads(state.read_text())["iteration"] == iterations


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def test_the_simulator_process_dies_with_its_parent_in_the_middle_of_a_job(tmp_path):
    """qrt-run killed while a job runs leaves no simulator behind: it is gone long before that job
    could have ended (half the time the job before it took), whatever the machine's speed."""
    args = [arg for arg in LONG_JOBS if not arg.startswith("session.parameter_sets_per_job")]
    proc = _start([*args, "session.parameter_sets_per_job=12"], tmp_path)
    assert proc.stdout is not None
    for line in proc.stdout:  # "  job 1/5 done: <id> (<seconds> s)"; the next job has started
        if "job 1/5 done" in line:
            job_s = float(line.rsplit("(", 1)[1].split()[0])
            break
    else:
        pytest.fail(f"no job finished: {proc.communicate(timeout=HANG_S)[1]}")
    (simulator,) = [
        child for child in _children(proc.pid) if "simulation.worker" in Path(f"/proc/{child}/cmdline").read_text()
    ]
    proc.kill()
    proc.wait()
    killed = time.time()
    _wait_for(lambda: process_gone(simulator))
    assert time.time() - killed < job_s / 2


def test_an_unreachable_store_costs_seconds_and_sync_uploads_the_run_later(tmp_path):
    args = [
        "experiment=vqe_h2",
        "task.optimizer.name=spsa",
        "task.optimizer.maxiter=10",
        "backend.max_parallel_threads=1",
    ]
    started = time.time()  # the baseline: the same run, untracked, here and now
    assert run_cli([*args, "tracking=none", "hydra.run.dir=untracked"], cwd=tmp_path).returncode == 0
    untracked_s = time.time() - started
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.time()
    proc = run_cli([*args, f"tracking.uri={dead}", "hydra.run.dir=out"], cwd=tmp_path)
    # seconds more than untracked (the store gives up after one retry), not MLflow's minutes of retries
    assert time.time() - started < untracked_s + 60
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "not tracked" in lines[0] and "qrt-run sync" in lines[0] and "Traceback" not in proc.stderr
    )
    assert json.loads((tmp_path / "out" / "results.json").read_text())["status"] == "FINISHED"
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    uri, server = start_mlflow_server(server_dir)
    try:
        sync = subprocess.run(
            [str(QRT_RUN), "sync", "out", "--uri", uri], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S
        )
        assert sync.returncode == 0, sync.stderr
        client = MlflowClient(tracking_uri=uri)
        (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
        assert run.info.status == "FINISHED" and run.data.params["task.optimizer.maxiter"] == "10"
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "energy")) == list(range(1, 11))
        assert {"results.json", "config.yaml", "optimizer_state.json"} <= {
            a.path for a in client.list_artifacts(run.info.run_id)
        }
    finally:
        stop_mlflow_server(server)


def test_a_server_killed_mid_run_leaves_a_finished_local_run_that_sync_completes(tmp_path):
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    port = free_port()
    uri, server = start_mlflow_server(server_dir, port)
    proc = _start(
        [
            "experiment=vqe_h2",
            "task.optimizer.name=spsa",
            "task.optimizer.maxiter=300",
            "primitive.default_precision=0.05",
            "backend.max_parallel_threads=1",
            f"tracking.uri={uri}",
            "hydra.run.dir=out",
        ],
        tmp_path,
    )
    _wait_for(lambda: _done_jobs(tmp_path / "out") >= 5)
    stop_mlflow_server(server)
    _, stderr = proc.communicate(timeout=HANG_S)  # bounds a hang only: the 300 iterations take what they take
    assert proc.returncode == 3, stderr
    # the dead store cost a few timed-out calls, not minutes of retries: no iteration waited long
    # for it (an iteration itself takes a fraction of a second on an idle machine)
    logged = [
        entry["time"] / 1000
        for entry in map(json.loads, (tmp_path / "out" / "tracking.jsonl").read_text().splitlines())
        if entry["op"] == "metrics" and any(key == "energy" for key, _, _ in entry["metrics"])
    ]
    assert len(logged) == 300 and max(later - earlier for earlier, later in zip(logged, logged[1:])) < 60
    assert len(stderr.strip().splitlines()) == 1 and "not tracked" in stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "FINISHED" and results["optimization"]["iterations"] == 300
    uri, server = start_mlflow_server(server_dir, port)
    try:
        client = MlflowClient(tracking_uri=uri)
        (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
        assert run.info.status == "RUNNING"  # what the dead server was left with
        sync = subprocess.run(
            [str(QRT_RUN), "sync", "out"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG_S
        )
        assert sync.returncode == 0, sync.stderr
        run = client.get_run(run.info.run_id)
        assert run.info.status == "FINISHED"
        assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "energy")) == list(range(1, 301))
    finally:
        stop_mlflow_server(server)


def test_resume_by_run_id_after_a_kill(tmp_path):
    proc = _start(LONG_VQE, tmp_path)
    state = tmp_path / "out" / "optimizer_state.json"
    _wait_for(lambda: state.exists() and json.loads(state.read_text())["iteration"] >= 3)
    proc.kill()
    proc.wait()
    reached = json.loads(state.read_text())["iteration"]
    client, run = _only_run(tmp_path / "mlflow.db")
    assert run.info.status == "RUNNING"  # a SIGKILL closes nothing
    resumed = run_cli(
        [
            "experiment=vqe_ising",
            f"task.optimizer.maxiter={reached + 2}",
            "backend.max_parallel_threads=1",
            f"task.resume_from={run.info.run_id}",
            "hydra.run.dir=again",
        ],
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr
    history = json.loads((tmp_path / "again" / "results.json").read_text())["optimization"]["history"]
    assert [h["iteration"] for h in history] == [reached + 1, reached + 2]


@pytest.fixture(scope="module")
def refusal_s(tmp_path_factory) -> float:
    """Seconds qrt-run takes here and now to refuse a task when it builds the workload (where the
    size of the work is checked): start-up, composition, the refusal."""
    started = time.time()
    proc = run_cli(["experiment=ising_estimator", "task=scan", "tracking=none"], cwd=tmp_path_factory.mktemp("bad"))
    assert proc.returncode == 2 and "task=scan needs a grid" in proc.stderr, proc.stderr
    return time.time() - started


@pytest.mark.parametrize(
    "args",
    [
        ["experiment=ising_estimator", "circuit.parameter_values.num_sets=1000000"],
        [
            "experiment=ising_estimator",
            "circuit.parameter_values.kind=grid",
            "++circuit.parameter_values.grid={0:[0,1,1e16]}",
        ],
    ],
)
def test_work_too_big_for_this_machine_is_refused_before_anything_runs(tmp_path, args, refusal_s):
    started = time.time()
    proc = run_cli([*args, "tracking=none"], cwd=tmp_path)
    assert proc.returncode == 2 and time.time() - started < 3 * refusal_s  # refused as fast as a bad task
    assert "more than half this machine's" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "outputs").exists()


def test_a_corrupt_store_costs_one_line_and_keeps_the_run(tmp_path):
    (tmp_path / "mlflow.db").write_text("this is not a database")
    proc = run_cli(
        ["experiment=ghz_sampler", "primitive.default_shots=64", "backend.max_parallel_threads=1", "hydra.run.dir=out"],
        cwd=tmp_path,
    )
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and "not tracked" in lines[0] and "DatabaseError" in lines[0] and "Traceback" not in proc.stderr
    )
    assert json.loads((tmp_path / "out" / "results.json").read_text())["status"] == "FINISHED"
    assert (tmp_path / "out" / "tracking.jsonl").is_file()


def test_sigterm_in_a_basic_sweep_keeps_the_records_of_the_points_that_finished(tmp_path):
    """Points of a basic sweep finish their records (plots, uploads, point.json) in the background
    while the next point runs: a SIGTERM during the second point still leaves the first one's
    record whole, the second KILLED, the parent KILLED."""
    points = [arg for arg in LONG_JOBS if not arg.startswith(("hydra.run.dir", "circuit.parameter_values.num_sets"))]
    proc = _start(["-m", *points, "circuit.parameter_values.num_sets=30", "seed=1,2,3"], tmp_path)
    started = 0
    for line in proc.stdout:
        started += line.startswith("qrt-run: estimator on")
        if started == 2 and "job 2/10 done" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 143, stderr
    (sweep_dir,) = tmp_path.glob("multirun/*/*")
    first, second = (json.loads((sweep_dir / str(k) / "point.json").read_text()) for k in (0, 1))
    assert first["status"] == "FINISHED" and first["tracked"] and second["status"] == "KILLED"
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    by_id = {run.info.run_id: run for run in runs}
    assert by_id[first["run_id"]].info.status == "FINISHED" and by_id[second["run_id"]].info.status == "KILLED"
    assert {"plot.png", "circuit.txt", "circuit.qpy", "results.json"} <= {
        item.path for item in client.list_artifacts(first["run_id"])
    }
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert parent.info.status == "KILLED" and len(runs) == 3  # the third point never started


def test_sigterm_to_a_joblib_sweep_keeps_the_finished_points_and_leaves_nothing_running(tmp_path):
    """joblib workers journal their points and the launching process uploads them: a SIGTERM to
    the whole sweep (as ``timeout`` or SLURM send it) still leaves every finished point uploaded,
    the interrupted ones KILLED, and no run RUNNING."""
    points = [arg for arg in LONG_JOBS if not arg.startswith(("hydra.run.dir", "circuit.parameter_values.num_sets"))]
    proc = subprocess.Popen(
        [str(QRT_RUN), "-m", *points, "circuit.parameter_values.num_sets=20", "seed=1,2,3,4"]
        + ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip().startswith("FINISHED:"):
            break
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGTERM)
    _, stderr = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 143, stderr
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    children = [run for run in runs if "mlflow.parentRunId" in run.data.tags]
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    assert parent.info.status == "KILLED"
    assert "RUNNING" not in {run.info.status for run in children}
    finished = [run for run in children if run.info.status == "FINISHED"]
    assert finished and all(
        "plot.png" in {item.path for item in client.list_artifacts(run.info.run_id)} for run in finished
    )
