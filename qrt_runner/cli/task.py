"""Hydra's task function: one composed config, one run, in four steps.

* **prepare**: the typed spec, the workload, the objective, everything checked before anything
  runs; ``config.yaml`` is written.
* **track**: the run's record is opened (journal in the run directory, mirrored to the store),
  with the config as params, before any job starts.
* **execute**: the jobs (or the optimisation loop, its iterations recorded as they come).
* **record**: ``results.json``, artifacts, tags and metrics, the final status.

The function returns the run's objective, which is what optimising sweepers such as Optuna
minimise or maximise, or None when the run produced none (an invalid config, a failed run): Hydra's
Optuna sweeper records None as a failed trial and goes on. It never raises for a run that failed
or an invalid config (a sweep goes on with its other points); the outcome is reported through
:mod:`~qrt_runner.cli.outcome` (standalone runs) or the point's ``point.json`` (sweeps).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrt_runner import interrupts
from qrt_runner.cli import outcome
from qrt_runner.cli.output import print_progress, print_summary
from qrt_runner.cli.point import Point
from qrt_runner.cli.warm import cancel_device_warm_up, stop_unused_tracking_helper, warm_device
from qrt_runner.errors import ConfigError

__all__ = ["run_task"]

_STATE_UPLOAD_S = 10.0  # how often an optimisation's state is uploaded during the run


@dataclass
class Prepared:
    """A run that passed every check: what it runs, and its resolved config."""

    spec: Any
    workload: Any
    device: Any
    state: Any
    config: dict
    config_yaml: str
    objective: Any
    inputs: list = field(default_factory=list)  # provenance.Input: the files the run read, kept
    estimate: dict | None = None  # backend=ibm: the cost estimated before the run (qrt-run estimate)


def run_task(cfg) -> float | None:
    """The Hydra task: prepare, track, execute, record. Returns the objective (None: none).

    A run stopped by Ctrl-C, SIGTERM or SIGHUP is recorded as KILLED; in a sweep the interruption
    then goes on up, so that the sweep stops too.
    """
    interrupts.install()  # also in a launcher's worker process
    point = Point.from_hydra()
    try:
        prepared = prepare(cfg, point)
    except ConfigError as exc:
        cancel_device_warm_up()
        point.discard(str(exc))
        if not point.in_sweep:
            outcome.invalid(str(exc))
        else:  # a point the sweep could not check up front (an optimising sweeper's trial): it fails alone
            where = " ".join(point.overrides)
            print(f"qrt-run: sweep point #{point.job_num} {where}: invalid config: {exc}", file=sys.stderr, flush=True)
        return None
    if point.sweep is not None and point.sweep.resume:  # in a sweep
        reused = _reuse_finished(prepared, point)
        if reused is not None:
            return _for_sweeper(reused)
    tracker = new_tracker(prepared, point)
    try:
        if tracker is not None:
            track(tracker, prepared, point)
        result = execute(prepared, point, tracker)
    except KeyboardInterrupt as exc:  # before the jobs started (run_experiment keeps its own)
        result = _stopped_early(prepared, exc)
    except BaseException as exc:  # an error of ours: the record is closed FAILED, then it surfaces
        _close_failed(point, tracker, exc)
        raise
    with interrupts.deferred():  # the record is written whole, then a pending interruption comes through
        objective = record(prepared, point, tracker, result)
    if result.status == "KILLED" and (point.in_sweep or interrupts.received()):
        raise interrupts.Terminated(signum) if (signum := interrupts.received()) else KeyboardInterrupt()
    return _for_sweeper(objective)


def _for_sweeper(objective: float) -> float | None:
    """The objective as a sweeper gets it: None for NaN (no objective). Optuna 2 refuses a NaN
    value, and Hydra's Optuna sweeper, telling the trial failed with that value, then raises."""
    return None if math.isnan(objective) else objective


def check(cfg) -> tuple[Any, Any, Any]:
    """The typed spec, the workload and the checked objective of a composed config (raises ConfigError)."""
    import numpy as np

    from qrt_runner.config.spec import build_spec
    from qrt_runner.tasks.runner import build_workload

    spec = build_spec(cfg)
    workload = build_workload(spec)
    values = workload.parameter_values
    num_sets = int(np.prod(values.shape[:-1])) if values.ndim > 1 else 1
    labels = [label for label, _ in workload.observables]
    assert spec.objective is not None  # build_spec() parses it
    objective = spec.objective.check(spec.task.name, spec.primitive.name, labels, num_sets, workload.circuit.num_qubits)
    return spec, workload, objective


