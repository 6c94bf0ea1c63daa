"""The tracking helper process of ``qrt-run`` (:mod:`qrt_runner.tracking.remote`, started by
:mod:`qrt_runner.runs.warm`): the run's record is the same with it and without it, a helper that
dies or does not start leaves the run finished with its record kept, signals still close the
record, and no helper outlives its run or runs where the run does not track.

The CLI runs are subprocesses; the helper is found among the run's children in ``/proc`` (its
command line names :mod:`~qrt_runner.tracking.remote`). A test that freezes the run (SIGSTOP) to
act at a known step first checks that the run had not gone past that step.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import HANG_S, QRT_RUN, process_gone, run_cli
from qrt_runner.runs import warm
from qrt_runner.tracking import LiveStore, RunTracker, remote

pytestmark = [
    pytest.mark.slow,  # CLI runs in subprocesses: the full suite, not make test-fast
    pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="finds processes through Linux's /proc"),
]

HELPER_MARK = "qrt_runner.tracking.remote"
# A small tracked run: a few hundred milliseconds of jobs.
TRACKED = [
    "backend=fake_manila",
    "circuit=ghz",
    "circuit.num_qubits=3",
    "mitigation=level1",
    "primitive.default_shots=256",
    "backend.max_parallel_threads=1",
    "hydra.run.dir=out",
]
# A tracked run whose jobs take a second or two after its record is opened: time enough for a
# test to freeze it between its store's first answer and its results.
LONGER = [
    "circuit=efficient_su2",
    "circuit.num_qubits=18",
    "circuit.reps=2",
    "circuit.parameter_values.num_sets=16",
    "session.parameter_sets_per_job=2",
    "observables=paulis",
    f"observables.terms=[{'Z' * 18}]",
    "primitive.default_precision=0",
    "backend.max_parallel_threads=1",
    "hydra.run.dir=out",
]


# ---------------------------------------------------------------- processes


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except OSError:  # the process (or one of its threads) ended meanwhile
        pass
    return found


def _helpers_of(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        try:
            if HELPER_MARK in Path(f"/proc/{child}/cmdline").read_text():
                found.append(child)
        except OSError:
            pass
    return found


def _idle(pid: int, period_s: float = 0.5) -> bool:
    """Whether process ``pid`` used no CPU for ``period_s`` (or ended)."""

    def cpu() -> int | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()
            return int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            return None

    before = cpu()
    time.sleep(period_s)
    return before is None or cpu() == before


def _wait_for(predicate, timeout: float = HANG_S) -> None:
    """Poll ``predicate``; ``timeout`` bounds a hang only."""
    deadline = time.time() + timeout
    while not predicate():
        assert time.time() < deadline, "timed out waiting"
        time.sleep(0.005)


_STARTED: list[Run] = []


@pytest.fixture(autouse=True)
def _no_run_left():
    """A test that fails half-way leaves no run (nor a stopped one) behind."""
    yield
    while _STARTED:
        run = _STARTED.pop()
        if run.proc.poll() is None:
            for signum in (signal.SIGCONT, signal.SIGKILL):
                os.kill(run.proc.pid, signum)
            run.proc.communicate(timeout=HANG_S)


class Run:
    """``qrt-run`` in a subprocess, with every tracking helper seen among its children."""

    def __init__(self, args: list[str], cwd: Path, env: dict | None = None, own_group: bool = False) -> None:
        self.cwd = cwd
        self.proc = subprocess.Popen(
            [str(QRT_RUN), *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=own_group,
        )
        self.helpers: list[int] = []
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()
        _STARTED.append(self)

    def _watch(self) -> None:
        while self.proc.poll() is None:
            for pid in _helpers_of(self.proc.pid):
                if pid not in self.helpers:
                    self.helpers.append(pid)
            time.sleep(0.005)

    def helper(self) -> int:
        """The run's helper, as soon as it is seen."""
        _wait_for(lambda: self.helpers or self.proc.poll() is not None)
        assert self.helpers, f"no tracking helper was started: {self.finish().stderr}"
        return self.helpers[0]

    def finish(self) -> subprocess.CompletedProcess:
        stdout, stderr = self.proc.communicate(timeout=HANG_S)
        self._watcher.join(timeout=HANG_S)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, stdout, stderr)

    def frozen_before(self, later: str):
        """Freeze the run (SIGSTOP) for a ``with`` block, after checking that the file ``later``
        of its run directory is not written yet (the run is before that step)."""
        return _Frozen(self, self.cwd / "out" / later)


class _Frozen:
    def __init__(self, run: Run, later: Path) -> None:
        self.run, self.later = run, later

    def __enter__(self) -> Run:
        _stop(self.run)
        if self.later.exists():
            os.kill(self.run.proc.pid, signal.SIGCONT)
            pytest.fail(f"the run wrote {self.later.name} before the test could stop it (a very loaded machine?)")
        return self.run

    def __exit__(self, *exc) -> None:
        os.kill(self.run.proc.pid, signal.SIGCONT)


