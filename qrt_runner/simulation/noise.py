"""A fake device's Aer noise model, restricted to a few of its qubits.

``NoiseModel.from_backend`` over a 127-qubit device takes seconds and makes every simulation
pay for all 127 qubits. Building it from a sub-target holding only the qubits a circuit uses
gives the same errors on those qubits at the cost of a small device.
"""

from __future__ import annotations

from qiskit.providers import BackendV2, Options
from qiskit.transpiler import Target
from qiskit_aer.noise import NoiseModel


class _SubDevice(BackendV2):
    """A BackendV2 view of some qubits of a device (only what NoiseModel.from_backend reads)."""

    def __init__(self, target: Target, name: str):
        super().__init__(name=name)
        self._target = target

    @property
    def target(self) -> Target:
        return self._target

    @property
    def max_circuits(self):
        return None

    @classmethod
    def _default_options(cls):
        return Options()

    def run(self, run_input, **options):
        raise NotImplementedError("a sub-device only describes noise")


def sub_target(target: Target, qubits: tuple[int, ...]) -> Target:
    """The part of ``target`` on ``qubits``, renumbered 0..len(qubits)-1."""
    index = {q: i for i, q in enumerate(qubits)}
    properties = target.qubit_properties
    sub = Target(
        num_qubits=len(qubits),
        dt=target.dt,
        qubit_properties=[properties[q] for q in qubits] if properties else None,
    )
    for name in target.operation_names:
        qargs_props = target[name]
        if qargs_props is None or None in qargs_props:
            continue
        kept = {
            tuple(index[q] for q in qargs): props
            for qargs, props in qargs_props.items()
            if qargs is not None and all(q in index for q in qargs)
        }
        if kept:
            sub.add_instruction(target.operation_from_name(name), kept, name=name)
    return sub


def restricted_noise_model(device: BackendV2, qubits: tuple[int, ...]) -> NoiseModel:
    """The noise model ``NoiseModel.from_backend(device)`` would give, on ``qubits`` only."""
    return NoiseModel.from_backend(_SubDevice(sub_target(device.target, qubits), f"{device.name}{list(qubits)}"))
