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
    runs = data.get("runs")
    results = _checked_runs(runs, job_id)  # nothing is written when one of them is malformed
    recorded = []
    for index, (run, result) in enumerate(zip(runs or [], results, strict=True)):
        run_dir = Path(out) / job_id / (f"point-{index}" if len(results) > 1 else "run")
        recorded.append(_record_run(run, result, run_dir, job_id, str(data.get("function")), tracking))
    return recorded


def _checked_runs(runs: Any, job_id: str) -> list:
    """Each run's RunResult (None for a run that never started), or FunctionInputError in one line."""
    from qrt_runner.function.errors import FunctionInputError
    from qrt_runner.function.result_view import run_result_from_dict

    if not isinstance(runs, list) or not runs:
        raise FunctionInputError(f"job {job_id}: its result holds no runs; not a qrt_runner function's result")
    results = []
    for index, run in enumerate(runs):
        try:
            if not isinstance(run, dict) or not isinstance(run.get("config") or {}, dict):
                raise TypeError("a run is a mapping with results, config, overrides, exit_code, error")
            if not isinstance(run.get("overrides") or [], list):
                raise TypeError("overrides is not a list")
            result = None if run.get("results") is None else run_result_from_dict(run["results"])
            inputs = result.inputs if result is not None else []  # the files it read
            if not all(isinstance(item, dict) and {"key", "sha256"} <= set(item) for item in inputs):
                raise TypeError("inputs: give each file read as a mapping with key and sha256")
            if result is not None and not isinstance(result.mitigation or {}, dict):
                raise TypeError("mitigation is not a mapping")
            results.append(result)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            what = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
            raise FunctionInputError(
                f"job {job_id}: run {index} of its result is not a qrt_runner run's ({what}); nothing recorded"
            ) from None
    return results


def _record_run(
    run: dict[str, Any], result, run_dir: Path, job_id: str, function: str, tracking: dict[str, Any]
) -> RecordedRun:
    from qrt_runner.runs.output import print_summary

    run_dir.mkdir(parents=True, exist_ok=True)
    if result is None:  # the run never started (its config failed in the function)
        return RecordedRun(run_dir, "FAILED", run.get("error") or f"exit code {run.get('exit_code')}", None, None)
    (run_dir / "results.json").write_text(json.dumps(run["results"], indent=2))
    config = _tracked_config(run.get("config") or {}, tracking)
    if config:
        import yaml

        (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    tracker = _tracker(run_dir, tracking) if tracking.get("enabled") else None
    if tracker is not None:
        _track(tracker, result, run, config, run_dir, job_id, function, tracking)
    run_id = tracker.run_id if tracker is not None else None
    print_summary(result, run_dir, run_id)
    untracked = None
    if tracker is not None and not tracker.tracked:
        untracked = tracker.offline_reason or "the tracking store did not answer"
    return RecordedRun(run_dir, result.status, result.error, run_id, untracked)


def _tracked_config(config: dict[str, Any], tracking: dict[str, Any]) -> dict[str, Any]:
    """The run's config with the tracking it is recorded with here (the function ran with tracking
    off): what a local run of the same config tracked so would record."""
    if not isinstance(config.get("tracking"), dict):
        return config
    given = {key: value for key, value in tracking.items() if key in config["tracking"] and value is not None}
    return {**config, "tracking": {**config["tracking"], **given}}


def _tracker(run_dir: Path, tracking: dict[str, Any]):
    from qrt_runner.tracking import RunTracker, live_store

    store = live_store(str(tracking["uri"]), tracking.get("experiment_name"), float(tracking.get("timeout_s") or 10))
    return RunTracker(run_dir, store)


def _track(
    tracker, result, run: dict[str, Any], config: dict, run_dir: Path, job_id: str, function: str, tracking: dict
) -> None:
    """The run's record, as :mod:`qrt_runner.runs.track` and :mod:`qrt_runner.runs.record` open
    and close a local one."""
    from qrt_runner.tracking import CONFIG_HASH_TAG, config_hash, flatten_config, run_name
    from qrt_runner.tracking.content import user_name
    from qrt_runner.tracking.record import record_result

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
    if config.get("objective") is not None:  # the config's objective, as a local run tags it
        tags["objective_name"] = str(config["objective"]).strip()
    elif result.objective:
        tags["objective_name"] = str(result.objective.get("name"))
    tags.update({f"input.{item['key']}.sha256": str(item["sha256"]) for item in result.inputs})
    tracker.start(tracking.get("run_name") or run_name(overrides), tags)
    tracker.log_params(flatten_config(config))
    effective = (result.mitigation or {}).get("effective")
    if effective:  # what the level resolved to, as a local run logs it
        tracker.log_params(flatten_config(effective, "mitigation_effective"))
    if (run_dir / "config.yaml").is_file():
        tracker.log_artifact(run_dir / "config.yaml")
    objective = (result.objective or {}).get("value")
    extra = [("objective", objective, 0)] if isinstance(objective, (int, float)) else []
    record_result(tracker, result, run_dir, [run_dir / "results.json"], extra)
    tracker.end(result.status if result.status in ("FINISHED", "FAILED", "KILLED") else "FAILED", result.error)
