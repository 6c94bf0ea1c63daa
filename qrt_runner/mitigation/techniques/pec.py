"""PEC (probabilistic error cancellation) as a technique for the Estimator.

Build: behind every twirled layer, the inverse of its learned Pauli-Lindblad noise (scaled by the
noise gain), sampled per shot as Paulis, with a noiseless sign qubit that records each shot's
sign. Shots grow by the sampling overhead. Combine: every shot's value is multiplied by gamma.
"""

from __future__ import annotations

import math
from typing import Any

from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_channels import with_channels
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import LAYER_NOISE, BuildContext, DeviceInfo, Technique
from qrt_runner.mitigation.techniques.learned_noise import layer_noise_plan, layer_noise_signature, learning_of

_GAIN = "pec_gain"


class Pec(Technique):
    """IBM's ``resilience.pec_mitigation`` with ``pec.noise_gain`` and ``pec.max_overhead``."""

    name = "pec"
    prefix_safe = False
    refuses = "dynamic"
    option = "resilience.pec_mitigation"
    refusal = "its layer noise model has no channel for mid-circuit measurements, resets or branches"

    def __init__(
        self, layer_noise_model: str | None, noise_gain: float | str, max_overhead: float, learning=None, dressed=False
    ):
        self.layer_noise_model = layer_noise_model
        self.learning, self.dressed = learning, dressed
        self.noise_gain = noise_gain
        self.max_overhead = max_overhead

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> Pec | None:
        res = mit.resilience
        if not res.pec_mitigation:
            return None
        return cls(res.layer_noise_model, res.pec.noise_gain, res.pec.max_overhead, *learning_of(mit))

    def signature(self, device: DeviceInfo) -> str:
        noise = layer_noise_signature(self.layer_noise_model, device, self.learning, self.dressed)
        return f"{noise}|pec{self.noise_gain}{self.max_overhead}"

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        if not context.num_bases:  # nothing is measured: no noise to cancel
            return templates
        noise = context.notes[LAYER_NOISE] = layer_noise_plan(
            templates[0], self.layer_noise_model, context.device, self.learning, self.dressed
        )
        gain = context.notes[_GAIN] = noise.pec_gain(self.noise_gain, self.max_overhead)
        sign_qubit = context.num_qubits
        return [with_channels(t, noise.channels(1.0 - gain, sign_qubit), sign=True) for t in templates]

    def template_roles(self, roles: list[str]) -> list[str]:
        return [self.name] * len(roles)

    def shots(self, shots: int, notes: dict[str, Any]) -> int:
        noise = notes.get(LAYER_NOISE)
        return shots if noise is None else math.ceil(shots * noise.overhead(notes[_GAIN]))

    def shot_weight(self, notes: dict[str, Any]) -> float:
        noise = notes.get(LAYER_NOISE)
        return 1.0 if noise is None else noise.gamma(notes[_GAIN])

    def diagnostics(self, notes: dict[str, Any]) -> dict[str, Any]:
        noise = notes.get(LAYER_NOISE)
        if noise is None:
            return {}
        gain = notes[_GAIN]
        return {
            "layer_noise_model": noise.describe(),
            "pec": {
                "noise_gain": gain,
                "gamma": noise.gamma(gain),
                "sampling_overhead": noise.overhead(gain),
                "max_overhead": self.max_overhead,
            },
        }

    def multipliers(self, notes: dict[str, Any]) -> dict[str, Any]:
        noise = notes.get(LAYER_NOISE)
        return {} if noise is None else {"pec_sampling_overhead": round(noise.overhead(notes[_GAIN]), 4)}
