"""ISA transpilation (cached) and compaction to the qubits a circuit really touches.

A 4-qubit circuit on a 127-qubit fake device is transpiled against the full device, then
renumbered onto its active physical qubits only, so that it is simulated (with noise restricted
to those qubits) at the cost of a 4-qubit circuit. A circuit that is already ISA for the device
(:func:`~qrt_runner.execution.isa.is_isa`) is not transpiled: it runs on exactly the physical
qubits it names, as IBM's primitives run it.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
from qiskit import QuantumCircuit, QuantumRegister, qpy
from qiskit.primitives.containers import BindingsArray
from qiskit.providers import BackendV2
from qiskit.transpiler import Target

from qrt_runner.execution.isa import is_isa
from qrt_runner.execution.plugins import preset_pass_manager

_IGNORED = {"barrier", "delay"}


class HasTarget(Protocol):
    """Anything with a transpiler target (a device, or the ideal simulator's instruction set)."""

    @property
    def target(self) -> Target: ...


@dataclass(frozen=True)
class IsaCircuit:
    """A transpiled circuit on ``len(physical_qubits)`` compact qubits.

    Attributes:
        circuit: the ISA circuit; qubit ``i`` is device qubit ``physical_qubits[i]``.
        physical_qubits: the device qubits it touches, ascending.
        logical_to_compact: compact qubit index of each logical (virtual) qubit; for a circuit
            that was ISA already, of each of its own qubits (-1 for a qubit it leaves idle).
        device_circuit: the transpiled circuit on the full device (for drawing and QPY).
        fingerprint: identifies this ISA circuit within the process (compiler and logical circuit).
        transpiled: False when the circuit was ISA already and runs as given.
    """

    circuit: QuantumCircuit
    physical_qubits: tuple[int, ...]
    logical_to_compact: tuple[int, ...]
    device_circuit: QuantumCircuit
    fingerprint: str = ""
    transpiled: bool = True
    note: str = ""

    def parameter_values(self, bindings: BindingsArray, logical: QuantumCircuit) -> np.ndarray:
        """``bindings`` (for the ``logical`` circuit's parameters) as an array of shape
        ``bindings.shape + (num ISA parameters,)``, in ``circuit.parameters`` order: a parameter
        whose gates the transpiler removed (an rz before a measurement) is dropped."""
        names = [p.name for p in logical.parameters]
        full = bindings.as_array(names) if names else np.zeros(bindings.shape + (0,))
        column = {name: i for i, name in enumerate(names)}
        return full[..., [column[p.name] for p in self.circuit.parameters]]


def circuit_fingerprint(circuit: QuantumCircuit) -> str:
    """A content hash of a circuit (QPY bytes), stable across circuit objects."""
    buffer = io.BytesIO()
    qpy.dump(circuit, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


class IsaCompiler:
    """Transpiles circuits for one backend; each distinct circuit is transpiled once, and a
    circuit that is ISA for the backend already is not transpiled at all.

    Args:
        target_backend: the device to transpile for (a fake device, or the ideal simulator's
            :class:`~qrt_runner.execution.backend.IdealTarget`).
        optimization_level: preset pass manager level, 0-3.
        seed_transpiler: seed of the stochastic passes.
        initial_layout: the device qubit of each logical qubit (None: the transpiler chooses).
    """

    def __init__(
        self,
        target_backend: BackendV2 | HasTarget,
        optimization_level: int,
        seed_transpiler: int,
        initial_layout: tuple[int, ...] | None = None,
    ):
        self.target = target_backend.target
        self.pass_manager = preset_pass_manager(
            optimization_level=optimization_level,
            target=self.target,
            seed_transpiler=seed_transpiler,
            initial_layout=list(initial_layout) if initial_layout is not None else None,
        )
        self._clifford_pass_manager = (
            preset_pass_manager(
                optimization_level=1,
                target=self.target,
                seed_transpiler=seed_transpiler,
                initial_layout=list(initial_layout) if initial_layout is not None else None,
            )
            if optimization_level >= 2
            else None
        )
        self._cache: dict[tuple, IsaCircuit] = {}
        self._token = uuid.uuid4().hex[:12]  # ISA fingerprints differ between compilers
        self.transpile_count = 0

    def _transpile(self, circuit: QuantumCircuit) -> tuple[QuantumCircuit, str]:
        """The transpiled circuit, and a note where it was transpiled otherwise than asked.

        Levels 2 and 3 resynthesise two-qubit blocks: on a device with ECR gates a Clifford
        circuit (a GHZ) comes out with single-qubit rotations at angles that are not multiples of
        pi/2, Clifford only as whole blocks, so the stabilizer method could not run it at any
        width. A wide Clifford circuit is then transpiled at level 1 instead, which keeps every
        gate Clifford."""
        out = self.pass_manager.run(circuit)
        if self._clifford_pass_manager is None or not _wide_clifford(circuit):
            return out, ""
        from qrt_runner.execution.simulation.clifford import is_clifford

        if is_clifford(out):
            return out, ""
        note = "transpiled at optimization level 1, which keeps a Clifford circuit's gates Clifford"
        return self._clifford_pass_manager.run(circuit), note

    def compile(self, circuit: QuantumCircuit, keep: tuple[int, ...] = ()) -> IsaCircuit:
        """The ISA form of ``circuit``, from the cache when the same circuit was seen before.

        ``keep``: qubits of ``circuit`` that the compact circuit keeps even where it leaves them
        idle (those an observable measures); only a circuit that is ISA already can leave a qubit
        of its own out.
        """
        key = circuit_fingerprint(circuit)
        cached = self._cache.get((key, keep))
        if cached is None:
            fingerprint = f"{self._token}:{key}"
            if is_isa(circuit, self.target):
                cached = compact(circuit, circuit.num_qubits, f"{fingerprint}:{keep}", keep=keep)
            else:
                plain = self._cache.get((key, ()))
                if plain is None:
                    self.transpile_count += 1
                    device_circuit, note = self._transpile(circuit)
                    plain = compact(device_circuit, circuit.num_qubits, fingerprint)
                    if note:
                        plain = replace(plain, note=note)
                    self._cache[(key, ())] = plain
                cached = plain
            self._cache[(key, keep)] = cached
        return cached


def _wide_clifford(circuit: QuantumCircuit) -> bool:
    from qrt_runner.execution.simulation.clifford import is_clifford

    return circuit.num_qubits > CLIFFORD_LEVEL_1_FROM and circuit.num_parameters == 0 and is_clifford(circuit)


# From this width a Clifford circuit is transpiled so that it stays one (the stabilizer method's
# territory: see method_choice); narrower ones run on dense methods, where it does not matter.
CLIFFORD_LEVEL_1_FROM = 10


def compact(
    device_circuit: QuantumCircuit, num_logical: int, fingerprint: str = "", keep: tuple[int, ...] | None = None
) -> IsaCircuit:
    """Renumber a device circuit onto the physical qubits it uses.

    With ``keep`` None, ``device_circuit`` is a transpiled circuit whose layout says where each
    of the ``num_logical`` logical qubits went, and every logical qubit is kept; otherwise it is
    a circuit that was ISA already, its qubits are the physical ones, and of those it leaves
    idle only ``keep`` are kept.
    """
    transpiled = keep is None
    layout = device_circuit.layout
    if transpiled and layout is not None:
        logical_physical = list(layout.final_index_layout(filter_ancillas=True))[:num_logical]
    else:
        logical_physical = list(range(num_logical))
    used = set(logical_physical) if transpiled else set(keep or ())
    for instruction in device_circuit.data:
        if instruction.operation.name not in _IGNORED:
            used.update(device_circuit.find_bit(q).index for q in instruction.qubits)
    if not used and num_logical:
        used.add(0)  # an empty circuit still has a qubit to run on
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
    to_compact = tuple(index.get(q, -1) for q in logical_physical)
    return IsaCircuit(out, physical, to_compact, device_circuit, fingerprint, transpiled)
