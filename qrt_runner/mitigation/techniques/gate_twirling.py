"""Pauli twirling of two-qubit gate layers as a technique: one parametrised template per template,
random Paulis bound per randomisation."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, Technique
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template


class GateTwirling(Technique):
    """IBM's ``twirling.enable_gates`` with its ``strategy``."""

    name = "gate_twirling"
    randomizes = True
    prefix_safe = False  # every randomisation is a different circuit from the first gate on

    def __init__(self, strategy: str):
        self.strategy = strategy

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> GateTwirling | None:
        return cls(mit.twirling.strategy) if mit.twirling.enable_gates else None

    def signature(self, device: DeviceInfo) -> str:
        return f"gates{self.strategy}"

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        return [twirl_template(template, self.strategy) for template in templates]

    def columns(self, circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """The twirl's Pauli angles, drawn from ``rng`` (one draw per twirled layer and qubit)."""
        return twirl_angles(circuit, randomizations, rng)
