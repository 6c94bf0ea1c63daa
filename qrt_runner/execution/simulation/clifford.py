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
is tracked into the circuit's ``global_phase``), leaving accepted gates as they are. Each gate is
classified and rewritten by :mod:`.clifford_gates` (cached), from its matrix by
:mod:`.clifford_synthesis`.
"""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.circuit import CircuitInstruction

from qrt_runner.adapters.qiskit_aer import channel_error
from qrt_runner.execution.simulation.clifford_gates import _number, _rewrite, _Unbound
from qrt_runner.execution.simulation.clifford_synthesis import _HALF_PI, TOLERANCE

__all__ = ["AER_STABILIZER_GATES", "TOLERANCE", "is_clifford", "stabilizer_form"]

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


def _is_quarter_turn(angle: float) -> bool:
    turns = angle / _HALF_PI
    return abs(turns - round(turns)) * _HALF_PI <= TOLERANCE


def _aer_accepts_rz(angle: float) -> bool:
    """Whether Aer's stabilizer method takes ``rz(angle)`` as it is: an exact float multiple of pi/2."""
    turns = round(angle / _HALF_PI)
    return angle == turns * _HALF_PI


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

    error = channel_error(operation)
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
