"""Exact expectation values of circuits that measure, reset or branch: a unitary dilation.

A statevector simulation of a circuit with a mid-circuit measurement follows one random branch,
so an "exact" value read from it is one sample. Its exact value is that of a unitary circuit on
more qubits (the deferred-measurement principle):

- ``measure q -> c`` becomes ``cx q, a`` on a fresh ancilla ``a`` in |0>: the ancilla records
  the outcome and ``q`` dephases exactly as the measurement dephases it;
- ``reset q`` becomes ``swap q, a``: ``q`` starts again from |0>, its old state goes to ``a``;
- ``if_else`` on a measured bit (or register) becomes its bodies controlled on the ancillas that
  hold those bits (a bit never measured reads 0).

Expectation values of observables on the original qubits are then exact. What cannot be
dilated this way (classical expressions, loops, switches, measurements inside a branch) raises
:class:`NotDilatable` naming the instruction.
"""

from __future__ import annotations

from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import Clbit, ControlFlowOp, Gate, IfElseOp
from qiskit.circuit.library import GlobalPhaseGate

from qrt_runner.execution.plugins import preset_pass_manager

_SKIPPED = frozenset({"barrier", "delay"})
EXACT_MAX_QUBITS = 26  # a statevector of the qubits and their ancillas
_UNROLLED = ("u", "cx", "swap", "global_phase")


class NotDilatable(ValueError):
    """The circuit holds an instruction whose exact effect is not computed."""


def needs_dilation(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` measures, resets or holds control flow (its state is not one pure state)."""
    return any(
        instruction.operation.name in ("measure", "reset") or isinstance(instruction.operation, ControlFlowOp)
        for instruction in circuit.data
    )


def dilate(circuit: QuantumCircuit) -> QuantumCircuit:
    """A unitary circuit on ``circuit.num_qubits`` + one ancilla per measurement and reset
    (ancillas after the original qubits) whose reduced state on the original qubits is the
    average state ``circuit`` prepares."""
    ancillas = sum(1 for i in circuit.data if i.operation.name in ("measure", "reset"))
    out = QuantumCircuit(circuit.num_qubits + ancillas, global_phase=circuit.global_phase)
    qubit = {bit: k for k, bit in enumerate(circuit.qubits)}
    holder: dict[Clbit, int] = {}  # the ancilla holding each measured classical bit
    next_ancilla = circuit.num_qubits
    for instruction in circuit.data:
        operation, qubits = instruction.operation, [qubit[q] for q in instruction.qubits]
        if operation.name in _SKIPPED:
            continue
        if operation.name in ("measure", "reset"):
            if operation.name == "measure":
                out.cx(qubits[0], next_ancilla)
                holder[instruction.clbits[0]] = next_ancilla
            else:
                out.swap(qubits[0], next_ancilla)
            next_ancilla += 1
        elif isinstance(operation, IfElseOp):
            _branch(out, operation, qubits, holder)
        elif isinstance(operation, ControlFlowOp) or instruction.clbits or not isinstance(operation, Gate):
            raise NotDilatable(operation.name)
        else:
            out.append(operation, qubits)
    return out


def _branch(out: QuantumCircuit, operation: IfElseOp, qubits: list[int], holder: dict[Clbit, int]) -> None:
    """``if (bits == value) true_body else false_body``, as bodies controlled on the ancillas."""
    target, value = operation.condition if isinstance(operation.condition, tuple) else (None, None)
    if isinstance(target, Clbit):
        bits, wanted = [target], [int(bool(value))]
    elif isinstance(target, ClassicalRegister):
        bits, wanted = list(target), [(int(value) >> k) & 1 for k in range(len(target))]
    else:
        raise NotDilatable("if_else on a classical expression")
    true_gates = _body_gates(operation.blocks[0], qubits)
    false_gates = _body_gates(operation.blocks[1], qubits) if len(operation.blocks) > 1 else []
    controls, state = [], []
    for bit, bit_value in zip(bits, wanted):
        if bit in holder:
            controls.append(holder[bit])
            state.append(bit_value)
        elif bit_value:  # a bit never measured reads 0: the condition is false
            for gate, on in false_gates:
                out.append(gate, on)
            return
    if not controls:
        for gate, on in true_gates:
            out.append(gate, on)
        return
    # the false branch everywhere, then (false^-1 then true) where the condition holds; gate by
    # gate, so that each controlled gate keeps its parameters visible to the binding
    for gate, on in false_gates:
        out.append(gate, on)
    undo = [(gate.inverse(), on) for gate, on in reversed(false_gates)]
    ctrl_state = "".join(str(b) for b in reversed(state))  # control qubit k is bit k from the right
    for gate, on in undo + true_gates:
        out.append(gate.control(len(controls), ctrl_state=ctrl_state), controls + on)


def _body_gates(body: QuantumCircuit, qubits: list[int]) -> list[tuple[Gate, list[int]]]:
    """A branch's gates with the outer qubits they act on (its instructions must all be gates);
    a body's global phase becomes a phase gate, which a control turns into a relative phase."""
    gates: list[tuple[Gate, list[int]]] = []
    for instruction in body.data:
        operation = instruction.operation
        if operation.name in ("measure", "reset") or isinstance(operation, ControlFlowOp):
            raise NotDilatable(f"{operation.name} inside an if_else branch")
        if operation.name in _SKIPPED:
            continue
        if instruction.clbits or not isinstance(operation, Gate):
            raise NotDilatable(operation.name)
        gates.append((operation, [qubits[body.find_bit(q).index] for q in instruction.qubits]))
    if body.global_phase and qubits:
        gates.append((GlobalPhaseGate(body.global_phase), []))
    return gates


def exact_circuit(circuit: QuantumCircuit) -> QuantumCircuit:
    """The circuit whose saved expectation values are exact: ``circuit`` itself, or its unitary
    dilation (:func:`dilate`) where it measures, resets or branches, unrolled into ``u`` and ``cx``
    (its controlled branches are gates the simulator does not know)."""
    if not needs_dilation(circuit):
        return circuit.copy()
    try:
        dilated = dilate(circuit)
    except NotDilatable as exc:
        raise ValueError(
            f"precision 0 (exact) is not available for a circuit with {exc}: give a precision > 0 to sample it"
        ) from None
    if dilated.num_qubits > EXACT_MAX_QUBITS:
        raise ValueError(
            f"precision 0 (exact) of this circuit needs {dilated.num_qubits} qubits (one more per measurement and "
            f"reset), over {EXACT_MAX_QUBITS}: give a precision > 0 to sample it"
        )
    # into u and cx: Aer binds parameters of controlled rotations (cry) at run time wrongly (it
    # kept ry's angle at 0 where assign_parameters gives the right value; Aer 0.18)
    unrolled = preset_pass_manager(optimization_level=0, basis_gates=list(_UNROLLED)).run(dilated)
    assert unrolled.layout is None  # no coupling map: the qubits stay where they are
    return unrolled
