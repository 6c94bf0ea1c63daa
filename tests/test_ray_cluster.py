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
from servers import guarded

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
# the cluster and its clients without Ray's token authentication (a token file may exist)
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def cluster():
    """The address (``127.0.0.1:<port>``) of a running 2-CPU Ray cluster, its folder (where its
    workers start) and its session (the id of the process group of all its processes).

    ``ray start --head --block`` runs under the tests' server watchdog (tests/servers.py): the
    cluster's process group is killed when the fixture ends, or when pytest dies."""
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
    command = [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}"]
    command += ["--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={folder / 'ray'}"]
    command += [f"{option}={value}" for option, value in ports.items()]
    log = folder / "head.log"
    try:
        with guarded(command, log, signal.SIGTERM, 5.0, folder=folder, env=ENV, cwd=folder) as watchdog:
            _wait_for_cluster(log, watchdog)
            yield f"127.0.0.1:{port}", folder, _child(watchdog.pid)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_cluster(log: Path, watchdog: subprocess.Popen) -> None:
    """Until ``ray start`` says the cluster runs (``ray status`` cannot tell: it does not send the
    token that Ray's token authentication may require)."""
    deadline = time.time() + START_S
    while "Ray runtime started" not in log.read_text(errors="replace"):
        assert watchdog.poll() is None and time.time() < deadline, f"no Ray cluster: {log.read_text()[-2000:]}"
        time.sleep(0.5)


