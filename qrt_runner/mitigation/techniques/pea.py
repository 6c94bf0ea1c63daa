"""PEA (probabilistic error amplification) as a technique: the amplifier of ZNE that injects the
learned layer noise ``factor - 1`` more times as sampled Paulis, instead of folding gates, so the
circuits of every noise factor keep their depth. ZNE (:mod:`.zne`) extrapolates the results."""

from __future__ import annotations

from typing import Any

from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_channels import with_channels
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import LAYER_NOISE, BuildContext, DeviceInfo, Technique
from qrt_runner.mitigation.techniques.learned_noise import layer_noise_plan, layer_noise_signature, learning_of


class Pea(Technique):
    """IBM's ``resilience.zne.amplifier: pea``."""

    name = "pea"
    prefix_safe = False
    refuses = "dynamic"
    option = "resilience.zne.amplifier"
    option_value = "pea"
    refusal = "PEA's layer noise model has no channel for mid-circuit measurements, resets or branches"

    def __init__(self, layer_noise_model: str | None, noise_factors: tuple[float, ...], learning=None, dressed=False):
        self.layer_noise_model = layer_noise_model
        self.learning, self.dressed = learning, dressed
        self.noise_factors = noise_factors

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> Pea | None:
        if not mit.pea:
            return None
        return cls(mit.resilience.layer_noise_model, mit.resilience.zne.noise_factors, *learning_of(mit))

    def signature(self, device: DeviceInfo) -> str:
        return layer_noise_signature(self.layer_noise_model, device, self.learning, self.dressed)

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        if not context.num_bases:  # nothing is measured: no noise to amplify
            return templates
        noise = context.notes[LAYER_NOISE] = layer_noise_plan(
            templates[0], self.layer_noise_model, context.device, self.learning, self.dressed
        )
        return [
            with_channels(t, noise.channels(factor - 1.0), sign=False)
            for t, factor in zip(templates, self.noise_factors)
        ]

    def diagnostics(self, notes: dict[str, Any]) -> dict[str, Any]:
        noise = notes.get(LAYER_NOISE)
        return {} if noise is None else {"layer_noise_model": noise.describe()}
