"""TREX (twirled readout error extinction) as a technique for the Estimator.

Build: one calibration circuit that measures every measured qubit of |0...0> with twirled
readout, ``num_randomizations`` randomisations of ``shots_per_randomization`` shots (IBM's "auto",
the default for either: the randomisations and shots per randomisation the twirl gives the PUB's
shots, before PEC's sampling overhead, as IBM's local mode runs it; the calibration's error
divides every noise factor's value alike, so it is never reduced by the extrapolation). Combine: per Pauli term, the calibration's <Z...Z> (ideally 1) divides the term's
measured values, which cancels the readout error that measurement twirling made symmetric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.measure_twirl import measure_qubits, qubit_flip_angles
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.pauli_terms import (
    between_randomizations,
    design_effect,
    mean_and_covariance,
    parity_mask,
    shot_values,
)
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, Technique

_CALIBRATED = "trex_calibrated"  # note: the PUB has a calibration circuit (it measures something)
_FLOOR = 1e-3  # a calibration factor closer to 0 than this is taken as this


class Trex(Technique):
    """IBM's ``resilience.measure_mitigation`` with ``measure_noise_learning``."""

    name = "trex"

    def __init__(self, num_randomizations: int | None, shots_per_randomization: int | None, twirled: bool):
        self.requested = (num_randomizations, shots_per_randomization)  # None: the PUB's (size_calibration)
        self.num_randomizations = num_randomizations or 0
        self.shots_per_randomization = shots_per_randomization or 0
        self.twirled = twirled
        self.calibration_flips: np.ndarray | None = None
        self.calibration: dict[str, tuple[float, float]] | None = None
        self.covariance: tuple[dict[str, int], np.ndarray] | None = None  # of the calibrated values

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> Trex | None:
        if not mit.resilience.measure_mitigation:
            return None
        learning = mit.resilience.measure_noise_learning
        return cls(learning.num_randomizations, learning.shots_per_randomization, mit.twirling.enable_measure)

    def signature(self, device: DeviceInfo) -> str:
        return "trex"

    def calibration_circuits(self, circuits: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        if not circuits:
            return []
        measured = sorted({q for c in circuits for q in c.metadata["qrt_measured_qubits"]})
        context.notes[_CALIBRATED] = True
        return [measure_qubits(QuantumCircuit(context.num_qubits), measured, "qrt_cal", self.twirled)]

    def size_calibration(self, randomizations: int, shots_per_randomization: int) -> None:
        requested_randomizations, requested_shots = self.requested
        self.num_randomizations = requested_randomizations or randomizations
        self.shots_per_randomization = requested_shots or shots_per_randomization

    def draw(self, rng: np.random.Generator, randomizations: int, circuit: QuantumCircuit) -> None:
        assert self.num_randomizations and self.shots_per_randomization  # sized before the draws
        self.calibration_flips = rng.integers(0, 2, size=(self.num_randomizations, circuit.num_qubits))

    def calibration_rows(self, circuit: QuantumCircuit) -> tuple[np.ndarray | None, int]:
        assert self.calibration_flips is not None  # drawn before the task is built
        columns = qubit_flip_angles(self.calibration_flips, 1)
        names = [p.name for p in circuit.parameters]
        values = np.stack([columns[name] for name in names], axis=1) if names else None
        return values, self.shots_per_randomization

    def calibration_shots(self) -> int:
        return self.num_randomizations * self.shots_per_randomization

    def calibrate(self, circuits: list[QuantumCircuit], rows: list[Any], labels: list[str]) -> None:
        """Per Pauli, the measured <Z...Z> of |0...0> with twirled readout (ideal: 1) and its error."""
        (circuit,), (circuit_rows,) = circuits, rows
        assert self.calibration_flips is not None  # drawn before the task was built
        names = sorted(set(labels))
        masks = np.array([parity_mask(label, circuit) for label in names], dtype=np.int64)
        values, weights = shot_values(circuit_rows, self.calibration_flips, circuit, masks)
        means, cov = mean_and_covariance(values, weights)
        # the calibration is twirled too: its randomisations differ beyond their shots (the flips)
        excess, within = between_randomizations(values, weights, [len(outcome) for outcome, _ in circuit_rows])
        cov = cov * design_effect(float(excess.sum()), float(within.sum()), self.shots_per_randomization)
        self.calibration = {label: (float(m), float(np.sqrt(v))) for label, m, v in zip(names, means, np.diag(cov))}
        self.covariance = {label: i for i, label in enumerate(names)}, cov

    def term_scale(self, group: list[str]) -> np.ndarray | None:
        if self.calibration is None:
            return None
        scale = np.array([self.calibration[label][0] for label in group])
        return np.where(np.abs(scale) > _FLOOR, scale, _FLOOR)

    def term_scale_covariance(self, labels: list[str]) -> np.ndarray | None:
        if self.covariance is None:
            return None
        (index, cov), scale = self.covariance, self.term_scale(labels)
        assert scale is not None  # calibrated with the covariance
        rows = [index[label] for label in labels]
        return cov[np.ix_(rows, rows)] / np.outer(scale, scale)

    def diagnostics(self, notes: dict[str, Any]) -> dict[str, Any]:
        if self.calibration is None:
            return {}
        return {"trex_calibration": {label: value for label, (value, _) in self.calibration.items()}}

    def multipliers(self, notes: dict[str, Any]) -> dict[str, Any]:
        return {"trex_calibration_shots": self.calibration_shots()} if notes.get(_CALIBRATED) else {}
