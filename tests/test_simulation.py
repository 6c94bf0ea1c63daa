"""The simulator process keeps circuits it has seen, per compiler, and restarts cleanly."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from qrt_runner.backend import LocalBackend
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler


def test_same_circuit_on_two_backends_is_not_confused_by_the_circuit_cache():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    ideal = LocalBackend.create("aer", threads=1, seed_simulator=1)
    noisy = LocalBackend.create("fake_manila", threads=1, seed_simulator=1)
    first = Sampler(ideal).run([circuit], shots=4000).result()[0].data.meas.get_counts()
    second = Sampler(noisy).run([circuit], shots=4000).result()[0].data.meas.get_counts()
    third = Sampler(ideal).run([circuit], shots=4000).result()[0].data.meas.get_counts()
    assert set(first) == set(third) == {"00", "11"}
    assert set(second) > {"00", "11"}  # noisy device: other outcomes appear
    assert ideal.compiler.compile(circuit).fingerprint != noisy.compiler.compile(circuit).fingerprint


def test_repeated_estimator_jobs_send_the_circuit_once_and_stay_correct():
    backend = LocalBackend.create("aer", threads=1)
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.ry(theta, 0)
    estimator = Estimator(backend, options=EstimatorOptions(default_precision=0))
    sent = []
    original = backend.executor._without_known_circuits

    def spy(task):
        trimmed = original(task)
        sent.append(sum(c is not None for c in trimmed.circuits))
        return trimmed

    backend.executor._without_known_circuits = spy
    for angle in (0.0, 0.7, 1.9):
        ev = estimator.run([(circuit, ["Z", "X"], [angle])]).result()[0].data.evs
        np.testing.assert_allclose(ev, [np.cos(angle), np.sin(angle)], atol=1e-12)
    assert len(backend.measurement_circuits) == 1
    assert sent == [1, 0, 0]  # the circuit travels to the simulator process once
