"""The device noise model in Pauli form (``backend.noise=pauli``) against the full model.

References: Qiskit's Chi and PTM of each full-model error, process fidelities, density-matrix
simulations under the full model, and closed forms of amplitude damping.
"""

from __future__ import annotations

import collections
import time

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit.library import RXGate
from qiskit.quantum_info import PTM, Chi, DensityMatrix, SparsePauliOp, process_fidelity
from qiskit_aer import AerSimulator
from qiskit_aer.noise import QuantumError, ReadoutError, depolarizing_error, pauli_error
from qiskit_ibm_runtime.fake_provider import FakeManilaV2, FakeSherbrooke

from qrt_runner.execution.simulation.noise import restricted_noise_model
from qrt_runner.execution.simulation.pauli_noise import (
    PauliDelayNoisePass,
    is_pauli_error,
    is_pauli_model,
    pauli_noise_model,
    pauli_probabilities,
    symmetric_readout,
    twirled,
)
from qrt_runner.execution.transpile import compact

QUBITS = (0, 1, 2)
# |<O>_full - <O>_pauli| for the two-point Z correlations of a 3-qubit GHZ on FakeManilaV2 qubits
# (0, 1, 2), density matrix: measured 1.3e-5 to 2.8e-5, while the noise takes them 0.011-0.019
# below 1 under either model
GHZ_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def manila():
    return FakeManilaV2()


@pytest.fixture(scope="module")
def models(manila):
    return restricted_noise_model(manila, QUBITS), pauli_noise_model(manila, QUBITS)


def _chi_probabilities(channel) -> np.ndarray:
    diagonal = np.real(Chi(channel).data.diagonal())
    return diagonal / diagonal.sum()


def _errors(model) -> dict:
    return {(name, qubits): error for name, by in model._local_quantum_errors.items() for qubits, error in by.items()}


def test_same_structure_every_error_pauli(models):
    full, pauli = models
    assert pauli.basis_gates == full.basis_gates
    assert set(_errors(pauli)) == set(_errors(full))
    assert set(pauli._local_readout_errors) == set(full._local_readout_errors)
    assert len(pauli._custom_noise_passes) == len(full._custom_noise_passes) == 1
    assert isinstance(pauli._custom_noise_passes[0], PauliDelayNoisePass)
    assert all(is_pauli_error(error) for error in _errors(pauli).values())
    assert is_pauli_model(pauli) and not is_pauli_model(full)


def test_pauli_probabilities_are_the_chi_and_ptm_diagonals(models):
    full, pauli = models
    for key, error in _errors(full).items():
        twirl = _errors(pauli)[key]
        expected = _chi_probabilities(error)
        np.testing.assert_allclose(_chi_probabilities(twirl), expected, atol=1e-12, err_msg=str(key))
        np.testing.assert_allclose(list(pauli_probabilities(error).values()), expected, atol=1e-12)
        np.testing.assert_allclose(PTM(twirl).data.diagonal(), PTM(error).data.diagonal(), atol=1e-12)
        twirled_ptm = PTM(twirl).data
        assert np.allclose(twirled_ptm, np.diag(twirled_ptm.diagonal()), atol=1e-12)  # a Pauli channel
        assert process_fidelity(twirl) == pytest.approx(process_fidelity(error), abs=1e-12)


def test_labels_follow_qiskit_qubit_order():
    rotation = QuantumCircuit(2)
    rotation.rx(0.3, 1)
    probabilities = pauli_probabilities(QuantumError(rotation))  # RX on qubit 1 (the first letter)
    assert probabilities["XI"] == pytest.approx(np.sin(0.15) ** 2)
    assert probabilities["II"] == pytest.approx(np.cos(0.15) ** 2)
    assert probabilities["IX"] == pytest.approx(0, abs=1e-15)


def test_coherent_error_becomes_incoherent():
    rotation = QuantumError(RXGate(0.2))
    twirl = twirled(rotation)
    assert is_pauli_error(twirl)
    np.testing.assert_allclose(_chi_probabilities(twirl), [np.cos(0.1) ** 2, np.sin(0.1) ** 2, 0, 0], atol=1e-15)
    # a non-product two-qubit error goes through Qiskit's PTM
    entangling = QuantumCircuit(2)
    entangling.rzz(0.3, 0, 1)
    error = QuantumError([(entangling, 0.5), (QuantumCircuit(2), 0.5)])
    np.testing.assert_allclose(list(pauli_probabilities(error).values()), _chi_probabilities(error), atol=1e-12)


def test_pauli_errors_unchanged_and_negligible_terms_dropped():
    for error in (depolarizing_error(0.01, 2), pauli_error([("X", 0.1), ("I", 0.9)])):
        assert twirled(error) is error
    tiny = QuantumError(RXGate(1e-9))  # p_X = 2.5e-19: dropped
    twirl = twirled(tiny)
    assert len(twirl.circuits) == 1 and twirl.probabilities[0] == pytest.approx(1.0)


def test_readout_symmetric_average(models):
    full, pauli = models
    for qubits, error in full._local_readout_errors.items():
        matrix = np.asarray(pauli._local_readout_errors[qubits].probabilities)
        source = np.asarray(error.probabilities)
        flip = (source[0, 1] + source[1, 0]) / 2
        np.testing.assert_allclose(matrix, [[1 - flip, flip], [flip, 1 - flip]], atol=1e-15)
    asymmetric = symmetric_readout(ReadoutError([[0.98, 0.02], [0.06, 0.94]]))
    np.testing.assert_allclose(asymmetric.probabilities, [[0.96, 0.04], [0.04, 0.96]])


