"""Pauli twirling of two-qubit gate layers as a technique: one parametrised template per template,
random Paulis bound per randomisation; with ``dressing_noise``, the Paulis go into dressings
compiled as IBM's are, whose gates the device's noise reaches (:mod:`qrt_runner.mitigation.dressing`)."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, Technique
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template


class GateTwirling(Technique):
    """IBM's ``twirling.enable_gates`` with its ``strategy`` (and qrt_runner's ``dressing_noise``)."""

    name = "gate_twirling"
    randomizes = True
    prefix_safe = False  # every randomisation is a different circuit from the first gate on
    prefix_per_row = True  # ... by the values bound to the template's Pauli slots

    def __init__(self, strategy: str, dressing_noise: bool = False):
        self.strategy = strategy
        self.dressing_noise = dressing_noise

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> GateTwirling | None:
        twirling = mit.twirling
        return cls(twirling.strategy, twirling.dressing_noise) if twirling.enable_gates else None

    def signature(self, device: DeviceInfo) -> str:
        return f"gates{self.strategy}" + ("dressed" if self._dressed(device) else "")

    def _dressed(self, device: DeviceInfo) -> bool:
        return self.dressing_noise and device.device_name is not None  # the ideal simulator: no noise to pay

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        dressed = self._dressed(context.device)
        return [twirl_template(template, self.strategy, dressed) for template in templates]

    def columns(self, circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The twirl's Pauli angles, drawn from ``rng`` (one draw per twirled layer and qubit)."""
        return twirl_angles(circuit, randomizations, rng)
