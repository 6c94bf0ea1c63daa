"""Circuits by name: circuit-library builders, OpenQASM files and Python factories."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit.library import QFTGate, efficient_su2, qaoa_ansatz, real_amplitudes
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import SparsePauliOp

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.registry import Registry

#: Circuit families by name (the ``circuit`` group's options): schema and builder. A new family
#: is a builder registered here and ``conf/circuit/<name>.yaml``.
CIRCUITS: Registry[Callable[[Any], QuantumCircuit]] = Registry("circuit family", "circuit")


def build_circuit(spec: s.CircuitConfig, *, measure: bool) -> QuantumCircuit:
    """Build the logical circuit described by ``spec``.

    Args:
        spec: one of the ``circuit`` group's schemas.
        measure: add final measurements of every qubit if the circuit has none (sampler).
    """
    circuit = CIRCUITS.get(spec.name).build(spec)
    if measure and not any(inst.operation.name == "measure" for inst in circuit.data):
        circuit.measure_all()
    if not measure and circuit.num_clbits:
        circuit = circuit.remove_final_measurements(inplace=False)
        if any(inst.operation.name == "measure" for inst in circuit.data):
            raise ConfigError(
                "circuit",
                spec.name,
                "the estimator needs a circuit without mid-circuit measurements",
                "remove them, or use primitive=sampler",
            )
    circuit.metadata = {**(circuit.metadata or {}), "qrt_circuit": spec.name}
    return circuit


@CIRCUITS.register("ghz", s.GhzCircuit)
def _ghz(spec: s.GhzCircuit) -> QuantumCircuit:
    circuit = QuantumCircuit(spec.num_qubits, name=f"ghz_{spec.num_qubits}")
    circuit.h(0)
    for qubit in range(spec.num_qubits - 1):
        circuit.cx(qubit, qubit + 1)
    return circuit


@CIRCUITS.register("efficient_su2", s.EfficientSU2Circuit)
def _efficient_su2(spec: s.EfficientSU2Circuit) -> QuantumCircuit:
    return efficient_su2(spec.num_qubits, reps=spec.reps, entanglement=spec.entanglement)


@CIRCUITS.register("real_amplitudes", s.RealAmplitudesCircuit)
def _real_amplitudes(spec: s.RealAmplitudesCircuit) -> QuantumCircuit:
    return real_amplitudes(spec.num_qubits, reps=spec.reps, entanglement=spec.entanglement)


@CIRCUITS.register("qft", s.QftCircuit)
def _qft(spec: s.QftCircuit) -> QuantumCircuit:
    circuit = QuantumCircuit(spec.num_qubits, name="qft")
    state = spec.initial_state
    if state:
        if len(state) != spec.num_qubits or set(state) - {"0", "1"}:
            raise ConfigError(
                "circuit.initial_state",
                state,
                f"must be a bitstring of length {spec.num_qubits}",
                "e.g. circuit.initial_state=" + "01" * (spec.num_qubits // 2) + "0" * (spec.num_qubits % 2),
            )
        for qubit, bit in enumerate(reversed(state)):
            if bit == "1":
                circuit.x(qubit)
    gate = QFTGate(spec.num_qubits)
    circuit.append(gate.inverse() if spec.inverse else gate, range(spec.num_qubits))
    return circuit


def maxcut_cost(num_nodes: int, edges: list[list[float]]) -> SparsePauliOp:
    """The MaxCut cost operator sum_w w/2 (Z_a Z_b) (constant dropped) of a weighted graph."""
    terms = [("ZZ", [int(a), int(b)], float(w) / 2) for a, b, w in edges]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=num_nodes).simplify()


@CIRCUITS.register("qaoa", s.QaoaCircuit)
def _qaoa(spec: s.QaoaCircuit) -> QuantumCircuit:
    cost = maxcut_cost(spec.num_qubits, spec.edges)
    if not any(abs(coeff) > 0 for coeff in cost.coeffs):  # simplify() dropped every term
        raise ConfigError(
            "circuit.edges",
            spec.edges,
            "every weight is 0 (or the weights of an edge cancel), so the cut has no cost and the circuit no γ angles",
            "give at least one edge a non-zero weight",
        )
    return qaoa_ansatz(cost, reps=spec.reps)


@CIRCUITS.register("kicked_ising", s.KickedIsingCircuit)
def _kicked_ising(spec: s.KickedIsingCircuit) -> QuantumCircuit:
    from qrt_runner.workload.kicked_ising import checked_patch, kicked_ising

    if spec.steps < 0:
        raise ConfigError("circuit.steps", spec.steps, "must be 0 or more", "set circuit.steps=5")
    if not math.isfinite(spec.theta):
        raise ConfigError("circuit.theta", spec.theta, "is not a finite angle", "set circuit.theta=0.5")
    checked_patch("circuit", spec.num_qubits, spec.coupling, spec.device)
    circuit = kicked_ising(spec.num_qubits, spec.steps, spec.theta, spec.coupling)
    circuit.metadata["device"] = spec.device
    return circuit


@CIRCUITS.register("random", s.RandomCircuit)
def _random(spec: s.RandomCircuit) -> QuantumCircuit:
    return random_circuit(spec.num_qubits, spec.depth, max_operands=spec.max_operands, seed=spec.seed)


@CIRCUITS.register("qasm", s.QasmCircuit)
def _qasm(spec: s.QasmCircuit) -> QuantumCircuit:
    path = Path(spec.path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "circuit.path",
            spec.path,
            f"cannot read the file ({exc.strerror})",
            "give the path of an OpenQASM 2 or 3 file",
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            "circuit.path", spec.path, "is not a text file", "give the path of an OpenQASM 2 or 3 file"
        ) from None
    if not text.strip():
        raise ConfigError("circuit.path", spec.path, "the file is empty", "give the path of an OpenQASM 2 or 3 file")
    version3 = "OPENQASM 3" in text
    try:
        if version3:
            return qasm3.loads(text)
        return qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except Exception as exc:  # the parsers raise several unrelated error types
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(
            "circuit.path", spec.path, f"invalid OpenQASM {'3' if version3 else '2'} ({detail})", "fix the file"
        ) from None


@CIRCUITS.register("qpy", s.QpyCircuit)
def _qpy(spec: s.QpyCircuit) -> QuantumCircuit:
    from qiskit import qpy

    try:
        with Path(spec.path).expanduser().open("rb") as handle:
            circuits = qpy.load(handle)
    except OSError as exc:
        raise ConfigError(
            "circuit.path",
            spec.path,
            f"cannot read the file ({exc.strerror})",
            "give the path of a QPY file, e.g. a run's circuit.qpy",
        ) from None
    except Exception as exc:  # QPY's own errors for a file that is not QPY
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise ConfigError(
            "circuit.path",
            spec.path,
            f"is not a QPY file ({detail})",
            "give the path of a QPY file, e.g. a run's circuit.qpy",
        ) from None
    if not 0 <= spec.index < len(circuits):
        raise ConfigError(
            "circuit.index",
            spec.index,
            f"the file holds {len(circuits)} circuit(s)",
            f"give an index from 0 to {len(circuits) - 1}",
        )
    return circuits[spec.index]


@CIRCUITS.register("factory", s.FactoryCircuit)
def _factory(spec: s.FactoryCircuit) -> QuantumCircuit:
    module_name, _, function_name = spec.target.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # ImportError, AttributeError, or whatever the module raises on import (SyntaxError)
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        raise ConfigError(
            "circuit.target", spec.target, f"cannot be imported ({detail})", "give an importable 'module:function'"
        ) from None
    try:
        circuit = function(**spec.kwargs)
    except Exception as exc:  # the user's own code
        detail = " ".join(str(exc).split())[:200]
        raise ConfigError(
            "circuit.target",
            spec.target,
            f"raised {type(exc).__name__}: {detail}",
            "fix the function or circuit.kwargs",
        ) from None
    if not isinstance(circuit, QuantumCircuit):
        raise ConfigError(
            "circuit.target",
            spec.target,
            f"returned {type(circuit).__name__}, not a QuantumCircuit",
            "return a QuantumCircuit",
        )
    return circuit
