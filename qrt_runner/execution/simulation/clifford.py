"""Clifford circuits: detection, and the form Aer's ``stabilizer`` method runs.

Aer's stabilizer method (qiskit-aer 0.18) takes only the gates ``cx cy cz ecr h id pauli s sdg
swap sx sxdg x y z`` and ``rz``, plus ``measure reset barrier delay``, control flow, ``store``
and its own save/noise instructions. It accepts ``rz`` only at angles that are multiples of pi/2
to about one unit in the last place of the float (``rz(pi/2 + 1e-15)`` is refused, so angles
a transpiler has summed often are), and refuses ``u``, ``p``, ``rx``, ``rzz`` and the like at any
angle, Clifford or not.

:func:`is_clifford` says whether every instruction of a circuit is a Clifford operation at its
(bound, numeric) parameters, to :data:`TOLERANCE` in the angle. :func:`stabilizer_form` rewrites
each Clifford gate that Aer would refuse into gates it accepts (exact up to a global phase, which
is tracked into the circuit's ``global_phase``), leaving accepted gates as they are.

A gate on up to three qubits is classified from its matrix: it is Clifford when it maps each of
the Paulis ``X_j``, ``Z_j`` to a signed Pauli string, up to :data:`TOLERANCE` (the norm of the
rest of the image, which is ``|sin(delta)|`` for a rotation ``delta`` away from a multiple of
pi/2). Wider gates are left to ``qiskit.quantum_info.Clifford``. Results are cached by the gate's
name and rounded parameters, so a circuit of tens of thousands of gates costs one dictionary
look-up per instruction.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction, Gate, Instruction, ParameterExpression
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
from qiskit.exceptions import QiskitError
from qiskit.quantum_info import Clifford, Operator, Pauli

__all__ = ["AER_STABILIZER_GATES", "TOLERANCE", "is_clifford", "stabilizer_form"]

#: How far (in radians, for a rotation) a gate may be from a Clifford one and still count as it.
TOLERANCE = 1e-9

#: Unitary gates Aer's stabilizer method accepts by name (``rz`` only at multiples of pi/2).
AER_STABILIZER_GATES = frozenset(
    {"cx", "cy", "cz", "ecr", "h", "id", "pauli", "s", "sdg", "swap", "sx", "sxdg", "x", "y", "z"}
)
# Non-unitary instructions that act on no quantum state, or as a Clifford channel would: passed
# through. Aer's save_* instructions are matched by their prefix.
_PASS_THROUGH = frozenset(
    {"measure", "reset", "barrier", "store", "break_loop", "continue_loop", "set_stabilizer", "qerror_loc", "roerror"}
)
# exp(-i angle/2 P) for a Pauli P, and diag(1, e^(i angle)): Clifford exactly at multiples of pi/2.
_QUARTER_TURN_GATES = frozenset({"rz", "rx", "ry", "rzz", "rxx", "ryy", "rzx", "p", "u1"})
_HALF_PI = math.pi / 2
_PARAM_DIGITS = 11  # cache keys round parameters to this many decimals
_CACHE_LIMIT = 200_000
_MATRIX_QUBITS = 3  # gates this wide or narrower are classified from their matrix
_PHASE_QUBITS = 6  # wider gates handed to qiskit's Clifford get no global-phase correction


@dataclass(frozen=True)
class _Rewrite:
    """Accepted gates (on the rewritten gate's own qubit indices) equal to a gate times e^(i phase)."""

    gates: tuple[tuple[Gate, tuple[int, ...]], ...]
    phase: float


# (name, num_qubits, rounded params) of a standard gate -> its rewrite, or None if not Clifford
_CACHE: dict[tuple, _Rewrite | None] = {}


class _Unbound(Exception):
    """A parameter is not bound to a number."""


def _number(value: Any) -> float:
    """A gate parameter as a real number (raises _Unbound for free parameters, TypeError otherwise)."""
    if isinstance(value, ParameterExpression):
        if value.parameters:
            raise _Unbound
        value = complex(value)
    if isinstance(value, complex | np.complexfloating):
        number = complex(value)
        if abs(number.imag) > TOLERANCE:
            raise TypeError("complex parameter")
        return number.real
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    raise TypeError(f"non-numeric parameter {type(value).__name__}")


def _is_quarter_turn(angle: float) -> bool:
    turns = angle / _HALF_PI
    return abs(turns - round(turns)) * _HALF_PI <= TOLERANCE


def _aer_accepts_rz(angle: float) -> bool:
    """Whether Aer's stabilizer method takes ``rz(angle)`` as it is: an exact float multiple of pi/2."""
    turns = round(angle / _HALF_PI)
    return angle == turns * _HALF_PI


# --- classification of one gate -------------------------------------------------------------


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


def _classify(operation: Instruction) -> _Rewrite | None:
    """The rewrite of a unitary operation into Aer's gates, or None if it is not Clifford."""
    num_qubits = operation.num_qubits
    if operation.name == "global_phase":
        return _Rewrite((), _number(operation.params[0]))
    if not isinstance(operation, Gate) or operation.num_clbits:
        try:  # a unitary instruction that is no Gate (a Clifford object, say)
            tableau = Clifford(operation)
        except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
            return None
        return _Rewrite(tuple(_merged_one_qubit_runs(tableau.to_circuit())), 0.0)
    if num_qubits <= _MATRIX_QUBITS:
        try:
            unitary = Operator(operation).data
        except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
            return None
        return _from_matrix(unitary, num_qubits)
    try:
        tableau = Clifford(operation)
    except (QiskitError, TypeError, ValueError, AttributeError, NotImplementedError):
        return None
    gates = _merged_one_qubit_runs(tableau.to_circuit())
    phase = 0.0
    if num_qubits <= _PHASE_QUBITS:
        try:
            phase = _phase_of(Operator(operation).data, gates, num_qubits)
        except (QiskitError, AssertionError):
            phase = 0.0
    return _Rewrite(tuple(gates), phase)


def _rewrite(instruction: CircuitInstruction, local: dict[int, tuple[Any, _Rewrite | None]]) -> _Rewrite | None:
    """The cached rewrite of a unitary instruction (raises _Unbound for a free parameter).

    Standard gates are cached across calls by name and rounded parameters; any other operation
    (whose name says nothing of its matrix) per call by identity, holding it so its id stays its own.
    """
    if instruction.is_parameterized():
        raise _Unbound
    if instruction.is_standard_gate():
        try:
            params = tuple(round(_number(p), _PARAM_DIGITS) for p in instruction.params)
        except TypeError:
            return None
        key = (instruction.name, len(instruction.qubits), params)
        if key not in _CACHE:
            if len(_CACHE) >= _CACHE_LIMIT:
                _CACHE.clear()
            _CACHE[key] = _classify(instruction.operation)
        return _CACHE[key]
    operation = instruction.operation
    if id(operation) not in local:
        try:
            for value in getattr(operation, "params", ()):
                if isinstance(value, ParameterExpression) and value.parameters:
                    raise _Unbound
            local[id(operation)] = (operation, _classify(operation))
        except TypeError:
            local[id(operation)] = (operation, None)
    return local[id(operation)][1]


# --- circuits --------------------------------------------------------------------------------


def _kind(instruction: CircuitInstruction) -> str:
    """'pass' (Aer takes it as is), 'flow' (control flow), 'delay', 'rz' or 'gate'."""
    name = instruction.name
    if name in AER_STABILIZER_GATES or name in _PASS_THROUGH or name.startswith("save_"):
        return "pass"
    if name == "quantum_channel" and _is_pauli_channel(instruction.operation):
        return "pass"
    if name == "delay":
        return "delay"
    if instruction.is_control_flow():
        return "flow"
    if name == "rz":
        return "rz"
    return "gate"


_PAULI_GATES = frozenset({"id", "x", "y", "z", "pauli"})


def _is_pauli_channel(operation) -> bool:
    """Whether a ``quantum_channel`` instruction (Aer's noise) is a Pauli channel, which Aer's
    stabilizer method samples: a ``PauliLindbladError`` (PEA's and PEC's layer noise), or a
    ``QuantumError`` whose every term is Pauli gates."""
    from qiskit_aer.noise import PauliLindbladError, QuantumError

    error = getattr(operation, "_quantum_error", None)
    if isinstance(error, PauliLindbladError):
        return True
    if isinstance(error, QuantumError):
        return all(inst.operation.name in _PAULI_GATES for circuit in error.circuits for inst in circuit.data)
    return False


def _describe(circuit: QuantumCircuit, position: int, instruction: CircuitInstruction, why: str) -> str:
    qubits = [circuit.find_bit(q).index for q in instruction.qubits]
    shown = instruction.params and not instruction.is_control_flow()  # a body's drawing says too much
    params = f"({', '.join(str(p) for p in instruction.params)})" if shown else ""
    return f"instruction {position}, {instruction.name}{params} on qubits {qubits}, {why}"


def _first_non_clifford(circuit: QuantumCircuit, local: dict) -> str | None:
    """A description of the first instruction that is not a bound Clifford operation, or None."""
    for position, instruction in enumerate(circuit.data):
        kind = _kind(instruction)
        if kind == "pass":
            continue
        if kind == "delay":
            if instruction.is_parameterized():
                return _describe(circuit, position, instruction, "has an unbound duration")
            continue
        if kind == "flow":
            for block in instruction.operation.blocks:
                inner = _first_non_clifford(block, local)
                if inner is not None:
                    return _describe(circuit, position, instruction, f"has in its body {inner}")
            continue
        if kind == "rz" or (instruction.name in _QUARTER_TURN_GATES and instruction.is_standard_gate()):
            try:
                if _is_quarter_turn(_number(instruction.params[0])):
                    continue
            except _Unbound:
                return _describe(circuit, position, instruction, "has an unbound parameter")
            return _describe(circuit, position, instruction, "is not a Clifford operation")
        try:
            if _rewrite(instruction, local) is not None:
                continue
        except _Unbound:
            return _describe(circuit, position, instruction, "has an unbound parameter")
        return _describe(circuit, position, instruction, "is not a Clifford operation")
    return None


def is_clifford(circuit: QuantumCircuit) -> bool:
    """Whether every instruction of ``circuit`` is a Clifford operation at its parameters.

    Gates count as Clifford within :data:`TOLERANCE` radians (``rz(pi/2)``, ``u(pi, 0, pi)``,
    ``rzz(-pi/2)``, ``rx(pi/2)`` are; ``rz(0.3)`` is not); a gate with an unbound parameter is
    not. ``measure``, ``reset``, ``barrier``, ``delay``, ``store`` and Aer's save instructions
    are; control flow is when its bodies are (a ``for_loop`` body using its loop parameter is not,
    that parameter being unbound). Non-unitary instructions otherwise are not.
    """
    return _first_non_clifford(circuit, {}) is None


def _stabilizer_form(circuit: QuantumCircuit, local: dict) -> QuantumCircuit:
    out = circuit.copy_empty_like()
    phase = 0.0
    for position, instruction in enumerate(circuit.data):
        kind = _kind(instruction)
        if kind == "pass" or (kind == "delay" and not instruction.is_parameterized()):
            out._append(instruction)
            continue
        if kind == "flow":
            operation = instruction.operation
            try:
                blocks = [_stabilizer_form(block, local) for block in operation.blocks]
            except ValueError as error:
                raise ValueError(_describe(circuit, position, instruction, f"has in its body: {error}")) from None
            out._append(instruction.replace(operation=operation.replace_blocks(blocks)))
            continue
        if kind == "delay":
            raise ValueError(_describe(circuit, position, instruction, "has an unbound duration"))
        try:
            if kind == "rz" and _aer_accepts_rz(_number(instruction.params[0])):
                out._append(instruction)
                continue
            rewrite = _rewrite(instruction, local)
        except _Unbound:
            raise ValueError(_describe(circuit, position, instruction, "has an unbound parameter")) from None
        except TypeError:
            rewrite = None
        if rewrite is None:
            raise ValueError(_describe(circuit, position, instruction, "is not a Clifford operation"))
        qubits = instruction.qubits
        for gate, indices in rewrite.gates:
            out._append(CircuitInstruction(gate, tuple(qubits[i] for i in indices), ()))
        phase += rewrite.phase
    if phase:
        out.global_phase = out.global_phase + phase
    return out


def stabilizer_form(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every Clifford gate that Aer's stabilizer method refuses rewritten.

    Each such gate (``u``, ``u1/u2/u3``, ``p``, ``rx``, ``ry``, ``r``, ``rzz``, ``rxx``, ``ryy``,
    ``rzx``, controlled and other Clifford gates, and ``rz`` at an angle that is not an exact float
    multiple of pi/2) becomes the equivalent gates of :data:`AER_STABILIZER_GATES` (a shortest word
    for a one-qubit gate; CZs and S-powers for a diagonal one), and the phase between them goes
    into ``global_phase``. Gates Aer accepts, measurements, registers, metadata and control flow
    (bodies rewritten) are kept. Raises ValueError naming the first instruction that is not a
    bound Clifford operation.
    """
    return _stabilizer_form(circuit, {})
