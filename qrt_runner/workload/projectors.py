"""Projector labels of Qiskit's ``ObservablesArray`` as Pauli sums.

Besides ``I X Y Z``, a label may hold the projectors ``0 1`` (onto Z's eigenstates), ``+ -``
(X's) and ``r l`` (Y's): ``"1X"`` is |1><1| on qubit 1 times X on qubit 0. Each projector is
``(I ± P) / 2``, so a label with k projectors is a sum of 2^k Pauli strings; the primitives
measure those.
"""

from __future__ import annotations

from collections.abc import Mapping

PROJECTORS = {"0": ("Z", 1.0), "1": ("Z", -1.0), "+": ("X", 1.0), "-": ("X", -1.0), "r": ("Y", 1.0), "l": ("Y", -1.0)}
LETTERS = frozenset("IXYZ") | frozenset(PROJECTORS)


def label_terms(label: str) -> dict[str, float]:
    """``label`` (Pauli letters and projectors) as ``{pauli_label: coefficient}``."""
    terms = {"": 1.0}
    for letter in label:
        if letter in "IXYZ":
            terms = {prefix + letter: coeff for prefix, coeff in terms.items()}
            continue
        pauli, sign = PROJECTORS[letter]
        expanded: dict[str, float] = {}
        for prefix, coeff in terms.items():
            expanded[prefix + "I"] = expanded.get(prefix + "I", 0.0) + coeff / 2
            expanded[prefix + pauli] = expanded.get(prefix + pauli, 0.0) + sign * coeff / 2
        terms = expanded
    return terms


def pauli_sum(observable: Mapping[str, complex]) -> dict[str, complex]:
    """An observable ``{label: coefficient}`` whose labels may hold projectors, as Pauli terms
    (terms that cancel are kept at coefficient 0, so the result never is empty)."""
    out: dict[str, complex] = {}
    for label, coeff in observable.items():
        if all(letter in "IXYZ" for letter in label):
            out[label] = out.get(label, 0.0) + coeff
            continue
        for pauli, weight in label_terms(label).items():
            out[pauli] = out.get(pauli, 0.0) + coeff * weight
    return out
