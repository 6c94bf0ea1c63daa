"""SIGTERM and SIGHUP handled like Ctrl-C: raised in the main thread as a KeyboardInterrupt.

``timeout``, SLURM preemption and ``docker stop`` send SIGTERM; a closed terminal sends SIGHUP.
With :func:`install`, each becomes a :class:`Terminated` exception, a ``KeyboardInterrupt``, so
every path that handles Ctrl-C (stop the running job, keep what finished, close the records
KILLED) handles them too. The signal received is remembered for the exit code (128 + signal).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["Terminated", "deferred", "describe", "install", "interrupt_means", "received"]

_HANDLED = (signal.SIGTERM, signal.SIGHUP) if hasattr(signal, "SIGHUP") else (signal.SIGTERM,)
_RECEIVED: list[int] = []
_DEFERRING = [0]
_PENDING: list[int] = []


class Terminated(KeyboardInterrupt):
    """The process was asked to stop by a signal (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


def install() -> None:
    """Turn SIGTERM and SIGHUP into :class:`Terminated`, and Ctrl-C into KeyboardInterrupt, both
    deferrable (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (*_HANDLED, signal.SIGINT):
        if signal.getsignal(signum) is not _raise:
            signal.signal(signum, _raise)


def _raise(signum: int, frame) -> None:
    if signum != signal.SIGINT:
        _RECEIVED.append(signum)
    if _DEFERRING[0]:
        _PENDING.append(signum)
        return
    raise _exception(signum)


def _exception(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP back until the block ends (for short work that must not be
    cut in half, such as a bounded call to the tracking store); then raise the first one held.
    Signals reach the main thread only: in any other thread this holds nothing back (a held
    signal raised there would stop that thread, not the run)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _DEFERRING[0] += 1
    try:
        yield
    finally:
        _DEFERRING[0] -= 1
        if not _DEFERRING[0] and _PENDING:
            signum = _PENDING[0]
            _PENDING.clear()
            raise _exception(signum)


def received() -> int | None:
    """The first terminating signal this process received (None: none)."""
    return _RECEIVED[0] if _RECEIVED else None


def describe(exc: BaseException) -> str:
    """What stopped a run, for its ``error``: the signal's name, or Ctrl-C (or what
    :func:`interrupt_means` says a KeyboardInterrupt means in this process)."""
    if isinstance(exc, Terminated):
        return f"{exc} (the jobs that finished are kept)"
    return _INTERRUPT_MEANS[0]


_INTERRUPT_MEANS = ["interrupted by the user (Ctrl-C)"]


def interrupt_means(text: str) -> None:
    """What a KeyboardInterrupt means in this process, for :func:`describe` (a Ray worker's comes
    from the launcher cancelling its point, not from a keyboard)."""
    _INTERRUPT_MEANS[0] = text
