"""Worker processes that start warm, for a sweep on a local process pool (Hydra's joblib launcher).

A loky worker starts a fresh interpreter, then imports Hydra, qiskit, qrt-run and matplotlib
and loads qiskit's transpiler plugins (one of which imports all of ``qiskit_ibm_runtime``):
about 2 s of CPU per worker before its first point, on the cores the points need. Here the
workers are forked from a forkserver that imported all of it once
(:mod:`~qrt_runner.sweep.preload`). The forkserver is started as soon as the command line shows
a parallel joblib sweep, so that its imports run on a core the launching process, still
starting, leaves idle; a launcher chosen in a config file starts it when the sweep opens.

A start method the user set for loky is kept; the one set here stays for the rest of the
process. The forkserver runs no Python thread of its own, so forking workers from it is safe
(tested; OpenBLAS's native threads handle fork themselves). Loky's thread-limit environment
variables do not reach forked workers: a point sets them for its simulator from the sweep's
share of the cores (:func:`qrt_runner.runs.check.limit_native_threads`), besides its Aer threads.
A forked worker also runs the launching script's ``__main__`` again, as a spawned one does:
``qrt-run`` guards it, and so must a script that runs a joblib sweep in-process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

from qrt_runner.adapters import loky
from qrt_runner.adapters import python as python_internals

__all__ = ["start_forkserver", "stop_forkserver", "stop_local_workers", "use_warm_workers", "wants_warm_workers"]

PRELOAD_MODULE = "qrt_runner.sweep.preload"


def wants_warm_workers(args: list[str]) -> bool:
    """Whether a command line is a joblib sweep with more than one worker."""
    options = {arg.lstrip("+").partition("=")[0]: arg.partition("=")[2].strip() for arg in args if "=" in arg}
    return (
        any(arg in ("-m", "--multirun") for arg in args)
        and options.get("hydra/launcher") == "joblib"
        and options.get("hydra.launcher.n_jobs") != "1"
    )


def start_forkserver() -> None:
    """Start the forkserver (importing what a point needs) unless running; returns at once.

    It starts with Ctrl-C ignored, a disposition that exec keeps: Python's forkserver ignores
    Ctrl-C only once its imports are done, and a terminal's Ctrl-C (sent to the whole foreground
    process group) during them printed their traceback on the sweep's stderr. Its workers start
    with it ignored too, until their point installs the run's handlers."""
    if sys.platform == "win32":  # no forkserver there
        return
    import multiprocessing

    multiprocessing.set_forkserver_preload([PRELOAD_MODULE])
    with _ctrl_c_ignored_by_children():
        python_internals.ensure_forkserver_running()


@contextlib.contextmanager
def _ctrl_c_ignored_by_children():
    """Ignore Ctrl-C while the block starts processes (only the main thread can; a Ctrl-C in these
    milliseconds is lost)."""
    previous = signal.getsignal(signal.SIGINT)  # None: a handler not set from Python, none to set back
    if threading.current_thread() is not threading.main_thread() or previous is None:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def use_warm_workers() -> None:
    """Have loky start this sweep's workers from the forkserver (unless its start method was set)."""
    if sys.platform == "win32" or loky.start_method() is not None:
        return
    loky.set_start_method("forkserver")
    start_forkserver()


def stop_local_workers() -> None:
    """Stop the local pool's processes before qrt-run exits: joblib's workers (idle once the sweep
    has closed; Python's exit would stop them, qrt-run's fast exit does not) and the forkserver."""
    executor = loky.running_reusable_executor()
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)
    stop_forkserver()


def stop_forkserver() -> None:
    """Stop the forkserver at once, if this process started one. Left alone it exits with this
    process, tearing its preloaded modules down (0.5 s), and whatever reads qrt-run's output
    through a pipe waits for that."""
    pid = python_internals.forkserver_pid()
    if pid is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
