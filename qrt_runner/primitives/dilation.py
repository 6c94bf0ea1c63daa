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
from qiskit.transpiler import Target, generate_preset_pass_manager

_SKIPPED = frozenset({"barrier", "delay"})
EXACT_MAX_QUBITS = 26  # a statevector of the qubits and their ancillas


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
    true_gate = _body_gate(operation.blocks[0])
    false_gate = _body_gate(operation.blocks[1]) if len(operation.blocks) > 1 else None
    controls, state = [], []
    for bit, bit_value in zip(bits, wanted):
        if bit in holder:
            controls.append(holder[bit])
            state.append(bit_value)
        elif bit_value:  # a bit never measured reads 0: the condition is false
            if false_gate is not None:
                out.append(false_gate, qubits)
            return
    if not controls:
        out.append(true_gate, qubits)
        return
    if false_gate is not None:  # the false branch everywhere, then (true . false^-1) where the condition holds
        out.append(false_gate, qubits)
        both = QuantumCircuit(len(qubits))
        both.append(false_gate.inverse(), both.qubits)
        both.append(true_gate, both.qubits)
        true_gate = both.to_gate(label="if_true")
    ctrl_state = "".join(str(b) for b in reversed(state))  # control qubit k is bit k from the right
    out.append(true_gate.control(len(controls), ctrl_state=ctrl_state), controls + qubits)


def _body_gate(body: QuantumCircuit) -> Gate:
    """A branch's body as one gate (its instructions must all be gates)."""
    for instruction in body.data:
        operation = instruction.operation
        if operation.name in ("measure", "reset") or isinstance(operation, ControlFlowOp):
            raise NotDilatable(f"{operation.name} inside an if_else branch")
        if instruction.clbits or (operation.name not in _SKIPPED and not isinstance(operation, Gate)):
            raise NotDilatable(operation.name)
    plain = QuantumCircuit(body.num_qubits, global_phase=body.global_phase)
    for instruction in body.data:
        if instruction.operation.name not in _SKIPPED:
            plain.append(instruction.operation, [body.find_bit(q).index for q in instruction.qubits])
    return plain.to_gate(label="branch")


def exact_circuit(circuit: QuantumCircuit, target: Target) -> QuantumCircuit:
    """The circuit whose saved expectation values are exact: ``circuit`` itself, or its unitary
    dilation (:func:`dilate`) where it measures, resets or branches,
    unrolled for the simulator's ``target`` (its controlled branches are custom gates)."""
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
    unrolled = generate_preset_pass_manager(optimization_level=0, target=target).run(dilated)
    assert unrolled.layout is None  # the simulator's target has no coupling map: the qubits stay where they are
    return unrolled
