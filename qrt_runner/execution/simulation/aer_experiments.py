"""Circuits as Aer is to run them, and Aer's outcomes as the rows a task returns.

Aer (0.17-0.18) binds some parametrised gates wrongly and fails to load some ``if_else``
circuits: :func:`_one_experiment_per_row` rewrites those; :func:`_stabilizer_experiments` binds
and rewrites circuits for the ``stabilizer`` method. :func:`_counts_arrays` and
:func:`_memory_array` turn Aer's counts and memory into a task's rows.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import IfElseOp, Parameter, ParameterExpression
from qiskit.primitives import BitArray


def _stabilizer_experiments(circuits: list, values: list, owner: list) -> tuple[list, list, list]:
    """Every parameter row bound, and written in the gates Aer's stabilizer method accepts (a
    twirl's Paulis arrive as ``u`` gates with bound angles, which it refuses): one experiment
    per row, in order."""
    from qrt_runner.execution.simulation.clifford import stabilizer_form

    out_circuits, out_owner = [], []
    for index, circuit, rows in zip(owner, circuits, values):
        if rows is None:
            bound = [circuit]
        elif circuit.num_parameters == 0:
            bound = [circuit] * len(rows)
        else:
            bound = [circuit.assign_parameters(dict(zip(circuit.parameters, row))) for row in rows.tolist()]
        forms: dict[int, QuantumCircuit] = {}
        for one in bound:
            out_circuits.append(forms.setdefault(id(one), stabilizer_form(one)))
            out_owner.append(index)
    return out_circuits, [None] * len(out_circuits), out_owner


def _memory_array(data: dict, num_clbits: int, shots: int) -> np.ndarray:
    """Per-shot outcomes as a packed ``BitArray`` byte array; a circuit that measures nothing
    reads 0 on every classical bit (Aer returns no memory for it)."""
    if "memory" not in data:
        return np.zeros((shots, (num_clbits + 7) // 8), dtype=np.uint8)
    return BitArray.from_samples(data["memory"], num_clbits).array


# Gates whose parameters Aer (0.17-0.18) binds wrongly at run time (parameter_binds): controlled
# rotations keep a wrong angle (a cry read <Z> = 1 where its bound circuit gives cos 1), XX+-YY fail.
_MISBOUND = frozenset({"cp", "crx", "cry", "crz", "cu", "cu1", "cu3", "xx_minus_yy", "xx_plus_yy"})


def _misbound(circuit: QuantumCircuit) -> set[str]:
    return {
        i.operation.name
        for i in circuit.data
        if i.operation.name in _MISBOUND and any(isinstance(v, ParameterExpression) for v in i.operation.params)
    }


def _widened_branches(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with every ``if_else`` acting on all its qubits (a barrier on those its branches
    leave alone). Aer 0.18 fails to load a circuit ("unordered_map::at") where a qubit whose
    measurement an ``if_else`` reads is used after it, outside the branch's qubits; a branch
    that spans every qubit loads and runs the same."""
    narrow = [i for i in circuit.data if isinstance(i.operation, IfElseOp) and len(i.qubits) < circuit.num_qubits]
    if not narrow:
        return circuit
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        operation = instruction.operation
        if not isinstance(operation, IfElseOp) or len(instruction.qubits) == circuit.num_qubits:
            out.append(operation, instruction.qubits, instruction.clbits, copy=False)
            continue
        outer = [circuit.find_bit(q).index for q in instruction.qubits]
        idle = [q for q in range(circuit.num_qubits) if q not in outer]
        blocks = []
        for block in operation.blocks:
            wide = QuantumCircuit(circuit.num_qubits, block.num_clbits, global_phase=block.global_phase)
            for inner in block.data:
                qubits = [outer[block.find_bit(q).index] for q in inner.qubits]
                clbits = [block.find_bit(c).index for c in inner.clbits]
                wide.append(inner.operation, qubits, clbits, copy=False)
            wide.barrier(idle)
            blocks.append(wide)
        out.append(operation.replace_blocks(blocks), circuit.qubits, instruction.clbits, copy=False)
    return out


def _one_experiment_per_row(circuit: QuantumCircuit, rows: np.ndarray | None):
    """``circuit`` and its parameter rows as Aer is to run them. Parametrised gates that Aer binds
    wrongly are replaced by their definitions (gates it binds right). A circuit without parameters
    run for several rows (a parameter-free PUB broadcast over parameter sets: rows of zero columns)
    gets a parametrised global phase that does nothing, so that Aer runs one experiment, with its
    own samples, per row; with one row or none it runs once."""
    while names := _misbound(circuit):
        circuit = circuit.decompose(gates_to_decompose=sorted(names))
    circuit = _widened_branches(circuit)
    if rows is None or rows.shape[-1] or circuit.parameters:
        return circuit, rows
    if len(rows) <= 1:
        return circuit, None
    tagged = circuit.copy()
    tagged.global_phase = circuit.global_phase + Parameter("qrt_row")
    return tagged, np.arange(len(rows), dtype=float)[:, None]


def _counts_arrays(counts: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Aer's hex-keyed counts as (outcomes, counts) int64 arrays."""
    size = len(counts)
    outcomes = np.fromiter((int(key, 16) for key in counts), dtype=np.int64, count=size)
    return outcomes, np.fromiter(counts.values(), dtype=np.int64, count=size)
