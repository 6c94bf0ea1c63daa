"""What the two twirl forms share: a twirled layer, and the Pauli a slot holds.

:mod:`~qrt_runner.mitigation.twirling` puts each slot's Pauli in a ``u`` gate;
:mod:`~qrt_runner.mitigation.dressing` merges it into the layer's compiled single-qubit dressing.
Both read the layers (:class:`TwirlLayer`) and the per-randomisation Paulis (:func:`pauli_index`)
from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TwirlLayer:
    """One twirled layer: its gates as ``(name, qubit0, qubit1)``, the qubits it twirls, and its
    dressing: the single-qubit gates ``(name, qubit)`` placed between the previous layer and it."""

    gates: tuple[tuple[str, int, int], ...]
    twirled: tuple[int, ...]
    dressing: tuple[tuple[str, int], ...] = ()


def pauli_index(bits: dict, qubit: int, parts, randomizations: int) -> np.ndarray:
    """Per randomisation, the product of the Paulis ``parts`` ((layer, "b" or "a"), ...) on
    ``qubit``, as an index x*2 + z into I, Z, X, Y; ``bits`` holds the drawn Paulis' (x, z) bits
    per (layer, qubit, "b" or "a"), one row per randomisation."""
    total = np.zeros((randomizations, 2), dtype=np.int64)
    for number, side in parts:
        total ^= bits[number, qubit, side]
    return total[:, 0] * 2 + total[:, 1]
