"""MLflow in a helper process: the tracking store of a ``qrt-run`` started before the run needs it.

Importing MLflow and its SQL store is most of what tracking costs a one-off run (about 1.4 s of
interpreter time on this machine: ``mlflow`` 0.6-0.9 s, ``mlflow.store.tracking.sqlalchemy_store``
0.5 s; opening the store afterwards takes 0.03 s). In the run's own process that time is taken
from the run itself, even on another thread, since both need the interpreter. So ``qrt-run``
starts this helper process as soon as it starts (:func:`start`): it imports MLflow on another
core while the run composes its config, checks it and transpiles, and the run's tracker then
sends it its store calls (:func:`opener` gives a :class:`~qrt_runner.tracking.tracker.LiveStore`
a store that lives here).

Nothing changes for the record: the helper opens the store only when the run's tracker first
calls it, which is when the in-process store would have opened (after the config was checked:
an invalid config still leaves no database behind); every call is made and answered in the
same order and bounded by the same ``tracking.timeout_s`` (the helper's import time is not
counted, as in-process MLflow's import is not); an error of the store is raised to the caller
with the store's own exception name, message and MLflow ``error_code``. A helper that could not
start, ended, or did not get ready within :data:`READY_LIMIT_S` before the store was opened
leaves the store to this process, as without it (MLflow is imported here then). One that dies
after it opened the store makes the store offline for the rest of the run, as when a store
stops answering (the journal keeps everything; ``qrt-run sync`` uploads it).

The helper runs in a session of its own, so a terminal's Ctrl-C, a closed terminal's SIGHUP and
a signal sent to the run's process group never reach it, and it ignores SIGINT, SIGTERM and
SIGHUP as well: they are the run's to handle, and a run stopped that way still writes its record
through it. It never outlives the run: the run stops it once it knows it does not track, and at
its exit (:func:`discard`); the kernel kills it when the run's process dies (``PR_SET_PDEATHSIG``
on Linux; a watchdog elsewhere), and it exits when its channel closes.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from qrt_runner.adapters import mlflow as mlflow_internals

__all__ = ["RemoteStoreError", "TrackingHelper", "current", "discard", "opener", "start"]

_SYS_PATH_ENV = "QRT_TRACKING_SYS_PATH"
_BOOTSTRAP = (
    "import json, os, sys\n"
    f"sys.path[:] = json.loads(os.environ.pop('{_SYS_PATH_ENV}'))\n"
    "from qrt_runner.tracking.remote import helper_main\n"
    "helper_main()\n"
)
_WATCHDOG_PERIOD_S = 0.5
# How long the run waits for the helper's imports before it imports MLflow itself (a helper
# stopped or stuck must not hang the run; on an idle machine the imports take 1-2 s).
READY_LIMIT_S = 120.0
# What the helper imports before it is asked anything: MLflow, and the store of sqlite URIs
# (the default ``tracking.uri``); other stores import theirs when opened.
_SPECULATIVE_IMPORTS = ("mlflow", mlflow_internals.SQL_STORE_MODULE)


class RemoteStoreError(Exception):
    """An error the store raised in the helper process; its class is named after the store's own
    (``MlflowException``, ``OperationalError``, ...) and it keeps MLflow's ``error_code``."""

    error_code: str | None = None


def _remote_error(type_name: str, message: str, error_code: str | None) -> RemoteStoreError:
    cls = type(type_name, (RemoteStoreError,), {"__module__": __name__})
    error = cls(message)
    error.error_code = error_code
    return error


class TrackingHelperEnded(ConnectionError):
    """The helper process ended, or its channel broke."""


