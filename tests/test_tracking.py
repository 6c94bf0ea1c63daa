"""Tracking: the journal, the MLflow store, offline runs and sync, read back through ``MlflowClient``.

Most tests share one sqlite database (its first creation runs MLflow's migrations, seconds).
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from qiskit import QuantumCircuit, qpy
from qiskit.circuit import Parameter

from qrt_runner import interrupts
from qrt_runner.records import artifacts as artifact_files
from qrt_runner.records.plots import MAX_BARS, plot_result
from qrt_runner.records.results import EstimatorOutcome, JobRecord, RunResult, SamplerOutcome
from qrt_runner.tracking import (
    CONFIG_HASH_TAG,
    LiveStore,
    RunTracker,
    flatten_config,
    git_commit,
    live_store,
    result_metrics,
)
from qrt_runner.tracking.mlflow_store import open_store, sqlite_lacks_tag
from qrt_runner.tracking.record import record_result
from qrt_runner.tracking.sync import sync_directory

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CONFIG = {
    "circuit": {"name": "ghz", "num_qubits": 2},
    "observables": {"terms": ["ZZ", "XX"]},
    "primitive": {"name": "estimator", "default_precision": 0.01},
    "tracking": {"run_name": None},
    "notes": "x" * 7000,
}
CONFIG_YAML = "circuit:\n  name: ghz\n  num_qubits: 2\nobservables:\n  terms: [ZZ, XX]\n"
TIMINGS = {
    "time_build_s": 0.1,
    "time_transpile_s": 0.2,
    "time_execute_s": 0.3,
    "time_total_s": 0.65,
}


def _jobs() -> list[JobRecord]:
    return [
        JobRecord("job-0", "DONE", [("QUEUED", 1.0), ("RUNNING", 1.1), ("DONE", 1.6)], 0.5, (0, 2), 11),
        JobRecord("job-1", "CANCELLED", [("QUEUED", 1.0), ("CANCELLED", 1.2)], 0.25, (2, 3), 12, "timeout"),
    ]


def _estimator_result() -> RunResult:
    evs = np.array([[1.0, 0.5], [0.9, np.nan], [0.8, -0.25]])
    stds = np.array([[0.01, 0.02], [0.03, np.nan], [0.05, 0.06]])
    return RunResult(
        status="FINISHED",
        primitive="estimator",
        backend="aer_statevector",
        mode="session",
        session_id="session-1",
        parameter_names=["theta"],
        parameter_values=np.array([[0.0], [0.5], [1.0]]),
        jobs=_jobs(),
        timings=dict(TIMINGS),
        seeds={"seed_simulator": 11, "seed_transpiler": 7},
        estimator=EstimatorOutcome(["ZZ", "XX"], evs, stds, shots=1000, precision=0.01),
        versions={"qiskit": "2.6.2", "qiskit-aer": "0.17.2"},
    )


def _sampler_result(counts: list[dict[str, int] | None] | None = None) -> RunResult:
    if counts is None:
        counts = [{"00": 480, "11": 520}, None, {"00": 500, "01": 3, "11": 497}]
    return RunResult(
        status="FINISHED",
        primitive="sampler",
        backend="fake_manila",
        mode="job",
        session_id=None,
        parameter_names=["theta"],
        parameter_values=np.zeros((len(counts), 1)),
        jobs=_jobs()[:1],
        timings=dict(TIMINGS),
        sampler=SamplerOutcome(counts, shots=1000, hellinger_fidelity=[0.99, None, 0.98][: len(counts)]),
    )


def _make_circuit() -> QuantumCircuit:
    qc = QuantumCircuit(2, name="ghz")
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(Parameter("theta"), 1)
    return qc


CIRCUIT = _make_circuit()  # one object: a new Parameter("theta") would not compare equal


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mlflow")


@pytest.fixture(scope="module")
def live(db_dir: Path) -> LiveStore:
    return live_store(f"sqlite:///{db_dir}/mlflow.db", "qrt-tests", 30)


@pytest.fixture(scope="module")
def client(live: LiveStore) -> MlflowClient:
    """An independent client, to read back what the tracker wrote."""
    return MlflowClient(tracking_uri=live.uri)


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


def _log(live, result: RunResult, run_dir: Path, config: dict | None = None, parent: str | None = None) -> RunTracker:
    tracker = RunTracker(run_dir, live)
    tracker.start("test-run", {"user_tag": "yes"}, parent)
    tracker.log_params(flatten_config(CONFIG if config is None else config))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(CONFIG_YAML)
    tracker.log_artifact(run_dir / "config.yaml")
    if not (run_dir / "results.json").exists():  # as the CLI writes it before recording
        result.write_json(run_dir / "results.json")
    files = artifact_files.write_run_artifacts(run_dir, result, {"circuit": CIRCUIT})
    record_result(tracker, result, run_dir, [run_dir / "results.json", *files])
    tracker.flush()
    return tracker


def test_estimator_run_is_logged(live, client, db_dir, tmp_path):
    tracker = _log(live, _estimator_result(), tmp_path / "run")
    tracker.end("FINISHED")
    assert tracker.tracked
    run = client.get_run(tracker.run_id)

    assert run.info.status == "FINISHED"
    assert run.info.run_name == "test-run"
    params = run.data.params
    assert params["circuit.num_qubits"] == "2"
    assert params["circuit.name"] == "ghz"
    assert params["observables.terms"] == "['ZZ', 'XX']"
    assert params["primitive.default_precision"] == "0.01"
    assert params["tracking.run_name"] == "None"
    assert len(params["notes"]) == 6000 and params["notes"].startswith("xxx")

    tags = run.data.tags
    assert tags["user_tag"] == "yes"
    assert tags["version.qiskit"] == "2.6.2"
    assert tags["version.qiskit-aer"] == "0.17.2"
    assert tags["backend"] == "aer_statevector"
    assert tags["primitive"] == "estimator"
    assert tags["mode"] == "session"
    assert tags["session_id"] == "session-1"
    assert tags["job_ids"] == "job-0,job-1"
    assert tags["status"] == "FINISHED"
    assert tags["seed.seed_simulator"] == "11"
    assert tags["observable.0"] == "ZZ" and tags["observable.1"] == "XX"
    assert "mlflow.parentRunId" not in tags

    assert _history(client, tracker.run_id, "ev/0") == [(0, 1.0), (1, 0.9), (2, 0.8)]
    assert _history(client, tracker.run_id, "ev/1") == [(0, 0.5), (2, -0.25)]  # NaN skipped
    assert _history(client, tracker.run_id, "std/0") == [(0, 0.01), (1, 0.03), (2, 0.05)]
    assert _history(client, tracker.run_id, "std/1") == [(0, 0.02), (2, 0.06)]
    metrics = run.data.metrics
    for key, value in TIMINGS.items():
        assert metrics[key] == pytest.approx(value)
    assert metrics["jobs_finished"] == 1
    assert metrics["usage_s"] == pytest.approx(0.75)
    assert "shots" not in metrics

    artifacts = {info.path for info in client.list_artifacts(tracker.run_id)}
    assert {"config.yaml", "results.json", "circuit.qpy", "circuit.txt", "plot.png"} <= artifacts
    # Artifacts live beside the database, not relative to the working directory.
    assert run.info.artifact_uri.startswith((db_dir / "mlartifacts").as_uri())
    # The experiment opens in MLflow's model-training view.
    assert client.get_experiment(run.info.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"

    downloaded = Path(client.download_artifacts(tracker.run_id, "config.yaml", str(tmp_path)))
    assert downloaded.read_text() == CONFIG_YAML
    with Path(client.download_artifacts(tracker.run_id, "circuit.qpy", str(tmp_path))).open("rb") as fh:
        assert qpy.load(fh)[0] == CIRCUIT
    # The run directory keeps its copies, and the journal holds the whole record.
    for name in ("config.yaml", "results.json", "circuit.qpy", "circuit.txt", "plot.png", "tracking.jsonl"):
        assert (tmp_path / "run" / name).is_file()
    assert "H" in (tmp_path / "run" / "circuit.txt").read_text()
    assert (tmp_path / "run" / "plot.png").read_bytes().startswith(PNG_MAGIC)
    ops = [entry["op"] for entry in tracker.journal.entries()]
    assert ops[0] == "start" and ops[-1] == "end" and ops.count("artifact") >= 5
    assert tracker.journal.sync_state()["synced"] == len(ops)


def test_the_results_json_written_by_the_runner_is_uploaded_as_is(live, client, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text('{"written": "by the runner"}')
    tracker = _log(live, _estimator_result(), run_dir)
    downloaded = Path(client.download_artifacts(tracker.run_id, "results.json", str(tmp_path)))
    assert downloaded.read_text() == '{"written": "by the runner"}'


def test_sampler_run_is_logged(live, client, tmp_path):
    tracker = _log(live, _sampler_result(), tmp_path / "run", config={"primitive": {"name": "sampler"}})
    tracker.end("FINISHED")
    run = client.get_run(tracker.run_id)

    assert run.data.params == {"primitive.name": "sampler"}
    assert "session_id" not in run.data.tags
    assert run.data.tags["job_ids"] == "job-0"
    assert _history(client, tracker.run_id, "shots") == [(0, 1000.0), (2, 1000.0)]
    assert _history(client, tracker.run_id, "distinct_outcomes") == [(0, 2.0), (2, 3.0)]
    assert _history(client, tracker.run_id, "hellinger_fidelity") == [(0, 0.99), (2, 0.98)]
    assert run.data.metrics["jobs_finished"] == 1
    assert run.data.metrics["usage_s"] == pytest.approx(0.5)
    assert not any(key.startswith("ev/") for key in run.data.metrics)
    artifacts = {info.path for info in client.list_artifacts(tracker.run_id)}
    assert {"config.yaml", "results.json", "circuit.qpy", "circuit.txt", "plot.png"} <= artifacts


def test_large_run_is_logged_in_few_batches(live, client, tmp_path, monkeypatch):
    n_sets, n_params = 600, 250
    result = _estimator_result()
    result.parameter_values = np.linspace(0, 1, n_sets).reshape(n_sets, 1)
    result.estimator.evs = np.column_stack([np.linspace(-1, 1, n_sets), np.full(n_sets, 0.5)])
    result.estimator.stds = np.full((n_sets, 2), 0.01)
    config = {"grid": {f"p{i:03d}": i for i in range(n_params)}}

    calls = []
    store = live.call(lambda s: s)
    original = store.client.log_batch

    def counting_log_batch(run_id, metrics=(), params=(), tags=(), **kwargs):
        calls.append((len(metrics), len(params), len(tags)))
        return original(run_id, metrics=metrics, params=params, tags=tags, **kwargs)

    monkeypatch.setattr(store.client, "log_batch", counting_log_batch)
    tracker = _log(live, result, tmp_path / "run", config=config)

    n_metrics = sum(call[0] for call in calls)
    assert n_metrics == 4 * n_sets + len(TIMINGS) + 2 + len(result.jobs)  # + usage_s per job
    n_tags = sum(call[2] for call in calls)
    # the params (sent before the config.yaml artifact), then the tags and metrics, each in as few
    # batches as MLflow's limits allow (100 params, 100 tags, 1000 entities per call)
    assert len(calls) == math.ceil(n_params / 100) + math.ceil((n_metrics + n_tags) / 1000)
    assert sum(call[1] for call in calls) == n_params
    assert all(m + p + t <= 1000 and p <= 100 and t <= 100 for m, p, t in calls)
    run = client.get_run(tracker.run_id)
    assert len(run.data.params) == n_params
    assert run.data.params["grid.p249"] == "249"
    history = _history(client, tracker.run_id, "ev/0")
    assert [step for step, _ in history] == list(range(n_sets))
    assert history[-1][1] == pytest.approx(1.0)


def test_end_failed_sets_status_and_reason(live, client, tmp_path):
    tracker = RunTracker(tmp_path, live)
    tracker.start(None, {})
    tracker.end("FAILED", reason="RuntimeJobMaxTimeoutError: job-3 exceeded 10 s")
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    assert run.data.tags["failure_reason"] == "RuntimeJobMaxTimeoutError: job-3 exceeded 10 s"
    with pytest.raises(ValueError, match="RUNNING"):
        tracker.end("RUNNING")
    assert not live.offline  # a wrong status is the caller's error, not the store's


class _CtrlCAfterWrite(type(Path())):
    """A journal file that gets Ctrl-C just after a line is written (a run interrupted while it journals)."""

    def open(self, *args, **kwargs):
        handle = super().open(*args, **kwargs)

        class Handle:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                handle.close()

            def write(self, text):
                written = handle.write(text)
                signal.raise_signal(signal.SIGINT)
                return written

        return Handle()


def test_ctrl_c_just_after_an_entry_is_journaled_leaves_nothing_out_of_the_store(live, client, tmp_path):
    """The signal waits until the entry is counted: the store gets it when the run is closed
    KILLED, and the sync state counts every line (the CLI's Ctrl-C while its params are journaled)."""
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in handled}
    interrupts.install()
    try:
        tracker = RunTracker(tmp_path / "run", live)
        run_id = tracker.start("interrupted", {})
        journal_path, tracker.journal.path = tracker.journal.path, _CtrlCAfterWrite(tracker.journal.path)
        with pytest.raises(KeyboardInterrupt):
            tracker.log_params({"a": "1"})
        tracker.journal.path = journal_path
        tracker.end("KILLED", "interrupted by the user (Ctrl-C)")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert [entry["op"] for entry in tracker.journal.entries()] == ["start", "params", "end"]
    assert tracker.tracked and tracker.journal.sync_state()["synced"] == 3
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.params == {"a": "1"}