def prepare(cfg, point: Point) -> Prepared:
    """Check everything and build the workload (raises ConfigError); writes ``config.yaml``."""
    from omegaconf import OmegaConf

    from qrt_runner.config.experiments import experiment_file
    from qrt_runner.config.spec import resolve_config
    from qrt_runner.execution.backends import kind_of
    from qrt_runner.execution.simulation.executor import default_executor
    from qrt_runner.records.provenance import capture_inputs
    from qrt_runner.tasks.variational import starting_point
    from qrt_runner.tracking.resume import load_state

    stop_unused_tracking_helper(cfg)
    share_cores(cfg, _threads_per_point(point))
    if point.sweep is not None and point.sweep.threads:  # points side by side on this machine
        limit_native_threads(point.sweep.threads)
    if cfg.backend.get("name") != "ibm":  # (the config is not checked yet: its kind is not known)
        default_executor().warm_up()  # the simulator's imports overlap the checks below
        warm_device(cfg)  # and so does readying a fake device there
    spec, workload, objective = check(cfg)
    device = kind_of(spec.backend).connect(spec)
    state = None
    if getattr(spec.task, "resume_from", None):
        state = load_state(spec.task.resume_from, spec.tracking if spec.tracking.enabled else None)
    if spec.task.name in ("vqe", "qaoa"):
        starting_point(spec, workload, state)
    config = resolve_config(cfg)
    config_yaml = OmegaConf.to_yaml(config)
    point.run_dir.mkdir(parents=True, exist_ok=True)
    (point.run_dir / "config.yaml").write_text(config_yaml)
    inputs = capture_inputs(spec, point.run_dir, experiment_file(_chosen(point.overrides, "experiment")))
    return Prepared(
        spec, workload, device, state, config, config_yaml, objective, inputs, _hardware_estimate(spec, workload)
    )


def share_cores(cfg, threads: int | None) -> None:
    """Points that run side by side: a point whose Aer threads are 0 (all cores) gets ``threads``."""
    from omegaconf import open_dict

    if threads and cfg.backend.get("max_parallel_threads") == 0:
        with open_dict(cfg):
            cfg.backend.max_parallel_threads = threads


_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def limit_native_threads(threads: int) -> None:
    """Native thread pools of the processes a point starts (its simulator) get ``threads``, as
    loky sets for its own workers (the forkserver's workers do not get loky's); a value already
    set is kept."""
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def point_config_hash(cfg, threads: int | None) -> str:
    """The config hash a sweep point with config ``cfg`` records (its resume key), computed as
    :func:`prepare` and :func:`track` do, without changing ``cfg``."""
    import copy

    from qrt_runner.config.spec import resolve_config
    from qrt_runner.tracking import config_hash

    cfg = copy.deepcopy(cfg)
    share_cores(cfg, threads)
    return config_hash(resolve_config(cfg))


