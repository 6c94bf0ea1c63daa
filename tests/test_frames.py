"""Noisy Clifford circuits sampled with Stim's Pauli frames (simulation.frames) give the
distributions Aer's stabilizer method gives for the same circuits and Pauli noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, qasm2, transpile
from qiskit.quantum_info import Pauli, random_clifford
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, PauliLindbladError, ReadoutError, amplitude_damping_error, pauli_error
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from conftest import FAST, spec_for
from qrt_runner.execution.simulation import frames
from qrt_runner.execution.simulation.clifford import stabilizer_form
from qrt_runner.execution.simulation.pauli_noise import pauli_noise_model
from qrt_runner.tasks.runner import run_experiment

SHOTS = 20_000


def _distribution(memory: np.ndarray) -> dict[str, float]:
    keys, counts = np.unique(["".join("1" if b else "0" for b in row[::-1]) for row in memory], return_counts=True)
    return dict(zip(keys.tolist(), (counts / len(memory)).tolist()))


def _aer_distribution(circuit: QuantumCircuit, model: NoiseModel | None, seed: int) -> dict[str, float]:
    sim = AerSimulator(method="stabilizer", noise_model=model, max_parallel_threads=1)
    counts = sim.run(circuit, shots=SHOTS, seed_simulator=seed).result().get_counts()
    return {key.replace(" ", ""): value / SHOTS for key, value in counts.items()}


def _tvd(p: dict[str, float], q: dict[str, float]) -> float:
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def _tvd_bound(p: dict[str, float]) -> float:
    """Five standard errors of the total variation distance between two independent samples of
    SHOTS shots each (the sum of per-outcome standard errors of the difference)."""
    return 5 * 0.5 * sum(math.sqrt(2 * v * (1 - v) / SHOTS) for v in p.values()) + 1e-3


def _sampled(circuit: QuantumCircuit, model: NoiseModel | None, seed: int) -> dict[str, float]:
    program = frames.stim_circuit(circuit, model)
    assert program is not None
    return _distribution(frames.sample_memory(*program, circuit.num_clbits, SHOTS, seed))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_clifford_circuits_under_device_pauli_noise_match_aer(seed):
    device = FakeManilaV2()
    logical = random_clifford(3, seed=seed).to_circuit()
    logical.measure_all()
    isa = transpile(logical, device, initial_layout=[0, 1, 2], optimization_level=1, seed_transpiler=seed)
    compact = QuantumCircuit(3, isa.num_clbits)
    for instruction in isa.data:
        qubits = [isa.find_bit(q).index for q in instruction.qubits]
        compact.append(instruction.operation, qubits, [isa.find_bit(c).index for c in instruction.clbits])
    circuit = stabilizer_form(compact)
    model = pauli_noise_model(device, (0, 1, 2))
    expected = _aer_distribution(circuit, model, seed)
    assert _tvd(_sampled(circuit, model, seed), expected) < _tvd_bound(expected)


def test_mid_circuit_measurement_reset_and_lindblad_channel_match_aer():
    circuit = QuantumCircuit(3, 4)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(0, 0)
    circuit.reset(0)
    circuit.append(PauliLindbladError([Pauli("XX"), Pauli("ZY")], [0.1, 0.05]).to_instruction(), [1, 2])
    circuit.s(1)
    circuit.ecr(1, 2)
    circuit.append(pauli_error([("X", 0.2), ("I", 0.8)]).to_instruction(), [0])
    circuit.measure([0, 1, 2], [1, 2, 3])
    model = NoiseModel()
    model.add_quantum_error(pauli_error([("XZ", 0.05), ("II", 0.95)]), "ecr", [1, 2])
    model.add_quantum_error(pauli_error([("Y", 0.1), ("I", 0.9)]), "s", [1])
    model.add_readout_error(ReadoutError([[0.93, 0.07], [0.07, 0.93]]), [2])
    expected = _aer_distribution(circuit, model, 7)
    assert _tvd(_sampled(circuit, model, 8), expected) < _tvd_bound(expected)


def test_what_stim_cannot_run_as_aer_does_is_left_to_aer():
    damping = NoiseModel()
    damping.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["x"])
    skewed = NoiseModel()
    skewed.add_readout_error(ReadoutError([[0.99, 0.01], [0.2, 0.8]]), [0])
    plain = QuantumCircuit(1, 1)
    plain.x(0)
    plain.measure(0, 0)
    branching = plain.copy()
    with branching.if_test((branching.clbits[0], 1)):
        branching.x(0)
    inverse = QuantumCircuit(1, 1)
    inverse.append(PauliLindbladError([Pauli("X")], [-0.1]).to_instruction(), [0])
    assert frames.stim_circuit(plain, damping) is None  # not a Pauli channel
    assert frames.stim_circuit(plain, skewed) is None  # readout not symmetric
    assert frames.stim_circuit(branching, None) is None  # control flow
    assert frames.stim_circuit(inverse, None) is None  # PEC's quasi-probability
    assert frames.stim_circuit(plain, None) is not None


def test_sampler_bit_order_under_pauli_noise(tmp_path):
    """X on qubit 0 of a 12-qubit circuit on fake_sherbrooke's first qubits reads 1 on the last
    bit of the Sampler's bitstrings and mostly 0 elsewhere (qubit 6's readout error is 26%)."""
    circuit = QuantumCircuit(12)
    circuit.x(0)
    circuit.measure_all()
    path = tmp_path / "x0.qasm"
    path.write_text(qasm2.dumps(circuit))
    spec = spec_for(
        [*FAST, "circuit=qasm", "primitive=sampler", "backend=fake_sherbrooke", "backend.noise=pauli"]
        + [
            "primitive.default_shots=1000",
            f"circuit.path={path}",
            "mitigation=none",
            f"transpile.initial_layout={list(range(12))}",
        ]
    )
    result = run_experiment(spec)
    assert result.status == "FINISHED", result.error
    assert result.simulation["method"] == "stabilizer"
    counts = result.sampler.counts[0]
    ones = np.zeros(12)
    for bits, count in counts.items():
        ones += count * np.array([bit == "1" for bit in reversed(bits)])
    ones /= sum(counts.values())
    assert ones[0] > 0.95
    assert np.all(ones[1:] < 0.4)
    assert 0.15 < ones[6] < 0.35  # its readout error, applied to the right bit
