"""Which transpiler plugins a ``qrt-run`` process loads: Qiskit's own.

Every pass manager Qiskit builds imports every installed plugin of its stages and of high-level
synthesis (stevedore's ``invoke_on_load``), selected or not: with qiskit-ibm-runtime and
qiskit-experiments installed, the first pass manager of a process imports both (their translation
plugins and an extra Clifford synthesis method), 2-6 s of a cold run. A ``qrt-run`` config selects
no plugin by name: it sets the optimization level, the seed and the layout, and the stages run
Qiskit's default methods, so those imports buy nothing. ``qrt-run`` therefore sets
``QRT_TRANSPILER_PLUGINS=qiskit`` (inherited by its simulator, sweep and tracking processes), and
:func:`preset_pass_manager` then lets Qiskit's plugin managers see only the plugins Qiskit itself
installs, plus the synthesis plugins of operations Qiskit has no method for (a third-party gate
stays synthesizable). The pass managers are the same: the same passes, the same circuits out
(tests/test_plugins.py compares them at every level with and without the limit).

``QRT_TRANSPILER_PLUGINS=all`` (or unset: the library used from a script) loads every plugin, as
Qiskit does.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from qrt_runner.adapters.stevedore import limit_entry_points

if TYPE_CHECKING:
    from qiskit.transpiler import StagedPassManager

__all__ = [
    "PLUGINS_ENV",
    "limit_to_qiskit_plugins",
    "preset_pass_manager",
    "synthesis_filter",
    "use_qiskit_plugins_only",
]

PLUGINS_ENV = "QRT_TRANSPILER_PLUGINS"
_STAGES = ("init", "layout", "routing", "translation", "optimization", "scheduling")
_SYNTHESIS = "qiskit.synthesis"
_NAMESPACES = (*(f"qiskit.transpiler.{stage}" for stage in _STAGES), _SYNTHESIS, "qiskit.unitary_synthesis")


def use_qiskit_plugins_only() -> None:
    """Called by ``qrt-run`` at its start: this process and those it starts load only Qiskit's
    own transpiler plugins (unless the environment says ``QRT_TRANSPILER_PLUGINS=all``)."""
    os.environ.setdefault(PLUGINS_ENV, "qiskit")


def preset_pass_manager(**options: Any) -> StagedPassManager:
    """Qiskit's ``generate_preset_pass_manager(**options)``, with the plugins this process allows."""
    from qiskit.transpiler import generate_preset_pass_manager

    if os.environ.get(PLUGINS_ENV, "").strip().lower() == "qiskit":
        limit_to_qiskit_plugins()
    return generate_preset_pass_manager(**options)


@cache
def limit_to_qiskit_plugins() -> None:
    """Narrow every transpiler plugin namespace of this process to Qiskit's own plugins (and the
    synthesis of operations only a third party synthesizes); once per process."""
    installed = entry_points()  # read once: each reading scans every installed distribution
    points = [point for namespace in _NAMESPACES for point in installed.select(group=namespace)]
    qiskit_operations = {_operation(p) for p in points if p.group == _SYNTHESIS and _from_qiskit(p)}
    for namespace in _NAMESPACES:
        keep = synthesis_filter(qiskit_operations) if namespace == _SYNTHESIS else _from_qiskit
        limit_entry_points(namespace, keep, points)


def synthesis_filter(qiskit_operations: set[str]) -> Callable[[EntryPoint], bool]:
    """Which high-level-synthesis plugins stay: Qiskit's own, and another package's for an
    operation Qiskit has no method for (another method for a Qiskit operation is left out)."""
    return lambda point: _from_qiskit(point) or _operation(point) not in qiskit_operations


def _operation(point: EntryPoint) -> str:
    return point.name.partition(".")[0]


def _from_qiskit(point: EntryPoint) -> bool:
    """A plugin of Qiskit itself: its module is in the ``qiskit`` package (not a namespace package:
    no other distribution installs modules there)."""
    return point.value.startswith("qiskit.")
