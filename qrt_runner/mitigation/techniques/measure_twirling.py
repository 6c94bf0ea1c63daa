"""Measurement twirling as a technique: a random X before each measurement, undone afterwards.

The Estimator adds its own measurements (one per measured qubit of a basis), each behind a flip
slot; :class:`MeasureTwirling` draws the flips, and undoing them is part of the parity of each
shot. The Sampler twirls the measurements the circuit already has; :class:`SampledMeasureTwirling`
undoes the flips on the returned bits.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit

from qrt_runner.mitigation.measure_twirl import clbit_flips, flip_angles, twirl_measurements, unflip
from qrt_runner.mitigation.options import EffectiveMitigation
from qrt_runner.mitigation.technique import BuildContext, DeviceInfo, Technique


class MeasureTwirling(Technique):
    """IBM's ``twirling.enable_measure`` for the Estimator."""

    name = "measure_twirling"
    randomizes = True
    twirls_measurement = True

    def __init__(self) -> None:
        self.flips: np.ndarray | None = None

    @classmethod
    def from_options(cls, mit: EffectiveMitigation) -> MeasureTwirling | None:
        return cls() if mit.twirling.enable_measure else None

    def signature(self, device: DeviceInfo) -> str:
        return "measure"

    def draw(self, rng: np.random.Generator, randomizations: int, circuit: QuantumCircuit) -> None:
        """``flips[r, q]``: whether qubit ``q`` is read flipped in randomisation ``r``."""
        self.flips = rng.integers(0, 2, size=(randomizations, circuit.num_qubits))

    def measurement_flips(self) -> np.ndarray | None:
        return self.flips


class SampledMeasureTwirling(MeasureTwirling):
    """IBM's ``twirling.enable_measure`` for the Sampler: flip slots around the circuit's own measurements."""

    def __init__(self) -> None:
        super().__init__()
        self.bit_flips: np.ndarray | None = None

    def transform(self, templates: list[QuantumCircuit], context: BuildContext) -> list[QuantumCircuit]:
        return [twirl_measurements(template) for template in templates]

    def draw(self, rng: np.random.Generator, randomizations: int, circuit: QuantumCircuit) -> None:
        """The flips of every twirled measurement of ``circuit`` (built by :meth:`transform`)."""
        self.flips = rng.integers(0, 2, size=(randomizations, len(circuit.metadata.get("qrt_mt_clbits", []))))
        self.bit_flips = clbit_flips(circuit, self.flips)

    def measurement_flips(self) -> np.ndarray | None:
        return None  # the Sampler undoes them on the bits (unflip)

    def columns(self, circuit: QuantumCircuit, randomizations: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        assert self.flips is not None  # drawn first
        return flip_angles(self.flips)

    def unflip(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        """Packed shots of each randomisation (in order) with its flips undone."""
        assert self.bit_flips is not None  # drawn first
        return [unflip(packed, flips) for packed, flips in zip(rows, self.bit_flips)]

    def flip_fraction(self) -> np.ndarray:
        """Per classical bit, the fraction of shots read with a flip."""
        assert self.bit_flips is not None  # drawn first
        return self.bit_flips.mean(axis=0)
