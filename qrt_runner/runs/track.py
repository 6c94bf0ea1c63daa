"""The second step of a run: its record opened (tags, params, config) before any job starts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from qrt_runner.runs.point import Point
from qrt_runner.runs.prepare import Prepared

__all__ = ["new_tracker", "track"]


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
    if helper is not None:  # MLflow imported by the helper process qrt-run started (runs.warm)
        uri, experiment = normalize_uri(spec.tracking.uri), spec.tracking.experiment_name
        return RunTracker(point.run_dir, LiveStore(uri, experiment, spec.tracking.timeout_s, remote.opener(helper)))
    return RunTracker(
        point.run_dir, live_store(spec.tracking.uri, spec.tracking.experiment_name, spec.tracking.timeout_s)
    )


def _uploaded_by_launcher(spec, point: Point) -> bool:
    """Whether this point's record is uploaded by its sweep's launching process (a local pool's
    worker that records to the sweep's own store; :mod:`~qrt_runner.sweep.uploads`)."""
    from qrt_runner.runs.open_sweeps import closes_here
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
