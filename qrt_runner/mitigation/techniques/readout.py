"""Readout mitigation as a technique for the Sampler: calibrate each measured bit's confusion
matrix (every measured qubit prepared in |0>, then in |1>), then invert it on the counts into
quasi-probabilities and, unless switched off, their nearest probability distributions."""

from __future__ import annotations

from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.measure_twirl import twirled_confusion
from qrt_runner.mitigation.options import EffectiveMitigation, readout_calibration
from qrt_runner.mitigation.projection import nearest_probability_dist
from qrt_runner.mitigation.readout import confusion_matrices, mitigate
from qrt_runner.mitigation.technique import Technique


def final_measurements(circuit: QuantumCircuit) -> list[tuple[int, int]]:
    """(qubit, clbit) of each measurement; readout mitigation needs each clbit measured once."""
    pairs = [
        (circuit.find_bit(i.qubits[0]).index, circuit.find_bit(i.clbits[0]).index)
        for i in circuit.data
        if i.operation.name == "measure"
    ]
    if len({clbit for _, clbit in pairs}) != len(pairs):
        raise ValueError("readout mitigation needs every classical bit measured exactly once")
    return pairs


class ReadoutMitigation(Technique):
    """IBM's Sampler ``resilience.measure_mitigation`` (with qrt_runner's ``nearest_probability``)."""

    name = "readout_calibration"

    def __init__(self, shots: int, nearest_probability: bool):
        self.shots_per_circuit = shots
        self.nearest_probability = nearest_probability

    @classmethod
    def from_options(cls, mit: EffectiveMitigation | None) -> ReadoutMitigation | None:
        if mit is None or not mit.resilience.measure_mitigation:
            return None
        randomizations, per_randomization = readout_calibration(mit.resilience.measure_noise_learning)
        return cls(randomizations * per_randomization, mit.resilience.nearest_probability)

    def circuits_for(self, circuit: QuantumCircuit) -> list[QuantumCircuit]:
        """All measured qubits of ``circuit`` prepared in |0>, then in |1>, measured into the same clbits."""
        pairs = final_measurements(circuit)
        circuits = []
        for prepared in (0, 1):
            calibration = QuantumCircuit(circuit.num_qubits, circuit.num_clbits)
            for qubit, clbit in pairs:
                if prepared:
                    calibration.x(qubit)
                calibration.measure(qubit, clbit)
            circuits.append(calibration)
        return circuits

    def calibration_shots(self) -> int:
        return 2 * self.shots_per_circuit

    def quasi_dists(
        self, counts: list[dict[int, int]], circuit: QuantumCircuit, calibration: list, flip_fraction: np.ndarray | None
    ) -> tuple[list[dict], list]:
        """Readout-mitigated quasi-probabilities per parameter set (``counts``: integer outcomes),
        and the calibrated (p01, p10) of each measured bit.

        With measurement twirling, ``flip_fraction[c]`` of the shots of bit ``c`` were read
        flipped, which mixes its calibrated confusion matrix with the flipped one.
        """
        positions = [clbit for _, clbit in final_measurements(circuit)]
        calibrated = confusion_matrices(calibration[0][0], calibration[1][0], positions)
        matrices = calibrated if flip_fraction is None else twirled_confusion(calibrated, flip_fraction[positions])
        width = circuit.num_clbits
        dists = []
        for set_counts in counts:
            outcomes = np.fromiter(set_counts.keys(), dtype=np.int64, count=len(set_counts))
            values = np.fromiter(set_counts.values(), dtype=float, count=len(set_counts))
            outcomes, quasi = mitigate(outcomes, values, matrices, positions)
            dists.append({format(int(o), f"0{width}b"): float(q) for o, q in zip(outcomes, quasi)})
        return dists, [[float(m[1, 0]), float(m[0, 1])] for m in calibrated]

    def apply(self, metadata: dict[str, Any], quasi: list[dict], calibration: list, seconds: float) -> None:
        """Write the quasi-distributions (and nearest probabilities) into a PUB's ``metadata``,
        and count the calibration in its mitigation record."""
        metadata["readout_calibration"] = calibration
        metadata["quasi_dists"] = quasi
        if self.nearest_probability:
            metadata["nearest_probability_dists"] = [nearest_probability_dist(q) for q in quasi]
        record = metadata["mitigation"]
        record["num_circuits"] += 2
        record["shots_spent"] += self.calibration_shots()
        record["simulate_s"] += seconds
        record["simulate_s_by_technique"][self.name] = seconds