def _stop(run: Run) -> None:
    """SIGSTOP a run that must still be running."""
    try:
        os.kill(run.proc.pid, signal.SIGSTOP)
    except ProcessLookupError:
        pass
    if run.proc.poll() is not None:
        pytest.fail(f"the run ended before the test could stop it (a very loaded machine?): {run.finish().stderr}")


# ---------------------------------------------------------------- records


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow sqlite store with its tables made (seconds of migrations), copied by each test."""
    db = tmp_path_factory.mktemp("store") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


def _folder(tmp_path: Path, name: str, store: Path) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    shutil.copy(store, folder / "mlflow.db")
    return folder


def _client(folder: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{folder / 'mlflow.db'}")


def _runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("qrt_runner")
    assert experiment is not None, "no run was recorded"
    return list(client.search_runs([experiment.experiment_id]))


def _only_run(folder: Path):
    client = _client(folder)
    (run,) = _runs(client)
    return client, run


def _journal(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "out" / "tracking.jsonl").read_text().splitlines()]


def _sync_state(folder: Path) -> dict:
    return json.loads((folder / "out" / "tracking_sync.json").read_text())


def _is_timing(key: str) -> bool:
    """Seconds measured (``time_total_s``, ``usage_s``, ``simulate_s/trex``, ...), not computed."""
    return key.split("/")[0].endswith("_s")


def _record(folder: Path) -> dict:
    """What the run's MLflow record holds, but for what differs from run to run (timings, ids,
    its directory)."""
    client, run = _only_run(folder)
    metrics = {
        key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)] for key in run.data.metrics
    }
    return {
        "status": run.info.status,
        "name": run.info.run_name,
        "params": run.data.params,
        "metric keys": sorted(metrics),
        "metrics": {key: history for key, history in metrics.items() if not _is_timing(key)},
        "tag keys": sorted(run.data.tags),
        "tags": {key: value for key, value in run.data.tags.items() if key not in ("run_dir", "job_ids")},
        "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
        "journal": [(entry["op"], sorted(entry)) for entry in _journal(folder)],
    }


def test_a_run_records_the_same_with_the_helper_without_it_and_when_it_dies_before_the_store_opens(
    tmp_path, empty_store
):
    helped = Run(TRACKED, _folder(tmp_path, "helped", empty_store))
    alone = Run(TRACKED, _folder(tmp_path, "alone", empty_store), env={warm.NO_EARLY_START_ENV: "1"})
    orphaned = Run(TRACKED, _folder(tmp_path, "orphaned", empty_store))
    helper = orphaned.helper()
    with orphaned.frozen_before("tracking.jsonl"):  # the journal's first line comes before the first store call
        _wait_for(lambda: _idle(helper))  # ready: MLflow imported, waiting for the run's first call
        os.kill(helper, signal.SIGKILL)  # the run opens the store itself
    for run in (helped, alone, orphaned):
        done = run.finish()
        assert done.returncode == 0 and done.stderr == "", done.stderr
    assert len(helped.helpers) == 1 and not alone.helpers and orphaned.helpers == [helper]
    assert process_gone(helped.helpers[0])  # at once: the run stopped it before it exited
    expected = _record(alone.cwd)
    assert expected["status"] == "FINISHED" and expected["metrics"]["ev/0"]
    assert _record(helped.cwd) == expected
    assert _record(orphaned.cwd) == expected
    for run in (helped, orphaned):
        journal = _journal(run.cwd)
        assert _sync_state(run.cwd)["synced"] == len(journal) and journal[-1]["status"] == "FINISHED"


def test_a_helper_killed_mid_run_leaves_a_finished_run_in_its_journal_that_sync_uploads(tmp_path, empty_store):
    folder = _folder(tmp_path, "run", empty_store)
    run = Run(LONGER, folder)
    helper = run.helper()
    _wait_for(lambda: (folder / "out" / "tracking_sync.json").exists())  # the store opened in the helper
    with run.frozen_before("results.json"):
        os.kill(helper, signal.SIGKILL)
    done = run.finish()
    assert done.returncode == 3, done.stderr  # finished, not tracked
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "not tracked" in lines[0] and "qrt-run sync" in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert json.loads((folder / "out" / "results.json").read_text())["status"] == "FINISHED"
    journal = _journal(folder)
    assert journal[-1]["op"] == "end" and journal[-1]["status"] == "FINISHED"
    state = _sync_state(folder)
    assert state["synced"] < len(journal)
    client, mlflow_run = _only_run(folder)
    assert mlflow_run.info.run_id == state["run_id"] and mlflow_run.info.status == "RUNNING"

    sync = run_cli(["sync", "out"], cwd=folder)
    assert sync.returncode == 0, sync.stderr
    mlflow_run = client.get_run(state["run_id"])
    assert mlflow_run.info.status == "FINISHED"
    logged = sorted(
        step for entry in journal if entry["op"] == "metrics" for key, _, step in entry["metrics"] if key == "ev/0"
    )
    assert sorted(m.step for m in client.get_metric_history(state["run_id"], "ev/0")) == logged == list(range(16))
    assert "results.json" in {a.path for a in client.list_artifacts(state["run_id"])}
    assert _sync_state(folder)["synced"] == len(journal)


@pytest.mark.parametrize("stop", ["SIGTERM to the run", "Ctrl-C to its process group"])
def test_a_stopped_run_closes_its_record_through_the_helper_which_ignores_signals(tmp_path, empty_store, stop):
    folder = _folder(tmp_path, "run", empty_store)
    run = Run(LONGER, folder, own_group=True)
    helper = run.helper()
    _wait_for(lambda: (folder / "out" / "tracking_sync.json").exists())
    with run.frozen_before("results.json"):
        if stop == "SIGTERM to the run":
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # the run's to handle, not the helper's
                os.kill(helper, signum)
            os.kill(run.proc.pid, signal.SIGTERM)
        else:  # what a terminal's Ctrl-C sends
            os.killpg(run.proc.pid, signal.SIGINT)
    done = run.finish()
    assert done.returncode == (143 if stop == "SIGTERM to the run" else 1), done.stderr  # 1: a run KILLED
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert process_gone(helper)
    results = json.loads((folder / "out" / "results.json").read_text())
    assert results["status"] == "KILLED"
    _, mlflow_run = _only_run(folder)
    assert mlflow_run.info.status == "KILLED" and mlflow_run.data.tags["failure_reason"] == results["error"]
    assert _sync_state(folder)["synced"] == len(_journal(folder))  # all of it reached the store


def test_a_killed_run_leaves_no_helper_behind(tmp_path):
    """Killed with SIGKILL, the run stops nothing itself: the kernel kills its helper, even a
    helper that is stopped (which neither reads its channel's end nor runs its watchdog)."""
    run = Run(TRACKED, tmp_path)
    helper = run.helper()
    _wait_for(lambda: len(list(Path(f"/proc/{helper}/task").iterdir())) > 1)  # its first step done: it started
    os.kill(helper, signal.SIGSTOP)  # its watchdog thread started once its death signal was armed
    try:
        run.proc.kill()
        run.proc.wait()
        _wait_for(lambda: process_gone(helper), timeout=60)  # bounds a hang: the kernel's signal is immediate
    finally:
        if not process_gone(helper):
            os.kill(helper, signal.SIGKILL)
    run.finish()


def test_an_invalid_config_opens_no_store(tmp_path):
    run = Run([*TRACKED, "circuit.num_qubits=-1"], tmp_path)
    helper = run.helper()
    _stop(run)  # the helper imports MLflow (and would open a store eagerly) meanwhile
    try:
        _wait_for(lambda: _idle(helper))
    finally:
        os.kill(run.proc.pid, signal.SIGCONT)
    done = run.finish()
    assert done.returncode == 2 and "invalid config" in done.stderr and "circuit.num_qubits" in done.stderr
    assert process_gone(helper)
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()


def test_sweeps_start_no_helper_and_a_run_that_turns_out_untracked_stops_it(tmp_path, empty_store):
    shutil.copy(empty_store, tmp_path / "mlflow.db")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "untracked.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /observables: paulis\n  - override /tracking: none\n"
    )
    small = ["circuit=ghz", "circuit.num_qubits=3", "primitive.default_shots=16"]
    sweep = Run(["-m", *small, "backend.max_parallel_threads=1", "seed=1", "hydra.sweep.dir=sweep"], tmp_path)
    overlay = Run([*small, "backend.max_parallel_threads=1", "experiment=untracked", "hydra.run.dir=out"], tmp_path)
    # The overlay's tracking=none is known once Hydra composed the config: the helper started
    # before is stopped then (config.yaml is written after), long before the run ends.
    helper = overlay.helper()
    _wait_for(lambda: (tmp_path / "out" / "config.yaml").exists() or overlay.proc.poll() is not None)
    _stop(overlay)
    try:
        assert process_gone(helper)
    finally:
        os.kill(overlay.proc.pid, signal.SIGCONT)
    for run in (sweep, overlay):
        done = run.finish()
        assert done.returncode == 0, done.stderr
    assert not sweep.helpers and overlay.helpers == [helper]
    assert len(_runs(_client(tmp_path))) == 2  # the sweep's


