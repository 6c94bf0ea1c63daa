"""The last step of a run: ``results.json``, artifacts, the tracking record's end and the outcome."""

from __future__ import annotations

import math

from qrt_runner.runs import outcome
from qrt_runner.runs.output import print_summary
from qrt_runner.runs.point import Point
from qrt_runner.runs.prepare import Prepared

__all__ = ["record"]


def record(prepared: Prepared, point: Point, tracker, result) -> float:
    """Write and upload what the run produced; returns its objective.

    ``results.json`` is written and the summary printed here. The rest (plots, circuit files,
    the upload, the run's end, ``point.json``) follows at once, or, for a sweep point that runs
    in the process that closes the sweep, on a background thread while the next point
    runs (:mod:`~qrt_runner.background`).
    """
    from qrt_runner.records.provenance import environment, inputs_record

    run_dir = point.run_dir
    objective = prepared.objective.value(
        result,
        prepared.objective.exact(
            prepared.workload.circuit, prepared.workload.observables, prepared.workload.parameter_values
        ),
    )
    result.objective = {"name": prepared.objective.text, "value": objective}
    result.environment = environment()
    result.inputs = inputs_record(prepared.inputs)
    result.estimate = prepared.estimate
    result.write_json(run_dir / "results.json")
    print_summary(result, run_dir, tracker.run_id if tracker is not None else None)

    def keep() -> None:
        _keep_record(prepared, point, tracker, result, objective)

    if point.sweep is not None and result.status != "KILLED":
        from qrt_runner.background import submit
        from qrt_runner.runs.open_sweeps import closes_here

        if closes_here(point.sweep.sweep_dir):
            submit(keep, f"{run_dir} ({' '.join(point.overrides)})")
            return objective
    keep()
    return objective


def _keep_record(prepared: Prepared, point: Point, tracker, result, objective: float) -> None:
    """A written run's files, its tracking record and end, and its outcome (``point.json`` in a sweep)."""
    from qrt_runner.background import step
    from qrt_runner.records.artifacts import write_run_artifacts
    from qrt_runner.tracking.record import record_result

    run_dir = point.run_dir
    extra_metrics = [("objective", objective, 0)] if math.isfinite(objective) else []
    opened = tracker is not None and tracker.started  # not when stopped before its record was opened
    if tracker is not None:
        files = write_run_artifacts(run_dir, result, {"circuit": prepared.workload.circuit}, between=step)
        extra = [run_dir / name for name in ("optimizer_state.json", "optimal_parameters.json")]
        step()
        if opened:  # (an end without a start would be a journal that qrt-run sync cannot upload)
            record_result(tracker, result, run_dir, [run_dir / "results.json", *files, *extra], extra_metrics)
            step()
            tracker.end(result.status, result.error)
    else:
        from qrt_runner.records.plots import plot_zne

        plot_zne(result, run_dir / "zne.png")
        result.write_layer_noise_model(run_dir / "layer_noise_model.json")
    run_id = tracker.run_id if tracker is not None else None
    pending_upload = opened and tracker.live is None and tracker.destination is not None
    untracked = opened and not tracker.tracked and not pending_upload
    if tracker is not None and not opened:  # nothing for qrt-run sync to upload: a KILLED run, not an untracked one
        print("  not tracked: stopped before its record was opened", flush=True)
    elif untracked:
        print(f"  not tracked: {tracker.offline_reason}; upload later with: qrt-run sync {run_dir}", flush=True)
    if point.in_sweep:
        point.write_point_file(
            {
                "status": result.status,
                "error": result.error,
                "objective": objective if math.isfinite(objective) else None,
                "run_id": run_id,
                "tracked": not untracked and not pending_upload,
                "upload": pending_upload,  # the launching process uploads the journal
                "metrics": _first_step_metrics(result, extra_metrics),
            }
        )
    else:
        outcome.finished(str(run_dir), result.status, result.error, tracker.offline_reason if untracked else None)


def _first_step_metrics(result, extra: list) -> dict[str, float]:
    """The run's metrics at step 0 (the first parameter set), for the sweep's summary."""
    from qrt_runner.tracking import result_metrics

    return {key: value for key, value, step in [*result_metrics(result), *extra] if step == 0}
