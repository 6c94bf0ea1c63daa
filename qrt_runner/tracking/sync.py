"""Upload journaled runs to a tracking store later: what ``qrt-run sync`` does.

A run whose store was unreachable (before or during the run) keeps its whole record in its
journal. Syncing replays the entries the store has not seen yet: to the same run when the
journal already reached that store (a run left RUNNING on a server that died is completed and
closed), or to a new run otherwise (another URI). A sweep's parent journal is synced before its
points, so the points nest under it. A journal without an ``end`` entry whose process is gone is
closed as KILLED.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from qrt_runner.tracking.journal import JOURNAL_FILE, Journal
from qrt_runner.tracking.mlflow_store import normalize_uri
from qrt_runner.tracking.tracker import TrackingUnavailable, apply_entries, live_store

__all__ = ["SyncOutcome", "find_journals", "still_running", "sync_directory"]

DEFAULT_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "qrt_runner"


@dataclass
class SyncOutcome:
    """What syncing one journal did."""

    directory: Path
    run_id: str | None
    uploaded: int
    status: str | None
    error: str | None = None


def find_journals(path: Path) -> list[Path]:
    """Directories at or below ``path`` that hold a journal, parents before their children."""
    path = Path(path)
    found = [p.parent for p in path.rglob(JOURNAL_FILE)] if path.is_dir() else []
    return sorted(set(found), key=lambda p: (len(p.parts), str(p)))


def sync_directory(
    directory: Path,
    uri: str | None = None,
    experiment: str | None = None,
    timeout_s: float = 10.0,
    _done: dict | None = None,
) -> SyncOutcome:
    """Upload what the store has not seen of the journal in ``directory``.

    Args:
        directory: A run or sweep directory with a ``tracking.jsonl``.
        uri: The store to upload to (default: the one the run recorded, else ``sqlite:///mlflow.db``).
        experiment: The experiment (default: the recorded one).
        timeout_s: Bound of each store call.
    """
    directory = Path(directory).resolve()
    done = {} if _done is None else _done
    if directory in done:
        return done[directory]
    journal = Journal(directory)
    entries = journal.entries()
    if not entries or entries[0].get("op") != "start":
        return SyncOutcome(directory, None, 0, None, "no tracking record (tracking.jsonl) in this directory")
    start = entries[0]
    target = uri or (journal.sync_state() or {}).get("uri") or start.get("uri") or DEFAULT_URI
    live = live_store(target, experiment or start.get("experiment") or DEFAULT_EXPERIMENT, timeout_s)
    state = journal.sync_state()
    same_store = state is not None and normalize_uri(state.get("uri") or "") == live.uri and state.get("run_id")
    run_id, synced = (state["run_id"], int(state["synced"])) if same_store and state is not None else (None, 0)
    try:
        if run_id is None:
            parent = _parent_id(start, live.uri, experiment, timeout_s, done)
            run_id, experiment_id = live.call(
                lambda store: (
                    store.create_run(start.get("name"), start.get("tags") or {}, parent, start.get("time")),
                    store.experiment_id,
                )
            )
            synced = 1
        else:
            assert state is not None  # run_id came from it
            experiment_id = state.get("experiment_id")
        if not any(entry.get("op") == "end" for entry in entries) and not still_running(start):
            closing = {
                "op": "end",
                "status": "KILLED",
                "time": None,
                "reason": "the run stopped before it was closed (closed by qrt-run sync)",
            }
            journal.append(closing)
            entries.append(closing)
        remaining = entries[synced:]
        live.call(lambda store: apply_entries(store, run_id, remaining, directory))
        uploaded = len(remaining)
        journal.save_sync_state(live.uri, experiment_id, run_id, synced + uploaded)
    except TrackingUnavailable as exc:
        outcome = SyncOutcome(directory, run_id, 0, None, str(exc))
    else:
        status = next((e["status"] for e in reversed(entries) if e.get("op") == "end"), "RUNNING")
        outcome = SyncOutcome(directory, run_id, uploaded, status)
    done[directory] = outcome
    return outcome


def _parent_id(start: dict, uri: str, experiment: str | None, timeout_s: float, done: dict) -> str | None:
    parent_dir = start.get("parent_dir")
    if parent_dir and Journal(Path(parent_dir)).exists():
        return sync_directory(Path(parent_dir), uri, experiment, timeout_s, done).run_id
    if start.get("parent") and normalize_uri(start.get("uri") or "") == normalize_uri(uri):
        return start["parent"]
    return None


def still_running(start: dict) -> bool:
    """Whether the process that wrote the journal still runs (same host only)."""
    pid, host = start.get("pid"), start.get("host")
    if not pid or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError):
        return False
    return True
