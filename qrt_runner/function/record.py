"""A function job's result, recorded here like a local run: run directories, then MLflow.

Each run of the job gets a run directory (``results.json`` and ``config.yaml`` as the function
wrote them) and, when tracking is on, an MLflow run with the same params, tags, metrics and
artifacts as ``qrt-run`` gives a local run, tagged with the job and the function. A store that
does not answer leaves the run's journal for ``qrt-run sync``, as for a local run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RecordedRun", "record_job"]

JOB_TAG = "serverless.job_id"
FUNCTION_TAG = "serverless.function"


@dataclass
class RecordedRun:
    run_dir: Path
    status: str
    error: str | None
    run_id: str | None
    untracked: str | None  # why the store did not get it (qrt-run sync uploads it later)


def record_job(data: dict[str, Any], job_id: str, out: Path, tracking: dict[str, Any]) -> list[RecordedRun]:
    """Write and track every run of a job's result ``data``; ``tracking``: enabled, uri,
    experiment_name, timeout_s (the packed config's, with the command line's on top)."""
    runs = data["runs"]
    recorded = []
    for index, run in enumerate(runs):
        run_dir = Path(out) / job_id / (f"point-{index}" if len(runs) > 1 else "run")
        recorded.append(_record_run(run, run_dir, job_id, str(data.get("function")), tracking))
    return recorded


def _record_run(
    run: dict[str, Any], run_dir: Path, job_id: str, function: str, tracking: dict[str, Any]
) -> RecordedRun:
    from qrt_runner.function.result_view import run_result_from_dict
    from qrt_runner.runs.output import print_summary

    run_dir.mkdir(parents=True, exist_ok=True)
    if run.get("results") is None:  # the run never started (its config failed in the function)
        return RecordedRun(run_dir, "FAILED", run.get("error") or f"exit code {run.get('exit_code')}", None, None)
    (run_dir / "results.json").write_text(json.dumps(run["results"], indent=2))
    config = run.get("config") or {}
    if config:
        import yaml

        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_result_from_dict(run["results"])
    tracker = _tracker(run_dir, tracking) if tracking.get("enabled") else None
    if tracker is not None:
        _track(tracker, result, run, run_dir, job_id, function, tracking)
    run_id = tracker.run_id if tracker is not None else None
    print_summary(result, run_dir, run_id)
    untracked = None
    if tracker is not None and not tracker.tracked:
        untracked = tracker.offline_reason or "the tracking store did not answer"
    return RecordedRun(run_dir, result.status, result.error, run_id, untracked)


def _tracker(run_dir: Path, tracking: dict[str, Any]):
    from qrt_runner.tracking import RunTracker, live_store

    store = live_store(str(tracking["uri"]), tracking.get("experiment_name"), float(tracking.get("timeout_s") or 10))
    return RunTracker(run_dir, store)


def _track(tracker, result, run: dict[str, Any], run_dir: Path, job_id: str, function: str, tracking: dict) -> None:
    """The run's record, as :mod:`qrt_runner.runs.track` and :mod:`qrt_runner.runs.record` open
    and close a local one."""
    from qrt_runner.tracking import CONFIG_HASH_TAG, config_hash, flatten_config, run_name
    from qrt_runner.tracking.content import user_name
    from qrt_runner.tracking.record import record_result

    config = run.get("config") or {}
    overrides = [o for o in run.get("overrides") or [] if o != "tracking.enabled=false"]
    tags = {
        "overrides": json.dumps(overrides),
        "run_dir": str(run_dir.resolve()),
        "task": result.task,
        CONFIG_HASH_TAG: config_hash(config),
        "mlflow.source.name": "qrt-run function",
        "mlflow.source.type": "JOB",
        "mlflow.user": user_name(),
        JOB_TAG: job_id,
        FUNCTION_TAG: function,
    }
    if result.objective:
        tags["objective_name"] = str(result.objective.get("name"))
    tracker.start(tracking.get("run_name") or run_name(overrides), tags)
    tracker.log_params(flatten_config(config))
    if (run_dir / "config.yaml").is_file():
        tracker.log_artifact(run_dir / "config.yaml")
    objective = (result.objective or {}).get("value")
    extra = [("objective", objective, 0)] if isinstance(objective, (int, float)) else []
    record_result(tracker, result, run_dir, [run_dir / "results.json"], extra)
    tracker.end(result.status if result.status in ("FINISHED", "FAILED", "KILLED") else "FAILED", result.error)
