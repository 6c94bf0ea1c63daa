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

import threading
import time
from pathlib import Path
from typing import Any

from qrt_runner.runs.point import POINT_FILE
from qrt_runner.runs.reuse import read_json, write_json

__all__ = ["Uploader"]

_POLL_S = 0.25


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
            record = read_json(folder / POINT_FILE)
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
            write_json(folder / POINT_FILE, record)


def _wait_for_end(journal: Any, timeout_s: float) -> None:
    """Wait up to ``timeout_s`` while the journal has no ``end`` and its process still runs."""
    from qrt_runner.tracking.sync import still_running

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        entries = journal.entries()
        if not entries or any(entry.get("op") == "end" for entry in entries) or not still_running(entries[0]):
            return
        time.sleep(0.1)
