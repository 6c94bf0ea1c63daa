"""What a ``qrt-run`` starts early, so that its cost overlaps the run's own preparation.

Both go to processes other than the run's own, which is busy with Hydra, the checks and the
transpiler (a thread of it would take its time from the run: both need the interpreter):

* :func:`start_tracking_helper`: MLflow imported in a helper process
  (:mod:`~qrt_runner.tracking.remote`), started before Hydra composes the config, unless the
  command line already says the run does not track (the simulator process is not started that
  early: three processes importing at once on two cores slowed the run down by 0.15 s);
* :func:`warm_device`: the simulator process reads the fake device (from the device cache of
  :mod:`~qrt_runner.execution.devices`; the first time from its provider, ``qiskit_ibm_runtime``,
  1-2 s) and loads Aer by simulating one shot of a
  1-qubit circuit on it, while the run checks its config and transpiles. Without it, the first
  job of a run paid for that (0.9 s of a 1.4 s level-2 job on ``fake_manila``). The device's
  noise on the qubits the circuit uses is still built by the job (they are known only once it
  is transpiled). Nothing of it reaches a result: the simulator's seeds are the job's own.

Neither changes what a run records. ``QRT_NO_EARLY_START=1`` in the environment turns both off
(MLflow is then imported in the run's own process, and the first job readies the device), to
measure what they save (``benchmarks/cold_run.py --early-start-off 1``) or to rule them out;
``QRT_NO_EARLY_START=tracking`` or ``=device`` turns off only that one.
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = [
    "NO_EARLY_START_ENV",
    "cancel_device_warm_up",
    "early_start_off",
    "start_tracking_helper",
    "stop_unused_tracking_helper",
    "warm_device",
]

_WARM_UP_LIMIT_S = 120.0
_warm: dict[str, Any] = {"thread": None, "done": set()}

# Hydra flags that print something instead of running; -m and --multirun run sweeps (their
# points track through the sweep's own machinery).
_NO_RUN_FLAGS = (
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--hydra-help",
    "--version",
    "--shell-completion",
    "-sc",
    "--resolve",
)
_SWEEP_FLAGS = ("-m", "--multirun")
_FALSE = ("false", "no", "off", "0")
NO_EARLY_START_ENV = "QRT_NO_EARLY_START"
_PARTS = {"tracking", "device"}  # what QRT_NO_EARLY_START may name


def early_start_off(part: str) -> bool:
    """Whether ``QRT_NO_EARLY_START`` turns off the early start of ``part`` (``tracking``: the
    tracking helper; ``device``: the device warm-up). Unset, empty, 0, false, no or off turn
    off nothing; ``tracking``, ``device`` or both (comma-separated) those; any other value both."""
    value = os.environ.get(NO_EARLY_START_ENV, "").strip().lower()
    if value in ("", *_FALSE):
        return False
    parts = {item.strip() for item in value.split(",")}
    return part in parts if parts <= _PARTS else True


def start_tracking_helper(args: list[str]) -> None:
    """For a single run (not a sweep, nor ``--cfg`` and the like) that may track, start MLflow's
    helper process before Hydra composes the config (see the module's docstring). A run whose
    composed config does not track stops it (:func:`stop_unused_tracking_helper`)."""
    import sys

    if "mlflow" in sys.modules or early_start_off("tracking"):  # imported already: qrt-run replay read a record
        return
    for arg in args:
        if arg in _SWEEP_FLAGS or arg.split("=")[0] in _NO_RUN_FLAGS:
            return
        key, _, value = arg.lstrip("+~").partition("=")
        value = value.strip()
        if (
            (key == "tracking" and value == "none")
            or (key == "tracking.enabled" and value.lower() in _FALSE)
            or (key == "hydra.mode" and value.upper() == "MULTIRUN")  # a sweep without -m
        ):
            return
    from qrt_runner.tracking import remote

    remote.start()


def stop_unused_tracking_helper(cfg) -> None:
    """Stop the tracking helper at once when the composed config does not track (an experiment
    overlay that sets ``tracking: none``) or is a sweep's (an overlay that sets ``hydra.mode:
    MULTIRUN``: sweep points track without it), so that it takes no more of the machine."""
    from qrt_runner.tracking import remote

    if remote.current() is None:
        return
    try:  # the config is not checked yet: what it gets wrong is reported by the checks
        enabled = cfg.tracking.get("enabled")
    except Exception:  # noqa: BLE001
        enabled = None
    if enabled is False or _in_sweep():
        remote.discard()


def _in_sweep() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:  # noqa: BLE001 - outside Hydra: not a sweep
        return False


def warm_device(cfg) -> None:
    """Have the simulator process ready ``cfg``'s fake device, on a background thread (see the
    module's docstring); nothing for another backend, or a device it has readied already."""
    from qrt_runner.execution.fake_backends import fake_backend_names
    from qrt_runner.execution.simulation.executor import default_executor

    if early_start_off("device"):
        return
    try:  # the config is not checked yet: what it gets wrong is reported by the checks
        name = cfg.backend.get("name")
    except Exception:  # noqa: BLE001
        return
    executor = default_executor()
    if not isinstance(name, str) or name not in fake_backend_names() or executor.pid is None:
        return
    key = f"{executor.pid}:{name}"
    if key in _warm["done"]:
        return
    _warm["done"].add(key)
    from qiskit import QuantumCircuit

    from qrt_runner.execution.simulation.task import SimTask

    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    task = SimTask(
        kind="counts",
        device=name,
        qubits=(0,),
        method="automatic",
        threads=1,
        seed=0,
        shots=1,
        circuits=[circuit],
        parameter_values=[None],
    )

    def run() -> None:
        try:
            executor.run(task, lambda started: started + _WARM_UP_LIMIT_S)
        except Exception:  # noqa: BLE001 - a warm-up that fails leaves the work to the first job
            pass

    thread = threading.Thread(target=run, name="qrt-device-warm-up", daemon=True)
    _warm["thread"] = thread
    thread.start()


def cancel_device_warm_up() -> None:
    """Stop a warm-up still running (an invalid config, or the run's end): the simulator process
    is stopped with it, so that the exit does not wait for it."""
    thread = _warm["thread"]
    if thread is not None and thread.is_alive():
        from qrt_runner.execution.simulation.executor import default_executor

        default_executor().abort()
        thread.join(timeout=5)
    _warm["thread"] = None
