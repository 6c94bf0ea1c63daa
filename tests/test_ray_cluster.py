"""Sweeps on a running Ray cluster (``hydra.launcher.ray.init.address=...``), read back from the
store and the sweep directory.

One real local cluster for the module: ``ray start --head --block`` on 127.0.0.1 with 2 CPUs
and free ports, in a session of its own that the finalizer ends by its process group (``ray
stop`` would stop every Ray cluster of the machine, a parallel test's too). Each test runs
``qrt-run -m`` in a subprocess from a fresh folder with Hydra's default, relative sweep
directory; the cluster's workers start in another folder (the cluster's), so a path left relative
would land there. Points are tiny: GHZ samplers of 64 shots, Aer single-threaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import HANG_S, QRT_RUN, REPO, free_port, run_cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
        reason="Ray is an extra: pip install 'qrt_runner[ray]' (make test installs it)",
    ),
]

SAMPLER = ["experiment=ghz_sampler", "primitive.default_shots=64", "backend.max_parallel_threads=1"]
RAY = Path(sys.executable).with_name("ray")
START_S = 300  # a bound on a hang only: the cluster starts in 5-20 s


@pytest.fixture(scope="module")
def cluster():
    """The address (``127.0.0.1:<port>``) of a running 2-CPU Ray cluster, its folder (where its
    workers start) and its session (the id of the process group of all its processes)."""
    folder = Path(tempfile.mkdtemp(prefix="qrt-ray-", dir="/tmp"))  # short: Ray's socket paths
    port = free_port()
    ports = {
        option: str(free_port())
        for option in (
            "--ray-client-server-port",
            "--dashboard-port",
            "--dashboard-agent-listen-port",
            "--dashboard-agent-grpc-port",
            "--runtime-env-agent-port",
            "--metrics-export-port",
            "--node-manager-port",
            "--object-manager-port",
        )
    }
    log = (folder / "head.log").open("w")
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}"]
        + ["--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={folder / 'ray'}"]
        + [f"{option}={value}" for option, value in ports.items()],
        cwd=folder,
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},  # as the clients (a token file may exist)
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_cluster(folder / "head.log", head)
        yield f"127.0.0.1:{port}", folder, head.pid
    finally:
        _stop(head)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_cluster(log: Path, head: subprocess.Popen) -> None:
    """Until ``ray start`` says the cluster runs (``ray status`` cannot tell: it does not send the
    token that Ray's token authentication may require)."""
    deadline = time.time() + START_S
    while "Ray runtime started" not in log.read_text():
        assert head.poll() is None and time.time() < deadline, f"no Ray cluster: {log.read_text()[-2000:]}"
        time.sleep(0.5)


def _stop(head: subprocess.Popen) -> None:
    """End the cluster: every process of its session (raylet, GCS, workers), by process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        head.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait()


def _runs(uri: str):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("qrt_runner")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return parents, children


def _ray(address: str) -> list[str]:
    return ["hydra/launcher=ray", f"hydra.launcher.ray.init.address={address}"]


def test_no_cluster_at_the_address_fails_the_parent_in_one_line(tmp_path):
    proc = run_cli(["-m", *SAMPLER, *_ray(f"127.0.0.1:{free_port()}"), "circuit.num_qubits=2,3"], cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("qrt-run: sweep not started: no Ray cluster at hydra.launcher.ray.init.address=127.0.0.1:")
    parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [p.info.status for p in parents] == ["FAILED"] and not children
    assert "no Ray cluster" in parents[0].data.tags["failure_reason"]


def test_sigterm_cancels_the_unfinished_points_on_the_cluster_and_exits_143(tmp_path, cluster):
    """Point #0 (a VQE of 10 iterations) finishes, point #1 (SPSA, 100000 iterations) is running
    when the sweep gets SIGTERM: #0 stays FINISHED, #1 ends KILLED, the parent KILLED, within
    seconds, and no Ray task of the sweep is left. The relative default store (``sqlite:///mlflow.db``)
    is the launching folder's, not the workers'."""
    address, folder, session = cluster
    proc = subprocess.Popen(
        [str(QRT_RUN), "-m", "experiment=vqe_h2", "backend.max_parallel_threads=1", *_ray(address)]
        + ["task.optimizer.name=spsa", "task.optimizer.maxiter=10,100000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + HANG_S
    while not (_status(tmp_path, 0) == "FINISHED" and list(tmp_path.glob("multirun/*/*/1/optimizer_state.json"))):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    sent = time.time()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=HANG_S)
    took = time.time() - sent
    assert proc.returncode == 143, stderr
    assert "terminated by SIGTERM" in stderr and "Traceback" not in stderr
    assert took < 60, f"{took:.0f} s from SIGTERM to exit"
    assert _status(tmp_path, 1) == "KILLED" and not list(folder.glob("mlflow.db"))
    parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [p.info.status for p in parents] == ["KILLED"]
    assert sorted((c.data.params["task.optimizer.maxiter"], c.info.status) for c in children) == [
        ("10", "FINISHED"),
        ("100000", "KILLED"),
    ]
    (killed,) = [c for c in children if c.info.status == "KILLED"]
    assert "cancelled on the Ray cluster" in killed.data.tags["failure_reason"]
    assert not _running_points(session)


def _running_points(session: int) -> list[int]:
    """The cluster's processes that run a point (Ray titles a worker by the task it runs)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            title = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[3]) == session and title.startswith(b"ray::_run_job"):
            found.append(int(stat.parent.name))
    return found


def _status(tmp_path: Path, job: int) -> str | None:
    found = list(tmp_path.glob(f"multirun/*/*/{job}/point.json"))
    try:
        return json.loads(found[0].read_text())["status"] if found else None
    except (OSError, ValueError):  # being written
        return None


def test_a_sweep_joins_the_cluster_takes_its_cpus_keeps_every_result_through_an_outage_and_syncs(tmp_path, cluster):
    """The launching process may use one core (its affinity), the cluster has 2 CPUs: the sweep
    runs 2 points at a time. Hydra's relative ``multirun/...`` is the launching folder's, not the
    workers'. The points log to a server that is down (nothing listens on its port): each keeps its
    record in its run folder, the sweep exits 3, and ``qrt-run sync`` sends the parent and every
    point (to a sqlite store with ``--uri``: starting an MLflow server would double the test's
    time; tests/test_faults.py syncs to the recorded server)."""
    address, folder, _ = cluster
    uri = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [str(QRT_RUN), "-m", *SAMPLER, *_ray(address), f"tracking.uri={uri}", "tracking.timeout_s=5"]
        + ["circuit.num_qubits=2,3,4"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        preexec_fn=lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}),
    )
    assert proc.returncode == 3, proc.stderr
    assert "4 run(s) not tracked" in proc.stderr and "upload with: qrt-run sync" in proc.stderr
    assert "3 points, 2 at a time with 1 Aer thread(s) each" in proc.stdout
    (sweep_dir,) = tmp_path.glob("multirun/*/*")
    assert f"in {sweep_dir}" in proc.stdout and not list(folder.glob("multirun"))
    points = [json.loads((sweep_dir / str(k) / "point.json").read_text()) for k in range(3)]
    assert [(p["status"], p["tracked"]) for p in points] == [("FINISHED", False)] * 3
    store = f"sqlite:///{tmp_path / 'after.db'}"
    sync = run_cli(["sync", str(sweep_dir), "--uri", store], cwd=tmp_path)
    assert sync.returncode == 0, sync.stderr
    assert sync.stdout.count(" FINISHED (") == 4
    parents, children = _runs(store)
    assert [p.info.status for p in parents] == ["FINISHED"]
    assert sorted(c.info.status for c in children) == ["FINISHED"] * 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {c.data.tags["run_dir"] for c in children} == {str(sweep_dir / str(k)) for k in range(3)}


