"""``qrt-run estimate``: what a configured run will cost, before anything runs.

The jobs are planned exactly as the run would plan them (the same primitives, circuits,
randomisations and shots; nothing is simulated), so the shot counts are those the local run
spends. QPU time follows the model in :mod:`qrt_runner.execution.cost`. For ``backend=ibm`` the plan is
qrt_runner's local one on the device (its fake twin where one exists, so no account is needed):
where the options leave randomisations to IBM's service, it may choose differently.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from qrt_runner.config import schema as s
from qrt_runner.config.spec import RunSpec
from qrt_runner.execution import cost as cost_model
from qrt_runner.execution.backends import kind_of

#: Jobs per optimiser iteration and parameter sets per job; (jobs, sets, approximate).
#: SciPy's methods evaluate as they see fit: COBYLA about once per iteration (its maxiter counts
#: evaluations), Nelder-Mead about twice, Powell along every direction (~10 per parameter).
_ITERATION_SHAPE = {
    "spsa": lambda p: (1, 3, False),
    "adam": lambda p: (1, 2 * p + 1, False),
    "l-bfgs-b": lambda p: (1, 2 * p + 1, True),
    "cobyla": lambda p: (1, 1, True),
    "nelder-mead": lambda p: (2, 1, True),
    "powell": lambda p: (10 * p, 1, True),
}


def _local_backend(spec: RunSpec, device):
    from qrt_runner.execution.backend import LocalBackend, ideal_compile_target, shared_compiler

    target = (
        device
        if device is not None
        else ideal_compile_target(spec.backend.method if isinstance(spec.backend, s.BackendConfig) else "automatic")
    )
    compiler = shared_compiler(
        target, spec.transpile.optimization_level, spec.transpile.seed_transpiler, spec.transpile.layout
    )
    name = device.name if device is not None else "aer"
    method = getattr(spec.backend, "method", "automatic")
    return LocalBackend(
        name,
        device,
        method,
        1,
        getattr(spec.backend, "seed_simulator", 0),
        compiler,
        noise=getattr(spec.backend, "noise", "device"),
    )


def _primitive(spec: RunSpec, backend):
    from qrt_runner.execution.modes import ExecutionMode
    from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
    from qrt_runner.primitives.sampler import Sampler, SamplerOptions

    prim, mitigation = spec.primitive, _without_learning(spec.effective_mitigation)
    mode = ExecutionMode("job", backend.executor)
    if spec.is_estimator or spec.task.name in ("vqe", "qaoa"):
        assert isinstance(prim, s.EstimatorConfig)  # primitive=estimator (vqe and qaoa are checked to use it)
        return Estimator(
            backend,
            mode,
            EstimatorOptions(prim.default_precision, prim.default_shots, prim.max_execution_time, mitigation),
        )
    return Sampler(
        backend,
        mode,
        # the spec refuses a sampler without shots (primitive.default_shots=null)
        SamplerOptions(
            cast(int, prim.default_shots), prim.max_execution_time, mitigation if mitigation.active else None
        ),
    )


def _without_learning(mitigation):
    """The mitigation to plan with: a learned layer model is planned with the device's own (the
    same layers and channels; the estimate learns nothing), its learning costed on its own."""
    import dataclasses

    if mitigation.layer_noise.source != "learned":
        return mitigation
    return dataclasses.replace(mitigation, layer_noise=dataclasses.replace(mitigation.layer_noise, source="device"))


def _learning(spec: RunSpec, backend, circuit) -> dict[str, Any] | None:
    """The cost of learning the layer noise (``mitigation.layer_noise.source=learned``), or None."""
    mitigation = spec.effective_mitigation
    if not (mitigation.needs_layer_noise and mitigation.layer_noise.source == "learned") or backend.device is None:
        return None
    from qrt_runner.mitigation.noise_learning import LearningOptions
    from qrt_runner.mitigation.noise_learning_cost import learning_estimate

    chosen = mitigation.layer_noise
    options = LearningOptions(
        chosen.layer_pair_depths, chosen.num_randomizations, chosen.shots_per_randomization, chosen.max_layers_to_learn
    )
    isa = backend.compiler.compile(circuit)
    dressed = mitigation.twirling.dressing_noise
    return learning_estimate(
        isa.circuit, isa.physical_qubits, backend.device, options, mitigation.twirling.strategy, dressed
    )


def estimate(spec: RunSpec, workload) -> dict[str, Any]:
    """The planned jobs of a run, their shots with every mitigation multiplier, and QPU time."""
    from qrt_runner.primitives.sampler import Sampler, SamplerOptions
    from qrt_runner.tasks.runner import job_chunks

    device = kind_of(spec.backend).device(spec)  # for backend=ibm its fake twin where one exists
    backend = _local_backend(spec, device)
    primitive = _primitive(spec, backend)
    circuit = workload.circuit
    iterative = spec.task.name in ("vqe", "qaoa")
    if iterative:
        assert isinstance(spec.task, s.VqeTask)  # task=vqe or qaoa
        jobs_per_iteration, sets, approximate = _ITERATION_SHAPE[spec.task.optimizer.name](circuit.num_parameters)
        points = np.zeros((sets, circuit.num_parameters))
        planned = [(primitive.plan([(circuit, [workload.observables[0][1]], points)]), sets)]
    else:
        values = workload.parameter_values
        num_sets = int(np.prod(values.shape[:-1])) if values.ndim > 1 else 1
        flat = values.reshape(num_sets, -1) if values.size else values
        per_job = spec.session.parameter_sets_per_job or num_sets
        planned = []
        for start, stop in job_chunks(num_sets, per_job):
            chunk = flat[start:stop] if values.size else values
            pub = (circuit, [op for _, op in workload.observables], chunk) if spec.is_estimator else (circuit, chunk)
            planned.append((primitive.plan([pub]), stop - start))
    jobs = [_job(plan, sets) for plan, sets in planned]
    out: dict[str, Any] = {
        "backend": f"ibm:{spec.backend.device or 'least busy'}"
        if isinstance(spec.backend, s.IbmBackendConfig)  # backend=ibm
        else spec.backend.name,
        "device": device.name if device is not None else None,
        "task": spec.task.name,
        "primitive": "estimator" if (spec.is_estimator or iterative) else "sampler",
        "pubs_per_job": 1,
        "parameter_sets": sum(job["parameter_sets"] for job in jobs),
        "multipliers": dict(planned[0][0].multipliers or {}),
        "jobs": jobs,
    }
    total_jobs = len(jobs)
    qpu = [job["qpu_s"] for job in jobs]
    total_qpu = sum(qpu) if all(q is not None for q in qpu) else None
    total_shots = sum(job["shots"] for job in jobs)
    if iterative:
        assert isinstance(spec.task, s.VqeTask)  # task=vqe or qaoa
        maxiter = spec.task.optimizer.maxiter
        total_jobs = jobs_per_iteration * maxiter
        total_shots *= total_jobs
        total_qpu = total_qpu * total_jobs if total_qpu is not None else None
        out["iterations"] = {
            "optimizer": spec.task.optimizer.name,
            "maxiter": maxiter,
            "jobs_per_iteration": jobs_per_iteration,
            "parameter_sets_per_job": sets,
            "jobs_at_maxiter": total_jobs,
            "approximate": approximate,
        }
        if spec.task.name == "qaoa":
            assert isinstance(spec.task, s.QaoaTask)  # task=qaoa
            sampler = Sampler(backend, options=SamplerOptions(spec.task.final_shots, spec.primitive.max_execution_time))
            final = _job(sampler.plan([(circuit.measure_all(inplace=False), np.zeros(circuit.num_parameters))]), 1)
            out["final_sampling_job"] = final
            total_jobs += 1
            total_shots += final["shots"]
            total_qpu = total_qpu + final["qpu_s"] if total_qpu is not None and final["qpu_s"] is not None else None
    learning = _learning(spec, backend, circuit)
    if learning is not None:  # one more job, before the others
        out["layer_noise_learning"] = learning
        total_jobs += 1
        total_shots += learning["shots"]
        total_qpu = total_qpu + learning["qpu_s"] if total_qpu is not None else None
    out["total"] = {"jobs": total_jobs, "shots": total_shots, "qpu_s": total_qpu}
    out["system_limit_s"] = [cost_model.system_limit(job["qpu_s"]) for job in jobs]
    out["model"] = {
        "qpu_s": "job_overhead + sum over circuits of bindings * (binding_overhead + shots * (duration + rep_delay))",
        "job_overhead_s": cost_model.JOB_OVERHEAD_S,
        "binding_overhead_s": cost_model.BINDING_OVERHEAD_S,
        "rep_delay_s": cost_model.rep_delay(device),
    }
    return out


def _job(planned, sets: int) -> dict[str, Any]:
    return {"parameter_sets": sets, **planned.cost.record()}


def format_estimate(est: dict[str, Any]) -> str:
    """The estimate as a short human-readable table."""
    lines = [
        f"qrt-run estimate: {est['task']} with the {est['primitive']} on {est['backend']}"
        + (f" (durations of {est['device']})" if est["device"] else " (ideal simulator: no QPU time)")
    ]
    jobs = est["jobs"]
    lines.append(f"  parameter sets: {est['parameter_sets']} in {len(jobs)} job(s) of 1 PUB")
    width = max((len(name) for name in est["multipliers"]), default=0) + 1
    for name, value in est["multipliers"].items():
        lines.append(f"  {name:<{max(width, 28)}} {value}")
    lines.append("  job  sets  circuits  bindings       shots   QPU s (est.)")
    for index, job in enumerate(jobs[:10]):
        qpu = f"{job['qpu_s']:.1f}" if job["qpu_s"] is not None else "-"
        lines.append(
            f"  {index:>3} {job['parameter_sets']:>5} {job['circuits']:>9} {job['bindings']:>9} {job['shots']:>11,} {qpu:>14}"
        )
    if len(jobs) > 10:
        lines.append(f"  ... {len(jobs) - 10} more job(s)")
    for job in jobs[:1]:
        parts = ", ".join(f"{role} {entry['shots']:,}" for role, entry in job["by_technique"].items())
        lines.append(f"  shots by technique (job 0): {parts}")
    if "iterations" in est:
        it = est["iterations"]
        approx = "about " if it["approximate"] else ""
        lines.append(
            f"  {it['optimizer']}: {approx}{it['jobs_per_iteration']} job(s) per iteration of "
            f"{it['parameter_sets_per_job']} parameter set(s); {approx}{it['jobs_at_maxiter']} jobs at maxiter={it['maxiter']}"
        )
    if "final_sampling_job" in est:
        lines.append(f"  final sampling: {est['final_sampling_job']['shots']:,} shots")
    if "layer_noise_learning" in est:
        learn = est["layer_noise_learning"]
        lines.append(
            f"  layer noise learning: {learn['layers']} layer(s) ({learn['layers_not_learned']} more not learned), "
            f"{learn['bindings']:,} randomised circuits, {learn['shots']:,} shots, QPU {learn['qpu_s']:.1f} s, "
            f"simulator about {learn['simulator_wall_s']:.0f} s"
        )
    total = est["total"]
    qpu = f"{total['qpu_s']:.1f} s ({total['qpu_s'] / 60:.1f} min)" if total["qpu_s"] is not None else "-"
    lines.append(f"  total: {total['jobs']} job(s), {total['shots']:,} shots, QPU time {qpu}")
    if est["device"]:
        model = est["model"]
        lines.append(
            f"  model: {model['job_overhead_s']:g} s per job + {model['binding_overhead_s'] * 1e3:g} ms per binding + "
            f"shots x (circuit duration + rep delay {model['rep_delay_s'] * 1e6:g} us); see the README"
        )
    return "\n".join(lines)


def max_time_warning(spec: RunSpec, est: dict[str, Any]) -> str | None:
    """A warning when a session or batch's ``max_time`` is shorter than the estimated QPU time."""
    total = est["total"]["qpu_s"]
    max_time = spec.session.max_time
    if spec.session.mode == "job" or max_time is None or total is None or max_time >= total:
        return None
    return (
        f"qrt-run: warning: session.max_time={max_time:g} s is shorter than the estimated QPU time of "
        f"{total:.0f} s ({est['total']['jobs']} jobs): the {spec.session.mode} may expire before the run ends "
        f"(raise session.max_time, or see qrt-run estimate)"
    )
