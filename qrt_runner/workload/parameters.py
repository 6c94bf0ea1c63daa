"""Parameter values of a PUB: one array of shape ``sweep_shape + (num_parameters,)``.

The whole sweep is always one PUB with a parameter array (broadcast by the primitive), never
a Python loop of jobs.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.config.schema import ParameterValuesConfig
from qrt_runner.errors import ConfigError
from qrt_runner.memory import check_array_size

KEY = "circuit.parameter_values"


def parameter_array(spec: ParameterValuesConfig, circuit: QuantumCircuit) -> np.ndarray:
    """Values for ``circuit.parameters`` (in that order) as an array ``(..., P)``.

    A circuit without parameters gets shape ``(0,)`` (a single evaluation).
    """
    names = [p.name for p in circuit.parameters]
    count = len(names)
    if count == 0:
        if spec.kind in ("one", "list") and spec.values:
            raise ConfigError(f"{KEY}.values", spec.values, "the circuit has no parameters", f"remove {KEY}.values")
        if spec.kind == "grid" or spec.num_sets > 1:  # would silently run the circuit once
            key, value = (f"{KEY}.grid", dict(spec.grid)) if spec.kind == "grid" else (f"{KEY}.num_sets", spec.num_sets)
            raise ConfigError(
                key, value, "the circuit has no parameters, so it runs once", f"remove it (or set {KEY}.kind=random)"
            )
        return np.zeros((0,))
    if spec.kind == "one":
        try:
            values = np.asarray(_floats(spec.values), dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{KEY}.values", spec.values, "must be one list of numbers", f"give [{count} numbers]"
            ) from None
        if values.ndim != 1 or values.size != count:
            raise ConfigError(
                f"{KEY}.values",
                spec.values,
                f"the circuit has {count} parameters ({_preview(names)}), got {values.size} values",
                f"give {count} values",
            )
        return values
    if spec.kind == "list":
        try:
            # None (refused by the spec) would raise TypeError here, reported as a bad list like any other
            values = np.asarray([_floats(row) for row in cast(list[Any], spec.values)], dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{KEY}.values",
                spec.values,
                "must be a list of equally long lists of numbers",
                f"give [[{count} values], ...]",
            ) from None
        if values.ndim != 2 or values.shape[1] != count:  # ragged rows fail in np.asarray above
            raise ConfigError(
                f"{KEY}.values",
                spec.values,
                f"every set needs {count} values ({_preview(names)})",
                f"give sets of {count} values",
            )
        return values
    if spec.kind == "grid":
        positions = [_position(key, names) for key in spec.grid]
        points = math.prod(grid_axis(axis)[2] for axis in spec.grid.values())
        check_array_size(f"{KEY}.grid", dict(spec.grid), points, count, "use fewer points per axis")
        axes = [np.linspace(float(a), float(b), int(n)) for a, b, n in map(grid_axis, spec.grid.values())]
        mesh = np.meshgrid(*axes, indexing="ij")
        values = np.full(mesh[0].shape + (count,), float(spec.fill))
        for position, axis_values in zip(positions, mesh):
            values[..., position] = axis_values
        return values
    check_array_size(f"{KEY}.num_sets", spec.num_sets, spec.num_sets, count, "use fewer parameter sets")
    rng = np.random.default_rng(spec.seed)
    return rng.uniform(spec.low, spec.high, size=(spec.num_sets, count))


def grid_axis(axis) -> tuple[float, float, int]:
    """A grid axis ``[start, stop, num]``; a single number ``v`` is the one-point axis ``[v, v, 1]``
    (so that an optimising sweeper can set one parameter: ``circuit.parameter_values.grid.0=0.3``)."""
    if isinstance(axis, (int, float)) and not isinstance(axis, bool):
        return float(axis), float(axis), 1
    start, stop, num = axis
    return float(start), float(stop), int(num)


def _position(key, names: list[str]) -> int:
    """A grid key is a parameter name or its position in ``circuit.parameters``."""
    if str(key) in names:
        return names.index(str(key))
    if isinstance(key, int) or str(key).isdigit():
        if int(key) < len(names):
            return int(key)
    raise ConfigError(
        f"{KEY}.grid",
        key,
        f"is not a parameter of the circuit ({_preview(names)})",
        f"use a parameter name or a position 0..{len(names) - 1}",
    )


def _floats(row) -> list[float]:
    if not isinstance(row, (list, tuple)):
        raise TypeError
    return [float(v) for v in row]


def _preview(names: list[str]) -> str:
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
