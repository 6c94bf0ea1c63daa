"""What a sweep's point needs, imported once by the forkserver its workers are forked from
(:mod:`~qrt_runner.sweep.workers`); importing this module is its whole purpose.

Besides modules, it loads qiskit's transpiler stage plugins (stevedore imports every installed
plugin, ``qiskit_ibm_runtime`` among them: 0.8 s), which the first transpilation of every
process would otherwise pay. Nothing here starts a thread or runs a circuit: the forkserver
must stay safe to fork.
"""

import hydra_plugins.hydra_joblib_launcher._core  # noqa: F401
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
from matplotlib.figure import Figure  # noqa: F401
from qiskit import qpy  # noqa: F401
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager  # noqa: F401
from qiskit.transpiler.preset_passmanagers.plugin import PassManagerStagePluginManager

import qrt_runner.cli.task  # noqa: F401
import qrt_runner.records.artifacts  # noqa: F401
import qrt_runner.records.plots  # noqa: F401
import qrt_runner.sweep.lifecycle  # noqa: F401
import qrt_runner.tasks.runner  # noqa: F401
import qrt_runner.tracking.journal  # noqa: F401

PassManagerStagePluginManager()
