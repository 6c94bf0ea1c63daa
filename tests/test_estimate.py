"""The cost estimate: its shots are the shots a local run spends; it grows linearly; the CLI."""

from __future__ import annotations

import json
import subprocess

import pytest

from conftest import HANG_S, QRT_RUN
from qrt_runner.config.compose import compose_spec
from qrt_runner.execution import cost
from qrt_runner.tasks.estimate import estimate, max_time_warning
from qrt_runner.tasks.runner import build_workload, run_experiment

SMALL = ["tracking=none", "backend.max_parallel_threads=1"]
COARSE = "primitive.default_precision=0.0625"


def _estimate(*overrides: str) -> dict:
    spec = compose_spec([*SMALL, *overrides])
    return estimate(spec, build_workload(spec))


@pytest.mark.parametrize(
    "overrides",
    [
        ["backend=fake_manila", COARSE],
        ["backend=fake_manila", "mitigation=level1", COARSE],
        ["backend=fake_manila", "mitigation=level2", COARSE],
        ["backend=fake_manila", "mitigation=pec", COARSE],
        [
            "backend=fake_manila",
            COARSE,
            "circuit.parameter_values.kind=random",
            "circuit.parameter_values.num_sets=3",
            "session.parameter_sets_per_job=2",
            "circuit=efficient_su2",
            "circuit.num_qubits=2",
            "observables.terms=[ZZ,XI]",
        ],
        ["backend=fake_manila", "primitive=sampler", "primitive.default_shots=256"],
        ["backend=fake_manila", "primitive=sampler", "primitive.default_shots=256", "mitigation=trex"],
    ],
    ids=["level0", "level1", "level2", "pec", "three-sets-two-jobs", "sampler", "sampler-trex"],
)
def test_estimated_shots_are_the_shots_the_run_spends(overrides):
    spec = compose_spec([*SMALL, *overrides])
    workload = build_workload(spec)
    planned = estimate(spec, workload)
    result = run_experiment(spec, workload)
    assert result.status == "FINISHED"
    assert [job["shots"] for job in planned["jobs"]] == [
        job.shots_spent for job in result.jobs
    ]  # counted in the outcomes
    assert [job["parameter_sets"] for job in planned["jobs"]] == [
        stop - start for start, stop in (j.parameter_sets for j in result.jobs)
    ]
    for job, record in zip(planned["jobs"], (result.mitigation or {}).get("jobs") or []):
        assert job["shots"] == record["shots_spent"]  # mitigation_shots_spent
        assert (
            job["circuits"] >= record["num_circuits"]
        )  # (prefixes shared by the simulator count as their continuations)
    for job in result.jobs:  # every job records its estimate next to its usage
        assert job.estimate["shots"] == job.shots_spent and job.estimate["qpu_s"] > cost.JOB_OVERHEAD_S


def test_estimates_grow_linearly_in_shots_randomizations_and_noise_factors():
    base = [
        "backend=fake_manila",
        "mitigation=level2",
        "mitigation.twirling.num_randomizations=8",
        "mitigation.resilience.zne.shot_allocation=equal",  # IBM's split: every factor the same shots
        "mitigation.resilience.zne.randomization_allocation=equal",  # and all the randomisations
    ]
    by_shots = [_estimate(*base, f"primitive.default_shots={n}")["total"] for n in (256, 512, 768)]
    assert by_shots[1]["shots"] - by_shots[0]["shots"] == by_shots[2]["shots"] - by_shots[1]["shots"] > 0
    assert by_shots[1]["qpu_s"] - by_shots[0]["qpu_s"] == pytest.approx(
        by_shots[2]["qpu_s"] - by_shots[1]["qpu_s"], rel=1e-9
    )
    twirls = [
        _estimate(
            *base,
            "primitive.default_shots=256",
            "mitigation.twirling.shots_per_randomization=32",
            f"mitigation.twirling.num_randomizations={r}",
        )["jobs"][0]
        for r in (8, 16, 24)
    ]
    measured = [t["shots"] - t["by_technique"]["trex"]["shots"] for t in twirls]
    assert measured[1] == 2 * measured[0] and measured[2] == 3 * measured[0]
    factors = [
        _estimate(*base, "primitive.default_shots=256", f"mitigation.resilience.zne.noise_factors={f}")["jobs"][0]
        for f in ("[1,3,5]", "[1,3,5,7]", "[1,3,5,7,9]")
    ]
    per_factor = [f["shots"] - f["by_technique"]["trex"]["shots"] for f in factors]
    assert per_factor[1] - per_factor[0] == per_factor[2] - per_factor[1] == per_factor[0] // 3


def test_iterative_tasks_count_jobs_per_iteration_and_at_maxiter():
    est = _estimate(
        "experiment=vqe_h2", "backend=fake_manila", "task.optimizer.name=spsa", "task.optimizer.maxiter=7", COARSE
    )
    assert est["iterations"] == {
        "optimizer": "spsa",
        "maxiter": 7,
        "jobs_per_iteration": 1,
        "parameter_sets_per_job": 3,
        "jobs_at_maxiter": 7,
        "approximate": False,
    }
    assert est["total"]["shots"] == 7 * est["jobs"][0]["shots"] and est["total"]["jobs"] == 7
    assert est["total"]["qpu_s"] == pytest.approx(7 * est["jobs"][0]["qpu_s"])


def test_ideal_simulator_has_no_qpu_time_and_a_short_max_time_warns():
    ideal = _estimate(COARSE)
    assert ideal["total"]["qpu_s"] is None and ideal["total"]["shots"] > 0
    spec = compose_spec([*SMALL, "backend=fake_manila", "session.mode=session", "session.max_time=1", COARSE])
    est = estimate(spec, build_workload(spec))
    assert "session.max_time=1 s is shorter than the estimated QPU time" in max_time_warning(spec, est)
    spec = compose_spec([*SMALL, "backend=fake_manila", "session.mode=session", "session.max_time=600", COARSE])
    assert max_time_warning(spec, estimate(spec, build_workload(spec))) is None


def test_system_limit_derives_from_the_estimate():
    assert cost.system_limit(None) == cost.SYSTEM_LIMIT_CAP_S
    assert cost.system_limit(1.0) == cost.SYSTEM_LIMIT_FLOOR_S
    assert cost.system_limit(50.0) == 50.0 * cost.SYSTEM_LIMIT_MARGIN
    assert cost.system_limit(1e6) == cost.SYSTEM_LIMIT_CAP_S
    spec = compose_spec([*SMALL, "backend=fake_manila", "primitive.max_execution_time=100000", COARSE])
    result = run_experiment(spec, build_workload(spec))
    job = result.jobs[0]
    assert (job.limit, job.limit_s) == ("system", cost.system_limit(job.estimate["qpu_s"]))


@pytest.mark.slow
def test_estimate_command_prints_json_and_refuses_bad_input(tmp_path):
    command = [str(QRT_RUN), "estimate"]
    done = subprocess.run(
        [*command, "--json", "backend=fake_manila", "mitigation=level1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert done.returncode == 0, done.stderr
    est = json.loads(done.stdout)
    assert est["multipliers"]["randomizations"] == 32 and est["total"]["qpu_s"] > 0
    assert not list(tmp_path.iterdir())  # nothing ran, nothing was written
    text = subprocess.run(
        [*command, "backend=fake_manila"], capture_output=True, text=True, cwd=tmp_path, timeout=HANG_S
    )
    assert text.returncode == 0 and "QPU time" in text.stdout
    bad = subprocess.run(
        [*command, "mitigation.twirling.num_randomizations=-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=HANG_S,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "num_randomizations" in bad.stderr
