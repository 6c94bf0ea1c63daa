"""Generated benchmark families with exact answers, for ``benchmarks/mitigation.py``.

Every case is drawn from a seed, so that the benchmark measures circuits nobody tuned for: seed
s of a family gives one instance per size, from ``numpy.random.default_rng((family, size, s))``.
A family's cases rotate over the 5-qubit fake_manila and fake_quito; the 6- and 7-qubit mirror
circuits run on fake_nairobi (IBM's local mode takes 40-70 s a level-2 job there, against about
10 s on a 5-qubit device, so the other families stay at 4-5 qubits). Exact values come from ``Statevector``.

* ``mirror``: a random circuit U (``qiskit.circuit.random.random_circuit``, depth 2-4, gates
  of one and two qubits), a barrier, then U^-1, on 4-7 qubits. The state returns to |0...0>:
  observables are Z strings of every weight 1..n (on random qubits), all exactly 1. The barrier
  keeps the transpiler from cancelling U against U^-1.
* ``clifford``: layers of random single-qubit Cliffords (H, S, S^dagger, SX, X, Y, Z) and
  CX/CZ on random disjoint pairs, 4-5 qubits, 3-6 layers. Observables: n random products of
  the output state's stabilizers (exactly +-1) and one random Pauli that is not
  a stabilizer (exactly 0).
* ``qaoa``: MaxCut QAOA on a random connected graph (a ring with at most one chord) of 4-5 nodes,
  p = 1-2 layers of rzz on the edges and rx, random angles (deeper, on fake_quito's T layout, the
  signal is gone at noise factor 3 for both sides and the case measures shot noise only). Observables: Z_i Z_j on every edge and the
  cut value (the mean of (1 - Z_i Z_j) / 2 over the edges).
* ``trotter``: first-order Trotter steps of the transverse-field Ising chain (J 1, random h in
  [0.5, 1.5], dt 0.25), 4-5 qubits, 1-5 steps (several depths in every family draw).
  Observables: the Z and X magnetisations and every nearest-neighbour Z Z.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Clifford, Pauli, SparsePauliOp, Statevector

FAMILIES = ("mirror", "clifford", "qaoa", "trotter")
FAMILY_IDS = {name: index for index, name in enumerate(FAMILIES)}
DEVICES_5 = ("fake_manila", "fake_quito")
DEVICE_7 = "fake_nairobi"
SIZES = {"mirror": (4, 5, 6, 7), "clifford": (4, 5), "qaoa": (4, 5), "trotter": (4, 5)}
QUICK_SIZES = {"mirror": (4, 5), "clifford": (5,), "qaoa": (5,), "trotter": (4, 5)}


@dataclass(frozen=True)
class Case:
    """One generated instance: its family, a name, the device it runs on, the logical circuit,
    its observables and their exact values."""

    family: str
    name: str
    device: str
    circuit: QuantumCircuit
    observables: list[SparsePauliOp]
    exact: np.ndarray


def _device(n: int, size_index: int, seed: int) -> str:
    return DEVICE_7 if n > 5 else DEVICES_5[(size_index + seed) % len(DEVICES_5)]


def _z_string(n: int, qubits) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list([("Z" * len(qubits), list(qubits), 1.0)], n)


def mirror(n: int, rng: np.random.Generator) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    depth = int(rng.integers(2, 5))
    u = random_circuit(n, depth, max_operands=2, seed=int(rng.integers(2**31)))
    circuit = u.copy()
    circuit.barrier()
    circuit.compose(u.inverse(), inplace=True)
    observables = [_z_string(n, sorted(rng.choice(n, size=k, replace=False).tolist())) for k in range(1, n + 1)]
    return circuit, observables


_CLIFFORD_1Q = ("h", "s", "sdg", "sx", "x", "y", "z")


def clifford(n: int, rng: np.random.Generator) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    circuit = QuantumCircuit(n)
    for _ in range(int(rng.integers(3, 7))):
        for q in range(n):
            getattr(circuit, _CLIFFORD_1Q[int(rng.integers(len(_CLIFFORD_1Q)))])(q)
        order = rng.permutation(n)
        for a, b in zip(order[0::2], order[1::2]):
            (circuit.cx if rng.random() < 0.5 else circuit.cz)(int(a), int(b))
    stabilizers = [Pauli(label) for label in Clifford(circuit).to_labels(mode="S")]
    observables = []
    while len(observables) < n:  # n random products of the stabilizers: exactly +-1
        chosen = rng.random(n) < 0.5
        product = Pauli("I" * n)
        for keep, stabilizer in zip(chosen, stabilizers):
            if keep:
                product = product.compose(stabilizer)
        if product.x.any() or product.z.any():
            observables.append(SparsePauliOp(product))
    while True:  # one Pauli that is no stabilizer: exact 0
        label = "".join("IXYZ"[int(i)] for i in rng.integers(0, 4, size=n))
        if label != "I" * n and abs(Statevector(circuit).expectation_value(Pauli(label))) < 1e-9:
            observables.append(SparsePauliOp(label))
            break
    return circuit, observables


def qaoa(n: int, rng: np.random.Generator) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    edges = {(i, (i + 1) % n) for i in range(n)}
    for _ in range(int(rng.integers(0, 2))):
        a, b = sorted(rng.choice(n, size=2, replace=False).tolist())
        edges.add((a, b))
    edges = sorted(tuple(sorted(e)) for e in edges)
    circuit = QuantumCircuit(n)
    circuit.h(range(n))
    for _ in range(int(rng.integers(1, 3))):
        gamma, beta = rng.uniform(0.1, np.pi / 2), rng.uniform(0.1, np.pi / 2)
        for a, b in edges:
            circuit.rzz(2 * gamma, a, b)
        circuit.rx(2 * beta, range(n))
    pairs = [_z_string(n, edge) for edge in edges]
    cut = SparsePauliOp.from_sparse_list(
        [("", [], 0.5)] + [("ZZ", list(edge), -0.5 / len(edges)) for edge in edges], n
    ).simplify()
    return circuit, pairs + [cut]


def trotter(n: int, rng: np.random.Generator, steps: int) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    h, dt = rng.uniform(0.5, 1.5), 0.25
    circuit = QuantumCircuit(n)
    for _ in range(steps):
        for parity in (0, 1):
            for i in range(parity, n - 1, 2):
                circuit.rzz(2 * dt, i, i + 1)
        circuit.rx(2 * h * dt, range(n))
    z_mag = SparsePauliOp.from_sparse_list([("Z", [i], 1 / n) for i in range(n)], n)
    x_mag = SparsePauliOp.from_sparse_list([("X", [i], 1 / n) for i in range(n)], n)
    return circuit, [z_mag, x_mag] + [_z_string(n, (i, i + 1)) for i in range(n - 1)]


def exact_values(circuit: QuantumCircuit, observables: list[SparsePauliOp]) -> np.ndarray:
    state = Statevector(circuit)
    return np.array([state.expectation_value(op).real for op in observables])


def family_cases(family: str, seed: int, quick: bool = False) -> list[Case]:
    """The cases of ``family`` drawn from ``seed`` (one per size)."""
    sizes = (QUICK_SIZES if quick else SIZES)[family]
    cases = []
    for index, n in enumerate(sizes):
        rng = np.random.default_rng((FAMILY_IDS[family], n, seed))
        if family == "trotter":
            steps = 1 + (seed + index) % 5
            circuit, observables = trotter(n, rng, steps)
            name = f"trotter{n}x{steps}"
        else:
            circuit, observables = {"mirror": mirror, "clifford": clifford, "qaoa": qaoa}[family](n, rng)
            name = f"{family}{n}"
        device = _device(n, index, seed)
        circuit.name = f"{name}_s{seed}"  # (a stable name: IBM's cache keys on the circuit's content)
        cases.append(Case(family, name, device, circuit, observables, exact_values(circuit, observables)))
    return cases