def test_cached_per_device_and_qubits(manila):
    assert pauli_noise_model(manila, QUBITS) is pauli_noise_model(FakeManilaV2(), QUBITS)
    assert pauli_noise_model(manila, (0, 1)) is not pauli_noise_model(manila, QUBITS)


def _density_matrix(circuit: QuantumCircuit, model) -> DensityMatrix:
    circuit = circuit.copy()
    circuit.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=model, max_parallel_threads=1)
    return DensityMatrix(simulator.run(circuit).result().data()["density_matrix"])


def test_ghz_correlations_agree(manila, models):
    full, pauli = models
    ghz = QuantumCircuit(3)
    ghz.h(0)
    ghz.cx(0, 1)
    ghz.cx(1, 2)
    isa = compact(transpile(ghz, manila, initial_layout=list(QUBITS), optimization_level=1, seed_transpiler=1), 3)
    assert isa.physical_qubits == QUBITS
    states = [_density_matrix(isa.circuit, model) for model in (full, pauli)]
    for label in ("IZZ", "ZZI", "ZIZ"):
        observable = SparsePauliOp(label)
        full_value, pauli_value = (state.expectation_value(observable).real for state in states)
        assert full_value < 0.99  # the noise acts
        assert abs(full_value - pauli_value) < GHZ_TOLERANCE, label


def test_relaxation_of_one_differs_as_documented(manila):
    """|1> held for a delay: the full model relaxes towards |0>, the Pauli model towards I/2."""
    t1 = manila.target.qubit_properties[0].t1
    delay_us = 2 * t1 * 1e6
    held = QuantumCircuit(1)
    held.x(0)
    held.delay(delay_us, 0, unit="us")
    decay = np.exp(-delay_us * 1e-6 / t1)
    z = SparsePauliOp("Z")
    full_z = _density_matrix(held, restricted_noise_model(manila, (0,))).expectation_value(z).real
    pauli_z = _density_matrix(held, pauli_noise_model(manila, (0,))).expectation_value(z).real
    # x's own error (fidelity 0.9998) moves either by at most 1e-3
    assert full_z == pytest.approx(1 - 2 * decay, abs=1e-3)  # towards +1
    assert pauli_z == pytest.approx(-decay, abs=1e-3)  # towards 0
    assert full_z > 0.7 and -0.2 < pauli_z < 0
    # the stabilizer method runs the twirled relaxation of delays (and the symmetric readout)
    held.measure_all()
    stabilizer = AerSimulator(
        method="stabilizer", noise_model=pauli_noise_model(manila, (0,)), max_parallel_threads=1, seed_simulator=3
    )
    ones = stabilizer.run(held, shots=4000).result().get_counts().get("1", 0) / 4000
    flip = manila.target["measure"][(0,)].error
    assert ones == pytest.approx(flip + (1 - 2 * flip) * (1 + decay) / 2, abs=0.03)  # 4000 shots: sd 0.008


def _tree_ghz(device, width: int) -> tuple[QuantumCircuit, list[tuple[int, int]]]:
    """A GHZ grown breadth-first over the coupling graph from qubit 0 (shallow), and its edges."""
    neighbours = collections.defaultdict(set)
    for a, b in device.coupling_map.get_edges():
        neighbours[a].add(b)
        neighbours[b].add(a)
    circuit = QuantumCircuit(width)
    circuit.h(0)
    seen, queue, tree = {0}, collections.deque([0]), []
    while queue:
        a = queue.popleft()
        for b in sorted(neighbours[a] - seen):
            seen.add(b)
            queue.append(b)
            circuit.cx(a, b)
            tree.append((a, b))
    circuit.measure_all()
    return circuit, tree


def test_stabilizer_ghz_at_full_device_width():
    device = FakeSherbrooke()
    width = device.num_qubits
    circuit, tree = _tree_ghz(device, width)
    assert len(tree) == width - 1
    isa = transpile(circuit, device, initial_layout=list(range(width)), optimization_level=1, seed_transpiler=1)
    start = time.perf_counter()
    model = pauli_noise_model(device, tuple(range(width)))
    built_s = time.perf_counter() - start
    assert is_pauli_model(model)
    simulator = AerSimulator(method="stabilizer", noise_model=model, max_parallel_threads=1, seed_simulator=7)
    start = time.perf_counter()
    result = simulator.run(isa, shots=100).result()
    ran_s = time.perf_counter() - start
    assert result.success, result.status
    counts = result.get_counts()
    bits = np.array([[int(c) for c in reversed(key)] for key, n in counts.items() for _ in range(n)])
    assert bits.shape == (100, width)
    ghz_fraction = (counts.get("0" * width, 0) + counts.get("1" * width, 0)) / 100
    # Readout alone caps P(all equal) at prod(1 - e_q) = 0.003 on Sherbrooke (five of its ECRs
    # have error 1.0): every shot is off the GHZ pair, but nearest neighbours stay correlated
    readout = {q[0]: p.error for q, p in device.target["measure"].items()}
    assert ghz_fraction < 1 and ghz_fraction <= 0.05
    edge_zz = np.mean([np.mean(1 - 2 * (bits[:, a] ^ bits[:, b])) for a, b in tree])
    readout_only = np.mean([(1 - 2 * readout[a]) * (1 - 2 * readout[b]) for a, b in tree])
    assert 0.6 < edge_zz < readout_only - 0.02  # gate noise acts, and the state is far from random
    ideal = AerSimulator(method="stabilizer", max_parallel_threads=1, seed_simulator=7).run(isa, shots=20).result()
    assert set(ideal.get_counts()) <= {"0" * width, "1" * width}
    print(f"127-qubit Pauli model built in {built_s:.2f} s, stabilizer GHZ (100 shots) in {ran_s:.2f} s")
