"""A point that finished before: found by its config hash, so that a sweep run again reuses it.

The sweep's launching process looks every point's config hash up once (:func:`write_reuse_file`,
``reuse.json`` in the sweep directory); a point reads its answer there (:func:`reuse_answer`), or
asks the store itself when the launching process could not (:func:`reuse_finished`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qrt_runner.runs.point import POINT_FILE, Point

if TYPE_CHECKING:
    from qrt_runner.runs.prepare import Prepared

__all__ = [
    "REUSE_FILE",
    "finished_record",
    "read_json",
    "reuse_answer",
    "reuse_finished",
    "write_json",
    "write_reuse_file",
]

REUSE_FILE = "reuse.json"
_LOG = logging.getLogger(__name__)


def finished_record(store: Any, config_hash: str) -> dict[str, Any] | None:
    """What a point that reuses a FINISHED run of the config ``config_hash`` records of it (its
    point.json fields), or None when no such run is in ``store``."""
    from qrt_runner.tracking import finished_query

    runs = store.search(finished_query(config_hash), max_results=1)
    if not runs:
        return None
    run = runs[0]
    earlier = Path(run.data.tags.get("run_dir", "")) / POINT_FILE
    try:
        metrics = json.loads(earlier.read_text())["metrics"]
    except (OSError, ValueError, KeyError):
        metrics = dict(run.data.metrics)
    objective = run.data.metrics.get("objective", math.nan)
    return {"run_id": run.info.run_id, "objective": objective if math.isfinite(objective) else None, "metrics": metrics}


def write_reuse_file(sweep_dir: Path, hashes: dict[int, str], live: Any) -> None:
    """Look every point's config hash up in the store and write ``reuse.json`` (with no hash
    checked when the store does not answer: the points then ask it themselves). A sqlite store
    that never saw any of the hashes says so without MLflow (the usual case: a new sweep)."""
    from qrt_runner.tracking import CONFIG_HASH_TAG, TrackingUnavailable
    from qrt_runner.tracking.mlflow_store import sqlite_lacks_tag

    def lookup(store: Any) -> dict[str, Any]:
        records = {config_hash: finished_record(store, config_hash) for config_hash in sorted(set(hashes.values()))}
        return {config_hash: record for config_hash, record in records.items() if record is not None}

    try:
        checked = sorted(set(hashes.values()))
        unseen = not hashes or sqlite_lacks_tag(live.uri, CONFIG_HASH_TAG, checked)
        finished = {} if unseen else live.call(lookup)
    except TrackingUnavailable:
        checked, finished = [], {}
    except Exception:  # noqa: BLE001 - the points ask the store themselves
        _LOG.warning("could not look the sweep's points up for resume", exc_info=True)
        checked, finished = [], {}
    write_json(sweep_dir / REUSE_FILE, {"checked": checked, "finished": finished})


def reuse_answer(sweep_dir: str, config_hash: str, wait_s: float) -> tuple[bool, dict[str, Any] | None]:
    """(known, record): whether the launching process looked ``config_hash`` up, and the
    FINISHED run's record it found (None: none finished). Waits up to ``wait_s`` for the
    launching process to write ``reuse.json``."""
    path = Path(sweep_dir) / REUSE_FILE
    deadline = time.monotonic() + wait_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    table = read_json(path)
    if table is None or config_hash not in table.get("checked", ()):
        return False, None
    return True, table.get("finished", {}).get(config_hash)


def reuse_finished(prepared: Prepared, point: Point) -> float | None:
    """A sweep run again: the objective of an earlier FINISHED run of the same config, if any
    (from the sweep's ``reuse.json`` when its launching process looked this config up)."""
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


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