def test_children_nest_under_their_parent(live, client, tmp_path):
    parent = RunTracker(tmp_path / "sweep", live)
    parent_id = parent.start("sweep a", {"sweep": "a"})
    child = _log(live, _sampler_result(), tmp_path / "sweep" / "0", parent=parent_id)
    child.end("FINISHED")
    assert client.get_run(child.run_id).data.tags["mlflow.parentRunId"] == parent_id
    store = live.call(lambda s: s)
    assert [run.info.run_id for run in store.children(parent_id)] == [child.run_id]


def test_store_is_opened_once_and_relative_sqlite_uri_made_absolute(live, db_dir, monkeypatch):
    monkeypatch.chdir(db_dir)
    relative = live_store("sqlite:///mlflow.db", "qrt-tests", 30)
    assert relative is live and relative.uri == f"sqlite:///{db_dir}/mlflow.db"
    assert open_store("sqlite:///mlflow.db", "qrt-tests") is live.call(lambda s: s)


def test_a_sqlite_store_says_which_config_hashes_it_never_saw_without_mlflow(live, tmp_path):
    """Resume's fast path for a new sweep; anything it cannot tell counts as seen (MLflow asks)."""
    tracker = RunTracker(tmp_path / "tagged", live)
    tracker.start("tagged", {CONFIG_HASH_TAG: "0123456789abcdef"})
    tracker.flush()
    assert sqlite_lacks_tag(live.uri, CONFIG_HASH_TAG, ["fedcba9876543210", "ffffffffffffffff"])
    assert not sqlite_lacks_tag(live.uri, CONFIG_HASH_TAG, ["fedcba9876543210", "0123456789abcdef"])
    assert not sqlite_lacks_tag(f"sqlite:///{tmp_path}/none.db", CONFIG_HASH_TAG, ["fedcba9876543210"])
    assert not sqlite_lacks_tag("http://127.0.0.1:1", CONFIG_HASH_TAG, ["fedcba9876543210"])
    (tmp_path / "other.db").write_text("not a database")
    assert not sqlite_lacks_tag(f"sqlite:///{tmp_path}/other.db", CONFIG_HASH_TAG, ["fedcba9876543210"])


