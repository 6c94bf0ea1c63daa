"""Gate twirling with IBM's compiled dressings: what twirling costs on the device.

IBM's service (and its local mode, through samplomatic) boxes every twirled layer. A box's
"dressing", on each qubit the layer twirls, is the random Pauli before the layer merged with the
single-qubit gates before it and the Pauli left over from the qubit's previous layer, compiled as
``rz sx rz sx rz``. So every twirled qubit pays two ``sx`` errors per layer (idle qubits of the
twirled set too), in place of the errors of the gates the dressing absorbed, and the Paulis left
after the last layer are dressed once more (IBM's measurement box). On ising5 / fake_manila with
``active-accum``, that is 206 ``sx`` where the ISA circuit has 50.

:func:`dressed_template` builds the same template here: each dressing is ``rz(a) sx rz(b) sx
rz(c)`` with parameters ``qrt_gd_<k>_{0,1,2}``, bound per randomisation
(:func:`dressing_angles`) to the product of the dressing's Paulis and the gates it absorbed, so
the device's noise model gives its ``sx`` gates their errors where they happen. An operation a
dressing cannot absorb (a parametrised gate, a two-qubit gate that is not twirled, a measurement,
a reset, a delay) ends the qubit's dressing before it when a Pauli is pending there, and leaves
the gates before it as they are otherwise. These are where the template costs more than IBM's:
IBM absorbs parametrised gates too (binding their angles at run time), and adds dynamical
decoupling after boxing, so its idle windows do not end dressings. Measurement basis changes the
primitive appends later are not absorbed either (IBM's measurement box would absorb them).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.synthesis import OneQubitEulerDecomposer

from qrt_runner.mitigation.twirl_slots import TwirlLayer, pauli_index

#: The gates of a compiled dressing that carry errors (for the layer noise PEC and PEA use).
DRESSING_GATES = ("sx", "sx")
_TRANSPARENT = frozenset({"barrier"})
_PAULIS = np.array([np.eye(2), [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]]], dtype=complex)  # x*2 + z


def _matrix(instruction) -> np.ndarray | None:
    """The unitary of a single-qubit gate a dressing can absorb, else None."""
    operation = instruction.operation
    if (
        operation.num_qubits != 1
        or instruction.clbits
        or operation.name in ("measure", "reset", "delay", "barrier")
        or operation.is_parameterized()
    ):
        return None
    try:
        return np.asarray(operation.to_matrix(), dtype=complex)
    except Exception:  # a gate without a matrix (custom, opaque): left where it is
        return None


def dressed_template(circuit: QuantumCircuit, layers: list[list], before: list[list], sets: list) -> QuantumCircuit:
    """The twirl template of ``circuit`` (laid out by :func:`qrt_runner.mitigation.twirling._layered`)
    with compiled dressings. Metadata as :func:`~qrt_runner.mitigation.twirling.twirl_template`'s,
    with ``qrt_twirl_dressings`` (qubit, Paulis before the absorbed gates, Paulis after them, the
    absorbed gates' matrix) in place of its slots."""
    out = circuit.copy_empty_like()
    carried: dict[int, list[tuple[int, str]]] = {}  # per qubit: Paulis applied since its last dressing
    absorbed: dict[int, list] = {}  # per qubit: the gates absorbed since then (applied after them)
    dressings: list[tuple[int, tuple, tuple, tuple]] = []

    def dress(qubit: int, after: tuple = ()) -> None:
        gates = absorbed.pop(qubit, [])
        if not after and qubit not in carried:  # no Pauli to merge: the gates stay as they were
            for instruction, _ in gates:
                out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
            return
        matrix = np.eye(2, dtype=complex)
        for _, gate in gates:
            matrix = gate @ matrix
        k = len(dressings)
        dressings.append((qubit, tuple(carried.pop(qubit, ())), after, tuple(matrix.ravel())))
        angles = [Parameter(f"qrt_gd_{k}_{i}") for i in range(3)]
        out.rz(angles[0], qubit)
        out.sx(qubit)
        out.rz(angles[1], qubit)
        out.sx(qubit)
        out.rz(angles[2], qubit)

    def place(instructions, dressed_later: set[int]) -> None:
        for instruction in instructions:
            on = [circuit.find_bit(q).index for q in instruction.qubits]
            if instruction.operation.name in _TRANSPARENT:
                out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
                continue
            gate = _matrix(instruction) if len(on) == 1 and (on[0] in dressed_later or on[0] in carried) else None
            if gate is not None:
                absorbed.setdefault(on[0], []).append((instruction, gate))
                continue
            for qubit in on:  # the op needs what came before it on its qubits in place
                if qubit in carried or qubit in absorbed:
                    dress(qubit)
            out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)

    later: list[set[int]] = [set()]  # later[-1 - n]: the qubits twirled in layer n or after it
    for twirled in reversed(sets):
        later.append(later[-1] | set(twirled))
    described, ends = [], []
    for number, layer in enumerate(layers):
        place(before[number], later[len(layers) - number])  # gates wait in the qubit's next dressing
        for qubit in sets[number]:
            dress(qubit, ((number, "b"),))
        for instruction, _ in layer:
            out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
        ends.append(len(out.data))
        for qubit in sets[number]:
            carried[qubit] = [(number, "a")]
        described.append(
            TwirlLayer(
                tuple((inst.operation.name, *qubits) for inst, qubits in layer),
                sets[number],
                tuple((name, q) for q in sets[number] for name in DRESSING_GATES),
            )
        )
    place(before[len(layers)], set())
    for qubit in sorted(set(carried) | set(absorbed)):
        dress(qubit)
    out.metadata = {
        **(circuit.metadata or {}),
        "qrt_twirl_layers": described,
        "qrt_twirl_dressings": dressings,
        "qrt_layer_ends": ends,
    }
    return out


@lru_cache(maxsize=1024)
def _angle_table(matrix: tuple) -> np.ndarray:
    """``table[after * 4 + before]``: the dressing's angles (a, b, c) for the Pauli ``after`` times
    the absorbed gates times the Pauli ``before`` (indices x*2 + z)."""
    gates = np.array(matrix, dtype=complex).reshape(2, 2)
    decompose = OneQubitEulerDecomposer("U3").angles
    table = np.zeros((16, 3))
    for after in range(4):
        for before in range(4):
            theta, phi, lam = decompose(_PAULIS[after] @ gates @ _PAULIS[before])
            # U3(theta, phi, lam) = rz(phi + pi) sx rz(theta + pi) sx rz(lam), up to a global phase
            table[after * 4 + before] = (lam, theta + np.pi, phi + np.pi)
    return table


def dressing_angles(circuit: QuantumCircuit, bits: dict, randomizations: int) -> dict[str, np.ndarray]:
    """Angle columns of every dressing of ``circuit``, from the Paulis ``bits`` drawn per (layer,
    qubit, side) (:func:`qrt_runner.mitigation.twirling._pauli_bits`)."""
    columns: dict[str, np.ndarray] = {}
    for k, (qubit, before_parts, after_parts, matrix) in enumerate(circuit.metadata["qrt_twirl_dressings"]):
        before = pauli_index(bits, qubit, before_parts, randomizations)
        after = pauli_index(bits, qubit, after_parts, randomizations)
        angles = _angle_table(matrix)[after * 4 + before]
        for i in range(3):
            columns[f"qrt_gd_{k}_{i}"] = angles[:, i]
    return columns
