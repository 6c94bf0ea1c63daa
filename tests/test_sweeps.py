"""Sweeps on Hydra's launchers and sweepers, read back from the store and the sweep directory.

Every test runs ``qrt-run -m`` in a subprocess in a fresh folder (a fresh ``mlflow.db``), with
small points: GHZ samplers of 64-512 shots, Aer single-threaded.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import HANG_S, QRT_RUN, run_cli

pytestmark = pytest.mark.slow  # CLI runs in subprocesses: the full suite, not make test-fast

SAMPLER = ["experiment=ghz_sampler", "primitive.default_shots=256", "backend.max_parallel_threads=1"]


def _runs(uri: str):
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("qrt_runner")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def _summary(tmp_path: Path) -> list[dict]:
    (path,) = tmp_path.glob("multirun/*/*/sweep_summary.csv")
    with path.open() as handle:
        return list(csv.DictReader(handle))


def _check_one_finished_parent(uri: str, points: int) -> tuple:
    client, parents, children = _runs(uri)
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == points and {c.info.status for c in children} == {"FINISHED"}
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    return client, parents[0], children


def test_joblib_sweep_on_a_fresh_store_has_one_finished_parent_and_comparable_children(tmp_path):
    proc = run_cli(
        ["-m", *SAMPLER, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "circuit.num_qubits=2,3,4,5"],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    client, parent, children = _check_one_finished_parent(f"sqlite:///{tmp_path / 'mlflow.db'}", 4)
    assert {c.info.run_name for c in children} == {f"circuit.num_qubits={n}" for n in (2, 3, 4, 5)}
    keys = {frozenset(c.data.metrics) for c in children}
    assert len(keys) == 1 and {"hellinger_fidelity", "objective", "time_total_s"} <= next(iter(keys))
    for child in children:
        assert child.data.tags["mlflow.source.name"] == "qrt-run" and child.data.tags["mlflow.user"]
        assert child.data.params["backend.max_parallel_threads"] == "1"
        assert child.data.metrics["objective"] == pytest.approx(child.data.metrics["hellinger_fidelity"])
    assert parent.data.metrics["points_finished"] == 4 and parent.data.params["sweep.circuit.num_qubits"] == "2,3,4,5"
    assert {"sweep_summary.csv", "sweep_summary.png"} <= {a.path for a in client.list_artifacts(parent.info.run_id)}
    rows = _summary(tmp_path)
    assert [row["circuit.num_qubits"] for row in rows] == ["2", "3", "4", "5"]
    assert {row["status"] for row in rows} == {"FINISHED"} and all(float(row["objective"]) > 0.9 for row in rows)
    experiment = client.get_experiment(parent.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    for child in children:  # the workers journaled them; the launching process uploaded them
        point = json.loads((Path(child.data.tags["run_dir"]) / "point.json").read_text())
        assert point["tracked"] and point["run_id"] == child.info.run_id and not point["upload"]
        assert {"plot.png", "results.json"} <= {a.path for a in client.list_artifacts(child.info.run_id)}


def test_a_joblib_sweep_run_again_skips_its_finished_points_from_the_launchers_lookup(tmp_path):
    args = ["-m", *SAMPLER, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "circuit.num_qubits=2,3"]
    assert run_cli(args, cwd=tmp_path, timeout=HANG_S).returncode == 0
    again = run_cli([*args[:-1], "circuit.num_qubits=2,3,4"], cwd=tmp_path, timeout=HANG_S)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped") == 2
    latest = max(tmp_path.glob("multirun/*/*/reuse.json"), key=lambda p: p.parent.name)
    table = json.loads(latest.read_text())
    assert len(table["checked"]) == 3 and len(table["finished"]) == 2
    _, parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(parents) == 2 and sorted(c.info.status for c in children) == ["FINISHED"] * 3


def test_a_failing_point_fails_the_parent_and_exits_1_keeping_the_other_points(tmp_path):
    proc = run_cli(
        [
            "-m",
            "circuit=efficient_su2",
            "circuit.num_qubits=16",
            "observables=paulis",
            f"observables.terms=[{'Z' * 16}]",
            "primitive.default_precision=0",
            "backend.max_parallel_threads=1",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            "primitive.max_execution_time=0.001,600",
        ],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "1 run(s) failed" in proc.stderr
    client, parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(parents) == 1 and parents[0].info.status == "FAILED"
    assert sorted(c.info.status for c in children) == ["FAILED", "FINISHED"]
    rows = {row["primitive.max_execution_time"]: row for row in _summary(tmp_path)}
    assert rows["0.001"]["status"] == "FAILED" and "max_execution_time" in rows["0.001"]["error"]
    assert rows["600"]["status"] == "FINISHED" and rows["600"]["objective"]


def test_submitit_local_sweep(tmp_path):
    proc = run_cli(
        ["-m", *SAMPLER, "hydra/launcher=submitit_local", "circuit.num_qubits=2,3"], cwd=tmp_path, timeout=HANG_S
    )
    assert proc.returncode == 0, proc.stderr
    _check_one_finished_parent(f"sqlite:///{tmp_path / 'mlflow.db'}", 2)


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
    reason="Ray is an extra: pip install 'qrt_runner[ray]' (make test installs it)",
)
def test_ray_sweep(tmp_path):
    """A local Ray of its own; it leaves no Ray token in the user's home (run_cli runs Ray without
    token authentication: a token file there turns it on for every later ``ray start --head``)."""
    home = tmp_path / "home"
    home.mkdir()
    proc = run_cli(
        ["-m", *SAMPLER, "hydra/launcher=ray", "+hydra.launcher.ray.init.num_cpus=2", "circuit.num_qubits=2,3"],
        cwd=tmp_path,
        timeout=HANG_S,
        env={"HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    assert not (home / ".ray" / "auth_token").exists()
    _check_one_finished_parent(f"sqlite:///{tmp_path / 'mlflow.db'}", 2)


def test_joblib_sweep_logging_to_a_tracking_server(tmp_path, mlflow_server):
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli(
        [
            "-m",
            *SAMPLER,
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            f"tracking.uri={mlflow_server}",
            "circuit.num_qubits=2,3,4",
        ],
        cwd=work,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    _check_one_finished_parent(mlflow_server, 3)
    assert not (work / "mlflow.db").exists()


def test_four_concurrent_first_runs_in_an_empty_folder_all_reach_the_store(tmp_path):
    procs = [
        subprocess.Popen(
            [str(QRT_RUN), *SAMPLER, f"seed={seed}"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(4)
    ]
    outputs = [proc.communicate(timeout=HANG_S) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0, 0], [err for _, err in outputs]
    client, parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(parents) == 4 and not children and {r.info.status for r in parents} == {"FINISHED"}


def test_optuna_minimises_the_objective(tmp_path):
    proc = run_cli(
        [
            "-m",
            "experiment=tune_qaoa_angles",
            "hydra.sweeper.n_trials=3",
            "primitive.default_precision=0.1",
            "mitigation=none",
        ],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    client, parent, children = _check_one_finished_parent(f"sqlite:///{tmp_path / 'mlflow.db'}", 3)
    objectives = sorted(child.data.metrics["objective"] for child in children)
    (results,) = tmp_path.glob("multirun/*/*/optimization_results.yaml")
    assert f"best_value: {objectives[0]}" in results.read_text()
    assert {child.data.tags["objective_name"] for child in children} == {"ev:0"}
    assert {c.data.metrics["ev/0"] for c in children} == set(objectives)


OPTUNA = ["hydra/sweeper=optuna", "hydra.sweeper.direction=maximize", "hydra.sweeper.sampler.seed=10"]


def test_an_optuna_trial_with_an_invalid_config_fails_alone_and_the_study_goes_on(tmp_path):
    """With seed 10 the trials draw 3, 9, 3 qubits: trial #1 is wider than fake_manila. It is
    refused in one line and recorded as a failed point; the other trials run and Optuna reports
    its best; the sweep exits 1 (some points failed)."""
    proc = run_cli(
        ["-m", *SAMPLER, "backend=fake_manila", *OPTUNA, "hydra.sweeper.n_trials=3", "circuit.num_qubits=choice(3,9)"],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Failed experiment" not in proc.stderr + proc.stdout
    refused = [line for line in proc.stderr.splitlines() if "invalid config" in line]
    assert len(refused) == 1 and refused[0].startswith("qrt-run: sweep point #1 circuit.num_qubits=9 "), proc.stderr
    assert "circuit.num_qubits=9: fake_manila has only 5 qubits" in refused[0]
    assert "qrt-run: 1 run(s) failed: #1 circuit.num_qubits=9" in proc.stderr
    rows = _summary(tmp_path)
    assert [(row["circuit.num_qubits"], row["status"]) for row in rows] == [
        ("3", "FINISHED"),
        ("9", "INVALID"),
        ("3", "FINISHED"),
    ]
    assert "fake_manila has only 5 qubits" in rows[1]["error"] and not rows[1]["objective"]
    _, parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [p.info.status for p in parents] == ["FAILED"] and [c.info.status for c in children] == ["FINISHED"] * 2
    (results,) = tmp_path.glob("multirun/*/*/optimization_results.yaml")
    assert "circuit.num_qubits: 3" in results.read_text()


def test_an_optuna_study_whose_every_trial_is_invalid_ends_in_one_line_per_trial(tmp_path):
    """COBYLA needs 8 iterations for vqe_h2's 6 parameters: no trial runs, and the sweeper, which
    then has no best trial, does not end in a traceback."""
    proc = run_cli(
        ["-m", "experiment=vqe_h2", *OPTUNA, "hydra.sweeper.n_trials=2", "task.optimizer.maxiter=choice(2,4)"]
        + ["tracking=none"],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Failed experiment" not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    refused = [line for line in lines if "invalid config" in line]
    assert len(refused) == 2 and all("needs at least 8 for 6 parameters" in line for line in refused), proc.stderr
    assert "qrt-run: no Optuna trial produced an objective" in proc.stderr
    assert lines[-1].startswith("qrt-run: 2 run(s) failed: #0 ")
    assert {row["status"] for row in _summary(tmp_path)} == {"INVALID"}
    assert not list(tmp_path.glob("multirun/*/*/optimization_results.yaml"))


def test_an_optuna_trial_whose_run_fails_is_a_failed_trial_and_the_study_goes_on(tmp_path):
    """A failed run has no objective: the sweeper records the trial failed (a NaN made it raise)."""
    proc = run_cli(
        [
            "-m",
            "circuit=efficient_su2",
            "circuit.num_qubits=16",
            "observables=paulis",
            f"observables.terms=[{'Z' * 16}]",
        ]
        + ["primitive.default_precision=0", "backend.max_parallel_threads=1", "tracking=none", *OPTUNA]
        + ["hydra.sweeper.n_trials=2", "primitive.max_execution_time=choice(0.001,600)"],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "1 run(s) failed: #0 primitive.max_execution_time=0.001" in proc.stderr
    rows = _summary(tmp_path)
    assert [row["status"] for row in rows] == ["FAILED", "FINISHED"] and rows[1]["objective"]
    (results,) = tmp_path.glob("multirun/*/*/optimization_results.yaml")
    assert "primitive.max_execution_time: 600" in results.read_text()


def test_a_basic_sweep_exits_with_every_points_record_whole(tmp_path):
    """Points of a basic sweep hand the end of their records to a background thread; qrt-run
    exits only once every point's files, upload and end are done."""
    proc = run_cli(["-m", *SAMPLER, "circuit.num_qubits=2,3,4"], cwd=tmp_path, timeout=HANG_S)
    assert proc.returncode == 0, proc.stderr
    client, _, children = _check_one_finished_parent(f"sqlite:///{tmp_path / 'mlflow.db'}", 3)
    for child in children:
        artifacts = {item.path for item in client.list_artifacts(child.info.run_id)}
        assert {"plot.png", "circuit.txt", "circuit.qpy", "results.json"} <= artifacts
        assert (Path(child.data.tags["run_dir"]) / "point.json").is_file()
    assert {row["status"] for row in _summary(tmp_path)} == {"FINISHED"}


