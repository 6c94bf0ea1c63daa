"""What a sweep's point needs, imported once by the forkserver its workers are forked from
(:mod:`~qrt_runner.sweep.workers`); importing this module is its whole purpose.

Besides modules, it loads qiskit's transpiler stage plugins (stevedore imports every installed
plugin, ``qiskit_ibm_runtime`` among them: 0.8 s), which the first transpilation of every
process would otherwise pay. Nothing here starts a thread or runs a circuit: the forkserver
must stay safe to fork. A failure leaves the rest to the workers (a broken forkserver would
fail every point).

The workers inherit this process's environment. Forked workers see ``fork`` as their start
method, and qiskit would then run ``parallel_map`` in child processes of each worker;
``QISKIT_PARALLEL=FALSE`` keeps qiskit serial there, as in loky's own workers (unless set).
"""

import importlib
import logging
import os

from qrt_runner.adapters.hydra import JOBLIB_LAUNCHER_MODULE

_MODULES = (
    JOBLIB_LAUNCHER_MODULE,
    "matplotlib.backends.backend_agg",
    "matplotlib.figure",
    "qiskit.qpy",
    "qiskit.transpiler.preset_passmanagers",
    "qrt_runner.runs.task",
    "qrt_runner.records.artifacts",
    "qrt_runner.records.plots",
    "qrt_runner.sweep.lifecycle",
    "qrt_runner.tasks.runner",
    "qrt_runner.tracking.journal",
)

os.environ.setdefault("QISKIT_PARALLEL", "FALSE")
try:
    for _name in _MODULES:
        importlib.import_module(_name)
    from qiskit.transpiler.preset_passmanagers.plugin import PassManagerStagePluginManager

    PassManagerStagePluginManager()
except Exception:  # noqa: BLE001 - see the module's docstring
    logging.getLogger(__name__).warning("preloading for joblib workers stopped", exc_info=True)