def test_the_ray_adapter_resolves_addresses_and_declares_the_ray_extras_range(cluster):
    from qrt_runner.adapters import ray as ray_internals

    ray_internals.check_supported()
    address, _, _ = cluster
    host, _, port = (ray_internals.bootstrap_address(address) or "").rpartition(":")
    assert port == address.rpartition(":")[2] and host
    assert ray_internals.bootstrap_address("local") is None
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ray"]
    declared = {Requirement(line).name: Requirement(line).specifier for line in extra}
    assert {name: SpecifierSet(spec) for name, spec in ray_internals.SUPPORTED.items()} == declared


@pytest.mark.parametrize(
    ("node_cpus", "points", "num_cpus", "share"),
    [
        ((2, 1), 24, None, (3, 1)),  # the 2-node cluster of the closing figures
        ((8, 4), 8, None, (8, 1)),
        ((8, 4), 3, None, (3, 4)),  # 4 threads: two points fit the 8-CPU node, one the other
        ((8, 4), 2, None, (2, 4)),
        ((16,), 2, None, (2, 8)),
        ((2, 1), 5, 2, (1, 2)),  # remote.num_cpus=2: only the 2-CPU node takes a point
        ((2, 1), 5, 4, None),  # no node has 4 CPUs: refused, the points would wait forever
        ((), 3, None, None),
    ],
)
def test_points_at_once_and_threads_each_fit_every_node(node_cpus, points, num_cpus, share):
    from qrt_runner.sweep.ray_cluster import Cluster, ClusterUnavailable

    if share is None:
        with pytest.raises(ClusterUnavailable, match="no node of the Ray cluster has the CPUs to run a point"):
            Cluster(node_cpus).share(points, num_cpus)
    else:
        assert Cluster(node_cpus).share(points, num_cpus) == share


def test_a_node_without_the_launching_folder_refuses_the_sweep(tmp_path, cluster):
    """The check every node runs before a point starts, on the real cluster: the sweep directory
    is seen (the same filesystem), a working directory that does not exist on the node is not
    (as on a node without the shared mount). In a process of its own, joined as qrt-run joins."""
    address, _, _ = cluster
    code = f"""
import ray
from pathlib import Path
from qrt_runner.sweep.ray_cluster import ClusterUnavailable, check_shared_directory
ray.init(address={address!r}, logging_level="ERROR")
check_shared_directory(Path({str(tmp_path)!r}), Path({str(tmp_path)!r}))
print("seen")
try:
    check_shared_directory(Path({str(tmp_path)!r}), Path({str(tmp_path / "elsewhere")!r}))
except ClusterUnavailable as exc:
    print(exc)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    seen, refused = proc.stdout.strip().splitlines()
    assert seen == "seen" and not list(tmp_path.glob(".qrt-nodes-see-*"))
    assert refused.startswith("Ray node ") and f"has no folder {tmp_path / 'elsewhere'}" in refused


def test_the_node_check_tells_what_a_node_lacks(tmp_path):
    from qrt_runner.sweep.ray_cluster import _lacks

    marker = tmp_path / "marker"
    assert _lacks(str(marker), "t", str(tmp_path)) == "sweep_dir"
    marker.write_text("other")
    assert _lacks(str(marker), "t", str(tmp_path)) == "sweep_dir"
    marker.write_text("t")
    assert _lacks(str(marker), "t", str(tmp_path / "missing")) == "working_dir"
    assert _lacks(str(marker), "t", str(tmp_path)) is None
