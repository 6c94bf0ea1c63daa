"""Iterative workloads: VQE and QAOA loops whose every step is one job of the run's mode.

With ``session.mode=session`` all iterations are jobs of one session, under its ``max_time``;
a job that times out, an expired session or Ctrl-C ends the loop, and the best parameters and
energy so far are kept in the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from qrt_runner.config import schema as s
from qrt_runner.config.spec import RunSpec
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.interrupts import describe
from qrt_runner.records.provenance import device_snapshot
from qrt_runner.records.results import JobRecord, RunResult, SamplerOutcome
from qrt_runner.tasks.optimizers import Iteration, Optimizer, OptimizerState, gradient_rule
from qrt_runner.tasks.run_record import package_versions, run_seeds, transpiled_record
from qrt_runner.tasks.runner import job_failures, job_target
from qrt_runner.tasks.workload import Workload

STATE_FILE = "optimizer_state.json"
MAX_EXACT_QUBITS = 14
MAX_BRUTE_FORCE_NODES = 16


def exact_ground_energy(operator: SparsePauliOp) -> float | None:
    """The lowest eigenvalue of ``operator`` (None above 14 qubits)."""
    if operator.num_qubits > MAX_EXACT_QUBITS:
        return None
    if operator.num_qubits <= 5:
        return float(np.linalg.eigvalsh(operator.to_matrix()).min())
    from scipy.sparse.linalg import eigsh

    return float(eigsh(operator.to_matrix(sparse=True), k=1, which="SA")[0][0])


def cut_value(bitstring: str, edges: list[list[float]]) -> float:
    """Weight of the edges cut by ``bitstring`` (little-endian: node i is ``bitstring[-1-i]``)."""
    return float(sum(w for a, b, w in edges if bitstring[-1 - int(a)] != bitstring[-1 - int(b)]))


def max_cut(num_nodes: int, edges: list[list[float]]) -> float | None:
    """The brute-force maximum cut (None above 16 nodes)."""
    if num_nodes > MAX_BRUTE_FORCE_NODES:
        return None
    assignments = np.arange(2**num_nodes)
    total = np.zeros(len(assignments))
    for a, b, w in edges:
        total += w * (((assignments >> int(a)) ^ (assignments >> int(b))) & 1)
    return float(total.max())


def initial_point(config: s.InitialPointConfig, num_parameters: int) -> np.ndarray:
    if config.kind == "zeros":
        return np.zeros(num_parameters)
    if config.kind == "list":
        values = np.asarray(config.values, dtype=float)
        if values.shape != (num_parameters,):
            raise ConfigError(
                "task.initial_point.values",
                config.values,
                f"the circuit has {num_parameters} parameters",
                f"give {num_parameters} values",
            )
        return values
    return np.random.default_rng(config.seed).uniform(config.low, config.high, num_parameters)


def starting_point(spec: RunSpec, workload: Workload, state: OptimizerState | None) -> np.ndarray:
    """The first point of the loop; checks a resumed state fits (raises ConfigError)."""
    task = spec.task
    assert isinstance(task, s.VqeTask)  # task=vqe or qaoa
    num_parameters = workload.circuit.num_parameters
    remaining = task.optimizer.maxiter - (state.iteration if state is not None else 0)
    if task.optimizer.name == "cobyla" and 0 < remaining < num_parameters + 2:
        # SciPy's COBYLA would silently evaluate num_parameters + 2 times instead (it needs a simplex)
        raise ConfigError(
            "task.optimizer.maxiter",
            task.optimizer.maxiter,
            f"leaves COBYLA {remaining} evaluations, and it needs at least {num_parameters + 2} for "
            f"{num_parameters} parameters",
            f"set task.optimizer.maxiter to at least {task.optimizer.maxiter - remaining + num_parameters + 2}, "
            "or use task.optimizer.name=spsa",
        )
    if state is not None:
        if state.optimizer != task.optimizer.name or len(state.x) != num_parameters:
            raise ConfigError(
                "task.resume_from",
                task.resume_from,
                f"was a {state.optimizer} run over {len(state.x)} parameters",
                f"resume with task.optimizer.name={state.optimizer} and the same circuit",
            )
        return np.array(state.x)
    return initial_point(task.initial_point, num_parameters)


def run_variational(
    spec: RunSpec,
    workload: Workload,
    *,
    backend: LocalBackend | None = None,
    device=None,
    state: OptimizerState | None = None,
    on_iteration: Callable[[Iteration, OptimizerState, float], None] | None = None,
) -> RunResult:
    """Minimise ``<H>`` (the first observable) over the circuit parameters; QAOA then samples.

    Args:
        spec: a spec with ``task=vqe`` or ``task=qaoa``.
        workload: its circuit and observables.
        backend: a local backend to reuse.
        device: for ``backend=ibm``, the device (every iteration is a job of one IBM Session in
            session mode); connected from the spec when None.
        state: an optimiser state to continue from (``task.resume_from``).
        on_iteration: called after every iteration with its record, the state and the job time.
    """
    task = spec.task
    assert isinstance(task, s.VqeTask)  # task=vqe or qaoa
    t_start = time.perf_counter()
    target = job_target(spec, backend, device)
    circuit = workload.circuit
    label, hamiltonian = workload.observables[0]
    isa = target.compiler.compile(circuit)
    t_transpiled = time.perf_counter()
    x0 = starting_point(spec, workload, state)
    history: list[dict] = []
    job_time = 0.0  # the last job's

    def objective(points: np.ndarray):
        nonlocal job_time
        job = target.primitive.run([(circuit, [hamiltonian], points)])
        data = job.result()[0].data
        job_time = job.usage_s
        return np.asarray(data.evs).reshape(-1), np.asarray(data.stds).reshape(-1)

    def record(iteration: Iteration, current: OptimizerState) -> None:
        # called by the optimiser with signals held (see optimizers.py), so the iteration count,
        # this history entry, the saved state and the metrics always agree
        history.append({**iteration.__dict__, "job_time_s": job_time})
        if on_iteration is not None:
            on_iteration(iteration, current, job_time)

    rule = gradient_rule(circuit)
    optimizer = Optimizer(task.optimizer, rule, record)
    current = state or OptimizerState(task.optimizer.name, x=list(map(float, x0)), best_x=list(map(float, x0)))
    status, error, error_type = "FINISHED", None, None
    try:
        optimizer.run(objective, current)
    except job_failures() as exc:
        status, error, error_type = "FAILED", str(exc), type(exc).__name__
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (qrt_runner.interrupts)
        status, error, error_type = "KILLED", describe(exc), type(exc).__name__
    t_optimized = time.perf_counter()

    best_x = np.array(current.best_x if current.best_x else x0)
    exact = exact_ground_energy(hamiltonian)
    optimization = {
        "optimizer": task.optimizer.name,
        "gradient_rule": rule,
        "objective": label,
        "iterations": current.iteration,
        "evaluations": current.evaluations,
        "history": history,
        "optimal_parameters": best_x.tolist(),
        "best_energy": current.best_energy if np.isfinite(current.best_energy) else None,
        "best_std": current.best_std if np.isfinite(current.best_std) else None,
        "final_energy": history[-1]["energy"] if history else None,
        "exact_energy": exact,
        "error_to_exact": (current.best_energy - exact)
        if exact is not None and np.isfinite(current.best_energy)
        else None,
        "resumed_from": task.resume_from,
        "state": current.to_dict(),
    }
    sampler_outcome = None
    try:
        if isinstance(task, s.QaoaTask) and status == "FINISHED":
            sampler_outcome = _sample_solution(spec, target, workload, best_x, optimization)
    except job_failures() as exc:
        status, error, error_type = "FAILED", f"final sampling: {exc}", type(exc).__name__
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (qrt_runner.interrupts)
        status, error, error_type = "KILLED", describe(exc), type(exc).__name__
    finally:
        target.close()

    assert target.jobs is not None  # both targets give it
    result = RunResult(
        status=status,
        primitive=spec.primitive.name,
        backend=target.name,
        mode=spec.session.mode,
        session_id=target.session_id,
        parameter_names=[p.name for p in circuit.parameters],
        parameter_values=best_x,
        jobs=[JobRecord.from_job(job, (0, 0)) for job in target.jobs()],
        session=target.session_record(),
        seeds=run_seeds(spec),
        versions=dict(package_versions()),
        transpiled=transpiled_record(isa),
        device=device_snapshot(target.device),
        simulation=workload.simulation,
        task=task.name,
        optimization=optimization,
        sampler=sampler_outcome,
        error=error,
        error_type=error_type,
    )
    result.timings = {
        "time_build_s": 0.0,
        "time_transpile_s": t_transpiled - t_start,
        "time_execute_s": time.perf_counter() - t_transpiled,
        "time_optimize_s": t_optimized - t_transpiled,
        "time_total_s": time.perf_counter() - t_start,
    }
    return result


def _sample_solution(
    spec: RunSpec, target, workload: Workload, best_x: np.ndarray, optimization: dict
) -> SamplerOutcome:
    """Sample the optimised QAOA circuit and report the best cut found against the optimum."""
    task = spec.task
    assert isinstance(task, s.QaoaTask) and isinstance(spec.circuit, s.QaoaCircuit)  # checked by the spec
    measured = workload.circuit.measure_all(inplace=False)
    sampler = target.sampler(task.final_shots, spec.primitive.max_execution_time)
    counts = sampler.run([(measured, best_x)]).result()[0].data.meas.get_counts()
    edges = spec.circuit.edges
    cuts = {bits: cut_value(bits, edges) for bits in counts}
    best_bits = max(cuts, key=cuts.__getitem__)
    optimum = max_cut(spec.circuit.num_qubits, edges)
    expected = sum(cuts[bits] * n for bits, n in counts.items()) / sum(counts.values())
    optimization.update(
        best_bitstring=best_bits,
        best_cut=cuts[best_bits],
        expected_cut=expected,
        optimal_cut=optimum,
        approximation_ratio=expected / optimum if optimum else None,
        best_cut_ratio=cuts[best_bits] / optimum if optimum else None,
        found_optimum=bool(optimum is not None and cuts[best_bits] >= optimum - 1e-9),
    )
    return SamplerOutcome([counts], task.final_shots, None)
