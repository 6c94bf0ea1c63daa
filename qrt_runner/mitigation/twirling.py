"""Pauli twirling of two-qubit Clifford gates as one parametrised template circuit.

Every two-qubit gate G gets a random Pauli P before it and G P G^dagger after it (so the circuit
is unchanged, while coherent gate errors become Pauli noise). Each Pauli is the pair of
parametrised gates ``rx(x * pi) rz(z * pi)`` on each qubit, so all randomisations of a circuit
are parameter bindings of one template, run in one simulator call. On hardware these Paulis are
merged into the neighbouring single-qubit layers; here they are simulated without error.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Clifford, Pauli

# Pauli index -> (x, z) bits: I, X, Y (= i X Z), Z
_BITS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
_LETTERS = "IXYZ"


@lru_cache(maxsize=32)
def _table(name: str) -> np.ndarray:
    """``table[p0, p1] = (q0, q1)``: G (P_p0 on qubit 0, P_p1 on qubit 1) G^dagger, up to phase."""
    gate = QuantumCircuit(2)
    gate.append(get_standard_gate_name_mapping()[name], [0, 1])
    clifford = Clifford(gate)
    table = np.zeros((4, 4, 2), dtype=int)
    for p0 in range(4):
        for p1 in range(4):
            label = _LETTERS[p1] + _LETTERS[p0]  # qiskit labels: qubit 1 first
            after = Pauli(label).evolve(clifford, frame="s").to_label().lstrip("-i")
            table[p0, p1] = (_LETTERS.index(after[1]), _LETTERS.index(after[0]))
    return table


def twirl_template(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with parametrised Pauli slots around every two-qubit gate.

    Parameters are named ``qrt_gt_<k>_<slot>`` for the k-th two-qubit gate; the gates, in order,
    are listed in ``metadata["qrt_twirl_gates"]``.
    """
    out = circuit.copy_empty_like()
    gates = []
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.num_qubits != 2 or instruction.clbits or operation.name == "barrier" or operation.is_parameterized():
            out.append(operation, instruction.qubits, instruction.clbits, copy=False)
            continue
        k = len(gates)
        gates.append(operation)
        for i, qubit in enumerate(instruction.qubits):
            out.rx(Parameter(f"qrt_gt_{k}_b{i}x"), qubit)
            out.rz(Parameter(f"qrt_gt_{k}_b{i}z"), qubit)
        out.append(operation, instruction.qubits, copy=False)
        for i, qubit in enumerate(instruction.qubits):
            out.rx(Parameter(f"qrt_gt_{k}_a{i}x"), qubit)
            out.rz(Parameter(f"qrt_gt_{k}_a{i}z"), qubit)
    out.metadata = {**(circuit.metadata or {}), "qrt_twirl_gates": [g.name for g in gates]}
    return out


def twirl_angles(circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Angle columns (one value per randomisation) for every twirl parameter of ``circuit``."""
    columns: dict[str, np.ndarray] = {}
    for k, name in enumerate(circuit.metadata.get("qrt_twirl_gates", [])):
        before = rng.integers(0, 4, size=(randomizations, 2))
        after = _table(name)[before[:, 0], before[:, 1]]
        for i in range(2):
            for prefix, paulis in (("b", before[:, i]), ("a", after[:, i])):
                bits = _BITS[paulis]
                columns[f"qrt_gt_{k}_{prefix}{i}x"] = bits[:, 0] * np.pi
                columns[f"qrt_gt_{k}_{prefix}{i}z"] = bits[:, 1] * np.pi
    return columns
