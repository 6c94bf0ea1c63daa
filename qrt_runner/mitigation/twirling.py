"""Pauli twirling of two-qubit Clifford layers as one parametrised template circuit.

The circuit is rearranged into layers of two-qubit Clifford gates on disjoint qubits (each
single-qubit operation moves as early as its qubit allows, so the circuit is unchanged). Around
every layer each twirled qubit gets a random Pauli P before and its conjugate G P G^dagger after
(P itself on a twirled qubit that the layer leaves idle), which turns the layer's noise into a
Pauli channel. Which qubits are twirled follows IBM's ``twirling.strategy``: ``active`` (the
layer's gate qubits), ``active-accum`` (gate qubits of this and every earlier layer),
``active-circuit`` (gate qubits of any layer) or ``all`` (every qubit of the circuit).

Each slot is one ``u`` gate holding a Pauli, so all randomisations are parameter bindings of one
template, run in one simulator call; the slots are simulated without error. IBM's service (and
its local mode) instead merges each twirled qubit's Paulis with the single-qubit gates before
the layer into one "dressing" compiled as ``rz sx rz sx rz``, which costs two ``sx`` errors per
twirled qubit and layer: with ``dressed=True`` the template is built that way
(:mod:`qrt_runner.mitigation.dressing`). The template records where each layer ends, so that
PEC and PEA can put a channel right behind it (:mod:`qrt_runner.mitigation.layer_channels`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Clifford, Pauli

from qrt_runner.config.allowed import TWIRLING_STRATEGIES
from qrt_runner.mitigation.dressing import dressed_template, dressing_angles
from qrt_runner.mitigation.twirl_slots import TwirlLayer, pauli_index

STRATEGIES = TWIRLING_STRATEGIES
TWIRLABLE = frozenset({"cx", "cy", "cz", "ecr", "swap", "iswap", "dcx"})
# Pauli index -> (x, z) bits: I, X, Y (= i X Z), Z
_BITS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]])
_LETTERS = "IXYZ"


@lru_cache(maxsize=32)
def _table(name: str) -> np.ndarray:
    """``table[p0, p1] = (q0, q1)``: G (P_p0 on qubit 0, P_p1 on qubit 1) G^dagger, up to phase."""
    gate = QuantumCircuit(2)
    gate.append(get_standard_gate_name_mapping()[name], [0, 1])
    clifford = Clifford(gate)
    table = np.zeros((4, 4, 2), dtype=int)
    for p0 in range(4):
        for p1 in range(4):
            label = _LETTERS[p1] + _LETTERS[p0]  # qiskit labels: qubit 1 first
            after = Pauli(label).evolve(clifford, frame="s").to_label().lstrip("-i")
            table[p0, p1] = (_LETTERS.index(after[1]), _LETTERS.index(after[0]))
    return table


def conjugate(name: str, p0: int, p1: int) -> tuple[int, int]:
    """The Paulis (indices into ``IXYZ``) on (qubit 0, qubit 1) that ``G (P_p0 x P_p1) G^dagger``
    is, up to phase, for the two-qubit Clifford gate called ``name``."""
    q0, q1 = _table(name)[p0, p1]
    return int(q0), int(q1)


def _is_twirlable(instruction) -> bool:
    operation = instruction.operation
    return (
        operation.name in TWIRLABLE
        and operation.num_qubits == 2
        and not instruction.clbits
        and not operation.is_parameterized()
    )


def _twirled_sets(layers: list[list], width: int, strategy: str) -> list[tuple[int, ...]]:
    active = [sorted({q for _, qubits in layer for q in qubits}) for layer in layers]
    if strategy == "active":
        return [tuple(a) for a in active]
    if strategy == "all":
        return [tuple(range(width))] * len(layers)
    if strategy == "active-circuit":
        union = tuple(sorted({q for a in active for q in a}))
        return [union] * len(layers)
    sets, seen = [], set()
    for a in active:
        seen |= set(a)
        sets.append(tuple(sorted(seen)))
    return sets


def _layered(circuit: QuantumCircuit, strategy: str) -> tuple[list[list], list[list], list[tuple[int, ...]]]:
    """(layers of twirlable gates as (instruction, qubits), the other operations placed before
    each layer (the last entry: after all of them), the qubits each layer twirls)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown twirling strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    wires = {bit: i for i, bit in enumerate(list(circuit.qubits) + list(circuit.clbits))}
    front = [0] * len(wires)  # per wire: the first layer an operation on it may still join
    layers: list[list] = []  # per layer: (instruction, qubit indices)
    before: list[list] = [[]]  # per layer: the other operations placed just before it (last: after all)
    for instruction in circuit.data:
        indices = [wires[bit] for bit in (*instruction.qubits, *instruction.clbits)]
        start = max(front[i] for i in indices) if indices else 0
        if _is_twirlable(instruction):
            while len(layers) <= start:
                layers.append([])
                before.append([])
            layers[start].append((instruction, tuple(indices)))
            for i in indices:
                front[i] = start + 1
        else:
            before[start].append(instruction)
            for i in indices:
                front[i] = start
    return layers, before, _twirled_sets(layers, circuit.num_qubits, strategy)


