"""Noise amplification by folding two-qubit gates: G -> G (G^-1 G)^k.

A noise factor lambda folds every two-qubit gate floor((lambda - 1) / 2) times, and a fraction of
them once more so that the count of two-qubit gates grows by lambda on average; which gates get
the extra fold is random (``gate_folding``), the first ones (``gate_folding_front``) or the last
ones (``gate_folding_back``). The folded circuit is already ISA: nothing is re-transpiled.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit


def fold_two_qubit_gates(circuit: QuantumCircuit, factor: float, amplifier: str, seed: int) -> QuantumCircuit:
    """A copy of ``circuit`` whose two-qubit gates are folded for noise ``factor`` (>= 1)."""
    positions = [
        i
        for i, inst in enumerate(circuit.data)
        if inst.operation.num_qubits == 2 and not inst.clbits and inst.operation.name not in ("barrier",)
    ]
    folds = np.full(len(positions), int((factor - 1) // 2))
    extra = round((factor - 1 - 2 * folds[0]) / 2 * len(positions)) if positions else 0
    if extra:
        if amplifier == "gate_folding_front":
            chosen = np.arange(extra)
        elif amplifier == "gate_folding_back":
            chosen = np.arange(len(positions) - extra, len(positions))
        else:
            chosen = np.random.default_rng(seed).choice(len(positions), size=extra, replace=False)
        folds[chosen] += 1
    fold_at = dict(zip(positions, folds))
    out = circuit.copy_empty_like()
    for index, instruction in enumerate(circuit.data):
        out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
        for _ in range(int(fold_at.get(index, 0))):
            out.append(instruction.operation.inverse(), instruction.qubits, copy=False)
            out.append(instruction.operation, instruction.qubits, copy=False)
    out.metadata = {**(circuit.metadata or {}), "qrt_noise_factor": float(factor)}
    return out


def effective_factor(original: QuantumCircuit, folded: QuantumCircuit) -> float:
    """The ratio of two-qubit gate counts actually achieved."""

    def count(circuit):
        return sum(1 for inst in circuit.data if inst.operation.num_qubits == 2 and not inst.clbits)

    base = count(original)
    return count(folded) / base if base else 1.0