class TrackingHelper:
    """The parent's end of a helper process (one per ``qrt-run`` process)."""

    def __init__(self) -> None:
        from qrt_runner.execution.simulation.channel import Channel

        parent, child = socket.socketpair()
        env = {**os.environ, _SYS_PATH_ENV: json.dumps(sys.path)}
        command = [sys.executable, "-c", _BOOTSTRAP, str(child.fileno()), str(os.getpid())]
        try:
            self._process: subprocess.Popen | None = subprocess.Popen(
                command, pass_fds=(child.fileno(),), env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self._channel = Channel(parent)
        self._lock = threading.Lock()  # one request and its answer at a time
        self._ready: bool | None = None  # None: not known yet; False: the helper is not usable

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def wait_ready(self, limit_s: float = READY_LIMIT_S) -> bool:
        """Wait until the helper has imported MLflow (or failed to); whether it is usable. A
        helper not ready within ``limit_s`` is stopped (it is not usable)."""
        with self._lock:
            if self._ready is None:
                deadline = time.monotonic() + limit_s
                try:
                    while not self._channel.poll(min(1.0, max(deadline - time.monotonic(), 0.0))):
                        if time.monotonic() >= deadline:
                            raise TimeoutError
                    self._ready = self._channel.recv()[0] == "ready"
                except (EOFError, OSError):  # TimeoutError is an OSError
                    self._ready = False
                if not self._ready:
                    self._stop_process()
            return self._ready

    def request(self, *message: Any) -> Any:
        """Send one request and return its answer (raises the store's error, or TrackingHelperEnded)."""
        if not self.wait_ready():
            raise TrackingHelperEnded("the tracking helper process did not start")
        with self._lock:
            try:
                self._channel.send(message)
                answer = self._channel.recv()
            except (EOFError, OSError) as exc:
                self._ready = False
                self._stop_process()
                raise TrackingHelperEnded(f"the tracking helper process ended ({type(exc).__name__})") from None
        for record in answer[-1]:  # what the store logged meanwhile goes to this process's logging
            logger = logging.getLogger(record.name)
            if logger.isEnabledFor(record.levelno):
                logger.handle(record)
        if answer[0] == "ok":
            return answer[1]
        _, type_name, text, error_code, _ = answer
        raise _remote_error(type_name, text, error_code)

    def open(self, uri: str, experiment_name: str | None) -> RemoteStore:
        """Open (or create) the store in the helper, as :func:`~qrt_runner.tracking.mlflow_store.open_store` does."""
        key = self.request("open", uri, experiment_name)
        return RemoteStore(self, key)

    def close(self) -> None:
        """Stop the helper (whatever it was doing: every call of a run is answered before it ends)."""
        self._ready = False
        try:
            self._channel.close()
        except OSError:
            pass
        self._stop_process()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
        if process is not None:
            try:
                process.wait(timeout=5)  # reaped: no zombie left while the run goes on
            except subprocess.TimeoutExpired:
                pass


class RemoteStore:
    """A store that lives in the helper: its methods and attributes, each one request away.

    Arguments and results travel pickled: the calls a run's tracker makes (``create_run``,
    ``log``, ``log_artifact``, ``end_run``, ``search_tags``, ``experiment_id``) take and return
    plain values.
    """

    def __init__(self, helper: TrackingHelper, key: tuple[str, str | None]) -> None:
        self._helper, self._key = helper, key
        self._methods: set[str] = set()  # names known to be methods: called without asking first

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._methods:
            kind, value = self._helper.request("getattr", self._key, name)
            if kind == "value":
                return value
            self._methods.add(name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._helper.request("call", self._key, name, args, kwargs)

        method.__name__ = name
        return method


_HELPER: TrackingHelper | None = None


def start() -> TrackingHelper | None:
    """Start the process's helper now (from the main thread: Linux ties the helper's death signal
    to the thread that started it); None when it cannot start (the run then tracks as without it)."""
    global _HELPER
    if _HELPER is None:
        try:
            _HELPER = TrackingHelper()
        except Exception:  # noqa: BLE001 - no helper (no process or file left to spare): MLflow in this process
            return None
        atexit.register(discard)
    return _HELPER


def current() -> TrackingHelper | None:
    """The helper started by :func:`start`, if any and not discarded."""
    return _HELPER


def discard() -> None:
    """Stop the helper (a run that does not track, or the process's exit)."""
    global _HELPER
    helper, _HELPER = _HELPER, None
    if helper is not None:
        helper.close()


def opener(helper: TrackingHelper):
    """A :class:`~qrt_runner.tracking.tracker.LiveStore` opener whose stores live in ``helper``.

    Its ``wait_ready()`` (which the store waits for like MLflow's import, not counted against
    the store's time limit) waits for the helper's imports, or imports MLflow here when the
    helper is not usable. A helper that is not usable, or ends before the store is open in it,
    leaves the store to this process, as without it.
    """

    def wait_ready() -> bool:
        if helper.wait_ready():
            return True
        import mlflow  # noqa: F401  (the helper did not import it: this process does, as without it)

        return False

    def open_remote(uri: str, experiment_name: str | None):
        if helper.wait_ready():
            try:
                return helper.open(uri, experiment_name)
            except TrackingHelperEnded:
                pass
        from qrt_runner.tracking.mlflow_store import open_store

        return open_store(uri, experiment_name)

    open_remote.wait_ready = wait_ready  # type: ignore[attr-defined]
    return open_remote


# ---------------------------------------------------------------- the helper process


def helper_main(argv: list[str] | None = None) -> None:
    """Entry point of the helper process: ``<socket fd> <parent pid>``."""
    fd, parent_pid = (int(value) for value in (argv or sys.argv[1:])[:2])
    from qrt_runner.execution.simulation.worker import die_with_parent

    die_with_parent(parent_pid, _WATCHDOG_PERIOD_S, "qrt-tracking-watchdog")
    for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if signum is not None:
            signal.signal(signum, signal.SIG_IGN)  # the run handles them, and still records through us
    from qrt_runner.execution.simulation.channel import Channel

    channel = Channel.from_fd(fd)
    for module in _SPECULATIVE_IMPORTS:
        try:
            __import__(module)
        except Exception:  # noqa: BLE001 - an import that fails here fails again, reported, when the store opens
            break
    try:
        channel.send(("ready",))
    except OSError:  # the run ended while this imported
        return
    _serve(channel)


class _LogRecords(logging.Handler):
    """Keeps the log records of a request (WARNING and above, as ``qrt-run``'s root logger
    passes), to be handled by the run's own logging (its console and ``qrt-run.log``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg, record.args = record.getMessage(), None  # plain text: it is pickled
            if record.exc_info:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
                record.exc_info = None
            self.records.append(record)
        except Exception:  # noqa: BLE001 - a record that cannot be kept is dropped, as a handler would
            pass

    def take(self) -> list[logging.LogRecord]:
        records, self.records = self.records, []
        return records


def _serve(channel) -> None:
    from qrt_runner.tracking.mlflow_store import open_store

    records = _LogRecords()
    logging.getLogger().addHandler(records)
    logging.getLogger().setLevel(logging.WARNING)
    stores: dict[tuple[str, str | None], Any] = {}
    while True:
        try:
            message = channel.recv()
        except (EOFError, OSError):
            return
        try:
            if message[0] == "open":
                _, uri, experiment_name = message
                store = open_store(uri, experiment_name)
                stores[(store.uri, experiment_name)] = store
                answer: tuple = ("ok", (store.uri, experiment_name))
            elif message[0] == "getattr":
                _, key, name = message
                value = getattr(stores[key], name)
                answer = ("ok", ("method", None) if callable(value) else ("value", value))
            else:
                _, key, name, args, kwargs = message
                answer = ("ok", getattr(stores[key], name)(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - every error of the store goes back to the run
            answer = ("error", type(exc).__name__, str(exc), getattr(exc, "error_code", None))
        logged = records.take()
        try:
            channel.send((*answer, logged))
        except (OSError, EOFError):
            return
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be pickled
            try:
                channel.send(("error", type(exc).__name__, f"cannot send the store's answer: {exc}", None, []))
            except OSError:
                return
