"""A sweep's record: opened in the launching process before any point runs, closed after the last.

Opening checks every point, opens the parent run (its journal in the sweep directory, mirrored
to the store), works out each point's share of the cores, and hands all of it to the points
through their configs (:mod:`~qrt_runner.runs.sweep_context`). Closing reads the points' records
(:mod:`~qrt_runner.sweep.summary`), closes runs that points left RUNNING, writes the sweep's
table and plot, ends the parent FINISHED only if every point finished, and reports the outcome
for the exit code. An interrupted sweep is closed as KILLED by the CLI. Points that run in this
process finish their records in the background (:mod:`~qrt_runner.background`); closing
waits for them first.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qrt_runner.runs import open_sweeps
from qrt_runner.runs.sweep_context import ENV_VAR, SweepContext
from qrt_runner.sweep import ray_cluster, ray_start

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from qrt_runner.sweep.uploads import Uploader
    from qrt_runner.tracking import LiveStore, RunTracker

__all__ = ["SweepNotStarted", "SweepRefused", "close_open_sweeps", "close_sweep", "open_sweep"]


class SweepRefused(BaseException):
    """A sweep whose points are invalid: nothing ran. A BaseException because Hydra turns a
    callback's ordinary exceptions into warnings and goes on."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class SweepNotStarted(BaseException):
    """A sweep whose launcher could not start it (no Ray cluster at the address, a sweep directory
    the cluster's nodes do not see): no point ran, and the parent run ended FAILED."""


@dataclass
class OpenSweep:
    directory: Path
    context: SweepContext
    tracker: RunTracker | None
    opening: threading.Thread | None  # the thread that opens the parent run
    points: list[list[str]] | None
    objective_name: str
    uploader: Uploader | None = None  # uploads the points' journals (local pools)


_OPEN: dict[str, OpenSweep] = {}


