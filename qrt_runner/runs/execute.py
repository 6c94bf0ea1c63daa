"""The third step of a run: its jobs, or its optimisation loop with each iteration recorded as it
comes; and the results of runs that stopped before or failed during it.
"""

from __future__ import annotations

import json
import os
import time

from qrt_runner import interrupts
from qrt_runner.runs.output import print_progress
from qrt_runner.runs.point import Point
from qrt_runner.runs.prepare import Prepared

__all__ = ["close_failed", "execute", "stopped_early"]


_STATE_UPLOAD_S = 10.0  # how often an optimisation's state is uploaded during the run


def execute(prepared: Prepared, point: Point, tracker):
    """Run the jobs or the optimisation loop (a job that fails or is interrupted ends the run
    FAILED or KILLED with what finished; the result says so)."""
    from qrt_runner.execution import ibm
    from qrt_runner.tasks.runner import run_experiment
    from qrt_runner.tasks.scan import summarize_scan

    spec = prepared.spec
    print(
        f"qrt-run: {spec.primitive.name} on {spec.backend.name} ({spec.session.mode} mode) {' '.join(point.overrides)}",
        flush=True,
    )
    if spec.backend.name == "ibm" and spec.backend.channel == ibm.LOCAL_CHANNEL:
        print("qrt-run: note: " + ibm.LOCAL_NOTE.format(device=spec.backend.device), flush=True)
    plan = prepared.workload.simulation
    if plan is not None:
        print(
            f"  simulation: {plan['method']} ({plan['reason']}; {plan['memory']}, about {plan['estimated_seconds']:.2g} s"
            " per circuit)",
            flush=True,
        )
    if spec.task.name in ("vqe", "qaoa"):
        return _run_loop(prepared, point, tracker)
    result = run_experiment(spec, prepared.workload, device=prepared.device, progress=print_progress)
    if spec.task.name == "scan":
        result.scan = summarize_scan(spec, result)
    return result


def _run_loop(prepared: Prepared, point: Point, tracker):
    """A VQE/QAOA loop: per iteration, save the optimiser state, log metrics, draw progress."""
    from qrt_runner.runs.progress import ProgressBar
    from qrt_runner.tasks.variational import STATE_FILE, run_variational

    spec, run_dir = prepared.spec, point.run_dir
    bar = ProgressBar(spec.task.optimizer.maxiter)
    uploaded = [time.monotonic()]

    def on_iteration(iteration, current, job_time):
        state = run_dir / STATE_FILE
        tmp = state.with_suffix(".tmp")
        tmp.write_text(json.dumps(current.to_dict()))
        os.replace(tmp, state)  # a kill never leaves half a state behind
        if tracker is not None:
            if time.monotonic() - uploaded[0] >= _STATE_UPLOAD_S:  # the store has a recent state to resume from
                tracker.log_artifact(state)
                uploaded[0] = time.monotonic()
            tracker.log_metrics(
                {
                    "energy": iteration.energy,
                    "energy_std": iteration.std,
                    "best_energy_so_far": iteration.best_energy,
                    "grad_norm": iteration.grad_norm,
                    "evaluations_used": iteration.evaluations,
                    "job_time_s": job_time,
                },
                step=iteration.iteration,
            )
        bar.update(iteration.iteration, iteration.energy, iteration.std, iteration.best_energy)

    try:
        result = run_variational(
            spec, prepared.workload, device=prepared.device, state=prepared.state, on_iteration=on_iteration
        )
    finally:
        bar.close()
    names = result.parameter_names
    assert result.optimization is not None  # run_variational() always reports it
    (run_dir / "optimal_parameters.json").write_text(
        json.dumps(dict(zip(names, result.optimization["optimal_parameters"])), indent=2, ensure_ascii=False)
    )
    return result


def stopped_early(prepared: Prepared, exc: KeyboardInterrupt):
    """The result of a run interrupted before its first job: KILLED, nothing finished."""
    from qrt_runner.records.results import RunResult
    from qrt_runner.tasks.runner import package_versions

    spec, workload = prepared.spec, prepared.workload
    return RunResult(
        status="KILLED",
        primitive=spec.primitive.name,
        backend=spec.backend.name,
        mode=spec.session.mode,
        session_id=None,
        parameter_names=[p.name for p in workload.circuit.parameters],
        parameter_values=workload.parameter_values,
        versions=dict(package_versions()),
        task=spec.task.name,
        error=interrupts.describe(exc),
        error_type=type(exc).__name__,
    )


def close_failed(point: Point, tracker, exc: BaseException) -> None:
    """Never leave a run RUNNING: an unexpected error closes its record FAILED (a record not
    opened yet is left unwritten: an end without a start is no record ``qrt-run sync`` can upload)."""
    reason = f"{type(exc).__name__}: {exc}"
    if tracker is not None and tracker.started:
        tracker.end("FAILED", reason)
    if point.in_sweep:
        point.write_point_file({"status": "FAILED", "error": reason})
