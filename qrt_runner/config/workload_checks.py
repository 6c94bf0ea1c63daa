"""Checks of what a run builds and does that involve several fields: the circuit group's and the
task's (each field's own range is declared on the schema).

Part of :func:`qrt_runner.config.spec.build_spec`'s validation; each check names the key and the fix.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError

if TYPE_CHECKING:
    from qrt_runner.config.spec import RunSpec

__all__ = ["validate_circuit", "validate_task"]


def validate_circuit(circuit: s.CircuitConfig) -> None:
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
    if isinstance(task, s.ScanTask):
        pv = spec.circuit.parameter_values
        if pv.kind != "grid" or not 1 <= len(pv.grid) <= 2:
            raise ConfigError(
                "circuit.parameter_values.kind",
                pv.kind,
                "task=scan needs a grid over one or two parameters",
                "set circuit.parameter_values.kind=grid with one or two grid axes",
            )
