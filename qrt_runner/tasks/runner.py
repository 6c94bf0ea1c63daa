"""One experiment end to end: spec -> circuits -> ISA -> jobs in a mode -> RunResult.

This is the in-process entry point (``run_experiment``); the CLI adds Hydra, the run directory
and MLflow around it. :func:`job_target` says where the jobs go (the local simulator or IBM
Quantum). The workload comes from :mod:`.workload`, the record's provenance from
:mod:`.run_record`, and a sampler run's fidelities from :mod:`.fidelity`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
from qiskit.providers import BackendV2

from qrt_runner import interrupts
from qrt_runner.config import schema as s
from qrt_runner.config.spec import RunSpec
from qrt_runner.execution import ibm
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.modes import ExecutionMode, SessionClosedError
from qrt_runner.execution.simulation.executor import SimulationFailed, SimulatorDied, default_executor
from qrt_runner.execution.transpile import IsaCompiler
from qrt_runner.interrupts import describe
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler, SamplerOptions
from qrt_runner.records.provenance import device_snapshot
from qrt_runner.records.results import EstimatorOutcome, JobRecord, RunResult, SamplerOutcome
from qrt_runner.tasks.fidelity import ideal_fidelities
from qrt_runner.tasks.run_record import package_versions, run_seeds, transpiled_record
from qrt_runner.tasks.workload import Workload, build_workload


def job_failures() -> tuple[type[BaseException], ...]:
    """The errors a job can end with that end the run FAILED, not the process (evaluated when one
    is raised, so ``qiskit_ibm_runtime`` is imported only then or when already in use)."""
    from qiskit_ibm_runtime.exceptions import RuntimeJobFailureError, RuntimeJobMaxTimeoutError

    return (RuntimeJobMaxTimeoutError, RuntimeJobFailureError, SessionClosedError, SimulatorDied, SimulationFailed)


def job_chunks(num_sets: int, per_job: int) -> list[tuple[int, int]]:
    if per_job <= 0 or per_job >= num_sets:
        return [(0, num_sets)]
    return [(start, min(start + per_job, num_sets)) for start in range(0, num_sets, per_job)]


def run_experiment(
    spec: RunSpec,
    workload: Workload | None = None,
    backend: LocalBackend | None = None,
    device: BackendV2 | None = None,
    progress: Callable[[int, int, object], None] | None = None,
) -> RunResult:
    """Run a validated spec and return its result (never raises for job failures).

    A job cancelled for its time limit, or refused by an expired session, ends the run FAILED
    with the reason; the results of the jobs that finished are kept (NaN / None elsewhere).

    Args:
        spec: the validated experiment.
        workload: its circuit, observables and parameters (built from ``spec`` when None).
        backend: a local backend to reuse (its transpile cache too); built from ``spec`` when None.
        device: for ``backend=ibm``, the device to use instead of connecting to IBM Quantum
            (any ``BackendV2``; a fake device runs in qiskit-ibm-runtime's local testing mode).
        progress: called as ``progress(finished, total, job)`` after each job's result arrives.
    """
    t_start = time.perf_counter()
    if spec.backend.local:
        default_executor().warm_up()
    if workload is None:
        workload = build_workload(spec)
    t_built = time.perf_counter()
    target = job_target(spec, backend, device)
    isa = target.compiler.compile(workload.circuit)
    t_transpiled = time.perf_counter()

    values = workload.parameter_values
    param_shape = values.shape[:-1]
    num_sets = int(np.prod(param_shape)) if param_shape else 1
    flat = values.reshape(num_sets, values.shape[-1])
    has_params = flat.shape[1] > 0
    result = RunResult(
        status="FINISHED",
        primitive=spec.primitive.name,
        backend=target.name,
        mode=spec.session.mode,
        session_id=target.session_id,
        parameter_names=[p.name for p in workload.circuit.parameters],
        parameter_values=values,
        versions=dict(package_versions()),
        seeds=run_seeds(spec),
        transpiled=transpiled_record(isa),
        device=device_snapshot(target.device),
        simulation=workload.simulation,
    )
    primitive = target.primitive
    if spec.is_estimator:
        labels = [label for label, _ in workload.observables]
        evs = np.full((num_sets, len(labels)), np.nan)
        stds = np.full_like(evs, np.nan)
        observables = [op for _, op in workload.observables]
    else:
        counts: list[dict[str, int] | None] = [None] * num_sets
        quasi: list[dict[str, float] | None] = [None] * num_sets
        nearest: list[dict[str, float] | None] = [None] * num_sets
        has_nearest = False
        calibration = None

    submitted: list[tuple[tuple[int, int], Any]] = []
    diagnostics: list[dict] = []
    failures: list[BaseException] = []
    merged: set[int] = set()

    def take(number: int, start: int, stop: int, job: Any, pub_result: Any) -> None:
        """Merge a finished job's PUB result into the run's arrays."""
        nonlocal calibration, has_nearest
        if "mitigation" in pub_result.metadata:
            diagnostics.append(
                {"job_id": job.job_id(), "parameter_sets": [start, stop], **pub_result.metadata["mitigation"]}
            )
        if progress is not None:
            progress(number, len(submitted), job)
        if spec.is_estimator:
            evs[start:stop] = np.asarray(pub_result.data.evs).reshape(stop - start, len(labels))
            stds[start:stop] = np.asarray(pub_result.data.stds).reshape(stop - start, len(labels))
        else:
            joined = pub_result.join_data()
            for offset in range(stop - start):
                counts[start + offset] = joined[offset].get_counts() if has_params else joined.get_counts()
            if "quasi_dists" in pub_result.metadata:
                quasi[start:stop] = pub_result.metadata["quasi_dists"]
                calibration = pub_result.metadata["readout_calibration"]
            if "nearest_probability_dists" in pub_result.metadata:
                nearest[start:stop] = pub_result.metadata["nearest_probability_dists"]
                has_nearest = True
        merged.add(number)

    try:
        for start, stop in job_chunks(num_sets, spec.session.parameter_sets_per_job):
            chunk = flat[start:stop]
            pub: tuple[Any, ...]
            if spec.is_estimator:
                pub = (
                    (workload.circuit, observables, chunk[:, None, :])
                    if has_params
                    else (workload.circuit, observables)
                )
            else:
                pub = (workload.circuit, chunk) if has_params else (workload.circuit,)
            submitted.append(((start, stop), primitive.run([pub])))
        for number, ((start, stop), job) in enumerate(submitted, start=1):
            try:
                pub_result = job.result()[0]
            except job_failures() as exc:  # jobs are independent: keep collecting the others
                failures.append(exc)
                merged.add(number)
                continue
            with interrupts.deferred():  # a finished job is merged whole
                take(number, start, stop, job, pub_result)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (qrt_runner.interrupts)
        result.status, result.error, result.error_type = "KILLED", describe(exc), type(exc).__name__
        for number, ((start, stop), job) in enumerate(submitted, start=1):  # jobs that finished meanwhile
            if number not in merged and job.done():
                try:
                    take(number, start, stop, job, job.result()[0])
                except job_failures():
                    pass
    finally:
        target.close()
    if failures and result.status == "FINISHED":
        first = failures[0]
        others = f" ({len(failures) - 1} more job(s) failed)" if len(failures) > 1 else ""
        result.status, result.error, result.error_type = "FAILED", f"{first}{others}", type(first).__name__
    t_executed = time.perf_counter()

    result.jobs = [JobRecord.from_job(job, span) for span, job in submitted]
    result.session = target.session_record()
    shots = spec.shots
    if spec.effective_mitigation.active:
        result.mitigation = {"effective": spec.effective_mitigation.to_dict(), "jobs": diagnostics}
    if spec.is_estimator:
        assert isinstance(spec.primitive, s.EstimatorConfig)  # primitive=estimator
        result.estimator = EstimatorOutcome(
            labels,
            evs.reshape(param_shape + (len(labels),)),
            stds.reshape(param_shape + (len(labels),)),
            shots,
            spec.primitive.default_precision,
        )
    else:
        result.sampler = SamplerOutcome(counts, shots, ideal_fidelities(workload.circuit, flat, counts))
        if calibration is not None:
            clipped = [None if q is None else {k: max(v, 0.0) for k, v in q.items()} for q in quasi]
            result.sampler.quasi_dists = quasi
            if has_nearest:
                result.sampler.nearest_probability_dists = nearest
                result.sampler.hellinger_fidelity_nearest = ideal_fidelities(workload.circuit, flat, nearest)
            result.sampler.hellinger_fidelity_mitigated = ideal_fidelities(workload.circuit, flat, clipped)
            result.sampler.readout_calibration = calibration
    result.timings = {
        "time_build_s": t_built - t_start,
        "time_transpile_s": t_transpiled - t_built,
        "time_execute_s": t_executed - t_transpiled,
        "time_total_s": time.perf_counter() - t_start,
    }
    return result


class _Primitive(Protocol):
    """What a run asks of a primitive (qrt_runner's own, or IBM's through ``ibm.IbmPrimitive``)."""

    def run(self, pubs: list[Any], /) -> Any: ...


@dataclass
class _Target:
    """Where a run's jobs go: a local backend in an emulated mode, or IBM Quantum."""

    name: str
    compiler: IsaCompiler
    primitive: _Primitive
    session_id: str | None
    close: Callable[[], None]
    device: BackendV2 | None = None
    sampler: Callable[[int, float], object] | None = None  # a Sampler on the same backend and mode
    jobs: Callable[[], list] | None = None  # the jobs run so far, in submission order
    session_record: Callable[[], dict | None] = lambda: None  # the session's limits and state history


def job_target(spec: RunSpec, backend: LocalBackend | None, device: BackendV2 | None) -> _Target:
    """Where a run's jobs go: the local simulator for local backend kinds, IBM Quantum otherwise."""
    return local_target(spec, backend) if spec.backend.local else ibm_target(spec, device)


def local_target(spec: RunSpec, backend: LocalBackend | None) -> _Target:
    executor = default_executor()
    if backend is None:
        assert isinstance(spec.backend, s.BackendConfig)  # a local target: backend=aer or fake_<device>
        backend = LocalBackend.create(
            spec.backend.name,
            method=spec.backend.method,
            threads=spec.backend.max_parallel_threads,
            seed_simulator=spec.backend.seed_simulator,
            optimization_level=spec.transpile.optimization_level,
            seed_transpiler=spec.transpile.seed_transpiler,
            executor=executor,
            initial_layout=spec.transpile.layout,
            noise=spec.backend.noise,
        )
    mode = ExecutionMode(spec.session.mode, backend.executor, spec.session.max_time, spec.session.interactive_ttl)
    prim = spec.primitive
    if spec.is_estimator:
        assert isinstance(prim, s.EstimatorConfig)  # primitive=estimator
        options = EstimatorOptions(
            prim.default_precision, prim.default_shots, prim.max_execution_time, spec.effective_mitigation
        )
        primitive = Estimator(backend, mode, options)
    else:
        mitigation = spec.effective_mitigation if spec.effective_mitigation.active else None
        # the spec refuses a sampler without shots (primitive.default_shots=null)
        default_shots = cast(int, prim.default_shots)
        primitive = Sampler(backend, mode, SamplerOptions(default_shots, prim.max_execution_time, mitigation))

    def sampler(shots: int, max_execution_time: float):
        return Sampler(backend, mode, SamplerOptions(shots, max_execution_time))

    return _Target(
        backend.name,
        backend.compiler,
        primitive,
        mode.session_id,
        mode.cancel,
        backend.device,
        sampler,
        lambda: list(mode.jobs),
        mode.record,
    )


def ibm_target(spec: RunSpec, device: BackendV2 | None) -> _Target:
    """Jobs of qiskit-ibm-runtime's primitives in the run's IBM mode (a Session, a Batch or jobs)."""
    device = device if device is not None else ibm.connect(spec)
    mode = ibm.open_mode(spec.session.mode, device, spec.session.max_time)
    primitive = ibm.IbmPrimitive(spec, device, mode)
    session_id = getattr(mode, "session_id", None)
    close = getattr(mode, "close", None) if mode is not device else None
    jobs = primitive.jobs

    def sampler(shots: int, max_execution_time: float):
        return ibm.IbmPrimitive(spec, device, mode, sampler_shots=shots, jobs=jobs)

    return _Target(
        f"ibm:{device.name}",
        primitive.compiler,
        primitive,
        session_id,
        close or (lambda: None),
        device,
        sampler,
        lambda: list(jobs),
    )
