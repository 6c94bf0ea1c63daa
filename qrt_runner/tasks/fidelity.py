"""How close a sampler run's counts are to the exact distribution of its circuit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector, hellinger_fidelity

_MAX_FIDELITY_QUBITS = 14
_MAX_FIDELITY_SETS = 64


def ideal_fidelities(
    circuit: QuantumCircuit, flat_values: np.ndarray, counts: Sequence[Mapping[str, float] | None]
) -> list[float | None] | None:
    """Hellinger fidelity of each parameter set's counts to the exact distribution, where computable.

    Computed when the circuit is small, its only measurements are final, and each clbit is
    measured once.
    """
    if circuit.num_qubits > _MAX_FIDELITY_QUBITS or len(counts) > _MAX_FIDELITY_SETS:
        return None
    measured: dict[int, int] = {}
    seen_measure = False
    for instruction in circuit.data:
        name = instruction.operation.name
        if name == "measure":
            seen_measure = True
            clbit = circuit.find_bit(instruction.clbits[0]).index
            if clbit in measured:
                return None
            measured[clbit] = circuit.find_bit(instruction.qubits[0]).index
        elif seen_measure and name != "barrier":
            return None
    if sorted(measured) != list(range(circuit.num_clbits)):
        return None
    unitary_part = circuit.remove_final_measurements(inplace=False)
    qargs = [measured[c] for c in range(circuit.num_clbits)]
    fidelities: list[float | None] = []
    for row, observed in zip(flat_values, counts):
        if observed is None:
            fidelities.append(None)
            continue
        bound = unitary_part.assign_parameters(row) if unitary_part.num_parameters else unitary_part
        ideal = Statevector(bound).probabilities_dict(qargs=qargs)
        fidelities.append(float(hellinger_fidelity(ideal, observed)))
    return fidelities
