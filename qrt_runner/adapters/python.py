"""Undocumented parts of CPython's standard library: ``atexit`` and ``multiprocessing.forkserver``.

Checked against CPython 3.11.7 (tests/test_adapters.py) and the sources of 3.14, which keep every
name used here. The range is pyproject.toml's ``requires-python``
(``>=3.11``), left without an upper bound: a cap on Python breaks installs rather than telling, and
the test fails with the interpreter's version on the first Python that lacks one of them.
"""

from __future__ import annotations

import sys

from qrt_runner.adapters.versions import PYTHON, check_versions

__all__ = ["SUPPORTED", "check_supported", "ensure_forkserver_running", "forkserver_pid", "run_exit_functions"]

SUPPORTED = {PYTHON: ">=3.11"}


def check_supported() -> None:
    """Raise :class:`~qrt_runner.adapters.versions.UnsupportedVersion` unless this interpreter's
    version is in :data:`SUPPORTED`."""
    check_versions(__name__, SUPPORTED)


def run_exit_functions() -> None:
    """Run (and clear) the functions registered with :mod:`atexit`, now, through
    ``atexit._run_exitfuncs``: for a process that then ends with ``os._exit``. Public: none
    (``atexit`` documents ``register`` and ``unregister``; the interpreter runs them at a normal
    exit, which ``os._exit`` skips)."""
    import atexit

    atexit._run_exitfuncs()


def ensure_forkserver_running() -> None:
    """Start this process's multiprocessing forkserver unless it runs (it imports the modules given
    to ``multiprocessing.set_forkserver_preload``), through the undocumented
    ``multiprocessing.forkserver.ensure_running``. Public: none (starting a process with the
    ``"forkserver"`` context starts it as a side effect)."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def forkserver_pid() -> int | None:
    """The process id of the forkserver this process started (None: none started, or the module
    was never imported; nothing is imported here), through the private
    ``multiprocessing.forkserver._forkserver._forkserver_pid``. Public: none."""
    module = sys.modules.get("multiprocessing.forkserver")
    server = getattr(module, "_forkserver", None)
    return getattr(server, "_forkserver_pid", None)
