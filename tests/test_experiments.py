"""Every shipped experiment (``experiments/*.yaml``, found by glob) runs, on small sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO, compose_config
from qrt_runner.config.spec import build_spec

EXPERIMENTS = sorted(path.stem for path in (REPO / "experiments").glob("*.yaml"))


def _small(name: str) -> list[str]:
    """Overrides that keep the experiment what it is, only smaller (fewer shots and iterations)."""
    cfg = compose_config([f"experiment={name}"])
    overrides = [f"experiment={name}", "backend.max_parallel_threads=1", "tracking=none"]
    if cfg.task.name in ("vqe", "qaoa"):
        overrides += [
            "task.optimizer.maxiter=8"
        ]  # COBYLA's least for 6 parameters + (["task.final_shots=64"] if cfg.task.name == "qaoa" else [])
    if cfg.primitive.name == "sampler":
        overrides.append("primitive.default_shots=64")
    elif cfg.primitive.default_precision > 0:
        overrides.append("primitive.default_precision=0.2")
    if cfg.primitive.name == "estimator" and cfg.primitive.default_shots:
        overrides.append("primitive.default_shots=256")
    if cfg.circuit.name == "kicked_ising":  # the same utility experiment on a smaller patch
        overrides += ["circuit.num_qubits=12", "circuit.steps=2"]
    return overrides


def test_the_experiments_folder_is_found():
    assert len(EXPERIMENTS) >= 10 and "default" in EXPERIMENTS


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_runs_on_small_sizes(name):
    from qrt_runner.tasks.runner import build_workload, run_experiment
    from qrt_runner.tasks.variational import run_variational

    spec = build_spec(compose_config(_small(name)))
    workload = build_workload(spec)
    result = run_variational(spec, workload) if spec.task.name in ("vqe", "qaoa") else run_experiment(spec, workload)
    assert result.status == "FINISHED", result.error
    if spec.task.name in ("vqe", "qaoa"):
        assert result.optimization["evaluations"] >= 1 and result.optimization["best_energy"] is not None
    else:
        assert (result.estimator is not None) == spec.is_estimator and (result.sampler is not None) != spec.is_estimator
    assert Path(REPO / "experiments" / f"{name}.yaml").read_text().startswith("# @package _global_")
