"""How a run ran, as its record says: library versions, seeds and the transpiled circuit."""

from __future__ import annotations

from qrt_runner.config.spec import RunSpec
from qrt_runner.records.provenance import environment


def package_versions() -> dict[str, str]:
    """The versions of qrt_runner and the libraries that compute its numbers."""
    return dict(environment()["versions"])


def transpiled_record(isa) -> dict:
    """What the ISA circuit is: device qubits, size, and which device qubit each logical qubit and
    each classical bit stands for (``layout``, ``clbit_to_qubit``: measured, not assumed)."""
    circuit = isa.circuit
    clbits = {}
    for instruction in circuit.data:
        if instruction.operation.name == "measure":
            clbit = circuit.find_bit(instruction.clbits[0]).index
            clbits[str(clbit)] = isa.physical_qubits[circuit.find_bit(instruction.qubits[0]).index]
    note = {"note": isa.note} if isa.note else {}
    return {
        **note,
        "physical_qubits": list(isa.physical_qubits),
        "layout": [isa.physical_qubits[c] if c >= 0 else None for c in isa.logical_to_compact],
        "transpiled": isa.transpiled,
        "clbit_to_qubit": clbits,
        "depth": circuit.depth(),
        "size": circuit.size(),
        "count_ops": {k: int(v) for k, v in circuit.count_ops().items()},
    }


def run_seeds(spec: RunSpec) -> dict[str, int]:
    seeds = {"seed": spec.seed, "seed_transpiler": spec.transpile.seed_transpiler}
    if hasattr(spec.backend, "seed_simulator"):
        seeds["seed_simulator"] = spec.backend.seed_simulator
    return seeds
