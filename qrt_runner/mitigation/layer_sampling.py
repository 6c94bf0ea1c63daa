"""PEC and PEA on a twirled template: per randomisation, Pauli corrections after every layer.

PEC (probabilistic error cancellation) applies the inverse of each layer's noise as a
quasi-probability mixture of Paulis: the estimate is gamma times the sign-weighted mean, and its
variance grows by the sampling overhead gamma squared. ``noise_gain`` g cancels only the part
(1 - g) of the noise; ``auto`` picks the smallest g whose overhead fits ``max_overhead``. PEA
(probabilistic error amplification) injects the layer noise a further (factor - 1) times, for
zero-noise extrapolation without deeper circuits.
"""

from __future__ import annotations

import math

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.layer_noise import CompactModel, layer_to_dict, sample_paulis
from qrt_runner.mitigation.twirling import twirl_layers

DEFAULT_SHOTS_PER_RANDOMIZATION = 1  # every shot its own draw of Paulis: the lowest variance per shot


class LayerNoisePlan:
    """The layer noise of one template circuit, and the Paulis that cancel or amplify it.

    Args:
        template: a circuit from :func:`~qrt_runner.mitigation.twirling.twirl_template`.
        physical_qubits: the device qubit of every compact qubit of ``template``.
        source: ``model(key)`` per layer key (see :mod:`qrt_runner.mitigation.layer_noise`).
    """

    def __init__(self, template: QuantumCircuit, physical_qubits: tuple[int, ...], source):
        self.source = source
        width = template.num_qubits
        compact_of = {q: i for i, q in enumerate(physical_qubits)}
        self.keys = [
            tuple(sorted((name, physical_qubits[a], physical_qubits[b]) for name, a, b in layer.gates))
            for layer in twirl_layers(template)
        ]
        self.models = {key: source.model(key) for key in dict.fromkeys(self.keys)}
        self.compact = {key: CompactModel.from_model(model, compact_of, width) for key, model in self.models.items()}
        self.total_rate = float(sum(self.models[key].total_rate for key in self.keys if self.models[key] is not None))

    # -- PEC ------------------------------------------------------------------------------
    def pec_gain(self, noise_gain: float | str, max_overhead: float) -> float:
        """The noise gain to use: the given one, or for ``auto`` the smallest within ``max_overhead``.

        Raises:
            ValueError: when a given gain needs more than ``max_overhead``.
        """
        if noise_gain == "auto":
            if self.total_rate == 0:
                return 0.0
            return max(0.0, 1.0 - math.log(max_overhead) / (4 * self.total_rate))
        overhead = self.overhead(float(noise_gain))
        if overhead > max_overhead * (1 + 1e-9):
            raise ValueError(
                f"PEC sampling overhead {overhead:.3g} with noise_gain {noise_gain} exceeds "
                f"mitigation.resilience.pec.max_overhead={max_overhead:g}: raise it or set pec.noise_gain=auto"
            )
        return float(noise_gain)

    def overhead(self, gain: float) -> float:
        """Sampling overhead gamma squared of cancelling the fraction (1 - gain) of the noise."""
        return math.exp(4 * max(1.0 - gain, 0.0) * self.total_rate)

    # -- sampling -------------------------------------------------------------------------
    def sample(self, change: float, randomizations: int, rng: np.random.Generator):
        """Per-layer Pauli bits changing every rate by ``change`` times itself (< 0 cancels, > 0
        amplifies), the sign of every randomisation, and gamma."""
        corrections, signs, gamma = {}, np.ones(randomizations), 1.0
        for number, key in enumerate(self.keys):
            bits, layer_signs, layer_gamma = sample_paulis(self.compact[key], change, randomizations, rng)
            if bits.any():
                corrections[number] = bits
            signs *= layer_signs
            gamma *= layer_gamma
        return corrections, signs, gamma

    def describe(self) -> dict:
        """The layer noise model (file format) with its source, for results.json."""
        unique = [(key, model) for key, model in self.models.items() if model is not None]
        return {
            "source": self.source.source,
            "num_layers": len(self.keys),
            "num_unique_layers": len(self.models),
            "num_unmodelled_layers": sum(1 for key in self.keys if self.models[key] is None),
            "total_rate": self.total_rate,
            "layers": [layer_to_dict(key, model) for key, model in unique],
        }


def randomizations_for(total_shots: int, num_randomizations: int, shots_per_randomization: int | None,
                       auto: bool) -> tuple[int, int]:
    """(randomisations, shots per randomisation) spending ``total_shots``: with ``auto``, one
    randomisation per shot, since PEC's signs and PEA's injected Paulis vary between
    randomisations far more than shots vary within one."""
    if auto:
        per = shots_per_randomization or DEFAULT_SHOTS_PER_RANDOMIZATION
        return max(2, -(-total_shots // per)), per
    return num_randomizations, shots_per_randomization or -(-total_shots // num_randomizations)