def _child(pid: int) -> int:
    """The one child of process ``pid`` (the watchdog's ``ray start``: its session's id)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                return int(stat.parent.name)
    raise AssertionError(f"process {pid} has no child")


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
    """Point #0 (a VQE of 2 iterations) finishes, point #1 (SPSA, 100000 iterations) is running
    when the sweep gets SIGTERM: #0 stays FINISHED, #1 ends KILLED, the parent KILLED, within
    seconds, and no Ray task of the sweep is left. The relative default store (``sqlite:///mlflow.db``)
    is the launching folder's, not the workers'."""
    address, folder, session = cluster
    proc = subprocess.Popen(
        [str(QRT_RUN), "-m", "experiment=vqe_h2", "backend.max_parallel_threads=1", *_ray(address)]
        + ["task.optimizer.name=spsa", "task.optimizer.maxiter=2,100000"],
        cwd=tmp_path,
        env=ENV,
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
    assert {c.data.params["task.optimizer.maxiter"]: c.info.status for c in children} == {
        "2": "FINISHED",
        "100000": "KILLED",
    }
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
        env=ENV,
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


def test_the_ray_adapter_resolves_addresses_and_declares_the_ray_extras_range():
    from qrt_runner.adapters import ray as ray_internals

    ray_internals.check_supported()
    address = f"127.0.0.1:{free_port()}"  # (resolved without a cluster there)
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
        ((2, 2), 4, 2.5, None),  # Ray reserves 2.5 CPUs: no 2-CPU node runs a point
        ((5, 2), 4, 2.5, (2, 2)),  # two fit the 5-CPU node (Ray's packing), 2 threads each
        ((4, 4), 8, 1.5, (4, 1)),
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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG_S, env=ENV)
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


@pytest.mark.parametrize("num_cpus", [0.5, 0, -1, "two"])
def test_fewer_than_one_cpu_per_point_is_refused(num_cpus):
    """Below one CPU Ray packs more points on a node than it has CPUs (0.5: 4 at once on 2 CPUs),
    each running at least one Aer thread."""
    from omegaconf import OmegaConf

    from qrt_runner.errors import ConfigError
    from qrt_runner.sweep.points import check_launcher, parallel_points

    launcher = OmegaConf.create({"_target_": _RAY_LAUNCHER, "ray": {"remote": {"num_cpus": num_cpus}}})
    with pytest.raises(ConfigError, match=r"hydra\.launcher\.ray\.remote\.num_cpus=.*at least one Aer thread"):
        check_launcher(launcher)
    if not isinstance(num_cpus, str):
        assert parallel_points(launcher, 4, 2) >= 1  # (computed before the check: no division by 0)
    check_launcher(OmegaConf.create({"_target_": _RAY_LAUNCHER, "ray": {"remote": {"num_cpus": 2.5}}}))


_RAY_LAUNCHER = "hydra_plugins.hydra_ray_launcher.ray_launcher.RayLauncher"


def _sweep_config(uri: str, num_cpus=None):
    from omegaconf import OmegaConf

    remote = {} if num_cpus is None else {"num_cpus": num_cpus}
    return OmegaConf.create(
        {
            "tracking": {"enabled": True, "uri": uri, "experiment_name": "qrt_runner", "timeout_s": 30.0},
            "hydra": {
                "overrides": {"task": []},
                "launcher": {"_target_": _RAY_LAUNCHER, "ray": {"init": {"address": "127.0.0.1:1"}, "remote": remote}},
                "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"},
            },
        }
    )


def test_any_failure_to_start_on_the_cluster_ends_the_parent_failed_in_one_line(tmp_path, monkeypatch):
    """Ray's AuthenticationError (joining a token cluster without the token), a TimeoutError of
    ``ray.init``, a sweep directory where the nodes' token file cannot be written, and an
    unexpected error: each is one line (the sweep's ``SweepNotStarted``: exit 1) and the parent run, read
    back from the store, is FAILED with it, never left RUNNING. No cluster: ``ray.init`` is faked."""
    import ray
    from ray.exceptions import AuthenticationError

    from qrt_runner.sweep import lifecycle, ray_cluster, ray_start

    real_connect = ray_cluster.connect
    monkeypatch.setattr(ray_cluster.interrupts, "install", lambda: None)  # (pytest's handlers stay)
    monkeypatch.setattr(ray_cluster, "_check_reachable", lambda address: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    def fail_init(error):
        def init(**kwargs):
            raise error

        return init

    cases = {
        "auth": (fail_init(AuthenticationError("Token authentication is enabled\nbut no token")), None),
        "timeout": (fail_init(TimeoutError("timed out waiting for the GCS")), None),
        "unwritable": (None, "missing"),  # the sweep directory does not exist: the token file cannot be written
        "unexpected": (fail_init(KeyError("resources")), None),
    }
    expected = {
        "auth": "AuthenticationError: Token authentication is enabled (if the cluster uses token authentication",
        "timeout": "TimeoutError: timed out waiting for the GCS",
        "unwritable": "cannot write the token file",
        "unexpected": "could not start the sweep on the Ray cluster (KeyError: 'resources')",
    }
    for name, (init, missing) in cases.items():
        if init is not None:
            monkeypatch.setattr(ray, "init", init)
            monkeypatch.setattr(ray_cluster, "connect", real_connect)
        else:
            monkeypatch.setattr(ray_cluster, "connect", lambda launcher: ray_cluster.Cluster((2,)))
        directory = tmp_path / name
        directory.mkdir()
        config = _sweep_config(uri)
        tracker, _, opening = lifecycle._open_parent(config, directory, [], [["a=1"]], None)
        with pytest.raises(ray_cluster.ClusterUnavailable) as raised:  # the sweep: SweepNotStarted
            ray_start.join(config, directory / (missing or ""), [["a=1"]], None, tracker, opening)
        (line,) = str(raised.value).splitlines()
        assert expected[name] in line, line
        run = MlflowClient(tracking_uri=uri).get_run(tracker.run_id)
        assert run.info.status == "FAILED" and run.data.tags["failure_reason"] == line, name


def test_every_point_reserves_the_threads_all_points_fix(tmp_path, monkeypatch):
    """Points that all fix ``backend.max_parallel_threads=2`` reserve 2 Ray CPUs each (not the
    share of 1 thread that 4 CPUs give 4 points); points that differ get the share, and
    ``remote.num_cpus`` wins over both."""
    from qrt_runner.sweep import ray_cluster, ray_start

    monkeypatch.setattr(ray_cluster, "connect", lambda launcher: ray_cluster.Cluster((2, 2)))
    monkeypatch.setattr(ray_cluster, "check_shared_directory", lambda directory, cwd: None)
    monkeypatch.setattr(ray_cluster, "track_points", lambda: None)
    points = [["a=1"]] * 4
    for fixed_threads, num_cpus, share in [(2, None, (2, 2)), (None, None, (4, 1)), (2, 1, (4, 1))]:
        config = _sweep_config("", num_cpus)
        assert ray_start.join(config, tmp_path, points, fixed_threads, None, None) == share
        assert config.hydra.launcher.ray.remote.num_cpus == (num_cpus or share[1])
    # Ray reserves 2.5 CPUs, not 2: no 2-CPU node runs a point (the sweep would wait forever)
    with pytest.raises(ray_cluster.ClusterUnavailable, match=r"remote\.num_cpus=2\.5; its nodes have 2, 2 CPUs"):
        ray_start.join(_sweep_config("", 2.5), tmp_path, points, None, None, None)
    assert ray_start.common_threads(points, {0: 2, 1: 2, 2: 2, 3: 2}) == 2
    assert ray_start.common_threads(points, {0: 2, 1: 1, 2: 2, 3: 2}) is None
    assert ray_start.common_threads(points, {0: 0, 1: 0, 2: 0, 3: 0}) is None
    assert ray_start.common_threads(points, {0: 2, 1: 2}) is None  # not all checked
    assert ray_start.common_threads(None, {}) is None
