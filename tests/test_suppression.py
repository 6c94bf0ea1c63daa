"""Error suppression: dynamical decoupling sequences, and twirling and decoupling for the Sampler."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import BitArray
from qiskit.quantum_info import Operator

from conftest import FAST, run_cli, spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.decoupling import SEQUENCES, add_dynamical_decoupling
from qrt_runner.mitigation.measure_twirl import clbit_flips, flip_angles, twirl_measurements, twirled_confusion, unflip
from qrt_runner.mitigation.readout import mitigate
from qrt_runner.primitives.sampler import Sampler, SamplerOptions
from qrt_runner.tasks.runner import run_experiment

SAMPLER = ["experiment=ghz_sampler", "circuit.num_qubits=3", "primitive.default_shots=2048", *FAST]


@pytest.fixture(scope="module")
def manila():
    return LocalBackend.create("fake_manila", threads=1, seed_simulator=11)


def _without_delays(circuit: QuantumCircuit) -> QuantumCircuit:
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        if instruction.operation.name != "delay":
            out.append(instruction)
    return out


def _busy_time_dt(circuit: QuantumCircuit, target) -> list[int]:
    """Per qubit: the sum of its gate durations (the device's) and delays, in dt."""
    totals = [0] * circuit.num_qubits
    for instruction in circuit.data:
        operation = instruction.operation
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if operation.name == "delay":
            assert operation.unit == "dt"
            length = int(operation.duration)
        else:
            length = round(target[operation.name][qubits].duration / target.dt)
        for q in qubits:
            totals[q] += length
    return totals


# --- dynamical decoupling sequences ----------------------------------------------------------
@pytest.mark.parametrize("sequence", ["XX", "XpXm", "XY4"])
def test_decoupling_sequence_keeps_the_unitary_and_is_timed_with_device_durations(manila, sequence):
    circuit = QuantumCircuit(3)
    circuit.h(0)
    for _ in range(2):
        circuit.cx(0, 1)
        circuit.cx(1, 2)
    circuit.cx(0, 1)
    isa = manila.compiler.compile(circuit)
    target = manila.compact_target(isa.physical_qubits)
    padded = add_dynamical_decoupling(isa.circuit, target, sequence, "alap", "middle", False)
    added_x = padded.count_ops().get("x", 0) - isa.circuit.count_ops().get("x", 0)
    assert added_x >= len(SEQUENCES[sequence]) and added_x % len(SEQUENCES[sequence]) == 0
    assert padded.count_ops().get("delay", 0) > 0
    # the same unitary, global phase included, once the delays are dropped
    assert Operator(_without_delays(padded)) == Operator(_without_delays(isa.circuit))
    # every qubit's timeline (device durations + delays) spans the same scheduled length
    busy = _busy_time_dt(padded, target)
    assert len(set(busy)) == 1 and busy[0] >= max(_busy_time_dt(_without_delays(isa.circuit), target))
    if sequence == "XY4":  # +Y and -Y are x between frame changes of -+pi/2 and -+3pi/2
        angles = {round(float(i.operation.params[0]), 6) for i in padded.data if i.operation.name == "rz"}
        assert {round(-np.pi / 2, 6), round(np.pi / 2, 6), round(-3 * np.pi / 2, 6)} <= angles


def test_unknown_decoupling_sequence_is_refused_with_the_valid_names():
    with pytest.raises(ConfigError) as info:
        spec_for(
            [
                "backend=fake_manila",
                "mitigation.dynamical_decoupling.enable=true",
                "mitigation.dynamical_decoupling.sequence_type=XY8",
            ]
        )
    assert str(info.value) == (
        "mitigation.dynamical_decoupling.sequence_type='XY8': unknown sequence; choose one of XX, XpXm, XY4"
    )


# --- sampler: twirling on the ideal simulator ---------------------------------------------------
def test_twirled_sampler_on_the_ideal_simulator_keeps_the_exact_support():
    spec = spec_for(
        [
            *SAMPLER,
            "circuit.num_qubits=4",
            "primitive.default_shots=500",
            "mitigation.twirling.enable_gates=true",
            "mitigation.twirling.enable_measure=true",
            "mitigation.twirling.num_randomizations=16",
        ]
    )
    result = run_experiment(spec)
    counts = result.sampler.counts[0]
    assert set(counts) == {"0000", "1111"}
    assert sum(counts.values()) == 16 * 32  # ceil(500 / 16) shots per randomisation
    job = result.to_dict()["mitigation"]["jobs"][0]
    assert (job["num_randomizations"], job["shots_per_randomization"]) == (16, 32)
    assert job["twirling"] == {"enable_gates": True, "enable_measure": True} and job["dynamical_decoupling"] is None


def test_measurement_twirling_keeps_parameter_sets_and_mid_circuit_measurements_apart():
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, 3)
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    circuit.cx(0, 1)  # acts on the measured qubit: its flip must be undone after the measurement
    circuit.measure(1, 1)
    circuit.measure(0, 2)
    mitigation = spec_for(
        ["primitive=sampler", "mitigation.twirling.enable_measure=true", "mitigation.twirling.num_randomizations=8"]
    ).effective_mitigation
    sampler = Sampler(LocalBackend.create("aer", threads=1), options=SamplerOptions(64, mitigation=mitigation))
    result = sampler.run([(circuit, [[0.0], [np.pi]])]).result()[0]
    counts = [result.data.c[i].get_counts() for i in range(2)]
    assert counts == [{"000": 64}, {"111": 64}]
    assert result.metadata["mitigation"]["num_randomizations"] == 8


