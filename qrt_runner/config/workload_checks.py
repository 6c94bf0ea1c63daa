"""Checks of what a run builds and does: the circuit group's values and the task's.

Part of :func:`qrt_runner.config.spec.build_spec`'s validation; each check names the key and the fix.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError

if TYPE_CHECKING:
    from qrt_runner.config.spec import RunSpec

__all__ = ["one_of", "positive_int", "validate_circuit", "validate_task"]

PARAMETER_KINDS = ("one", "list", "grid", "random")
OPTIMIZERS = ("cobyla", "nelder-mead", "powell", "l-bfgs-b", "spsa", "adam")
INITIAL_POINTS = ("zeros", "random", "list")
ENTANGLEMENTS = ("full", "linear", "reverse_linear", "pairwise", "circular", "sca")
MAX_QUBITS = 100_000  # building a wider circuit alone takes minutes (qiskit refuses registers near 2**31)


def positive_int(key: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise ConfigError(key, value, f"must be at least {minimum}", f"set {key} to an integer >= {minimum}")


def validate_circuit(circuit: s.CircuitConfig) -> None:
    if hasattr(circuit, "num_qubits"):
        positive_int("circuit.num_qubits", circuit.num_qubits)
        if circuit.num_qubits > MAX_QUBITS:
            raise ConfigError(
                "circuit.num_qubits",
                circuit.num_qubits,
                f"is more than any device or simulator method runs (at most {MAX_QUBITS:,} qubits are built)",
                "use fewer qubits",
            )
    if isinstance(circuit, (s.EfficientSU2Circuit, s.RealAmplitudesCircuit, s.QaoaCircuit)):
        positive_int("circuit.reps", circuit.reps)
    if isinstance(circuit, (s.EfficientSU2Circuit, s.RealAmplitudesCircuit)):
        one_of("circuit.entanglement", circuit.entanglement, ENTANGLEMENTS)
    if isinstance(circuit, s.RandomCircuit):
        positive_int("circuit.depth", circuit.depth)
        if not 1 <= circuit.max_operands <= 4:
            raise ConfigError(
                "circuit.max_operands",
                circuit.max_operands,
                "must be between 1 and 4",
                "set circuit.max_operands to 1, 2, 3 or 4",
            )
    if isinstance(circuit, s.QaoaCircuit):
        if not circuit.edges:
            raise ConfigError(
                "circuit.edges",
                [],
                "is empty: QAOA needs a graph with at least one weighted edge",
                "give edges as [[a, b, weight], ...], e.g. circuit.edges=[[0,1,1.0],[1,2,1.0]]",
            )
        for edge in circuit.edges:
            if not _is_edge(edge, circuit.num_qubits):
                raise ConfigError(
                    "circuit.edges",
                    edge,
                    f"each edge must be [a, b, weight] with distinct nodes 0..{circuit.num_qubits - 1}",
                    "fix the edge or raise circuit.num_qubits",
                )
    if isinstance(circuit, s.FactoryCircuit) and ":" not in circuit.target:
        raise ConfigError(
            "circuit.target", circuit.target, "must be 'module:function'", "e.g. circuit.target=mypkg.circuits:build"
        )
    pv = circuit.parameter_values
    one_of("circuit.parameter_values.kind", pv.kind, PARAMETER_KINDS)
    positive_int("circuit.parameter_values.num_sets", pv.num_sets)
    if pv.kind in ("one", "list") and pv.values is None:
        raise ConfigError(
            "circuit.parameter_values.values",
            None,
            f"kind={pv.kind} needs values",
            "give circuit.parameter_values.values=[...] or use kind=random",
        )
    if pv.kind == "random":
        _low_below_high("circuit.parameter_values", pv.low, pv.high)
    if pv.kind == "grid":
        if not pv.grid:
            raise ConfigError(
                "circuit.parameter_values.grid",
                {},
                "kind=grid needs at least one parameter",
                "give grid: {name: [start, stop, num]}",
            )
        for name, axis in pv.grid.items():
            if not _is_grid_axis(axis):
                raise ConfigError(
                    f"circuit.parameter_values.grid.{name}",
                    axis,
                    "must be [start, stop, num] with num >= 1, or one value",
                    "e.g. [0, 3.1416, 11] or 0.5",
                )


def _low_below_high(key: str, low: float, high: float) -> None:
    """A uniform draw from ``[low, high)``."""
    if low > high:
        raise ConfigError(
            f"{key}.high",
            high,
            f"is below {key}.low={low}",
            f"give {key}.high >= {key}.low (values drawn from [low, high))",
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_grid_axis(axis: Any) -> bool:
    if _is_number(axis):
        return True
    return (
        isinstance(axis, (list, tuple))
        and len(axis) == 3
        and all(_is_number(v) for v in axis)
        and float(axis[2]).is_integer()
        and axis[2] >= 1
    )


def _is_edge(edge: Any, num_nodes: int) -> bool:
    if not (isinstance(edge, (list, tuple)) and len(edge) == 3 and all(_is_number(v) for v in edge)):
        return False
    a, b = edge[0], edge[1]
    return float(a).is_integer() and float(b).is_integer() and 0 <= a < num_nodes and 0 <= b < num_nodes and a != b


def one_of(key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        close = difflib.get_close_matches(str(value), allowed, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise ConfigError(key, value, "unknown value", f"{hint}choose one of {', '.join(allowed)}")


def validate_task(spec: RunSpec) -> None:
    task = spec.task
    if isinstance(task, s.VqeTask):
        if not spec.is_estimator:
            raise ConfigError(
                "primitive",
                spec.primitive.name,
                f"task={task.name} optimises expectation values",
                "use primitive=estimator",
            )
        one_of("task.optimizer.name", task.optimizer.name, OPTIMIZERS)
        positive_int("task.optimizer.maxiter", task.optimizer.maxiter)
        for key in ("tol", "learning_rate", "perturbation"):
            if getattr(task.optimizer, key) <= 0:
                raise ConfigError(
                    f"task.optimizer.{key}",
                    getattr(task.optimizer, key),
                    "must be > 0",
                    f"set a positive task.optimizer.{key}",
                )
        one_of("task.initial_point.kind", task.initial_point.kind, INITIAL_POINTS)
        if task.initial_point.kind == "random":
            _low_below_high("task.initial_point", task.initial_point.low, task.initial_point.high)
        if task.initial_point.kind == "list" and not task.initial_point.values:
            raise ConfigError(
                "task.initial_point.values",
                task.initial_point.values,
                "kind=list needs values",
                "give task.initial_point.values=[...]",
            )
    if isinstance(task, s.QaoaTask):
        if spec.circuit.name != "qaoa":
            raise ConfigError(
                "task",
                "qaoa",
                f"needs circuit=qaoa (a weighted graph), not circuit={spec.circuit.name}",
                "add circuit=qaoa with circuit.edges",
            )
        positive_int("task.final_shots", task.final_shots)
    if isinstance(task, s.ScanTask):
        pv = spec.circuit.parameter_values
        if pv.kind != "grid" or not 1 <= len(pv.grid) <= 2:
            raise ConfigError(
                "circuit.parameter_values.kind",
                pv.kind,
                "task=scan needs a grid over one or two parameters",
                "set circuit.parameter_values.kind=grid with one or two grid axes",
            )
