"""Whether a circuit is already ISA for a target: IBM's rule that the primitives run such a
circuit as it is, on the physical qubits it names, and transpile only circuits that are not.

A circuit is ISA when it is no wider than the target and every instruction, inside control-flow
blocks too, is one the target supports on exactly the qubits it acts on (barriers are always
allowed; a delay is allowed where the target has ``delay`` or no durations at all).
"""

from __future__ import annotations

from qiskit import QuantumCircuit
from qiskit.circuit import ControlFlowOp
from qiskit.transpiler import Target

_ALWAYS = frozenset({"barrier"})


def is_isa(circuit: QuantumCircuit, target: Target) -> bool:
    """Whether ``target`` supports every instruction of ``circuit`` on its qubits, as placed."""
    if target.num_qubits is not None and circuit.num_qubits > target.num_qubits:
        return False
    return _supported(circuit, target, list(range(circuit.num_qubits)))


def _supported(circuit: QuantumCircuit, target: Target, physical: list[int]) -> bool:
    for instruction in circuit.data:
        operation = instruction.operation
        qargs = tuple(physical[circuit.find_bit(q).index] for q in instruction.qubits)
        if operation.name in _ALWAYS:
            continue
        if operation.name == "delay" and "delay" not in target.operation_names:
            continue
        if not target.instruction_supported(operation.name, qargs):
            return False
        if isinstance(operation, ControlFlowOp):
            for block in operation.blocks:
                if not _supported(block, target, list(qargs)):
                    return False
    return True