def twirl_template(circuit: QuantumCircuit, strategy: str = "active", dressed: bool = False) -> QuantumCircuit:
    """``circuit`` rearranged into two-qubit layers with parametrised Pauli slots around each.

    Every slot is one ``u(theta, phi, lam)`` gate (parameters ``qrt_gt_<k>_{t,p,l}``) holding the
    product of the Paulis that meet there: the "after" Pauli of one layer and the "before" Pauli
    of the next on a qubit with nothing in between share a slot. On a twirled qubit that a layer
    leaves idle, P before and P after cancel, so no slot is simulated for it. The layers are
    listed in ``metadata["qrt_twirl_layers"]`` (:class:`TwirlLayer`), the slots in
    ``metadata["qrt_twirl_slots"]`` as (qubit, ((layer, "b" or "a"), ...)), and in
    ``metadata["qrt_layer_ends"]`` the position in ``data`` right after each layer's last gate.
    With ``dressed``, the Paulis go into compiled dressings instead
    (:func:`qrt_runner.mitigation.dressing.dressed_template`).
    """
    layers, before, sets = _layered(circuit, strategy)
    if dressed:
        return dressed_template(circuit, layers, before, sets)
    out = circuit.copy_empty_like()
    pending: dict[int, list[tuple[int, str]]] = {}
    slots: list[tuple[int, tuple[tuple[int, str], ...]]] = []

    def flush(qubits) -> None:
        for qubit in qubits:
            parts = pending.pop(qubit, None)
            if parts:
                k = len(slots)
                slots.append((qubit, tuple(parts)))
                out.u(Parameter(f"qrt_gt_{k}_t"), Parameter(f"qrt_gt_{k}_p"), Parameter(f"qrt_gt_{k}_l"), qubit)

    def emit(instruction) -> None:
        flush(circuit.find_bit(q).index for q in instruction.qubits)
        out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)

    described, ends = [], []
    for number, layer in enumerate(layers):
        for instruction in before[number]:
            emit(instruction)
        active = {q for _, qubits in layer for q in qubits}
        for qubit in sets[number]:
            if qubit in active:
                pending.setdefault(qubit, []).append((number, "b"))
        for instruction, _ in layer:
            emit(instruction)
        ends.append(len(out.data))
        for qubit in sets[number]:
            if qubit in active:
                pending.setdefault(qubit, []).append((number, "a"))
        dressing = tuple(
            (inst.operation.name, circuit.find_bit(inst.qubits[0]).index)
            for inst in before[number]
            if inst.operation.num_qubits == 1 and not inst.clbits and inst.operation.name not in ("barrier", "delay")
        )
        described.append(
            TwirlLayer(tuple((inst.operation.name, *qubits) for inst, qubits in layer), sets[number], dressing)
        )
    for instruction in before[len(layers)]:
        emit(instruction)
    flush(sorted(pending))
    out.metadata = {
        **(circuit.metadata or {}),
        "qrt_twirl_layers": described,
        "qrt_twirl_slots": slots,
        "qrt_layer_ends": ends,
    }
    return out


def twirl_layers(circuit: QuantumCircuit) -> list[TwirlLayer]:
    """The layers of a template made by :func:`twirl_template` (empty for other circuits)."""
    return list((circuit.metadata or {}).get("qrt_twirl_layers", []))


def twirl_angles(circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Angle columns (one value per randomisation) for every twirl parameter of ``circuit``."""
    bits = _pauli_bits(circuit, randomizations, rng)
    columns: dict[str, np.ndarray] = {}
    for k, (qubit, parts) in enumerate((circuit.metadata or {}).get("qrt_twirl_slots", [])):
        angles = _U_ANGLES[pauli_index(bits, qubit, parts, randomizations)]
        for i, suffix in enumerate("tpl"):
            columns[f"qrt_gt_{k}_{suffix}"] = angles[:, i]
    if (circuit.metadata or {}).get("qrt_twirl_dressings"):
        columns.update(dressing_angles(circuit, bits, randomizations))
    return columns


def _pauli_bits(circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict:
    """Per (layer, qubit, "b" or "a"): the (x, z) bits of the Pauli before or after the layer,
    one row per randomisation (one draw per twirled layer and qubit, in layer order)."""
    bits: dict[tuple[int, int, str], np.ndarray] = {}  # (layer, qubit, "b"/"a") -> (randomizations, 2)
    for number, layer in enumerate(twirl_layers(circuit)):
        paulis = {q: rng.integers(0, 4, size=randomizations) for q in layer.twirled}
        after = {}
        for q, p in paulis.items():
            bits[number, q, "b"] = after[q] = _BITS[p]  # idle twirled qubits: P before and P after
        for name, q0, q1 in layer.gates:
            conjugated = _table(name)[paulis[q0], paulis[q1]]
            after[q0], after[q1] = _BITS[conjugated[:, 0]], _BITS[conjugated[:, 1]]
        for q, b in after.items():
            bits[number, q, "a"] = b
    return bits


# u(theta, phi, lam) of the Pauli with bits (x, z), up to a global phase: I, Z, X, Y
_U_ANGLES = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, np.pi], [np.pi, 0.0, np.pi], [np.pi, np.pi / 2, np.pi / 2]])