# --- sampler: measurement twirling physics --------------------------------------------------------
def test_measurement_twirling_symmetrises_a_biased_readout_and_readout_mitigation_follows():
    """Readout P(1|0) = 2 %, P(0|1) = 12 %: after undoing the flips each bit reads with
    (1 - w) 12 % + w 2 % for |1> (w = its fraction of flipped shots; margin 4 sigma), and readout
    mitigation with the calibrated matrices mixed the same way recovers |111>."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, ReadoutError

    noise = NoiseModel()
    noise.add_all_qubit_readout_error(ReadoutError([[0.98, 0.02], [0.12, 0.88]]))
    simulator = AerSimulator(noise_model=noise, max_parallel_threads=1)
    circuit = QuantumCircuit(3)
    circuit.x(range(3))
    circuit.measure_all()
    template = twirl_measurements(circuit)
    randomizations, shots = 32, 64
    flips = np.random.default_rng(3).integers(0, 2, size=(randomizations, 3))
    angles = flip_angles(flips)
    binds = [{p: angles[p.name].tolist() for p in template.parameters}]
    run = simulator.run([template], parameter_binds=binds, shots=shots, seed_simulator=5, memory=True).result()
    per_clbit = clbit_flips(template, flips)
    packed = np.concatenate(
        [unflip(BitArray.from_samples(run.data(r)["memory"], 3).array, per_clbit[r]) for r in range(randomizations)]
    )
    bits = BitArray(packed, 3).to_bool_array(order="little")
    w = per_clbit.mean(axis=0)
    error = 1.0 - bits.mean(axis=0)
    expected = (1 - w) * 0.12 + w * 0.02
    sigma = np.sqrt(expected * (1 - expected) / len(bits))
    assert np.all(np.abs(error - expected) < 4 * sigma)
    assert np.all(error < 0.12 - 4 * sigma)  # better than the untwirled 12 % for |1>

    calibrated = np.tile(np.array([[0.98, 0.12], [0.02, 0.88]]), (3, 1, 1))  # C[read, prepared]
    counts = BitArray(packed, 3).get_int_counts()
    outcomes, values = np.array(list(counts)), np.array(list(counts.values()), dtype=float)
    _, quasi = mitigate(outcomes, values, twirled_confusion(calibrated, w), [0, 1, 2])
    _, unmixed = mitigate(outcomes, values, calibrated, [0, 1, 2])
    ones = int(np.flatnonzero(outcomes == 7)[0])
    assert abs(quasi[ones] - 1.0) < 0.05  # about 3.5 sigma of the mitigated estimate (0.014)
    assert unmixed[ones] - 1.0 > 0.1  # the untwirled matrices over-correct (by about 0.18)


# --- sampler on a noisy device --------------------------------------------------------------------
def _tvd(p: dict, q: dict) -> float:
    total_p, total_q = sum(p.values()), sum(q.values())
    return 0.5 * sum(abs(p.get(k, 0) / total_p - q.get(k, 0) / total_q) for k in set(p) | set(q))


def test_twirled_sampler_on_fake_manila_matches_the_untwirled_distribution():
    """fake_manila's simulated noise is already incoherent with symmetric readout, so twirling must
    leave the distribution as it is: total variation distance < 0.06 (two untwirled runs of 2048
    shots with different seeds differ by 0.01-0.04) and the same Hellinger fidelity within 0.03."""
    raw = run_experiment(spec_for([*SAMPLER, "backend=fake_manila"])).sampler
    twirled = run_experiment(
        spec_for(
            [
                *SAMPLER,
                "backend=fake_manila",
                "mitigation.twirling.enable_gates=true",
                "mitigation.twirling.enable_measure=true",
            ]
        )
    ).sampler
    assert _tvd(raw.counts[0], twirled.counts[0]) < 0.06
    assert twirled.hellinger_fidelity[0] == pytest.approx(raw.hellinger_fidelity[0], abs=0.03)
    assert 0.75 < twirled.hellinger_fidelity[0] < 0.97  # noisy, but a GHZ state


def test_readout_mitigation_works_with_measurement_twirling_on_fake_manila():
    result = run_experiment(
        spec_for(
            [
                *SAMPLER,
                "backend=fake_manila",
                "mitigation.twirling.enable_measure=true",
                "mitigation.resilience.measure_mitigation=true",
            ]
        )
    )
    sampler = result.sampler
    assert sum(sampler.quasi_dists[0].values()) == pytest.approx(1.0)
    assert sampler.hellinger_fidelity_mitigated[0] > sampler.hellinger_fidelity[0] + 0.05
    job = result.to_dict()["mitigation"]["jobs"][0]
    assert job["num_circuits"] == 3 and job["shots_spent"] == 32 * 64 + 2 * 32 * 128


def test_sampler_decoupling_runs_on_a_device_and_is_refused_on_the_ideal_simulator():
    with pytest.raises(ConfigError, match="needs a device's instruction durations"):
        spec_for([*SAMPLER, "mitigation.dynamical_decoupling.enable=true"])
    result = run_experiment(
        spec_for(
            [
                *SAMPLER,
                "backend=fake_manila",
                "mitigation.dynamical_decoupling.enable=true",
                "mitigation.dynamical_decoupling.sequence_type=XY4",
            ]
        )
    )
    assert result.status == "FINISHED"
    assert result.to_dict()["mitigation"]["jobs"][0]["dynamical_decoupling"] == "XY4"
    assert result.sampler.hellinger_fidelity[0] > 0.75


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["mitigation.resilience_level=1"], "mitigation.resilience_level=1: the sampler has no resilience levels"),
        (
            ["mitigation.resilience.zne_mitigation=true"],
            "mitigation.resilience_level=0: the sampler has no resilience levels",
        ),
        (
            ["mitigation.twirling.enable_measure=true", "mitigation.twirling.num_randomizations=0"],
            "mitigation.twirling.num_randomizations=0: must be at least 1",
        ),
    ],
)
def test_refused_sampler_combinations_are_one_line_config_errors(overrides, message):
    with pytest.raises(ConfigError) as info:
        spec_for([*SAMPLER, *overrides])
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_cli_sampler_with_measurement_twirling_on_a_fake_device(tmp_path):
    proc = run_cli(
        [
            "primitive=sampler",
            "mitigation.twirling.enable_measure=true",
            "backend=fake_manila",
            "primitive.default_shots=256",
            "hydra.run.dir=out",
            *FAST,
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["status"] == "FINISHED"
    assert results["mitigation"]["effective"]["twirling"]["enable_measure"] is True
    assert results["mitigation"]["jobs"][0]["shots_per_randomization"] == 8
