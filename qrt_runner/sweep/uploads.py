"""Points of a local pool (joblib) keep their records in their journals; the launching process uploads them.

Every joblib worker is a fresh process. Tracking its points itself would cost each worker the
import of MLflow and the opening of the store (about 2 s of CPU), and the workers' writes would
contend for one SQLite file. Instead each point writes its record to its journal only (the same
``tracking.jsonl`` that ``qrt-run sync`` uploads), and the launching process, which has the store
open already, uploads a point's record as soon as its ``point.json`` says it is done. At the
sweep's close it uploads whatever is left (a point whose worker died is closed as KILLED). A
point appears in MLflow when it finishes, not while it runs.

Resume needs the store too: the launching process looks up the config hash of every point it
checked, while the workers start, and writes the finished ones to ``reuse.json`` in the sweep
directory. A point waits for that file (up to the tracking timeout); a point whose hash is listed
there knows the answer without the store, any other asks the store itself.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from qrt_runner.cli.point import POINT_FILE

__all__ = ["REUSE_FILE", "Uploader", "finished_record", "reuse_answer", "write_reuse_file"]

REUSE_FILE = "reuse.json"
_LOG = logging.getLogger(__name__)
_POLL_S = 0.25


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
    _write_json(sweep_dir / REUSE_FILE, {"checked": checked, "finished": finished})


def reuse_answer(sweep_dir: str, config_hash: str, wait_s: float) -> tuple[bool, dict[str, Any] | None]:
    """(known, record): whether the launching process looked ``config_hash`` up, and the
    FINISHED run's record it found (None: none finished). Waits up to ``wait_s`` for the
    launching process to write ``reuse.json``."""
    path = Path(sweep_dir) / REUSE_FILE
    deadline = time.monotonic() + wait_s
    while not path.is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    table = _read_json(path)
    if table is None or config_hash not in table.get("checked", ()):
        return False, None
    return True, table.get("finished", {}).get(config_hash)


class Uploader:
    """Uploads the journals of a sweep's points as they finish, on a thread of the launching process.

    Args:
        sweep_dir: The sweep directory (the points' directories are its numbered folders).
        live: The store the sweep's parent run is in.
        parent: The parent's tracker; opening: the thread that creates the parent run.
    """

    def __init__(self, sweep_dir: Path, live: Any, parent: Any, opening: threading.Thread | None) -> None:
        self._dir, self._live, self._parent, self._opening = Path(sweep_dir), live, parent, opening
        self._done: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qrt-sweep-uploads", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop polling and upload everything that is left."""
        self._stop.set()
        self._thread.join()
        self._pass(final=True)

    def _loop(self) -> None:
        if self._opening is not None:
            self._opening.join()
        # The sweep's plot at its close imports matplotlib (0.4 s): here it overlaps the points.
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401

        while not self._stop.wait(_POLL_S):
            self._pass(final=False)

    def _pass(self, final: bool) -> None:
        """Upload the points that say they are done (``final``: every point with a journal); runs
        after the parent run is opened (the polling thread joins the opening thread first)."""
        from qrt_runner.tracking.journal import Journal

        for folder in sorted(p for p in self._dir.iterdir() if p.name.isdigit() and p.is_dir()):
            if folder.name in self._done:
                continue
            record = _read_json(folder / POINT_FILE)
            if not Journal(folder).exists():
                if record is not None:  # an invalid point, or one that reused a finished run
                    self._done.add(folder.name)
                continue
            if not final and (record is None or not record.get("upload")):
                continue
            if final and record is None:  # interrupted: give a point that is stopping time to close its journal
                _wait_for_end(Journal(folder), self._live.timeout_s)
            self._upload(folder, record)
            self._done.add(folder.name)

    def _upload(self, folder: Path, record: dict | None) -> None:
        from qrt_runner.tracking.sync import SyncOutcome, sync_directory

        parent = SyncOutcome(self._dir, self._parent.run_id, 0, "RUNNING")  # the parent is this process's
        outcome = sync_directory(
            folder, self._live.uri, self._live.experiment_name, self._live.timeout_s, _done={self._dir: parent}
        )
        if record is not None:
            record.update(run_id=outcome.run_id, tracked=outcome.error is None, upload=False)
            _write_json(folder / POINT_FILE, record)


def _wait_for_end(journal: Any, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` while the journal has no ``end`` and its process still runs."""
    from qrt_runner.tracking.sync import still_running

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entries = journal.entries()
        if not entries or any(entry.get("op") == "end" for entry in entries) or not still_running(entries[0]):
            return
        time.sleep(0.1)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
