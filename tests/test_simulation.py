"""The simulator process keeps circuits it has seen, per compiler, and restarts cleanly."""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from conftest import run_in_own_process_group
from qrt_runner.execution.backend import LocalBackend
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


def test_randomisations_continued_from_a_shared_density_matrix_sample_the_whole_circuit():
    """Measurement-twirl randomisations that continue from the prefix's density matrix (one
    simulation of the prefix) give the distribution of the whole circuit, row by row."""
    from qrt_runner.execution.simulation.task import SimTask, execute

    backend = LocalBackend.create("fake_manila", threads=1)
    logical = QuantumCircuit(3)
    logical.h(0)
    logical.cx(0, 1)
    logical.cx(1, 2)
    logical.ry(0.7, 2)
    isa = backend.compiler.compile(logical)
    suffix = QuantumCircuit(3, 3)
    phis = [Parameter(f"phi{q}") for q in range(3)]
    for q in range(3):
        suffix.sx(q)
        suffix.rz(phis[q], q)
        suffix.sx(q)
    suffix.measure(range(3), range(3))
    rows = np.array([[0.0, np.pi, np.pi], [np.pi, 0.0, np.pi], [np.pi, np.pi, np.pi], [0.0, 0.0, 0.0]])
    whole = isa.circuit.compose(suffix)
    common = dict(
        kind="counts",
        device="fake_manila",
        qubits=isa.physical_qubits,
        method="automatic",
        threads=1,
        seed=3,
        shots=40_000,
    )
    reference, _ = execute(SimTask(circuits=[whole], parameter_values=[rows], **common))
    shared, _ = execute(
        SimTask(
            circuits=[suffix, isa.circuit],
            parameter_values=[rows, None],
            prefix_of=[1, None],
            rows_per_set=[4, None],
            **common,
        )
    )
    assert shared[1] == [] and shared.seconds[1] > 0  # the prefix: simulated, no rows of its own

    def distribution(outcomes, counts):
        return np.bincount(outcomes, weights=counts, minlength=8) / counts.sum()

    for row_a, row_b in zip(reference[0], shared[0]):
        assert 0.5 * np.abs(distribution(*row_a) - distribution(*row_b)).sum() < 0.015  # statistical TVD ~0.005
    unflipped, first_flipped = distribution(*shared[0][2]), distribution(*shared[0][0])
    assert 0.5 * np.abs(unflipped - first_flipped[np.arange(8) ^ 1]).sum() < 0.015  # bit 0 read inverted
    assert 0.5 * np.abs(unflipped - first_flipped).sum() > 0.3


def test_consecutive_jobs_on_noise_trajectories_are_independent_samples():
    """Aer seeds shot k of a trajectory run with seed + k: given the job seeds 1 and 2 as they are,
    two jobs would draw the same noise shifted by one shot (counts equal to within a shot or two).
    Each Aer call gets a hash of its job's seed, so consecutive jobs are independent samples."""
    circuit = QuantumCircuit(3)
    circuit.h(0)
    for _ in range(4):
        circuit.cx(0, 1)
        circuit.cx(1, 2)
    circuit.measure_all()
    backend = LocalBackend.create("fake_manila", method="statevector", threads=1, seed_simulator=1)
    sampler = Sampler(backend)
    first, second = (sampler.run([circuit], shots=2000).result()[0].data.meas.get_counts() for _ in range(2))
    outcomes = set(first) | set(second)
    distance = sum(abs(first.get(key, 0) - second.get(key, 0)) for key in outcomes) / 2 / 2000
    # independent samples of this spread distribution differ by about 0.02-0.04; shifted ones by <= 0.002
    assert distance > 0.008, distance


# A run handles Ctrl-C with a Python handler; its simulator process starts while it runs.
_CTRL_C_AS_IT_STARTS = """
import os, signal, time
from qrt_runner.execution.simulation.executor import ProcessExecutor
signal.signal(signal.SIGINT, lambda *_: print("the run handled it", flush=True))
executor = ProcessExecutor()
executor.warm_up()
os.killpg(0, signal.SIGINT)  # a terminal's Ctrl-C: the whole foreground process group, at once
time.sleep(2)
print("simulator alive" if executor.pid is not None else "simulator dead", flush=True)
executor.shutdown()
"""


def test_a_ctrl_c_to_the_process_group_is_the_runs_not_its_starting_simulators():
    """The simulator process ignores Ctrl-C once it runs; while its interpreter starts it could
    not, and a Ctrl-C then killed it with a "Fatal Python error" on the run's stderr."""
    done = run_in_own_process_group(_CTRL_C_AS_IT_STARTS, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == ["the run handled it", "simulator alive"]
