"""ZNE (zero-noise extrapolation) as a technique for the Estimator.

Build: one template per noise factor (its share of the PUB's shots set by
``shot_allocation``), by folding the two-qubit gates and the noisy single-qubit
gates (``gate_folding*``; IBM folds the two-qubit gates only: :mod:`..folding`) or, with
the ``pea`` amplifier, unchanged here and amplified by :mod:`.pea`. Combine: every Pauli term
(or observable) is extrapolated across the noise factors to zero noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.folding import fold_gates, folded_error
from qrt_runner.mitigation.options import EffectiveMitigation, ZneOptions
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, PubTerms, Technique
from qrt_runner.mitigation.zne import TermData, extrapolate_pub

#: Note of the summed error of the gates that folding amplifies (:func:`..folding.folded_error`).
FOLDED_ERROR = "zne_folded_error"
#: How much faster than ``exp(-folded error)`` per unit of noise factor a Pauli expectation may
#: decay: the steepest of the benchmark families' observables decays 4 times faster, the median
#: 0.8 times; a fit that extrapolates poorly is widened to every zero-noise value a decay up to
#: this steep leaves standing (:func:`..extrapolation.decay_interval`).
STEEPEST_DECAY = 4.0


class Zne(Technique):
    """IBM's ``resilience.zne_mitigation`` with its ``zne`` options (and qrt_runner's choice and per-term fits)."""

    name = "zne"
    refuses = "control_flow"
    option = "resilience.zne_mitigation"
    refusal = "the noise of the gates inside its branches would not be amplified with the rest"

    def __init__(self, options: ZneOptions):
        self.noise_factors = options.noise_factors
        self.amplifier = options.amplifier
        self.extrapolator = options.extrapolator
        self.extrapolated_noise_factors = options.extrapolated_noise_factors
        self.extrapolator_choice = options.extrapolator_choice
        self.extrapolate_per_term = options.extrapolate_per_term
        self.shot_weights = options.shot_weights()
        self.randomization_weights = options.randomization_weights()
        self.fits: dict[str, Any] | None = None

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> Zne | None:
        return cls(mit.resilience.zne) if mit.resilience.zne_mitigation else None

    def signature(self, device: DeviceInfo) -> str:
        return f"zne{self.noise_factors}{self.amplifier}" + ("" if self.amplifier == "pea" else "+1q")

    def factors(self) -> tuple[float, ...] | None:
        return self.noise_factors

    def factor_shot_weights(self) -> tuple[float, ...] | None:
        return self.shot_weights

    def factor_randomization_weights(self) -> tuple[float, ...] | None:
        return self.randomization_weights

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        target = context.device.compact_target() if context.device.compact_target is not None else None
        context.notes[FOLDED_ERROR] = folded_error(templates[0], target)
        if self.amplifier == "pea":
            return templates
        seed = context.device.seed_simulator
        return [
            template if factor == 1.0 else fold_gates(template, factor, self.amplifier, seed)
            for template, factor in zip(templates, self.noise_factors)
        ]

    def template_roles(self, roles: list[str]) -> list[str]:
        amplified = "pea" if self.amplifier == "pea" else "zne"
        return [role if f == 0 else amplified for f, role in enumerate(roles)]

    def reduce(
        self, data: TermData, terms: PubTerms, notes: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, dict] | None:
        error = notes.get(FOLDED_ERROR)
        evs, stds, self.fits = extrapolate_pub(
            self.noise_factors,
            data,
            terms.coeffs,
            terms.identity,
            terms.bounds,
            self.extrapolator,
            self.extrapolated_noise_factors,
            self.extrapolator_choice,
            self.extrapolate_per_term,
            terms.labels,
            min_decay=None if error is None else float(np.exp(-STEEPEST_DECAY * error)),
        )
        if error is not None:
            self.fits["folded_gate_error"] = round(error, 6)
        return evs, stds, self.fits

    def diagnostics(self, notes: dict[str, Any]) -> dict[str, Any]:
        if self.fits is None:
            return {}
        return {"noise_factors": list(self.noise_factors), "extrapolator_choice": self.extrapolator_choice, **self.fits}
