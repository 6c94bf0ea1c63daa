"""ISA transpilation (cached) and compaction to the qubits a circuit really touches.

A 4-qubit circuit on a 127-qubit fake device is transpiled against the full device, then
renumbered onto its active physical qubits only, so that it is simulated (with noise restricted
to those qubits) at the cost of a 4-qubit circuit.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass

from qiskit import QuantumCircuit, QuantumRegister, qpy
from qiskit.providers import BackendV2
from qiskit.transpiler import generate_preset_pass_manager

_IGNORED = {"barrier", "delay"}


@dataclass(frozen=True)
class IsaCircuit:
    """A transpiled circuit on ``len(physical_qubits)`` compact qubits.

    Attributes:
        circuit: the ISA circuit; qubit ``i`` is device qubit ``physical_qubits[i]``.
        physical_qubits: the device qubits it touches, ascending.
        logical_to_compact: compact qubit index of each logical (virtual) qubit.
        device_circuit: the transpiled circuit on the full device (for drawing and QPY).
        fingerprint: identifies this ISA circuit within the process (compiler and logical circuit).
    """

    circuit: QuantumCircuit
    physical_qubits: tuple[int, ...]
    logical_to_compact: tuple[int, ...]
    device_circuit: QuantumCircuit
    fingerprint: str = ""


def circuit_fingerprint(circuit: QuantumCircuit) -> str:
    """A content hash of a circuit (QPY bytes), stable across circuit objects."""
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


class IsaCompiler:
    """Transpiles circuits for one backend; each distinct circuit is transpiled once.

    Args:
        target_backend: the device to transpile for (a fake device, or an AerSimulator).
        optimization_level: preset pass manager level, 0-3.
        seed_transpiler: seed of the stochastic passes.
    """

    def __init__(self, target_backend: BackendV2, optimization_level: int, seed_transpiler: int):
        self.pass_manager = generate_preset_pass_manager(
            optimization_level=optimization_level, target=target_backend.target, seed_transpiler=seed_transpiler
        )
        self._cache: dict[str, IsaCircuit] = {}
        self._token = uuid.uuid4().hex[:12]  # ISA fingerprints differ between compilers
        self.transpile_count = 0

    def compile(self, circuit: QuantumCircuit) -> IsaCircuit:
        """The ISA form of ``circuit``, from the cache when the same circuit was seen before."""
        key = circuit_fingerprint(circuit)
        cached = self._cache.get(key)
        if cached is None:
            device_circuit = self.pass_manager.run(circuit)
            self.transpile_count += 1
            cached = self._cache[key] = compact(device_circuit, circuit.num_qubits, f"{self._token}:{key}")
        return cached


def compact(device_circuit: QuantumCircuit, num_logical: int, fingerprint: str = "") -> IsaCircuit:
    """Renumber a transpiled circuit onto the physical qubits it uses."""
    layout = device_circuit.layout
    if layout is not None:
        logical_physical = list(layout.final_index_layout(filter_ancillas=True))[:num_logical]
    else:
        logical_physical = list(range(num_logical))
    used = set(logical_physical)
    for instruction in device_circuit.data:
        if instruction.operation.name not in _IGNORED:
            used.update(device_circuit.find_bit(q).index for q in instruction.qubits)
    physical = tuple(sorted(used))
    index = {q: i for i, q in enumerate(physical)}
    out = QuantumCircuit(
        QuantumRegister(len(physical), "q"),
        *device_circuit.cregs,
        name=device_circuit.name,
        global_phase=device_circuit.global_phase,
        metadata=dict(device_circuit.metadata or {}),
    )
    loose = [bit for bit in device_circuit.clbits if not device_circuit.find_bit(bit).registers]
    if loose:
        out.add_bits(loose)
    for instruction in device_circuit.data:
        qubits = [device_circuit.find_bit(q).index for q in instruction.qubits]
        if instruction.operation.name in _IGNORED and not all(q in index for q in qubits):
            continue
        out.append(instruction.operation, [out.qubits[index[q]] for q in qubits], instruction.clbits, copy=False)
    return IsaCircuit(out, physical, tuple(index[q] for q in logical_physical), device_circuit, fingerprint)
