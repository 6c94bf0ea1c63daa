"""Clifford unitaries written in the gates Aer's ``stabilizer`` method accepts.

A gate on up to three qubits is classified from its matrix: it is Clifford when it maps each of
the Paulis ``X_j``, ``Z_j`` to a signed Pauli string, up to :data:`TOLERANCE` (the norm of the
rest of the image, which is ``|sin(delta)|`` for a rotation ``delta`` away from a multiple of
pi/2). :func:`_from_matrix` then writes it as a shortest word for a one-qubit gate, CZs and
S-powers for a diagonal one, local Cliffords around the fewest two-qubit gates for a two-qubit
one, and Qiskit's tableau synthesis otherwise, with the global phase between the two.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Gate
from qiskit.circuit.library import (
    CXGate,
    CZGate,
    HGate,
    SdgGate,
    SGate,
    SwapGate,
    SXdgGate,
    SXGate,
    XGate,
    YGate,
    ZGate,
)
from qiskit.quantum_info import Clifford, Operator, Pauli

#: How far (in radians, for a rotation) a gate may be from a Clifford one and still count as it.
TOLERANCE = 1e-9
_HALF_PI = math.pi / 2


@dataclass(frozen=True)
class _Rewrite:
    """Accepted gates (on the rewritten gate's own qubit indices) equal to a gate times e^(i phase)."""

    gates: tuple[tuple[Gate, tuple[int, ...]], ...]
    phase: float


@cache
def _paulis(num_qubits: int) -> tuple[list[str], np.ndarray]:
    """Every Pauli string on ``num_qubits`` (Qiskit labels) and their matrices, stacked."""
    labels = [""]
    for _ in range(num_qubits):
        labels = [letter + rest for letter in "IXYZ" for rest in labels]
    return labels, np.stack([Pauli(label).to_matrix() for label in labels])


def _pauli_images(unitary: np.ndarray, num_qubits: int) -> tuple[list[str], list[str]] | None:
    """Signed labels of U X_j U^dagger and U Z_j U^dagger, or None if one is no signed Pauli string."""
    labels, matrices = _paulis(num_qubits)
    dim = 2**num_qubits
    images: dict[str, list[str]] = {"X": [], "Z": []}
    for letter in "XZ":
        for qubit in range(num_qubits):
            label = ["I"] * num_qubits
            label[num_qubits - 1 - qubit] = letter
            generator = Pauli("".join(label)).to_matrix()
            image = unitary @ generator @ unitary.conj().T
            coefficients = np.einsum("kij,ji->k", matrices, image) / dim  # tr(Q M) / dim per Pauli Q
            best = int(np.argmax(np.abs(coefficients)))
            value = coefficients[best]
            weights = np.abs(coefficients) ** 2
            weights[best] = 0.0  # the rest's norm summed directly: 1 - |value|^2 would lose it
            rest = math.sqrt(float(weights.sum()))
            if rest > TOLERANCE or abs(value.imag) > TOLERANCE or abs(abs(value.real) - 1) > 1e-6:
                return None
            images[letter].append(("+" if value.real > 0 else "-") + labels[best])
    return images["X"], images["Z"]


_ONE_QUBIT_GATES: tuple[Gate, ...] = (HGate(), SGate(), SdgGate(), ZGate(), XGate(), YGate(), SXGate(), SXdgGate())


@cache
def _one_qubit_words() -> dict[tuple[str, str], tuple[Gate, ...]]:
    """The shortest word in Aer's one-qubit gates for each of the 24 one-qubit Cliffords."""
    words: dict[tuple[str, str], tuple[Gate, ...]] = {}
    queue: deque[tuple[np.ndarray, tuple[Gate, ...]]] = deque([(np.eye(2, dtype=complex), ())])
    while queue and len(words) < 24:
        matrix, word = queue.popleft()
        images = _pauli_images(matrix, 1)
        assert images is not None
        key = (images[0][0], images[1][0])
        if key in words:
            continue
        words[key] = word
        for gate in _ONE_QUBIT_GATES:
            queue.append((gate.to_matrix() @ matrix, (*word, gate)))
    return words


def _word_for(matrix: np.ndarray) -> tuple[Gate, ...]:
    images = _pauli_images(matrix, 1)
    if images is None:
        raise ValueError("not a one-qubit Clifford")
    return _one_qubit_words()[(images[0][0], images[1][0])]


def _diagonal_gates(unitary: np.ndarray, num_qubits: int) -> list[tuple[Gate, tuple[int, ...]]]:
    """A diagonal Clifford as CZs and S-powers: diag(x) ~ i^(sum k_j x_j) (-1)^(sum c_jl x_j x_l)."""
    diagonal = np.diag(unitary) / unitary[0, 0]
    gates: list[tuple[Gate, tuple[int, ...]]] = []
    powers = [round(float(np.angle(diagonal[1 << j])) / _HALF_PI) % 4 for j in range(num_qubits)]
    for j in range(num_qubits):
        for k in range(j + 1, num_qubits):
            pair = diagonal[(1 << j) | (1 << k)] / (diagonal[1 << j] * diagonal[1 << k])
            if pair.real < 0:
                gates.append((CZGate(), (j, k)))
    for j, power in enumerate(powers):
        for gate in {0: (), 1: (SGate(),), 2: (ZGate(),), 3: (SdgGate(),)}[power]:
            gates.append((gate, (j,)))
    return gates


@cache
def _local_cliffords() -> tuple[list[tuple[tuple[Gate, ...], tuple[Gate, ...]]], np.ndarray]:
    """The 576 two-qubit local Cliffords: (word on qubit 0, word on qubit 1) and their matrices."""
    words = list(_one_qubit_words().values())
    pairs = [(first, second) for first in words for second in words]
    matrices = []
    for first, second in pairs:
        a, b = np.eye(2, dtype=complex), np.eye(2, dtype=complex)
        for gate in first:
            a = gate.to_matrix() @ a
        for gate in second:
            b = gate.to_matrix() @ b
        matrices.append(np.kron(b, a))  # qubit 1 is the high bit of a Qiskit matrix index
    return pairs, np.stack(matrices)


_TWO_QUBIT_CORES: tuple[tuple[tuple[Gate, tuple[int, ...]], ...], ...] = (
    (),
    ((CXGate(), (0, 1)),),
    ((CXGate(), (0, 1)), (CXGate(), (1, 0))),
    ((SwapGate(), (0, 1)),),
)


def _two_qubit_gates(unitary: np.ndarray) -> list[tuple[Gate, tuple[int, ...]]] | None:
    """A two-qubit Clifford as local Cliffords around the fewest two-qubit gates (L2 core L1).

    The four cores (nothing, CX, two CXs, SWAP) stand for the four classes of two-qubit Cliffords
    under local equivalence. For each local L1, U (core L1)^dagger is tried for a tensor product.
    """
    pairs, locals_ = _local_cliffords()
    for core in _TWO_QUBIT_CORES:
        core_matrix = np.eye(4, dtype=complex)
        for gate, qubits in core:
            step = QuantumCircuit(2)
            step.append(gate, qubits)
            core_matrix = Operator(step).data @ core_matrix
        rests = np.einsum("ij,kjl->kil", unitary, (core_matrix @ locals_).conj().transpose(0, 2, 1))
        # M = B (x) A exactly when M rearranged as [(row1, col1), (row0, col0)] has rank one
        shuffled = rests.reshape(-1, 2, 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 4, 4)
        singular = np.linalg.svd(shuffled, compute_uv=False)
        candidates = np.flatnonzero(singular[:, 1] < 1e-6)
        if not len(candidates):
            continue
        best: list[tuple[Gate, tuple[int, ...]]] | None = None
        for k in candidates:
            u, _, vh = np.linalg.svd(shuffled[k])
            # qubit 1's and qubit 0's factors, unitary up to a phase (unit vectors of 2x2 entries)
            high, low = math.sqrt(2) * u[:, 0].reshape(2, 2), math.sqrt(2) * vh[0].reshape(2, 2)
            first, second = pairs[k]
            gates = [(gate, (0,)) for gate in first] + [(gate, (1,)) for gate in second] + list(core)
            gates += [(gate, (0,)) for gate in _word_for(low)] + [(gate, (1,)) for gate in _word_for(high)]
            if best is None or len(gates) < len(best):
                best = gates
        return best
    return None


def _merged_one_qubit_runs(circuit: QuantumCircuit) -> list[tuple[Gate, tuple[int, ...]]]:
    """``circuit``'s gates with each run of one-qubit gates on a qubit replaced by its shortest word."""
    gates: list[tuple[Gate, tuple[int, ...]]] = []
    pending: dict[int, np.ndarray] = {}

    def flush(qubit: int) -> None:
        matrix = pending.pop(qubit, None)
        if matrix is not None:
            gates.extend((gate, (qubit,)) for gate in _word_for(matrix))

    for instruction in circuit.data:
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        operation = instruction.operation
        if len(qubits) == 1:
            pending[qubits[0]] = operation.to_matrix() @ pending.get(qubits[0], np.eye(2, dtype=complex))
            continue
        for qubit in qubits:
            flush(qubit)
        gates.append((operation, qubits))
    for qubit in sorted(pending):
        flush(qubit)
    return gates


def _phase_of(unitary: np.ndarray, gates: list[tuple[Gate, tuple[int, ...]]], num_qubits: int) -> float:
    """The phase with unitary = e^(i phase) * (product of gates)."""
    circuit = QuantumCircuit(num_qubits)
    for gate, qubits in gates:
        circuit.append(gate, qubits)
    overlap = np.trace(Operator(circuit).data.conj().T @ unitary) / 2**num_qubits
    if abs(abs(overlap) - 1) > 1e-6:  # a bug in the synthesis, not in the input
        raise AssertionError(f"Clifford rewrite differs from the gate (overlap {abs(overlap):.3g})")
    return float(np.angle(overlap))


def _from_matrix(unitary: np.ndarray, num_qubits: int) -> _Rewrite | None:
    images = _pauli_images(unitary, num_qubits)
    if images is None:
        return None
    gates: list[tuple[Gate, tuple[int, ...]]]
    if num_qubits == 1:
        gates = [(gate, (0,)) for gate in _one_qubit_words()[(images[0][0], images[1][0])]]
    elif np.allclose(unitary, np.diag(np.diag(unitary)), atol=1e-7):
        gates = _diagonal_gates(unitary, num_qubits)
    elif num_qubits == 2 and (found := _two_qubit_gates(unitary)) is not None:
        gates = found
    else:
        tableau = Clifford.from_dict({"destabilizer": images[0], "stabilizer": images[1]})
        gates = _merged_one_qubit_runs(tableau.to_circuit())
    return _Rewrite(tuple(gates), _phase_of(unitary, gates, num_qubits))