def test_running_the_same_sweep_again_skips_the_finished_points(tmp_path):
    args = ["-m", *SAMPLER, "circuit.num_qubits=2,3"]
    assert run_cli(args, cwd=tmp_path, timeout=HANG_S).returncode == 0
    again = run_cli(args, cwd=tmp_path, timeout=HANG_S)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped") == 2
    client, parents, children = _runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(children) == 2 and len(parents) == 2  # no new point runs, one parent per sweep
    latest = max(tmp_path.glob("multirun/*/*/sweep_summary.csv"), key=lambda p: p.parent.name)
    with latest.open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["status"] for row in rows} == {"FINISHED"}
    assert {row["reused_from"] for row in rows} == {c.info.run_id for c in children}
    fresh = run_cli([*args, "sweep.resume=false"], cwd=tmp_path, timeout=HANG_S)
    assert fresh.returncode == 0 and "skipped" not in fresh.stdout
    assert len(_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")[2]) == 4


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["hydra/launcher=jobib"], "hydra/launcher=jobib: no such option"),
        (["hydra/sweeper=optuma"], "hydra/sweeper=optuma: no such option"),
        (["objective=ev:XYZ"], "objective='ev:XYZ': no observable is labelled 'XYZ'"),
        (["objective=best_energy"], "objective='best_energy': best_energy is produced by task=vqe or task=qaoa"),
        (["objective=fidelity"], "objective='fidelity': unknown objective"),
        (["objective=123"], "objective='123': unknown objective"),
        (["objective=ev:0:7"], "objective='ev:0:7': the run has 1 parameter set(s)"),
        (["circuit.num_qubits=3,30", "backend=fake_manila"], "fake_manila has only 5 qubits; use a smaller circuit"),
        (["hydra/launcher=joblib", "hydra.launcher.n_jobs=0"], "hydra.launcher.n_jobs=0: joblib runs no points"),
    ],
)
def test_bad_sweeps_are_refused_in_one_line_before_any_point_runs(tmp_path, args, fragment):
    proc = run_cli(
        ["-m", "observables=paulis", "observables.terms=[ZZZ]", "circuit.num_qubits=3,4", *args, "tracking=none"]
        if args[0].startswith("objective")
        else ["-m", "seed=1,2", *args, "tracking=none"],
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not list(tmp_path.glob("multirun/*/*/0"))  # no point ran


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["circuit.num_qubits=choice(3,abc)"], "circuit.num_qubits='choice(3,abc)': Optuna may draw abc, and then"),
        (["circuit.num_qubits=interval(2,4)"], "for an integer key use int(interval(2,4)), or choice(...)"),
        (["backend=choice(aer,fake_nowhere)"], "and then backend=fake_nowhere: no such option"),
        (["hydra.sweeper.direction=maximise"], "hydra.sweeper.direction='maximise': must be minimize or maximize"),
        (["hydra.sweeper.n_trials=0"], "hydra.sweeper.n_trials=0: must be at least 1"),
    ],
)
def test_bad_optuna_sweeps_are_refused_in_one_line_before_any_trial_runs(tmp_path, args, fragment):
    space = [] if args[0].startswith(("circuit", "backend")) else ["circuit.num_qubits=choice(2,3)"]
    proc = run_cli(["-m", "hydra/sweeper=optuna", *space, *args, "tracking=none"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not list(tmp_path.glob("multirun/*/*/0"))  # no trial ran
