"""Energy landscapes: an evaluate run over a grid of one or two parameters, summarised."""

from __future__ import annotations

import numpy as np

from qrt_runner.config.spec import RunSpec
from qrt_runner.records.results import RunResult
from qrt_runner.workload.parameters import grid_axis


def summarize_scan(spec: RunSpec, result: RunResult) -> dict:
    """Axes of the grid and the minimum of the first observable over it."""
    grid = spec.circuit.parameter_values.grid
    names = result.parameter_names
    axes = []
    for key, (start, stop, num) in ((key, grid_axis(axis)) for key, axis in grid.items()):
        name = names[int(key)] if str(key) not in names and str(key).isdigit() else str(key)
        axes.append({"parameter": name, "values": np.linspace(float(start), float(stop), int(num)).tolist()})
    summary: dict = {"axes": axes, "observable": None, "minimum": None, "argmin": None}
    if result.estimator is None:
        return summary
    energies = result.estimator.evs[..., 0]
    summary["observable"] = result.estimator.observable_labels[0]
    if np.all(np.isnan(energies)):
        return summary
    index = np.unravel_index(np.nanargmin(energies), energies.shape)
    summary["minimum"] = float(energies[index])
    summary["argmin"] = {axis["parameter"]: axis["values"][i] for axis, i in zip(axes, index)}
    return summary
