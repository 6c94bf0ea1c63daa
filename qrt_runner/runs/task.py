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
:mod:`~qrt_runner.runs.outcome` (standalone runs) or the point's ``point.json`` (sweeps).

The steps live in their own modules: :mod:`~qrt_runner.runs.prepare`, :mod:`~qrt_runner.runs.track`,
:mod:`~qrt_runner.runs.execute` and :mod:`~qrt_runner.runs.record`.
"""

from __future__ import annotations

import math
import sys

from qrt_runner import interrupts
from qrt_runner.errors import ConfigError
from qrt_runner.runs import outcome
from qrt_runner.runs.execute import close_failed, execute, stopped_early
from qrt_runner.runs.point import Point
from qrt_runner.runs.prepare import prepare
from qrt_runner.runs.record import record
from qrt_runner.runs.reuse import reuse_finished
from qrt_runner.runs.track import new_tracker, track
from qrt_runner.runs.warm import cancel_device_warm_up

__all__ = ["run_task"]


def run_task(cfg) -> float | None:
    """The Hydra task: prepare, track, execute, record. Returns the objective (None: none).

    A run stopped by Ctrl-C, SIGTERM or SIGHUP is recorded as KILLED; in a sweep the interruption
    then goes on up, so that the sweep stops too.
    """
    interrupts.install()  # also in a launcher's worker process
    point = Point.from_hydra()
    if point.sweep is not None:
        point.sweep.enter_launch_dir()
        if point.sweep.on_cluster:
            interrupts.interrupt_means("cancelled on the Ray cluster: the sweep was interrupted")
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
        reused = reuse_finished(prepared, point)
        if reused is not None:
            return _for_sweeper(reused)
    tracker = new_tracker(prepared, point)
    try:
        if tracker is not None:
            track(tracker, prepared, point)
        result = execute(prepared, point, tracker)
    except KeyboardInterrupt as exc:  # before the jobs started (run_experiment keeps its own)
        result = stopped_early(prepared, exc)
    except BaseException as exc:  # an error of ours: the record is closed FAILED, then it surfaces
        close_failed(point, tracker, exc)
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
