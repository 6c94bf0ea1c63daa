"""Measurement twirling for sampled bits: a random X before each measurement, undone on the bits.

Each twirled measurement k gets ``sx rz(phi_k) sx`` in front of it (phi = 0 is an X flip, phi = pi
is Z and leaves the bit alone), so all randomisations are parameter bindings of one template.
Where the qubit is used again after a mid-circuit measurement, the same gates follow the
measurement and put the flip back. The recorded bits are XOR-ed with the flips, so the outcomes
have the distribution of an untwirled run, while a biased readout (P(1|0) != P(0|1)) becomes a
symmetric one. As IBM does, measurements into classical bits that any control flow reads or
writes are left untwirled.
"""

from __future__ import annotations

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit
from qiskit.circuit import ControlFlowOp, Parameter

PREFIX = "qrt_mt_"


def twirl_measurements(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` with a parametrised flip slot ``qrt_mt_<k>`` around its k-th twirled measurement.

    ``metadata["qrt_mt_clbits"]`` lists the classical bit each twirled measurement writes.
    """
    conditional = {
        bit
        for instruction in circuit.data
        if isinstance(instruction.operation, ControlFlowOp)
        for bit in instruction.clbits
    }
    last_use = {}
    for index, instruction in enumerate(circuit.data):
        if instruction.operation.name not in ("barrier", "delay"):
            for qubit in instruction.qubits:
                last_use[qubit] = index
    out = circuit.copy_empty_like()
    clbits: list[int] = []
    for index, instruction in enumerate(circuit.data):
        twirled = instruction.operation.name == "measure" and instruction.clbits[0] not in conditional
        if not twirled:
            out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
            continue
        qubit, phi = instruction.qubits[0], Parameter(f"{PREFIX}{len(clbits)}")
        clbits.append(circuit.find_bit(instruction.clbits[0]).index)
        _flip_slot(out, qubit, phi)
        out.append(instruction.operation, instruction.qubits, instruction.clbits, copy=False)
        if last_use[qubit] > index:
            _flip_slot(out, qubit, phi)
    out.metadata = {**(circuit.metadata or {}), "qrt_mt_clbits": clbits}
    return out


def measure_qubits(circuit: QuantumCircuit, measured: list[int], name: str, twirled: bool) -> QuantumCircuit:
    """Measure ``measured`` into a new register ``name``, each behind a flip slot ``qrt_mt_<qubit>``
    when ``twirled``; ``metadata`` records the qubits (``qrt_measured_qubits``) and the positions of
    their classical bits (``qrt_clbits``). Changes and returns ``circuit``."""
    register = ClassicalRegister(len(measured), name)
    circuit.add_register(register)
    for clbit, qubit in enumerate(measured):
        if twirled:
            _flip_slot(circuit, qubit, Parameter(f"{PREFIX}{qubit}"))
        circuit.measure(qubit, register[clbit])
    positions = [circuit.find_bit(bit).index for bit in register]  # after any clbits the circuit had
    circuit.metadata = {**(circuit.metadata or {}), "qrt_measured_qubits": measured, "qrt_clbits": positions}
    return circuit


def qubit_flip_angles(flips: np.ndarray, sets: int) -> dict[str, np.ndarray]:
    """Angle column of every slot ``qrt_mt_<qubit>`` from ``flips`` (randomisations, qubits),
    repeated for ``sets`` parameter sets."""
    return {
        f"{PREFIX}{qubit}": np.tile(np.where(flips[:, qubit] == 1, 0.0, np.pi), sets) for qubit in range(flips.shape[1])
    }


def _flip_slot(circuit: QuantumCircuit, qubit, phi: Parameter) -> None:
    circuit.sx(qubit)
    circuit.rz(phi, qubit)
    circuit.sx(qubit)


def flip_angles(flips: np.ndarray) -> dict[str, np.ndarray]:
    """Angle column per twirled measurement from ``flips`` (randomisations, measurements) of 0/1."""
    return {f"{PREFIX}{k}": np.where(flips[:, k] == 1, 0.0, np.pi) for k in range(flips.shape[1])}


def clbit_flips(circuit: QuantumCircuit, flips: np.ndarray) -> np.ndarray:
    """Per randomisation and classical bit (0/1, bit 0 first): the flip its last twirled measurement got."""
    out = np.zeros((flips.shape[0], circuit.num_clbits), dtype=np.uint8)
    for k, clbit in enumerate(circuit.metadata["qrt_mt_clbits"]):
        out[:, clbit] = flips[:, k]
    return out


def unflip(packed: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """``packed`` shots (a ``BitArray.array``: shots x bytes, big-endian) XOR-ed with one row of
    :func:`clbit_flips`."""
    num_bytes = packed.shape[-1]
    mask = sum(int(bit) << clbit for clbit, bit in enumerate(flips))
    return packed ^ np.frombuffer(mask.to_bytes(num_bytes, "big"), dtype=np.uint8)


def twirled_confusion(matrices: np.ndarray, flip_fraction: np.ndarray) -> np.ndarray:
    """Per-bit confusion matrices ``C[read, prepared]`` seen after undoing the flips: a bit flipped
    before readout in a fraction ``w`` of the shots reads through ``(1 - w) C + w X C X``."""
    w = np.asarray(flip_fraction, dtype=float)[:, None, None]
    return (1 - w) * matrices + w * matrices[:, ::-1, ::-1]