def open_sweep(config) -> None:
    """Check the points, open the parent run and pass the sweep's context on to every point."""
    from omegaconf import open_dict, read_write

    from qrt_runner.sweep import optuna
    from qrt_runner.sweep import points as p
    from qrt_runner.sweep.recheck import points_checked

    directory = Path(str(config.hydra.sweep.dir)).resolve()
    points = p.expand_points(config)
    cores = p.available_cores()
    parallel = p.parallel_points(config.hydra.launcher, len(points) if points is not None else None, cores)
    threads = max(1, cores // parallel) if parallel > 1 else None
    resume = bool(config.get("sweep", {}).get("resume", True))
    joblib = str(config.hydra.launcher.get("_target_", "")).endswith("JoblibLauncher")
    uploads = bool(config.tracking.enabled) and joblib
    hashes: dict[int, str] = {}
    if joblib and parallel > 1:
        from qrt_runner.sweep.workers import use_warm_workers

        use_warm_workers()

    point_threads: dict[int, int] = {}  # each point's backend.max_parallel_threads (0: the sweep's share)

    def on_point(number: int, cfg) -> None:
        point_threads[number] = int(cfg.backend.get("max_parallel_threads") or 0)
        if uploads and resume:
            from qrt_runner.runs.check import point_config_hash

            hashes[number] = point_config_hash(cfg, threads)

    try:
        p.check_launcher(config.hydra.launcher)
        p.check_points(
            points,
            config.hydra.job.config_name,
            p.fixed_overrides(config),
            on_point=on_point,
        )
        if optuna.is_optuna(config):  # its trials are checked as they run; one that fails, fails alone
            optuna.check_sweeper(config, config.hydra.job.config_name)
    except Exception as exc:  # ConfigError, or a composition error of a point
        raise SweepRefused(exc) from None
    if optuna.is_optuna(config):
        optuna.keep_going()
    swept = p.swept_keys(config)
    objective_name = str(config.get("objective", "auto"))
    _warn_direction(config, objective_name)
    directory.mkdir(parents=True, exist_ok=True)
    first = None
    if uploads:
        from qrt_runner.runs.reuse import REUSE_FILE, write_reuse_file

        (directory / REUSE_FILE).unlink(missing_ok=True)  # a sweep run again into the same folder

        def first(live) -> None:  # the workers' first points wait for it
            write_reuse_file(directory, hashes, live)

    tracker, live, opening = _open_parent(config, directory, swept, points, first)
    _pin_sweep_dir(config, directory)
    if ray_cluster.is_ray(config.hydra.launcher):
        fixed = ray_start.common_threads(points, point_threads)
        try:
            parallel, threads = ray_start.join(config, directory, points, fixed, tracker, opening)
        except ray_cluster.ClusterUnavailable as exc:  # (the parent is FAILED)
            raise SweepNotStarted(str(exc)) from None
    context = SweepContext(
        sweep_dir=str(directory),
        uri=live.uri if live else None,
        experiment=str(config.tracking.experiment_name) if live else None,
        swept_keys=swept,
        threads=threads,
        resume=resume,
        uploads=uploads,
        cwd=os.getcwd() if ray_cluster.is_ray(config.hydra.launcher) else None,
        on_cluster=ray_cluster.is_ray(config.hydra.launcher),
    )
    uploader = None
    if uploads and live is not None:
        from qrt_runner.sweep.uploads import Uploader

        uploader = Uploader(directory, live, tracker, opening)
    with read_write(config.hydra.overrides), open_dict(config.hydra.overrides):
        config.hydra.overrides.hydra.append(f"++hydra.job.env_set.{ENV_VAR}={context.encode()}")
    _one_submitit_local_folder(config)
    if points is not None and len(points) <= p.MAX_CHECKED_POINTS:  # (with the sweep's context set)
        # Hydra's sweeper need not compose them all a second time, nor joblib's workers each
        points_checked(points, config if joblib and parallel > 1 else None)
    (directory / "sweep.json").write_text(json.dumps({**asdict(context), "points": points}, indent=2))
    _OPEN[str(directory)] = OpenSweep(directory, context, tracker, opening, points, objective_name, uploader)
    open_sweeps.opened(directory)
    count = f"{len(points)} points" if points is not None else "points drawn by the sweeper"
    share = f", {parallel} at a time with {threads} Aer thread(s) each" if threads else ""
    print(f"qrt-run: sweep of {count}{share} in {directory}", flush=True)


def _open_parent(config, directory: Path, swept: list[str], points, first: Callable[[LiveStore], None] | None):
    """The parent run, opened on a background thread while the launcher starts its points
    (creating a fresh store takes seconds); points find its id in the sweep directory.
    ``first(store)`` runs on that thread before the parent is created."""
    if not config.tracking.enabled:
        return None, None, None
    import threading

    from qrt_runner.tracking import RunTracker, live_store
    from qrt_runner.tracking.content import user_name

    live = live_store(str(config.tracking.uri), str(config.tracking.experiment_name), float(config.tracking.timeout_s))
    tracker = RunTracker(directory, live)
    tags = {
        "sweep_dir": str(directory),
        "overrides": json.dumps(list(config.hydra.overrides.task)),
        "launcher": str(config.hydra.launcher.get("_target_", "")),
        "sweeper": str(config.hydra.sweeper.get("_target_", "")),
        "mlflow.source.name": "qrt-run",
        "mlflow.source.type": "LOCAL",
        "mlflow.user": user_name(),
    }
    params = {f"sweep.{key}": _values(config, key) for key in swept}
    params["sweep.points"] = str(len(points)) if points is not None else "drawn"

    def open_parent() -> None:
        if first is not None:
            try:
                first(live)
            except Exception:  # noqa: BLE001 - the parent must open whatever happened before
                logging.getLogger(__name__).warning("sweep opening step failed", exc_info=True)
        tracker.start(f"sweep {directory.name}", tags)
        tracker.log_params(params)
        tracker.flush()

    opening = threading.Thread(target=open_parent, name="qrt-sweep-parent", daemon=True)
    opening.start()
    return tracker, live, opening


def _pin_sweep_dir(config, directory: Path) -> None:
    """Every point gets the sweep directory as an absolute path, resolved here: a relative one
    (Hydra's default ``multirun/...``) would be resolved in each point's working directory, which
    on a cluster is the worker's, not the user's."""
    from omegaconf import open_dict, read_write

    quoted = "'" + str(directory).replace("'", "\\'") + "'"  # Hydra's quoted value: spaces, commas kept
    with read_write(config.hydra), open_dict(config.hydra):
        config.hydra.sweep.dir = str(directory)
        config.hydra.overrides.hydra.append(f"++hydra.sweep.dir={quoted}")


def _one_submitit_local_folder(config) -> None:
    """submitit_local's jobs keep their files in one folder that exists before they start: with
    the default ``.submitit/%j`` submitit creates a job's folder only after starting the job,
    which on a loaded machine can open its log there first and fail."""
    from omegaconf import read_write

    launcher = config.hydra.launcher
    if not str(launcher.get("_target_", "")).endswith("submitit_launcher.LocalLauncher"):
        return
    folder = str(launcher.get("submitit_folder", ""))
    if folder.endswith("/%j"):
        with read_write(launcher):
            launcher.submitit_folder = folder[: -len("/%j")]


def _values(config, key: str) -> str:
    for override in config.hydra.overrides.task:
        if override.lstrip("+~").partition("=")[0] == key:
            return override.partition("=")[2]
    return str((config.hydra.sweeper.get("params") or {}).get(key, ""))


def _warn_direction(config, objective_name: str) -> None:
    direction = config.hydra.sweeper.get("direction")
    if not isinstance(direction, str):
        return
    from qrt_runner.config.objective import parse_objective
    from qrt_runner.errors import ConfigError

    try:
        objective = parse_objective(objective_name, str(config.task.name), str(config.primitive.name))
    except ConfigError:
        return
    if objective.maximise != (direction == "maximize"):
        better = "maximize" if objective.maximise else "minimize"
        print(
            f"qrt-run: warning: objective {objective.name} is better when {'larger' if objective.maximise else 'smaller'}, "
            f"but hydra.sweeper.direction={direction}; set hydra.sweeper.direction={better}",
            file=sys.stderr,
            flush=True,
        )


def close_sweep(config, status: str | None = None) -> None:
    """Close the sweep opened for ``config``'s sweep directory (no-op if none is open)."""
    _close(str(Path(str(config.hydra.sweep.dir)).resolve()), status)


def close_open_sweeps(status: str) -> None:
    """Close every sweep still open in this process (an interrupted sweep) with ``status``."""
    for key in list(_OPEN):
        _close(key, status)


def _close(key: str, status: str | None) -> None:
    from qrt_runner.background import drain
    from qrt_runner.runs import outcome
    from qrt_runner.sweep.recheck import sweep_closed

    ray_cluster.cancel_points()  # an interrupted Ray sweep: its unfinished points end KILLED on the cluster
    drain()  # every point's record is complete before it is read
    sweep_closed()
    from qrt_runner.sweep.summary import FAILED_STATUSES, collect_rows, format_table, plot_rows, write_csv

    sweep = _OPEN.pop(key, None)
    if sweep is None:
        return
    open_sweeps.closed(key)
    tracker = sweep.tracker
    if sweep.opening is not None:
        sweep.opening.join()
    if sweep.uploader is not None:
        sweep.uploader.close()
    store_runs = _close_left_running(tracker)
    rows = collect_rows(sweep.directory, sweep.points, store_runs)
    swept = sweep.context.swept_keys
    files: list[Path | None] = [write_csv(rows, swept, sweep.directory / "sweep_summary.csv")]
    try:
        files.append(plot_rows(rows, swept, sweep.objective_name, sweep.directory / "sweep_summary.png"))
    except Exception as exc:  # a broken plot must not lose the sweep's record
        print(f"qrt-run: warning: no sweep plot ({type(exc).__name__}: {exc})", file=sys.stderr)
    print(
        f"qrt-run: sweep summary ({sweep.directory / 'sweep_summary.csv'}):\n"
        + format_table(rows, swept, sweep.objective_name),
        flush=True,
    )
    result = outcome.Outcome(  # (a point invalid when it ran failed alone: the sweep's check passed)
        failed=[
            f"#{row.job} {' '.join(row.overrides)}: {row.status}{': ' + row.error if row.error else ''}"
            for row in rows
            if row.status in FAILED_STATUSES
        ],
        untracked=[f"#{row.job} {' '.join(row.overrides)}" for row in rows if not row.tracked],
    )
    if tracker is not None:
        objectives = [row.objective for row in rows if row.objective is not None]
        tracker.log_metrics(
            {
                "points": len(rows),
                "points_finished": sum(row.status == "FINISHED" for row in rows),
                "points_failed": len(result.failed),
                "objective_min": min(objectives, default=None),
                "objective_max": max(objectives, default=None),
            }
        )
        for path in [*files, sweep.directory / "sweep.json"]:
            if path is not None:
                tracker.log_artifact(path)
        final = status or ("FINISHED" if not result.failed else "FAILED")
        tracker.end(
            final,
            None if final == "FINISHED" else f"{len(result.failed)} of {len(rows)} points did not finish",
        )
        if tracker.run_id is not None:
            print(f"qrt-run: sweep's parent run: {tracker.run_id}", flush=True)
        if not tracker.tracked:
            result.untracked.append(
                f"the sweep's parent run ({tracker.offline_reason}); upload with: qrt-run sync {sweep.directory}"
            )
    outcome.sweep(result, str(sweep.directory))


def _close_left_running(tracker) -> list:
    """The parent's children in the store; those a dead point left RUNNING are closed as KILLED."""
    if tracker is None or tracker.run_id is None or tracker.live.offline:
        return []
    from qrt_runner.tracking import TrackingUnavailable

    parent_id = tracker.run_id

    def close(store):
        runs = store.children(parent_id)
        for run in runs:
            if run.info.status == "RUNNING":
                store.log(
                    run.info.run_id, tags={"failure_reason": "the point's process ended before it closed the run"}
                )
                store.end_run(run.info.run_id, "KILLED")
        return store.children(parent_id) if any(run.info.status == "RUNNING" for run in runs) else runs

    try:
        return tracker.live.call(close)
    except TrackingUnavailable:
        return []
