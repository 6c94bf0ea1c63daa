"""The workload of a run: what its spec builds and checks before anything runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from qrt_runner.config import schema as s
from qrt_runner.config.spec import RunSpec
from qrt_runner.errors import ConfigError
from qrt_runner.tasks.capacity import check_capacity, check_work_size, simulation_plan
from qrt_runner.tasks.layout import check_initial_layout
from qrt_runner.workload.circuits import build_circuit, maxcut_cost
from qrt_runner.workload.observables import build_observables
from qrt_runner.workload.parameters import parameter_array


@dataclass
class Workload:
    """What a spec builds before anything runs: the logical circuit, observables and parameters."""

    circuit: QuantumCircuit
    observables: list[tuple[str, SparsePauliOp]]
    parameter_values: np.ndarray
    simulation: dict | None = None  # the simulation method chosen for the circuit (local backends)


def build_workload(spec: RunSpec) -> Workload:
    """Build and cross-check circuit, observables and parameter values (raises ConfigError)."""
    circuit = build_circuit(spec.circuit, measure=not spec.is_estimator)
    check_capacity(spec, circuit)
    check_initial_layout(spec, circuit)
    if spec.task.name == "qaoa":
        assert isinstance(spec.circuit, s.QaoaCircuit)  # the spec has checked that task=qaoa has circuit=qaoa
        observables = [("maxcut_cost", maxcut_cost(spec.circuit.num_qubits, spec.circuit.edges))]
    else:
        observables = build_observables(spec.observables) if spec.is_estimator else []
    for label, operator in observables:
        if operator.num_qubits != circuit.num_qubits:
            raise ConfigError(
                "observables",
                label,
                f"acts on {operator.num_qubits} qubits but the circuit has {circuit.num_qubits}",
                "make the observable width equal to the circuit's number of qubits",
            )
    if spec.task.name in ("vqe", "qaoa") and circuit.num_parameters == 0:
        raise ConfigError(
            "task",
            spec.task.name,
            "the circuit has no parameters to optimise",
            "choose a parametrised circuit such as efficient_su2",
        )
    if spec.task.name in ("vqe", "qaoa"):  # the optimiser chooses the parameter values
        return Workload(circuit, observables, np.zeros((0,)), simulation_plan(spec, circuit))
    values = parameter_array(spec.circuit.parameter_values, circuit)
    num_sets = int(np.prod(values.shape[:-1])) if values.ndim > 1 else 1
    check_work_size(spec, num_sets, observables, circuit)
    # Last: it transpiles (and builds the pass manager, seconds), so the cheap checks refuse first.
    return Workload(circuit, observables, values, simulation_plan(spec, circuit))