@pytest.mark.parametrize(
    ("args", "env", "starts"),
    [
        (["backend=fake_manila"], {}, True),
        (["backend=fake_manila"], {warm.NO_EARLY_START_ENV: "1"}, False),
        (["backend=fake_manila"], {warm.NO_EARLY_START_ENV: "0"}, True),
        (["backend=fake_manila"], {warm.NO_EARLY_START_ENV: "tracking"}, False),
        (["backend=fake_manila"], {warm.NO_EARLY_START_ENV: "device"}, True),
        (["backend=fake_manila"], {warm.NO_EARLY_START_ENV: "device,tracking"}, False),
        (["-m", "seed=1,2"], {}, False),
        (["hydra.mode=MULTIRUN", "seed=1,2"], {}, False),
        (["tracking=none"], {}, False),
        (["tracking.enabled=false"], {}, False),
        (["--cfg", "job"], {}, False),
        (["--version"], {}, False),
    ],
)
def test_which_command_lines_start_the_helper(monkeypatch, args, env, starts):
    started = []
    monkeypatch.setattr(remote, "start", lambda: started.append(True))
    monkeypatch.delenv(warm.NO_EARLY_START_ENV, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delitem(sys.modules, "mlflow", raising=False)  # imported by this test module
    warm.start_tracking_helper(args)
    assert bool(started) == starts


@pytest.mark.parametrize(
    ("overrides", "stops"),
    [([], False), (["tracking=none"], True), (["hydra.mode=MULTIRUN"], True), (["hydra.mode=RUN"], False)],
)
def test_a_composed_config_that_does_not_track_or_sweeps_stops_the_helper(monkeypatch, overrides, stops):
    """What an experiment overlay sets is known once Hydra composed the config (``prepare``)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from qrt_runner.config.compose import config_dir, register_configs

    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=config_dir(), version_base=None):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
    monkeypatch.setattr(HydraConfig.instance(), "cfg", HydraConfig.instance().cfg)  # restored after the test
    HydraConfig.instance().set_config(cfg)
    stopped = []
    monkeypatch.setattr(remote, "current", lambda: object())
    monkeypatch.setattr(remote, "discard", lambda: stopped.append(True))
    warm.stop_unused_tracking_helper(cfg)
    assert bool(stopped) == stops


# ---------------------------------------------------------------- the helper in this process


def _tracked_run(live: LiveStore, folder: Path) -> str | None:
    tracker = RunTracker(folder, live)
    run_id = tracker.start("helper test", {"task": "estimate"})
    tracker.log_params({"a": "1"})
    tracker.log_metrics({"m": 2.0})
    tracker.end("FINISHED")
    return run_id if tracker.tracked else None


def test_a_helper_that_does_not_start_leaves_the_store_to_this_process(tmp_path, monkeypatch, empty_store):
    monkeypatch.setattr(remote, "_BOOTSTRAP", "import sys; sys.exit(1)")
    helper = remote.TrackingHelper()
    try:
        folder = _folder(tmp_path, "run", empty_store)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        run_id = _tracked_run(LiveStore(uri, "qrt_runner", 10, remote.opener(helper)), folder / "out")
        assert helper.wait_ready() is False
    finally:
        helper.close()
    assert run_id is not None
    run = _client(folder).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params == {"a": "1"} and run.data.metrics == {"m": 2.0}


def test_a_helper_that_never_gets_ready_is_stopped(monkeypatch):
    monkeypatch.setattr(remote, "_BOOTSTRAP", "import time; time.sleep(600)")
    helper = remote.TrackingHelper()
    pid = helper.pid
    assert pid is not None
    answers: list[bool] = []
    try:
        waiting = threading.Thread(target=lambda: answers.append(helper.wait_ready(limit_s=0.5)), daemon=True)
        waiting.start()
        waiting.join(timeout=60)  # bounds a hang: the wait gives up after half a second
        assert answers == [False] and process_gone(pid)
    finally:
        helper.close()


def test_the_helper_answers_a_wrong_request_with_the_stores_error_and_stays_online(tmp_path, empty_store):
    helper = remote.TrackingHelper()
    try:
        folder = _folder(tmp_path, "run", empty_store)
        live = LiveStore(f"sqlite:///{folder / 'mlflow.db'}", "qrt_runner", 60, remote.opener(helper))
        with pytest.raises(remote.RemoteStoreError) as raised:
            live.call(lambda store: store.end_run("0" * 32, "FINISHED"))
        assert type(raised.value).__name__ == "MlflowException"
        assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST" and not live.offline
        assert helper.wait_ready() is True  # it served the calls
        run_id = _tracked_run(live, folder / "out")
    finally:
        helper.close()
    assert run_id is not None and _client(folder).get_run(run_id).info.status == "FINISHED"
