"""VQE, QAOA and scans: acceptance figures at small size, one job per step, resume, interruption."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from qiskit.circuit.library import efficient_su2, qaoa_ansatz, real_amplitudes
from qiskit.quantum_info import SparsePauliOp, Statevector

from conftest import FAST, HANG_S, QRT_RUN, ran_s, run_cli, spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.tasks.optimizers import _gradient_points, gradient_rule
from qrt_runner.tasks.runner import build_workload, run_experiment
from qrt_runner.tasks.scan import summarize_scan
from qrt_runner.tasks.variational import cut_value, exact_ground_energy, max_cut, run_variational

H2_EXACT = -1.857275
MILLIHARTREE = 1e-3


def _run(overrides):
    spec = spec_for(overrides + FAST)
    return spec, run_variational(spec, build_workload(spec))


def test_vqe_h2_on_ideal_aer_ends_within_1_6_mha_of_exact():
    _, result = _run(["experiment=vqe_h2"])
    opt = result.optimization
    assert result.status == "FINISHED"
    assert opt["exact_energy"] == pytest.approx(H2_EXACT, abs=1e-6)
    assert abs(opt["best_energy"] - H2_EXACT) < 1.6 * MILLIHARTREE
    assert result.session_id.startswith("session-") and len(result.jobs) == opt["evaluations"]


def test_qaoa_maxcut_finds_the_optimal_cut_in_its_samples():
    spec, result = _run(["experiment=qaoa_maxcut"])
    opt = result.optimization
    assert opt["optimal_cut"] == 10.0 == max_cut(8, spec.circuit.edges)
    assert opt["found_optimum"] and opt["best_cut"] == 10.0
    assert cut_value(opt["best_bitstring"], spec.circuit.edges) == 10.0
    assert 0.75 < opt["approximation_ratio"] <= 1.0
    assert sum(result.sampler.counts[0].values()) == 4096


def test_spsa_runs_each_iteration_as_one_job_of_three_points():
    _, result = _run(
        [
            "experiment=vqe_h2",
            "task.optimizer.name=spsa",
            "task.optimizer.maxiter=8",
            "primitive.default_precision=0.05",
        ]
    )
    opt = result.optimization
    assert opt["iterations"] == 8 and opt["evaluations"] == 24 and len(result.jobs) == 8
    assert [h["iteration"] for h in opt["history"]] == list(range(1, 9))
    assert all(h["std"] > 0 for h in opt["history"])  # shot noise is reported


@pytest.mark.parametrize("name,maxiter", [("l-bfgs-b", 30), ("adam", 60)])
def test_gradient_optimizers_use_one_job_of_2p_plus_1_points_per_step(name, maxiter):
    overrides = ["experiment=vqe_h2", f"task.optimizer.name={name}", f"task.optimizer.maxiter={maxiter}"]
    spec, result = _run(overrides)
    opt = result.optimization
    num_params = 6
    assert opt["gradient_rule"] == "parameter_shift"
    assert opt["evaluations"] == len(result.jobs) * (2 * num_params + 1)
    assert opt["best_energy"] - H2_EXACT < (1.6 * MILLIHARTREE if name == "l-bfgs-b" else 0.05)
    assert opt["history"][-1]["grad_norm"] is not None


def test_parameter_shift_gradient_matches_finite_differences():
    circuit = efficient_su2(2, reps=1)
    observable = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.4)])
    x = np.random.default_rng(2).uniform(-1, 1, circuit.num_parameters)

    def energy(point):
        return Statevector(circuit.assign_parameters(point)).expectation_value(observable).real

    points, divisor = _gradient_points(x, gradient_rule(circuit))
    values = np.array([energy(p) for p in points])
    shift_grad = (values[1 : 1 + len(x)] - values[1 + len(x) :]) / divisor
    h = 1e-6
    fd_grad = np.array([(energy(x + h * e) - energy(x - h * e)) / (2 * h) for e in np.eye(len(x))])
    np.testing.assert_allclose(shift_grad, fd_grad, atol=1e-6)


def test_gradient_rule_detects_shared_or_scaled_parameters():
    assert gradient_rule(real_amplitudes(3, reps=1)) == "parameter_shift"
    cost = SparsePauliOp.from_sparse_list([("ZZ", [0, 1], 1.0), ("ZZ", [1, 2], 1.0)], 3)
    assert gradient_rule(qaoa_ansatz(cost, reps=1)) == "finite_difference"


def test_exact_ground_energy_of_ising_chain():
    spec = spec_for(["observables=ising", "circuit.num_qubits=4", "observables.h=0"])
    _, operator = build_workload(spec).observables[0]
    assert exact_ground_energy(operator) == pytest.approx(-3.0)  # -j * (n - 1) at h = 0


def test_session_expiry_ends_the_loop_failed_and_keeps_the_best_so_far():
    overrides = [
        "task=vqe",
        "circuit=efficient_su2",
        "circuit.num_qubits=14",
        "circuit.reps=1",
        "observables=paulis",
        f"observables.terms=[{'Z' * 14}]",
        "primitive.default_precision=0",
        "session.mode=session",
        "task.optimizer.name=adam",
    ]
    # max_time is what 4 of its 50 iterations take here and now (the baseline: its first iteration,
    # one job): on a fast machine as on a loaded one, an iteration finishes and the session expires
    # long before the last one could.
    _, first = _run([*overrides, "task.optimizer.maxiter=1"])
    assert first.status == "FINISHED" and len(first.jobs) == 1
    max_time = round(4 * ran_s(first.jobs[0]), 2)
    _, result = _run([*overrides, f"session.max_time={max_time}", "task.optimizer.maxiter=50"])
    opt = result.optimization
    assert result.status == "FAILED" and result.error_type == "RuntimeJobMaxTimeoutError"
    assert opt["iterations"] >= 1 and opt["best_energy"] is not None
    assert len(opt["optimal_parameters"]) == 56
    assert result.jobs[-1].status == "CANCELLED"


def test_scan_h2_reports_the_landscape_minimum():
    spec = spec_for(["experiment=scan_h2", *FAST])
    result = run_experiment(spec)
    summary = summarize_scan(spec, result)
    assert [axis["parameter"] for axis in summary["axes"]] == ["θ[0]", "θ[2]"]
    assert result.estimator.evs.shape == (25, 25, 1)
    assert summary["minimum"] == pytest.approx(np.nanmin(result.estimator.evs))
    assert H2_EXACT <= summary["minimum"] < H2_EXACT + 0.01


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["task=scan"], "task=scan needs a grid over one or two parameters"),
        (["task=qaoa"], "task='qaoa': needs circuit=qaoa"),
        (["task=vqe", "primitive=sampler"], "task=vqe optimises expectation values"),
        (["task=vqe", "task.optimizer.name=bfgs"], "task.optimizer.name='bfgs': unknown value"),
        (["task=vqe", "task.initial_point.kind=list"], "task.initial_point.values=None: kind=list needs values"),
        (["task=vqe", "circuit=ghz", "observables=paulis"], "task='vqe': the circuit has no parameters to optimise"),
    ],
)
def test_bad_task_configs_are_refused(overrides, message):
    with pytest.raises(ConfigError) as info:
        build_workload(spec_for(overrides))
    assert message in str(info.value)


@pytest.mark.slow
def test_cli_loop_logs_every_iteration_and_resumes_from_run_dir_and_mlflow_id(tmp_path):
    base = [
        "experiment=vqe_h2",
        "task.optimizer.name=spsa",
        "primitive.default_precision=0.05",
        "backend.max_parallel_threads=1",
    ]
    first = run_cli([*base, "task.optimizer.maxiter=5", "hydra.run.dir=first"], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    state = json.loads((tmp_path / "first" / "optimizer_state.json").read_text())
    assert state["iteration"] == 5 and state["optimizer"] == "spsa"
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("qrt_runner")
    (run,) = client.search_runs([experiment.experiment_id])
    history = client.get_metric_history(run.info.run_id, "energy")
    assert sorted(m.step for m in history) == [1, 2, 3, 4, 5]
    assert {a.path for a in client.list_artifacts(run.info.run_id)} >= {
        "optimizer_state.json",
        "optimal_parameters.json",
        "plot.png",
    }

    second = run_cli(
        [*base, "task.optimizer.maxiter=8", f"task.resume_from={tmp_path / 'first'}", "hydra.run.dir=second"],
        cwd=tmp_path,
    )
    assert second.returncode == 0, second.stderr
    resumed = json.loads((tmp_path / "second" / "results.json").read_text())["optimization"]
    assert [h["iteration"] for h in resumed["history"]] == [6, 7, 8]
    assert resumed["evaluations"] == 24

    third = run_cli(
        [*base, "task.optimizer.maxiter=7", f"task.resume_from={run.info.run_id}", "hydra.run.dir=third"], cwd=tmp_path
    )
    assert third.returncode == 0, third.stderr
    assert [
        h["iteration"] for h in json.loads((tmp_path / "third" / "results.json").read_text())["optimization"]["history"]
    ] == [6, 7]
    runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.resumed_from = '{run.info.run_id}'")
    assert len(runs) == 1


@pytest.mark.slow
def test_ctrl_c_ends_the_run_killed_with_the_finished_iterations_kept(tmp_path):
    proc = subprocess.Popen(
        [
            str(QRT_RUN),
            "experiment=vqe_ising",
            "task.optimizer.maxiter=2000",
            "backend.max_parallel_threads=1",
            "hydra.run.dir=out",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    state_file = tmp_path / "out" / "optimizer_state.json"
    deadline = time.time() + HANG_S  # bounds a hang only
    while not state_file.exists():  # written once an iteration has finished
        assert time.time() < deadline and proc.poll() is None, "no iteration finished"
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=HANG_S)
    assert proc.returncode == 1, stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "KILLED"
    assert results["optimization"]["iterations"] >= 1 and results["optimization"]["best_energy"] is not None
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    assert run.info.status == "KILLED"


def test_cobyla_best_energy_counts_evaluations_before_the_first_callback():
    _, result = _run(["experiment=vqe_h2", "task.optimizer.maxiter=8"])
    opt = result.optimization
    assert opt["evaluations"] >= 8 and opt["best_energy"] is not None  # COBYLA's simplex: n + 2 = 8
    assert opt["best_energy"] <= min([h["energy"] for h in opt["history"]] or [np.inf])


def test_results_json_is_valid_json_when_no_iteration_finished(tmp_path):
    overrides = [
        "task=vqe",
        "circuit=efficient_su2",
        "circuit.num_qubits=20",
        "circuit.reps=1",
        "observables=paulis",
        f"observables.terms=[{'Z' * 20}]",
        "primitive.default_precision=0",
        "primitive.max_execution_time=0.5",
        "task.optimizer.name=adam",
    ]
    _, result = _run(overrides)
    assert result.status == "FAILED" and result.optimization["iterations"] == 0
    path = result.write_json(tmp_path / "results.json")
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in results.json"))


@pytest.mark.slow
def test_vqe_h2_on_fake_manila_with_level2_ends_closer_to_exact_than_unmitigated():
    errors = {}
    for mitigation in ("mitigation=none", "mitigation.resilience_level=2"):
        _, result = _run(
            [
                "experiment=vqe_h2",
                "backend=fake_manila",
                "primitive.default_precision=0.01",
                "task.optimizer.maxiter=60",
                mitigation,
            ]
        )
        errors[mitigation] = abs(result.optimization["best_energy"] - H2_EXACT)
    assert errors["mitigation.resilience_level=2"] < errors["mitigation=none"] / 3
