"""The simulator process: runs :class:`SimTask` requests received over a pipe."""

from __future__ import annotations

import traceback


def serve(connection) -> None:
    """Loop: receive ``(task_id, task)``, answer ``started``, then ``done`` or ``error``.

    Circuits are kept by ``task.circuit_keys``: one sent as None is taken from this cache. A
    ``task_id`` of ``"clear"`` empties the cache (the parent mirrors its contents).
    """
    import signal

    from qrt_runner.simulation.task import execute

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    circuits: dict = {}
    connection.send(("ready", None, None))
    while True:
        try:
            message = connection.recv()
        except (EOFError, KeyboardInterrupt):
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
        connection.send(("started", task_id, None))
        try:
            connection.send(("done", task_id, execute(task)))
        except Exception:  # reported to the parent, which raises it
            connection.send(("error", task_id, traceback.format_exc(limit=3)))