def _hardware_estimate(spec, workload) -> dict | None:
    """For backend=ibm, the run's estimated cost, with a warning when the session's max_time is
    shorter (before anything is sent); recorded in results.json next to the measured usage."""
    from qrt_runner.execution.backends import kind_of

    if kind_of(spec.backend).local:
        return None
    from qrt_runner.tasks.estimate import estimate, max_time_warning

    try:
        est = estimate(spec, workload)
    except Exception as exc:  # noqa: BLE001 - an estimate never stops a run
        print(f"qrt-run: warning: no cost estimate ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
        return None
    warning = max_time_warning(spec, est)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return {"total": est["total"], "jobs": est["jobs"], "iterations": est.get("iterations"), "model": est["model"]}


def _chosen(overrides: list[str], group: str) -> str | None:
    """The option a run's overrides choose for ``group`` (the last one wins), or None."""
    chosen = None
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key == group:
            chosen = value
    return chosen


def _threads_per_point(point: Point) -> int | None:
    """Aer threads for a sweep point: its SLURM allocation, or its share of this machine's cores."""
    if point.sweep is None:
        return None
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit():
        return int(slurm)
    return point.sweep.threads


def new_tracker(prepared: Prepared, point: Point):
    """The run's tracker (None when tracking is off); nothing is recorded yet."""
    from qrt_runner.tracking import LiveStore, RunTracker, live_store, remote
    from qrt_runner.tracking.mlflow_store import normalize_uri

    spec = prepared.spec
    if not spec.tracking.enabled:
        remote.discard()
        return None
    if _uploaded_by_launcher(spec, point):  # journal only: the launching process uploads it
        return RunTracker(
            point.run_dir, None, destination=(normalize_uri(spec.tracking.uri), spec.tracking.experiment_name)
        )
    helper = remote.current() if point.sweep is None else None
    if helper is not None:  # MLflow imported by the helper process qrt-run started (cli.warm)
        uri, experiment = normalize_uri(spec.tracking.uri), spec.tracking.experiment_name
        return RunTracker(point.run_dir, LiveStore(uri, experiment, spec.tracking.timeout_s, remote.opener(helper)))
    return RunTracker(
        point.run_dir, live_store(spec.tracking.uri, spec.tracking.experiment_name, spec.tracking.timeout_s)
    )


def _uploaded_by_launcher(spec, point: Point) -> bool:
    """Whether this point's record is uploaded by its sweep's launching process (a local pool's
    worker that records to the sweep's own store; :mod:`~qrt_runner.sweep.uploads`)."""
    from qrt_runner.sweep.lifecycle import closes_here
    from qrt_runner.tracking.mlflow_store import normalize_uri

    sweep = point.sweep
    return (
        sweep is not None
        and sweep.uploads
        and not closes_here(sweep.sweep_dir)
        and (normalize_uri(spec.tracking.uri), spec.tracking.experiment_name) == (sweep.uri, sweep.experiment)
    )


def track(tracker, prepared: Prepared, point: Point) -> None:
    """Open the run's record: tags, params and config first, in the store before any job starts."""
    from qrt_runner.reproduce.replay import REPLAY_ENV
    from qrt_runner.tracking import CONFIG_HASH_TAG, config_hash, flatten_config, run_name
    from qrt_runner.tracking.content import user_name

    spec = prepared.spec
    sweep = point.sweep
    # A journal-only record is uploaded after the parent's, which it names by its directory.
    same_store = sweep is not None and tracker.live is not None and tracker.destination == (sweep.uri, sweep.experiment)
    parent_id = sweep.parent_id(spec.tracking.timeout_s) if same_store and sweep is not None else None
    tags = {
        "overrides": json.dumps(point.overrides),
        "run_dir": str(point.run_dir.resolve()),
        "task": spec.task.name,
        CONFIG_HASH_TAG: config_hash(prepared.config),
        "objective_name": prepared.objective.text,
        "mlflow.source.name": "qrt-run",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": user_name(),
    }
    if point.job_num is not None:
        tags["sweep_job"] = str(point.job_num)
    if prepared.state is not None:
        tags["resumed_from"] = spec.task.resume_from
    name = spec.tracking.run_name or run_name(point.overrides, sweep.swept_keys if sweep else None)
    replay = json.loads(os.environ.get(REPLAY_ENV, "null"))
    if replay:  # qrt-run replay: which run, and what it varied
        tags.update(replay_of=replay["of"], replay_variation=json.dumps(replay["variation"]))
        name = spec.tracking.run_name or " ".join([f"replay of {replay['of']}", *replay["variation"]])
    tags.update({f"input.{item.key}.sha256": item.sha256 for item in prepared.inputs})
    tracker.start(name, tags, parent_id, Path(sweep.sweep_dir) if sweep else None)
    tracker.log_params(flatten_config(prepared.config))
    if spec.effective_mitigation.active:  # what the level resolved to, as results.json's mitigation.effective
        tracker.log_params(flatten_config(spec.effective_mitigation.to_dict(), "mitigation_effective"))
    tracker.log_artifact(point.run_dir / "config.yaml")
    for item in prepared.inputs:
        tracker.log_artifact(point.run_dir / item.copy, "inputs")
    for path in sorted((point.run_dir / ".hydra").glob("*.yaml")):
        tracker.log_artifact(path, ".hydra")
    tracker.flush()
    _warn_changed_inputs(tracker, prepared)


def _warn_changed_inputs(tracker, prepared: Prepared) -> None:
    """One line when an input file changed since the last finished run of the same config."""
    if not prepared.inputs or tracker.run_id is None:
        return
    from qrt_runner.tracking import TrackingUnavailable, config_hash, finished_query

    query = finished_query(config_hash(prepared.config))
    try:
        runs = tracker.live.call(lambda store: store.search_tags(query, max_results=1))
    except TrackingUnavailable:
        return
    for run_id, tags in runs:
        for item in prepared.inputs:
            before = tags.get(f"input.{item.key}.sha256")
            if before and before != item.sha256:
                print(
                    f"qrt-run: warning: {item.key}={item.source} changed since run {run_id} "
                    f"(sha256 {before[:12]} then, {item.sha256[:12]} now)",
                    file=sys.stderr,
                    flush=True,
                )


def _stopped_early(prepared: Prepared, exc: KeyboardInterrupt):
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


def _close_failed(point: Point, tracker, exc: BaseException) -> None:
    """Never leave a run RUNNING: an unexpected error closes its record FAILED."""
    reason = f"{type(exc).__name__}: {exc}"
    if tracker is not None:
        tracker.end("FAILED", reason)
    if point.in_sweep:
        point.write_point_file({"status": "FAILED", "error": reason})


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
        from qrt_runner.sweep.lifecycle import closes_here

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
    if tracker is not None:
        files = write_run_artifacts(run_dir, result, {"circuit": prepared.workload.circuit}, between=step)
        extra = [run_dir / name for name in ("optimizer_state.json", "optimal_parameters.json")]
        step()
        record_result(tracker, result, run_dir, [run_dir / "results.json", *files, *extra], extra_metrics)
        step()
        tracker.end(result.status, result.error)
    else:
        from qrt_runner.records.plots import plot_zne

        plot_zne(result, run_dir / "zne.png")
        result.write_layer_noise_model(run_dir / "layer_noise_model.json")
    run_id = tracker.run_id if tracker is not None else None
    pending_upload = tracker is not None and tracker.live is None and tracker.destination is not None
    untracked = tracker is not None and not tracker.tracked and not pending_upload
    if untracked:
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


def _run_loop(prepared: Prepared, point: Point, tracker):
    """A VQE/QAOA loop: per iteration, save the optimiser state, log metrics, draw progress."""
    from qrt_runner.cli.progress import ProgressBar
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


def _reuse_finished(prepared: Prepared, point: Point) -> float | None:
    """A sweep run again: the objective of an earlier FINISHED run of the same config, if any
    (from the sweep's ``reuse.json`` when its launching process looked this config up)."""
    from qrt_runner.sweep.uploads import finished_record, reuse_answer
    from qrt_runner.tracking import TrackingUnavailable, config_hash, live_store

    spec = prepared.spec
    if not spec.tracking.enabled or point.sweep is None:
        return None
    wanted = config_hash(prepared.config)
    known, record = (False, None)
    if point.sweep.uploads:
        known, record = reuse_answer(point.sweep.sweep_dir, wanted, spec.tracking.timeout_s)
    if not known:
        live = live_store(spec.tracking.uri, spec.tracking.experiment_name, spec.tracking.timeout_s)
        try:
            record = live.call(lambda store: finished_record(store, wanted))
        except TrackingUnavailable:
            return None
    if record is None:
        return None
    print(
        f"qrt-run: skipped {' '.join(point.overrides)}: the same config finished as run {record['run_id']} "
        "(sweep.resume=false runs it again)",
        flush=True,
    )
    point.write_point_file({"status": "FINISHED", "reused_from": record["run_id"], "tracked": True, **record})
    return record["objective"] if record["objective"] is not None else math.nan


def _first_step_metrics(result, extra: list) -> dict[str, float]:
    """The run's metrics at step 0 (the first parameter set), for the sweep's summary."""
    from qrt_runner.tracking import result_metrics

    return {key: value for key, value, step in [*result_metrics(result), *extra] if step == 0}
