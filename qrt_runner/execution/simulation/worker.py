"""The simulator process: runs :class:`SimTask` requests received over a channel.

Started by :class:`~qrt_runner.execution.simulation.executor.ProcessExecutor` as
``python -c <bootstrap> <fd> <parent pid>``. It never outlives its parent: on Linux the kernel
sends it SIGKILL when the parent dies (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread
exits when the parent's pid changes while no simulation holds the interpreter, and the channel
closing ends the request loop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback

_PR_SET_PDEATHSIG = 1
_WATCHDOG_PERIOD_S = 0.2


def main(argv: list[str] | None = None) -> None:
    """Entry point of the simulator process: ``<socket fd> <parent pid>``."""
    fd, parent_pid = (int(value) for value in (argv or sys.argv[1:])[:2])
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    from qrt_runner.execution.simulation.channel import Channel

    serve(Channel.from_fd(fd))


def die_with_parent(parent_pid: int, period_s: float = _WATCHDOG_PERIOD_S, name: str = "qrt-parent-watchdog") -> None:
    """End this child process when ``parent_pid`` dies: the kernel's death signal on Linux, and a
    watchdog thread polling the parent every ``period_s`` elsewhere (and as a backstop)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(period_s)
        os._exit(1)

    threading.Thread(target=watch, name=name, daemon=True).start()


def serve(channel) -> None:
    """Loop: receive ``(task_id, task)``, answer ``started``, then ``done`` or ``error``.

    Circuits are kept by ``task.circuit_keys``: one sent as None is taken from this cache. A
    ``task_id`` of ``"clear"`` empties the cache (the parent mirrors its contents).
    """
    from qrt_runner.execution.simulation.task import execute

    circuits: dict = {}
    channel.send(("ready", None, None))
    while True:
        try:
            message = channel.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message is None:
            return
        task_id, task = message
        if task_id == "clear":
            circuits.clear()
            continue
        if task.circuit_keys:
            for position, key in enumerate(task.circuit_keys):
                if task.circuits[position] is None:
                    task.circuits[position] = circuits[key]
                else:
                    circuits[key] = task.circuits[position]
        channel.send(("started", task_id, None))
        try:
            channel.send(("done", task_id, execute(task)))
        except Exception:  # reported to the parent, which raises it
            channel.send(("error", task_id, traceback.format_exc(limit=3)))
