"""Numbers agree with exact statevector values; noisy devices are simulated on their used qubits."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator

from conftest import FAST, spec_for
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.fake_backends import fake_backend
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler
from qrt_runner.tasks.runner import build_workload, run_experiment

N_SIGMA = 5


def _exact(circuit, observables, values):
    return np.array(
        [
            [Statevector(circuit.assign_parameters(row)).expectation_value(op).real for op in observables]
            for row in values
        ]
    )


@pytest.fixture(scope="module")
def ideal():
    return LocalBackend.create("aer", threads=1, seed_simulator=11, seed_transpiler=3)


def test_estimator_evs_within_5_standard_errors_of_statevector(ideal):
    circuit = efficient_su2(3, reps=1)
    values = np.random.default_rng(5).uniform(0, 2 * np.pi, (6, circuit.num_parameters))
    observables = [SparsePauliOp.from_list([("ZZI", 1.0), ("XXY", 0.5)]), SparsePauliOp("IYZ"), SparsePauliOp("XIX")]
    result = (
        Estimator(ideal, options=EstimatorOptions(default_precision=0.02))
        .run([(circuit, observables, values[:, None, :])])
        .result()[0]
    )
    exact = _exact(circuit, observables, values)
    assert result.data.evs.shape == (6, 3)
    assert np.all(result.data.stds > 0.005) and np.all(result.data.stds < 0.04)
    assert np.all(np.abs(result.data.evs - exact) <= N_SIGMA * result.data.stds)
    assert result.metadata["shots"] == 2500


def test_exact_mode_matches_statevector_to_machine_precision(ideal):
    circuit = efficient_su2(4, reps=2)
    values = np.random.default_rng(1).uniform(0, 2 * np.pi, (5, circuit.num_parameters))
    observables = [SparsePauliOp.from_list([("ZZII", 1.0), ("IXXI", -0.3)]), SparsePauliOp("YIIY")]
    result = (
        Estimator(ideal, options=EstimatorOptions(default_precision=0))
        .run([(circuit, observables, values[:, None, :])])
        .result()[0]
    )
    np.testing.assert_allclose(result.data.evs, _exact(circuit, observables, values), atol=1e-10)
    assert np.all(result.data.stds == 0)


def test_broadcasting_follows_v2_pub_semantics(ideal):
    circuit = efficient_su2(2, reps=1)
    values = np.zeros((2, 3, circuit.num_parameters))
    result = (
        Estimator(ideal, options=EstimatorOptions(default_precision=0))
        .run([(circuit, ["ZZ", "XX", "ZI"], values)])
        .result()[0]
    )
    assert result.data.evs.shape == (2, 3)


def test_every_experiment_estimator_agrees_with_statevector():
    for experiment in ("default", "ising_estimator", "h2_estimator"):
        spec = spec_for([f"experiment={experiment}", *FAST])
        workload = build_workload(spec)
        result = run_experiment(spec, workload)
        assert result.status == "FINISHED"
        num_params = workload.circuit.num_parameters
        values = workload.parameter_values.reshape(-1, num_params) if num_params else np.zeros((1, 0))
        exact = _exact(workload.circuit, [op for _, op in workload.observables], values)
        evs = result.estimator.evs.reshape(exact.shape)
        stds = result.estimator.stds.reshape(exact.shape)
        assert np.all(np.abs(evs - exact) <= np.maximum(N_SIGMA * stds, 1e-9)), experiment


def test_ghz_sampler_ideal_gives_only_all_zeros_and_all_ones():
    spec = spec_for(["experiment=ghz_sampler", "circuit.num_qubits=5", "primitive.default_shots=2000", *FAST])
    result = run_experiment(spec)
    counts = result.sampler.counts[0]
    assert set(counts) == {"00000", "11111"}
    assert sum(counts.values()) == 2000
    assert abs(counts["00000"] - 1000) < 5 * np.sqrt(500)
    assert result.sampler.hellinger_fidelity[0] > 0.99


def test_qaoa_sampler_experiment_runs_and_finds_a_maximum_cut():
    spec = spec_for(["experiment=qaoa_maxcut_sampler", *FAST])
    result = run_experiment(spec)
    assert result.status == "FINISHED"
    counts = result.sampler.counts[0]
    edges = spec.circuit.edges

    def cut(bits):
        x = [int(b) for b in reversed(bits)]
        return sum(w for a, b, w in edges if x[int(a)] != x[int(b)])

    best = max(cut(format(i, "05b")) for i in range(32))
    assert max(cut(bits) for bits in counts) == best


def test_noisy_sampler_on_large_device_matches_full_device_simulation():
    """Compaction (noise restricted to used qubits) gives the distribution of the full simulation."""
    device = fake_backend("fake_manila")
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.measure_all()
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=5, seed_transpiler=7)
    isa = backend.compiler.compile(circuit)
    ours = Sampler(backend).run([circuit], shots=20000).result()[0].data.meas.get_counts()
    full = AerSimulator.from_backend(device, max_parallel_threads=1)
    theirs = full.run(isa.device_circuit, shots=20000, seed_simulator=9).result().get_counts()
    error_ours = 1 - (ours.get("000", 0) + ours.get("111", 0)) / 20000
    error_theirs = 1 - (theirs.get("000", 0) + theirs.get("111", 0)) / 20000
    assert error_ours > 0.01  # the noise is really there
    sigma = np.sqrt(error_theirs * (1 - error_theirs) / 20000) * np.sqrt(2)
    assert abs(error_ours - error_theirs) < 5 * sigma
    assert len(isa.physical_qubits) == 3


def test_small_circuit_on_127_qubit_device_is_simulated_on_its_own_qubits():
    backend = LocalBackend.create("fake_sherbrooke", threads=1, seed_simulator=1)
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    result = Estimator(backend).run([(circuit, ["ZZ", "XX"])]).result()[0]
    isa = backend.compiler.compile(circuit)
    assert len(isa.physical_qubits) == 2 and isa.device_circuit.num_qubits == 127
    assert np.all(result.data.evs > 0.6) and np.all(result.data.evs < 1.0)  # noisy, but a Bell state


def test_parameter_sweep_transpiles_once(ideal):
    circuit = QuantumCircuit(2)
    circuit.append(efficient_su2(2, reps=1).to_gate(), [0, 1])  # not ISA: it must be transpiled
    before = ideal.compiler.transpile_count
    for seed in range(3):
        values = np.random.default_rng(seed).uniform(0, 1, (4, circuit.num_parameters))
        Estimator(ideal).run([(circuit, ["ZZ"], values)]).result()
    assert ideal.compiler.transpile_count - before == 1


def test_estimator_ignores_classical_bits_the_circuit_already_has(ideal):
    from qiskit import ClassicalRegister

    circuit = QuantumCircuit(2)
    circuit.add_register(ClassicalRegister(2, "c"))
    circuit.x(1)
    result = Estimator(ideal).run([(circuit, ["ZI", "IZ", "ZZ"])]).result()[0]
    np.testing.assert_allclose(result.data.evs, [-1.0, 1.0, -1.0])


def test_broadcast_values_land_on_the_right_observable_and_parameter_set(ideal):
    circuit = efficient_su2(2, reps=1)
    values = np.random.default_rng(9).uniform(0, 2 * np.pi, (3, 1, circuit.num_parameters))
    observables = [SparsePauliOp("ZI"), SparsePauliOp("XX")]
    result = (
        Estimator(ideal, options=EstimatorOptions(default_precision=0))
        .run([(circuit, observables, values)])
        .result()[0]
    )
    assert result.data.evs.shape == (3, 2)
    np.testing.assert_allclose(result.data.evs, _exact(circuit, observables, values[:, 0, :]), atol=1e-10)


def test_folding_every_gate_removes_the_bias_of_unamplified_single_qubit_noise():
    """Exact density-matrix values of a mirror circuit whose noise is mostly on ``sx`` (Aer's own
    depolarizing channels): extrapolated from noise factors 1, 3, 5, IBM's two-qubit folding keeps
    the unamplified sx error, folding every gate leaves none."""
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    from qrt_runner.mitigation.extrapolation import fit
    from qrt_runner.mitigation.folding import fold_gates, fold_two_qubit_gates

    half = QuantumCircuit(2)
    for _ in range(3):
        half.sx([0, 1])
        half.rz(0.7, [0, 1])
    half.cx(0, 1)
    circuit = half.compose(_inverse_in_basis(half))
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["sx"])
    noise.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx"])
    simulator = AerSimulator(method="density_matrix", noise_model=noise)

    def value(folded):
        folded = folded.copy()
        folded.save_expectation_value(SparsePauliOp("ZZ"), [0, 1])
        return float(np.real(simulator.run(folded, shots=1).result().data(0)["expectation_value"]))

    zero = {}
    for name, fold in (("two-qubit", fold_two_qubit_gates), ("every gate", fold_gates)):
        y = [value(fold(circuit, factor, "gate_folding", 0)) for factor in (1, 3, 5)]
        zero[name] = fit("exponential", [1, 3, 5], y, [0.01] * 3, [0.0]).values[0]
    assert zero["every gate"] == pytest.approx(1.0, abs=1e-9)  # depolarizing noise: an exact exponential
    assert zero["two-qubit"] < 0.97  # 12 sx at 1% each, never amplified


def _inverse_in_basis(circuit: QuantumCircuit) -> QuantumCircuit:
    """The inverse written with sx, rz and cx only (sx^-1 = rz(pi) sx rz(pi))."""
    out = QuantumCircuit(circuit.num_qubits)
    for instruction in reversed(circuit.data):
        operation, qubits = instruction.operation, instruction.qubits
        if operation.name == "sx":
            out.rz(np.pi, qubits)
            out.sx(qubits)
            out.rz(np.pi, qubits)
        else:
            out.append(operation.inverse(), qubits)
    return out
