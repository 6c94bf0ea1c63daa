"""``transpile.initial_layout``: checked against the circuit and the device before anything runs."""

from __future__ import annotations

from qiskit import QuantumCircuit

from qrt_runner.config.spec import RunSpec
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backends import kind_of

_KEY = "transpile.initial_layout"


def check_initial_layout(spec: RunSpec, circuit: QuantumCircuit) -> None:
    """One device qubit per circuit qubit, each once, each on the device (raises ConfigError)."""
    layout = spec.transpile.initial_layout
    if layout is None:
        return
    qubits = list(layout)
    if len(qubits) != circuit.num_qubits:
        raise ConfigError(
            _KEY,
            qubits,
            f"names {len(qubits)} qubits for a {circuit.num_qubits}-qubit circuit",
            f"give one device qubit per circuit qubit ({circuit.num_qubits}), or null to let the transpiler choose",
        )
    if len(set(qubits)) != len(qubits):
        raise ConfigError(_KEY, qubits, "names a device qubit twice", "give each circuit qubit its own device qubit")
    device = kind_of(spec.backend).device(spec)
    width = device.num_qubits if device is not None else None
    bad = [q for q in qubits if q < 0 or (width is not None and q >= width)]
    if bad:
        raise ConfigError(
            _KEY,
            qubits,
            f"qubit {bad[0]} is not on {spec.backend.name} ({width} qubits: 0 to {(width or 1) - 1})",
            "choose device qubits that exist",
        )
