"""The installed CLI in a subprocess, read back through results.json and MlflowClient."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from conftest import HANG_S, REPO, job_seconds, run_cli

pytestmark = pytest.mark.slow  # CLI runs in subprocesses: the full suite, not make test-fast


def _runs(db: Path):
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("qrt_runner")
    return client, client.search_runs([experiment.experiment_id])


def test_default_run_writes_results_and_a_finished_mlflow_run(tmp_path):
    proc = run_cli(["backend.max_parallel_threads=1", "hydra.run.dir=out"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "FINISHED" and results["observables"] == ["ZZZ", "XXX", "ZZI + IZZ"]
    assert results["evs"][1] == pytest.approx(1.0) and results["evs"][2] == pytest.approx(2.0)
    assert abs(results["evs"][0]) < 5 * results["stds"][0] + 1e-9
    assert (tmp_path / "out" / "config.yaml").read_text().count("num_qubits: 3") == 1
    client, runs = _runs(tmp_path / "mlflow.db")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["circuit.num_qubits"] == "3" and run.data.params["seed"] == "1234"
    assert run.data.tags["backend"] == "aer" and run.data.tags["version.qiskit"]
    assert run.data.metrics["ev/1"] == pytest.approx(1.0) and run.data.tags["observable.1"] == "XXX"
    assert {"time_build_s", "time_transpile_s", "time_execute_s", "time_total_s"} <= set(run.data.metrics)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "results.json", "circuit.qpy", "circuit.txt", "plot.png", ".hydra"} <= artifacts
    assert {"config.yaml", "hydra.yaml", "overrides.yaml"} <= {
        a.path.split("/")[-1] for a in client.list_artifacts(run.info.run_id, ".hydra")
    }
    environment = results["environment"]
    assert environment["versions"]["scipy"] and environment["python"] and environment["platform"]
    assert (
        environment["qrt_runner_commit"]
        == run.data.tags["qrt_runner.commit"]
        == run.data.tags["mlflow.source.git.commit"]
    )
    assert len(environment["qrt_runner_commit"]) == 40  # this checkout's own commit
    assert results["transpiled"]["layout"] == [0, 1, 2] and results["device"] is None


def test_multirun_gives_one_parent_and_one_child_per_job(tmp_path):
    proc = run_cli(
        [
            "-m",
            "experiment=ghz_sampler",
            "circuit.num_qubits=2,3",
            "backend=aer,fake_manila",
            "backend.max_parallel_threads=1",
            "primitive.default_shots=512",
        ],
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    client, runs = _runs(tmp_path / "mlflow.db")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 4
    assert parents[0].info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert {c.data.tags["overrides"] for c in children} == {
        json.dumps(
            [
                "experiment=ghz_sampler",
                f"circuit.num_qubits={n}",
                f"backend={b}",
                "backend.max_parallel_threads=1",
                "primitive.default_shots=512",
            ]
        )
        for n in (2, 3)
        for b in ("aer", "fake_manila")
    }
    assert {c.info.run_name for c in children} == {
        f"circuit.num_qubits={n} backend={b}" for n in (2, 3) for b in ("aer", "fake_manila")
    }
    ideal = [c for c in children if c.data.tags["backend"] == "aer"]
    noisy = [c for c in children if c.data.tags["backend"] == "fake_manila"]
    assert all(c.data.metrics["hellinger_fidelity"] > 0.98 for c in ideal)
    assert all(c.data.metrics["distinct_outcomes"] > 2 for c in noisy)  # noise shows
    assert len(list(tmp_path.glob("multirun/*/*/*/results.json"))) == 4


def test_timed_out_session_exits_1_and_leaves_a_failed_run_with_finished_results(tmp_path):
    workload = [
        "circuit=efficient_su2",
        "circuit.num_qubits=18",
        "observables=paulis",
        f"observables.terms=[{'Z' * 18}]",
        "primitive.default_precision=0",
        "session.parameter_sets_per_job=6",
        "backend.max_parallel_threads=1",
    ]
    # max_time is what 4 of its 20 jobs take here and now (the slowest of 2 jobs of the same work,
    # the baseline): on a fast machine as on a loaded one, its first jobs finish and the session
    # expires long before the last one could.
    max_time = round(4 * job_seconds([*workload, "circuit.parameter_values.num_sets=12", "tracking=none"]), 2)
    proc = run_cli(
        [
            *workload,
            "circuit.parameter_values.num_sets=120",
            "session.mode=session",
            f"session.max_time={max_time}",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "run(s) failed" in proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "FAILED" and results["error_type"] == "RuntimeJobMaxTimeoutError"
    finished = [ev for ev in results["evs"] if ev[0] is not None]
    assert finished and len(finished) < 120
    client, runs = _runs(tmp_path / "mlflow.db")
    run = runs[0]
    assert run.info.status == "FAILED" and "max_time" in run.data.tags["failure_reason"]
    assert len(client.get_metric_history(run.info.run_id, "ev/0")) == len(finished)


def test_user_experiment_folder_is_found(tmp_path):
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "bell_zz.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /circuit: ghz\n  - override /observables: paulis\n"
        "circuit:\n  num_qubits: 2\nobservables:\n  terms: [ZZ, XX]\n"
    )
    proc = run_cli(
        ["experiment=bell_zz", "tracking=none", "backend.max_parallel_threads=1", "hydra.run.dir=out"], cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["evs"] == [1.0, 1.0]


def test_non_editable_install_runs_from_any_directory(tmp_path):
    target = tmp_path / "site"
    source = tmp_path / "src"  # a clean copy: no stale build/ folder can hide a packaging gap
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv",
            "build",
            "*.egg-info",
            ".git",
            "outputs",
            "multirun",
            "mlruns",
            "mlartifacts",
            "mlflow.db",
            "__pycache__",
        ),
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=HANG_S,
    )
    installed = {
        p.relative_to(target / "qrt_runner").as_posix()
        for p in (target / "qrt_runner").rglob("*")
        if p.suffix in (".py", ".yaml")
    }
    shipped = {p.relative_to(REPO / "qrt_runner").as_posix() for p in (REPO / "qrt_runner").rglob("*.py")}
    shipped |= {
        "conf/" + p.relative_to(REPO / "conf").as_posix()
        for p in (REPO / "conf").rglob("*")
        if p.suffix in (".py", ".yaml")
    }
    shipped |= {"experiments/" + p.name for p in (REPO / "experiments").iterdir() if p.suffix in (".py", ".yaml")}
    assert shipped <= installed, sorted(shipped - installed)  # every module, config and experiment is in the wheel
    assert (target / "qrt_runner" / "experiments" / "ghz_sampler.yaml").is_file()
    assert set(json.loads((target / "qrt_runner" / "_build_info.json").read_text())) == {
        "commit",
        "dirty",
    }  # baked at build
    work = tmp_path / "elsewhere"
    work.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from qrt_runner.cli import main; main()",
            "experiment=ghz_sampler",
            "tracking=none",
            "backend.max_parallel_threads=1",
            "hydra.run.dir=out",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=HANG_S,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads((work / "out" / "results.json").read_text())["counts"][0]) == {"0000", "1111"}


def test_a_fake_device_run_records_its_snapshot_and_which_qubit_each_bit_measured(tmp_path):
    proc = run_cli(
        [
            "experiment=ghz_sampler",
            "backend=fake_manila",
            "primitive.default_shots=64",
            "backend.max_parallel_threads=1",
            "tracking=none",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    device = results["device"]
    assert device["name"] == "fake_manila" and device["backend_version"] and device["properties_date"].startswith("20")
    assert len(device["properties_sha256"]) == 64
    transpiled = results["transpiled"]
    assert sorted(transpiled["clbit_to_qubit"]) == ["0", "1", "2", "3"]
    assert (
        sorted(transpiled["clbit_to_qubit"].values())
        == sorted(transpiled["layout"])
        == sorted(transpiled["physical_qubits"])
    )


def test_a_mitigated_run_logs_its_effective_options_its_cost_and_its_estimate(tmp_path):
    proc = run_cli(
        [
            "backend=fake_manila",
            "mitigation=level1",
            "primitive.default_precision=0.0625",
            "backend.max_parallel_threads=1",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    _, (run,) = _runs(tmp_path / "mlflow.db")
    params, metrics = run.data.params, run.data.metrics
    assert params["mitigation_effective.resilience.measure_mitigation"] == "True"  # level 1 resolved
    assert params["mitigation_effective.twirling.num_randomizations"] == "32"
    job = results["jobs"][0]
    assert metrics["shots_spent"] == job["shots_spent"] == job["estimate"]["shots"] == metrics["shots_estimated"]
    assert metrics["qpu_s_estimated"] == pytest.approx(job["estimate"]["qpu_s"])
    record = results["mitigation"]["jobs"][0]
    assert metrics["mitigation_combine_s"] == pytest.approx(record["combine_s"])
    assert metrics["simulate_s/trex"] == pytest.approx(record["simulate_s_by_technique"]["trex"])