def test_unreachable_store_keeps_the_run_in_its_journal_and_sync_uploads_it(tmp_path):
    def refuse(uri, experiment):
        raise ConnectionRefusedError("nothing listens there")

    offline = LiveStore("http://127.0.0.1:9", "qrt-tests", 5, opener=refuse)
    tracker = _log(offline, _estimator_result(), tmp_path / "run")
    tracker.end("FINISHED")
    assert tracker.run_id is None and not tracker.tracked
    assert "ConnectionRefusedError" in tracker.offline_reason
    assert [entry["op"] for entry in tracker.journal.entries()][-1] == "end"

    uri = f"sqlite:///{tmp_path}/later.db"
    result = sync_directory(tmp_path / "run", uri=uri)
    assert result.error is None and result.status == "FINISHED"
    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "test-run"
    assert run.data.params["circuit.num_qubits"] == "2" and run.data.tags["backend"] == "aer_statevector"
    assert _history(client, result.run_id, "ev/0") == [(0, 1.0), (1, 0.9), (2, 0.8)]
    assert {"config.yaml", "results.json", "circuit.qpy", "plot.png"} <= {
        a.path for a in client.list_artifacts(result.run_id)
    }
    again = sync_directory(tmp_path / "run", uri=uri)  # nothing left to upload
    assert again.run_id == result.run_id and again.uploaded == 0


