"""Work finished on a background thread while the main thread waits for the simulator.

A sweep's points run one after another in the process that opened the sweep (the basic
launcher, or a sweeper such as Optuna). Once a point's ``results.json`` is written, the rest of
its record (plots, circuit drawings, uploads, closing its run, ``point.json``) need not hold up
the next point. It is handed to :func:`submit`, and done in steps between which
:func:`step` waits until the main thread is idle: waiting for the simulator process
(:func:`waiting`), which leaves this process's core free. Python runs one thread at a time, so
work done while the main thread is busy would only slow it down. A step waits at most
``_MAX_WAIT_S``, so the work always progresses; :func:`drain` (the sweep's close) lets it run
freely and waits for the end, and so does the interpreter's exit (the thread is joined then).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["drain", "step", "submit", "waiting"]

_MAX_WAIT_S = 2.0
_LOCK = threading.Lock()
_EXECUTOR: list[ThreadPoolExecutor] = []
_PENDING: list[Future] = []
_IDLE = threading.Event()  # set while the main thread waits for the simulator, or drains
_WAITERS = [0]
_DRAINING = [0]
_WORKER = threading.local()


def submit(work: Callable[[], None], what: str) -> None:
    """Run ``work`` on the background thread, after what was handed over before it (in order);
    ``what`` names it in the one-line warning printed if it fails."""
    with _LOCK:
        if not _EXECUTOR:
            _EXECUTOR.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="qrt-background"))
        _PENDING.append(_EXECUTOR[0].submit(_guarded, work, what))


def drain() -> None:
    """Let the background work run freely, and wait until everything handed over so far is done."""
    with _LOCK:
        pending = list(_PENDING)
        _PENDING.clear()
        _DRAINING[0] += 1
        _IDLE.set()
    try:
        for future in pending:
            future.result()
    finally:
        with _LOCK:
            _DRAINING[0] -= 1
            _update()


def step() -> None:
    """On the background thread: wait (at most ``_MAX_WAIT_S``) until the main thread is idle.
    Anywhere else: return at once."""
    if getattr(_WORKER, "active", False):
        _IDLE.wait(_MAX_WAIT_S)


@contextlib.contextmanager
def waiting() -> Iterator[None]:
    """Mark the main thread idle for the block (it waits for another process)."""
    with _LOCK:
        _WAITERS[0] += 1
        _update()
    try:
        yield
    finally:
        with _LOCK:
            _WAITERS[0] -= 1
            _update()


def _update() -> None:
    if _WAITERS[0] or _DRAINING[0]:
        _IDLE.set()
    else:
        _IDLE.clear()


def _guarded(work: Callable[[], None], what: str) -> None:
    _WORKER.active = True
    try:
        work()
    except Exception as exc:  # noqa: BLE001 - one record's failure must not stop the others'
        print(
            f"qrt-run: warning: the record of {what} is incomplete ({type(exc).__name__}: {exc})",
            file=sys.stderr,
            flush=True,
        )
    finally:
        _WORKER.active = False
