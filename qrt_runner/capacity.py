"""Can this backend run this circuit? Checked before anything runs, with a one-line reason."""

from __future__ import annotations

import os

from qiskit import QuantumCircuit

from qrt_runner.errors import ConfigError
from qrt_runner.fake_backends import fake_backend
from qrt_runner.spec import RunSpec

CLIFFORD_GATES = {
    "h", "s", "sdg", "x", "y", "z", "cx", "cy", "cz", "swap", "sx", "sxdg", "id", "ecr", "iswap", "dcx",
    "measure", "barrier", "reset", "delay",
}
_BYTES_PER_AMPLITUDE = 16


def _is_clifford(circuit: QuantumCircuit) -> bool:
    return all(inst.operation.name in CLIFFORD_GATES for inst in circuit.data)


def _memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_capacity(spec: RunSpec, circuit: QuantumCircuit) -> None:
    """Refuse circuits wider than the device, states larger than memory, and non-Clifford
    circuits on the stabilizer method.

    Raises:
        ConfigError: naming the key to change.
    """
    backend = spec.backend
    width = circuit.num_qubits
    if backend.name not in ("aer", "ibm"):
        device_width = fake_backend(backend.name).num_qubits
        if width > device_width:
            raise ConfigError(
                "circuit.num_qubits", width, f"{backend.name} has only {device_width} qubits",
                "use a smaller circuit or a larger device (e.g. backend=fake_sherbrooke)",
            )
    if backend.name == "ibm":
        return
    clifford = _is_clifford(circuit)
    if backend.method == "stabilizer" and not clifford:
        names = sorted({inst.operation.name for inst in circuit.data} - CLIFFORD_GATES)
        raise ConfigError(
            "backend.method", "stabilizer", f"cannot simulate non-Clifford gates ({', '.join(names[:4])})",
            "use backend.method=automatic",
        )
    dense = backend.method in ("statevector", "density_matrix") or (backend.method == "automatic" and not clifford)
    if dense:
        amplitudes = 4**width if backend.method == "density_matrix" else 2**width
        needed = amplitudes * _BYTES_PER_AMPLITUDE
        available = _memory_bytes()
        if needed > 0.8 * available:
            kind = "density matrix" if backend.method == "density_matrix" else "statevector"
            raise ConfigError(
                "circuit.num_qubits", width,
                f"a {width}-qubit {kind} needs {needed / 2**30:,.0f} GiB, more than this machine's {available / 2**30:.0f} GiB",
                "use fewer qubits or backend.method=matrix_product_state",
            )
