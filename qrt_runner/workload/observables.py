"""Observables: Pauli strings and sums, and named model Hamiltonians, as ``SparsePauliOp``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from qrt_runner.config import schema as s
from qrt_runner.errors import ConfigError
from qrt_runner.registry import Registry
from qrt_runner.workload.projectors import label_terms

#: Observable models by name (the ``observables`` group's options): schema and builder of the
#: ``(label, operator)`` pairs. A new model is a builder registered here and
#: ``conf/observables/<name>.yaml``.
OBSERVABLE_MODELS: Registry[Callable[[Any], list[tuple[str, SparsePauliOp]]]] = Registry(
    "observable model", "observables"
)

# Two-qubit (parity mapping, two-qubit reduction) H2 Hamiltonian in the STO-3G basis at 0.735 A,
# electronic part; its ground-state energy is -1.857275 Ha.
H2_0735 = SparsePauliOp.from_list(
    [
        ("II", -1.052373245772859),
        ("IZ", 0.39793742484318045),
        ("ZI", -0.39793742484318045),
        ("ZZ", -0.01128010425623538),
        ("XX", 0.18093119978423156),
    ]
)

_TERM = re.compile(r"^\s*(?:([+-]?\s*[0-9.eE+-]*)\s*\*)?\s*([IXYZ01rl+-]+)\s*$")
# A + or - joins two terms where it stands after a space or between a Pauli letter and the next
# term (ZZ+XX); anywhere else inside a label it is the projector |+><+| or |-><-|.
_JOIN = re.compile(r"(?:(?<=\s)|(?<=[IXYZ]))([+-])(?=\s*[0-9.]*\s*\*?\s*[IXYZ0-9.rl+-])(?![+-]*$)")


def parse_observable(text: str, key: str = "observables.terms") -> SparsePauliOp:
    """Parse ``"ZZI + 0.5*XXI - IYY"`` (little-endian labels; projectors ``0 1 + - r l`` too, as
    in ``"1X + 0.5*0+"``) into one ``SparsePauliOp`` (a projector is ``(I ± P)/2``)."""
    pieces = _JOIN.split(" " + text.strip())
    terms: list[tuple[str, float]] = []
    sign = 1.0
    for piece in pieces:
        if piece in ("+", "-"):
            sign = -1.0 if piece == "-" else 1.0
            continue
        if not piece.strip():
            continue
        match = _TERM.match(piece)
        if not match:
            raise ConfigError(
                key,
                text,
                f"cannot parse the term {piece.strip()!r}",
                "write terms like 'ZZI' or '0.5*XXI + IZZ' with letters I, X, Y, Z (or projectors 0 1 + - r l)",
            )
        coeff_text = (match.group(1) or "").replace(" ", "")
        try:
            coeff = float(coeff_text) if coeff_text not in ("", "+", "-") else (-1.0 if coeff_text == "-" else 1.0)
        except ValueError:
            raise ConfigError(key, text, f"bad coefficient {coeff_text!r}", "write coefficients like 0.5*XX") from None
        if not math.isfinite(coeff):
            raise ConfigError(key, text, f"coefficient {coeff_text!r} is not a finite number", "write 0.5*XX")
        terms.append((match.group(2), sign * coeff))
        sign = 1.0
    if not terms:
        raise ConfigError(key, text, "is empty", "give at least one Pauli string such as 'ZZ'")
    widths = {len(label) for label, _ in terms}
    if len(widths) != 1:
        raise ConfigError(
            key, text, "mixes Pauli strings of different lengths", "write every term with one letter per qubit"
        )
    paulis = [(pauli, coeff * weight) for label, coeff in terms for pauli, weight in label_terms(label).items()]
    operator = SparsePauliOp.from_list(paulis).simplify()
    if not np.any(operator.coeffs):
        raise ConfigError(
            key, text, "is the zero operator (its terms cancel)", "give a term with a non-zero coefficient"
        )
    return operator


def _chain(num_qubits: int, periodic: bool) -> list[tuple[int, int]]:
    bonds = [(i, i + 1) for i in range(num_qubits - 1)]
    if periodic and num_qubits > 2:
        bonds.append((num_qubits - 1, 0))
    return bonds


def ising(spec: s.IsingObservables) -> SparsePauliOp:
    """Transverse-field Ising chain H = -j sum Z_i Z_{i+1} - h sum X_i."""
    n = spec.num_qubits
    terms = [("ZZ", list(bond), -spec.j) for bond in _chain(n, spec.periodic)]
    terms += [("X", [i], -spec.h) for i in range(n)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n).simplify()


def heisenberg(spec: s.HeisenbergObservables) -> SparsePauliOp:
    """Heisenberg chain H = sum (jx XX + jy YY + jz ZZ) + h sum Z_i."""
    n = spec.num_qubits
    terms = []
    for bond in _chain(n, spec.periodic):
        terms += [("XX", list(bond), spec.jx), ("YY", list(bond), spec.jy), ("ZZ", list(bond), spec.jz)]
    terms += [("Z", [i], spec.h) for i in range(n) if spec.h]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n).simplify()


def build_observables(spec: s.ObservablesConfig) -> list[tuple[str, SparsePauliOp]]:
    """The observables of a PUB as ``(label, operator)`` pairs (raises ConfigError)."""
    return OBSERVABLE_MODELS.get(spec.name).build(spec)


@OBSERVABLE_MODELS.register("none", s.NoObservables)
def _none(spec: s.NoObservables) -> list[tuple[str, SparsePauliOp]]:
    return []  # the sampler measures the circuit itself


@OBSERVABLE_MODELS.register("paulis", s.PauliObservables)
def _paulis(spec: s.PauliObservables) -> list[tuple[str, SparsePauliOp]]:
    if not spec.terms:
        raise ConfigError("observables.terms", [], "is empty", 'give observables.terms=[ZZ,"0.5*XX"]')
    for term in spec.terms:
        if not isinstance(term, str):
            raise ConfigError(
                "observables.terms",
                term,
                "each entry must be a Pauli string or sum",
                'write observables.terms=[ZZI,"0.5*XXX + IZZ"]',
            )
    return [(term.strip(), parse_observable(term)) for term in spec.terms]


@OBSERVABLE_MODELS.register("ising", s.IsingObservables)
def _ising(spec: s.IsingObservables) -> list[tuple[str, SparsePauliOp]]:
    if spec.num_qubits < 1:
        raise ConfigError("observables.num_qubits", spec.num_qubits, "must be at least 1", "set observables.num_qubits")
    return [(f"ising_{spec.num_qubits}", ising(spec))]


@OBSERVABLE_MODELS.register("heisenberg", s.HeisenbergObservables)
def _heisenberg(spec: s.HeisenbergObservables) -> list[tuple[str, SparsePauliOp]]:
    if spec.num_qubits < 2:
        raise ConfigError("observables.num_qubits", spec.num_qubits, "must be at least 2", "set observables.num_qubits")
    return [(f"heisenberg_{spec.num_qubits}", heisenberg(spec))]


@OBSERVABLE_MODELS.register("kicked_ising", s.KickedIsingObservables)
def _kicked_ising(spec: s.KickedIsingObservables) -> list[tuple[str, SparsePauliOp]]:
    from qrt_runner.workload.kicked_ising import checked_patch, kicked_ising_observables

    _, edges = checked_patch("observables", spec.num_qubits, spec.coupling, spec.device)
    if spec.weight < 1 or spec.weight > spec.num_qubits:
        raise ConfigError(
            "observables.weight",
            spec.weight,
            f"must be from 1 to the number of qubits ({spec.num_qubits})",
            "set observables.weight=10 (or fewer than the qubits)",
        )
    return kicked_ising_observables(spec.num_qubits, edges, spec.weight)


@OBSERVABLE_MODELS.register("h2", s.H2Observables)
def _h2(spec: s.H2Observables) -> list[tuple[str, SparsePauliOp]]:
    if abs(spec.bond_length - 0.735) > 1e-9:
        raise ConfigError(
            "observables.bond_length",
            spec.bond_length,
            "only 0.735 Angstrom is tabulated",
            "use observables.bond_length=0.735 or observables=paulis",
        )
    return [("h2", H2_0735)]
