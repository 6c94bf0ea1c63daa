"""The simulator process: runs :class:`SimTask` requests received over a pipe."""

from __future__ import annotations

import traceback


def serve(connection) -> None:
    """Loop: receive ``(task_id, task)``, answer ``started``, then ``done`` or ``error``."""
    from qrt_runner.simulation.task import execute

    connection.send(("ready", None, None))
    while True:
        try:
            message = connection.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            return
        task_id, task = message
        connection.send(("started", task_id, None))
        try:
            connection.send(("done", task_id, execute(task)))
        except Exception:  # reported to the parent, which raises it
            connection.send(("error", task_id, traceback.format_exc(limit=3)))
