"""The tracker interface of a run: its record is journaled in its directory, then mirrored to a store.

Every call of a :class:`RunTracker` first appends to the run directory's journal
(:mod:`~qrt_runner.tracking.journal`), then, while the store answers, applies the same entry to
it. A store call that fails or does not answer within ``timeout_s`` turns the store offline for
the rest of the process (:class:`LiveStore`): the run goes on, the journal keeps everything, and
``qrt-run sync`` uploads the rest later. Nothing here ever blocks a run for longer than
``timeout_s`` or raises because of the store.

The CLI, the optimisation loop and the sweep callbacks all record through this one interface.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from qrt_runner import interrupts
from qrt_runner.errors import TrackingError
from qrt_runner.tracking.journal import Journal

__all__ = ["LiveStore", "RunTracker", "TrackingUnavailable", "apply_entries", "live_store"]

_LOG = logging.getLogger(__name__)
_LOCAL_OPEN_S = 60.0
# Answers of a working store to a wrong request: raised to the caller, the store stays online.
_REQUEST_ERRORS = {
    "RESOURCE_DOES_NOT_EXIST",
    "INVALID_PARAMETER_VALUE",
    "RESOURCE_ALREADY_EXISTS",
    "BAD_REQUEST",
    "NOT_FOUND",
}


class TrackingUnavailable(TrackingError):
    """The tracking store failed or did not answer in time; the run is kept in its journal."""


class LiveStore:
    """A tracking store reached through calls bounded by ``timeout_s``, on one worker thread.

    The store is opened by the first call. A call refused as a wrong request (an unknown run id)
    raises the store's own error. A call that fails otherwise, or takes longer than
    ``timeout_s``, makes the store offline: that call and every later one raise
    :class:`TrackingUnavailable` at once (an unanswered call is left behind on the daemon
    worker thread, which cannot block the process's exit).

    Args:
        uri: The tracking URI.
        experiment_name: The experiment.
        timeout_s: The bound of each call, store opening included.
        opener: ``opener(uri, experiment_name)`` returns the store (default: MLflow); its optional
            ``wait_ready()`` is waited for like MLflow's import (not counted against the store).
    """

    def __init__(self, uri: str, experiment_name: str | None, timeout_s: float, opener: Callable | None = None) -> None:
        self.uri, self.experiment_name, self.timeout_s = uri, experiment_name, float(timeout_s)
        self._opener = opener
        self._store: Any = None
        self.offline_reason: str | None = None
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._imported = threading.Event()
        threading.Thread(target=self._serve, name="qrt-tracking", daemon=True).start()

    @property
    def offline(self) -> bool:
        return self.offline_reason is not None

    def check(self) -> bool:
        """Open the store now; False (and offline) when it cannot be reached in time."""
        try:
            self.call(lambda store: None)
        except TrackingUnavailable:
            return False
        return True

    def call(self, function: Callable[[Any], Any]) -> Any:
        """``function(store)`` on the worker thread, within ``timeout_s``."""
        if self.offline_reason is not None:
            raise TrackingUnavailable(self.offline_reason)
        done: Future = Future()
        self._requests.put((function, done))
        try:
            with interrupts.deferred():  # a bounded call: Ctrl-C or SIGTERM waits for its answer
                self._imported.wait()  # importing the tracking library is local work, not the store's answer
                return done.result(timeout=self._bound())
        except TimeoutError:
            reason = f"no answer from {self.uri} within {self.timeout_s:g} s"
        except Exception as exc:  # whatever the store raised: connection refused, corrupt database, ...
            if self._store is not None and getattr(exc, "error_code", None) in _REQUEST_ERRORS:
                raise  # the open store answered: the request was wrong (an unknown run id), it is not down
            detail = " ".join(str(exc).split(" [SQL:")[0].split())[:200]
            reason = f"{type(exc).__name__} from {self.uri}: {detail}"
        self.offline_reason = reason
        _LOG.info("tracking is offline: %s", reason)  # the CLI says so once, in its own words
        raise TrackingUnavailable(reason)

    def _bound(self) -> float:
        """The call's time limit: a local store (sqlite, files) is given a minute to open, since it
        may be waiting for another process that creates it; a server gets ``timeout_s``."""
        if self._store is None and not self.uri.startswith(("http://", "https://")):
            return max(self.timeout_s, _LOCAL_OPEN_S)
        return self.timeout_s

    def _serve(self) -> None:
        try:
            if self._opener is None:
                import mlflow  # noqa: F401  (seconds; not counted against the store)
            elif hasattr(self._opener, "wait_ready"):  # a store in a helper process that imports it
                self._opener.wait_ready()
        except Exception:  # noqa: BLE001 - no MLflow (or a broken one): opening the store says so, in time
            pass
        finally:
            self._imported.set()
        while True:
            function, done = self._requests.get()
            if not done.set_running_or_notify_cancel():
                continue
            try:
                if self._store is None:
                    self._store = self._open()
                done.set_result(function(self._store))
            except BaseException as exc:  # reported to the caller
                done.set_exception(exc)

    def _open(self):
        if self._opener is not None:
            return self._opener(self.uri, self.experiment_name)
        from qrt_runner.tracking.mlflow_store import open_store

        return open_store(self.uri, self.experiment_name)


_LIVE: dict[tuple[str, str | None], LiveStore] = {}
_LIVE_LOCK = threading.Lock()


def live_store(uri: str, experiment_name: str | None, timeout_s: float) -> LiveStore:
    """The process-wide :class:`LiveStore` of (``uri``, ``experiment_name``)."""
    from qrt_runner.tracking.mlflow_store import normalize_uri

    key = (normalize_uri(uri), experiment_name)
    with _LIVE_LOCK:
        store = _LIVE.get(key)
        if store is None:
            store = _LIVE[key] = LiveStore(key[0], experiment_name, timeout_s)
        return store


def apply_entries(store: Any, run_id: str, entries: Sequence[Mapping[str, Any]], base_dir: Path) -> None:
    """Apply journal entries (not ``start``) to run ``run_id``, in order, in as few store calls as
    possible: the params, tags and metrics of consecutive entries go in one batch."""
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: list[tuple[str, float, int, int]] = []

    def send_batch() -> None:
        if params or tags or metrics:
            store.log(run_id, params=dict(params), tags=dict(tags), metrics=list(metrics))
            params.clear()
            tags.clear()
            metrics.clear()

    for entry in entries:
        op = entry["op"]
        if op == "params":
            params.update(entry["params"])
        elif op == "tags":
            tags.update(entry["tags"])
        elif op == "metrics":
            metrics.extend((key, value, step, entry["time"]) for key, value, step in entry["metrics"])
        elif op == "artifact":
            send_batch()
            path = Path(entry["path"])
            store.log_artifact(run_id, path if path.is_absolute() else base_dir / path, entry.get("dir"))
        elif op == "end":
            if entry.get("reason"):
                tags["failure_reason"] = entry["reason"]
            send_batch()
            store.end_run(run_id, entry["status"], entry.get("time"))
    send_batch()


class RunTracker:
    """Records one run: into its journal, and into ``live`` while the store answers.

    Args:
        directory: The run (or sweep) directory that holds the journal.
        live: The store to mirror to, or None to keep the record local only.
        destination: Without ``live``, the (uri, experiment) the journal is meant for, recorded in
            its start entry: another process uploads it there (``qrt-run sync``, a sweep's
            launching process).
    """

    def __init__(
        self, directory: Path, live: LiveStore | None, destination: tuple[str, str | None] | None = None
    ) -> None:
        self.directory = Path(directory)
        self.journal = Journal(self.directory)
        self.live = live
        self.destination = (live.uri, live.experiment_name) if live is not None else destination
        self.run_id: str | None = None  # the run's id in the live store
        self._experiment_id: str | None = None
        self._entries = 0
        self._synced = 0
        self._pending: list[dict[str, Any]] = []
        self._started = False

    @property
    def started(self) -> bool:
        """Whether :meth:`start` journaled the run's start (before it, there is no record to close)."""
        return self._started

    @property
    def tracked(self) -> bool:
        """Whether everything recorded so far reached the store."""
        return self.run_id is not None and self._synced == self._entries

    @property
    def offline_reason(self) -> str | None:
        if self.live is None:
            return None
        return self.live.offline_reason

    def start(
        self, name: str | None, tags: Mapping[str, str], parent_id: str | None = None, parent_dir: Path | None = None
    ) -> str | None:
        """Open the run; returns its id in the store (None when the store is unavailable)."""
        entry = {
            "op": "start",
            "name": name,
            "tags": dict(tags),
            "parent": parent_id,
            "parent_dir": str(parent_dir) if parent_dir else None,
            "time": _now_ms(),
            "uri": self.destination[0] if self.destination else None,
            "experiment": self.destination[1] if self.destination else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        with interrupts.deferred():  # journaled and counted together (see _record)
            self._entries = self.journal.append(entry)
            self._pending.clear()
            self._started = True
        if self.live is not None:
            with interrupts.deferred():  # a run created in the store is always known here
                try:
                    self.run_id, self._experiment_id = self.live.call(
                        lambda store: (store.create_run(name, tags, parent_id, entry["time"]), store.experiment_id)
                    )
                    self._synced = self._entries
                    self._save_sync_state()
                except TrackingUnavailable:
                    pass
        return self.run_id

    def log_params(self, params: Mapping[str, str]) -> None:
        self._record({"op": "params", "params": {k: str(v) for k, v in params.items()}})

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._record({"op": "tags", "tags": {k: str(v) for k, v in tags.items()}})

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Log several metrics at one step, now (an iteration's progress: what is pending with it
        reaches the store at once). None, NaN and infinities are left out."""
        self.log_metric_series([(key, value, step) for key, value in metrics.items()])
        self.flush()

    def log_metric_series(self, metrics: list[tuple[str, Any, int]]) -> None:
        """Log ``(key, value, step)`` triples in one entry (non-finite values are left out)."""
        finite = [[key, float(value), int(step)] for key, value, step in metrics if _is_finite(value)]
        if finite:
            self._record({"op": "metrics", "time": _now_ms(), "metrics": finite})

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Keep a file with the run (under ``artifact_path`` in the store when given)."""
        path = Path(path)
        try:
            stored = str(path.resolve().relative_to(self.directory.resolve()))
        except ValueError:
            stored = str(path.resolve())
        entry = {"op": "artifact", "path": stored}
        if artifact_path:
            entry["dir"] = artifact_path
        self._record(entry)

    def end(self, status: str, reason: str | None = None) -> None:
        """Close the run with FINISHED, FAILED or KILLED (``reason``: tag ``failure_reason``)."""
        if status not in ("FINISHED", "FAILED", "KILLED"):
            raise ValueError(f"run status {status!r} is not one of FINISHED, FAILED, KILLED")
        self._record({"op": "end", "status": status, "reason": reason, "time": _now_ms()})
        self.flush()

    def _record(self, entry: dict[str, Any]) -> None:
        """Journal an entry now; it reaches the store with the next :meth:`flush`.

        Ctrl-C or SIGTERM waits until the entry is journaled, counted and pending: a line written but
        not counted would be left out of the store while the sync state counts the lines after it."""
        with interrupts.deferred():
            self._entries = self.journal.append(entry)
            self._pending.append(entry)

    def flush(self) -> None:
        """Send what the store has not seen yet, coalesced into as few calls as possible."""
        if (
            self.live is None
            or self.run_id is None
            or not self._pending
            or self._synced + len(self._pending) != self._entries
        ):
            return
        run_id, directory, pending = self.run_id, self.directory, list(self._pending)
        with interrupts.deferred():  # the store call and its bookkeeping stay together
            try:
                self.live.call(lambda store: apply_entries(store, run_id, pending, directory))
            except TrackingUnavailable:
                self._save_sync_state()
                return
            self._pending.clear()
            self._synced = self._entries
            self._save_sync_state()

    def _save_sync_state(self) -> None:
        if self.run_id is not None and self.live is not None:
            self.journal.save_sync_state(self.live.uri, self._experiment_id, self.run_id, self._synced)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _is_finite(value: Any) -> bool:
    try:
        return value is not None and not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