def test_a_store_that_stops_answering_turns_offline_within_its_timeout_and_sync_completes_the_run(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    store = open_store(uri, "qrt-tests")

    def opener(uri_, experiment):
        return store

    live = LiveStore(store.uri, "qrt-tests", 1.0, opener=opener)
    tracker = RunTracker(tmp_path / "run", live)
    run_id = tracker.start("vqe", {})
    tracker.log_metrics({"energy": -1.0}, step=1)
    original = store.log
    answer, answered, calls = threading.Event(), threading.Event(), []

    def stuck_log(*args, **kwargs):  # a store that does not answer until the test lets it
        calls.append(args)
        answer.wait(120)  # bounds a hang only
        try:
            return original(*args, **kwargs)
        finally:
            answered.set()

    store.log = stuck_log
    started = time.perf_counter()
    tracker.log_metrics({"energy": -1.5}, step=2)
    tracker.log_metrics({"energy": -1.7}, step=3)
    tracker.end("FINISHED")
    waited = time.perf_counter() - started
    # one call waited for its timeout, then the store was offline: the later ones never reached it
    assert live.offline and "within 1 s" in live.offline_reason and len(calls) == 1
    assert waited >= 1.0 and not answered.is_set()  # returned while the store still held the call
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(run_id).info.status == "RUNNING"  # what the dead server is left with
    store.log = original
    answer.set()
    assert answered.wait(120)  # the abandoned call finishes
    result = sync_directory(tmp_path / "run", timeout_s=10)
    assert result.run_id == run_id and result.status == "FINISHED"
    assert _history(client, run_id, "energy") == [(1, -1.0), (2, -1.5), (3, -1.7)]
    assert client.get_run(run_id).info.status == "FINISHED"


def test_sync_closes_a_journal_whose_process_died_as_killed(tmp_path):
    tracker = RunTracker(tmp_path / "run", None)
    tracker.start("crashed", {})
    tracker.log_metrics({"energy": -1.0}, step=1)
    entries = tracker.journal.entries()
    entries[0]["pid"] = 2**22 + 1  # a process that does not exist
    tracker.journal.path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    result = sync_directory(tmp_path / "run", uri=uri)
    run = MlflowClient(tracking_uri=uri).get_run(result.run_id)
    assert run.info.status == "KILLED" and "closed by qrt-run sync" in run.data.tags["failure_reason"]


def test_flatten_config():
    assert flatten_config({}) == {}
    assert flatten_config({"a": 1}) == {"a": "1"}
    assert flatten_config({"a": {"b": {"c": 1.5}}, "d": True}) == {"a.b.c": "1.5", "d": "True"}
    assert flatten_config({"terms": ["ZZ", "XX"], "none": None, "empty": {}}) == {
        "terms": "['ZZ', 'XX']",
        "none": "None",
        "empty": "{}",
    }
    assert flatten_config({"zne": {"noise_factors": (1, 3, 5)}}, prefix="mitigation") == {
        "mitigation.zne.noise_factors": "(1, 3, 5)"
    }
    assert flatten_config({"items": [{"a": 1}]}) == {"items": "[{'a': 1}]"}


def test_git_commit_outside_a_repository(tmp_path):
    assert git_commit(tmp_path) == (None, False)
    assert git_commit(tmp_path / "does" / "not" / "exist") == (None, False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_commit_in_a_repository(live, client, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"] + list(args),
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()

    git("init", "-q")
    (repo / "a.txt").write_text("1")
    git("add", "a.txt")
    git("commit", "-q", "-m", "first")
    sha = git("rev-parse", "HEAD")
    assert len(sha) == 40

    (repo / "untracked.txt").write_text("output")
    assert git_commit(repo) == (sha, False)
    (repo / "a.txt").write_text("2")
    assert git_commit(repo / "outputs" / "run") == (sha, True)

    tracker = _log(live, _sampler_result(), repo / "outputs" / "run")
    tags = client.get_run(tracker.run_id).data.tags
    assert tags["git_commit"] == sha  # the working directory's project
    assert tags["git_dirty"] == "true"
    assert "mlflow.source.git.commit" not in tags  # MLflow's source commit is qrt_runner's own, when known


def test_circuit_text_is_capped(monkeypatch):
    qc = QuantumCircuit(2)
    for _ in range(20):
        qc.h(0)
        qc.cx(0, 1)
    full = artifact_files.circuit_text(qc, "circuit")
    assert full.count("H") == 20 and not full.startswith("#")
    monkeypatch.setattr(artifact_files, "_MAX_TEXT_COLUMNS", 30)
    cut = artifact_files.circuit_text(qc, "circuit")
    assert "cut at 30 columns" in cut
    assert max(len(line) for line in cut.splitlines()[2:]) == 30
    monkeypatch.setattr(artifact_files, "_MAX_DRAW_OPS", 10)
    summary = artifact_files.circuit_text(qc, "circuit")
    assert "not drawn" in summary and "size 40" in summary


def test_plot_result_nothing_to_plot(tmp_path):
    path = tmp_path / "plot.png"
    empty = _estimator_result()
    empty.estimator = None
    assert plot_result(empty, path) is None
    unfinished = _estimator_result()
    unfinished.estimator.evs = np.full((3, 2), np.nan)
    assert plot_result(unfinished, path) is None
    assert plot_result(_sampler_result([None, None]), path) is None
    assert not path.exists()


def test_plot_result_variants(tmp_path):
    single = _estimator_result()
    single.parameter_values = np.zeros((0,))
    single.estimator.evs = np.array([0.5, np.nan])
    single.estimator.stds = np.array([0.1, np.nan])
    assert plot_result(single, tmp_path / "single.png") == tmp_path / "single.png"
    assert (tmp_path / "single.png").read_bytes().startswith(PNG_MAGIC)

    many = {format(i, "06b"): 100 - i for i in range(MAX_BARS + 8)}
    sampler = _sampler_result([None, many])
    assert plot_result(sampler, tmp_path / "many.png") == tmp_path / "many.png"
    assert (tmp_path / "many.png").read_bytes().startswith(PNG_MAGIC)


def test_metric_keys_do_not_depend_on_observable_labels():
    first, second = _estimator_result(), _estimator_result()
    second.estimator.observable_labels = ["ZZI + IZZ", "0.5*XX"]
    keys = [{key for key, _, _ in result_metrics(result)} for result in (first, second)]
    assert keys[0] == keys[1] and {"ev/0", "std/0", "ev/1", "std/1"} <= keys[0]


def test_mitigation_cost_of_every_job_becomes_metrics():
    result = _estimator_result()
    result.mitigation = {
        "jobs": [
            {
                "num_circuits": 7,
                "shots_spent": 100,
                "build_s": 0.01,
                "simulate_s": 0.5,
                "combine_s": 0.02,
                "simulate_s_by_technique": {"circuits": 0.2, "zne": 0.3},
            },
            {"num_circuits": 7, "shots_spent": 100, "simulate_s": 0.6, "combine_s": 0.03},
        ]
    }
    metrics = {(key, step): value for key, value, step in result_metrics(result)}
    assert metrics[("mitigation_simulate_s", 1)] == 0.6 and metrics[("mitigation_combine_s", 0)] == 0.02
    assert metrics[("simulate_s/zne", 0)] == 0.3 and ("simulate_s/zne", 1) not in metrics


def test_equal_circuits_share_one_drawing_and_different_ones_do_not():
    from qiskit.circuit.library import real_amplitudes

    first, again, other = real_amplitudes(3, reps=1), real_amplitudes(3, reps=1), real_amplitudes(3, reps=2)
    drawn = artifact_files._drawing(first, "circuit")
    assert drawn == artifact_files._drawing(again, "circuit") == artifact_files.circuit_text(again, "circuit")
    assert artifact_files._drawing(other, "circuit") == artifact_files.circuit_text(other, "circuit") != drawn
