"""The technique contract: each technique's build and combine steps alone, and the pipelines."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from conftest import spec_for
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.options import finalize
from qrt_runner.mitigation.technique import LAYER_NOISE, BuildContext, DeviceInfo, PubTerms, Technique
from qrt_runner.mitigation.techniques import estimator_pipeline, sampler_pipeline
from qrt_runner.mitigation.techniques.decoupling import DynamicalDecoupling
from qrt_runner.mitigation.techniques.gate_twirling import GateTwirling
from qrt_runner.mitigation.techniques.measure_twirling import MeasureTwirling, SampledMeasureTwirling
from qrt_runner.mitigation.techniques.pea import Pea
from qrt_runner.mitigation.techniques.pec import Pec
from qrt_runner.mitigation.techniques.trex import Trex
from qrt_runner.mitigation.techniques.zne import FOLDED_ERROR, Zne
from qrt_runner.mitigation.zne import TermData
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions


def _mitigation(*overrides: str):
    """Effective estimator options: ``mitigation=<preset>`` as given, other keys under ``mitigation.``."""
    keys = [o if o.startswith("mitigation=") else f"mitigation.{o}" for o in overrides]
    return finalize(spec_for(["backend=fake_manila", *keys]).mitigation)


@pytest.fixture(scope="module")
def manila():
    return LocalBackend.create("fake_manila", threads=1, seed_simulator=3, seed_transpiler=5)


@pytest.fixture(scope="module")
def bell_isa(manila):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    return manila.compiler.compile(circuit)


def _context(manila, isa, num_bases: int = 1) -> BuildContext:
    return BuildContext(manila.device_info(isa.physical_qubits), isa.circuit.num_qubits, num_bases)


def _two_qubit_gates(circuit: QuantumCircuit) -> int:
    return sum(1 for i in circuit.data if i.operation.num_qubits == 2)


def test_pipelines_follow_the_options_in_a_fixed_order():
    assert estimator_pipeline(None) == [] and sampler_pipeline(None) == []
    assert estimator_pipeline(_mitigation("resilience_level=0")) == []
    names = [t.name for t in estimator_pipeline(_mitigation("resilience_level=2", "dynamical_decoupling.enable=true"))]
    assert names == ["zne", "dynamical_decoupling", "gate_twirling", "measure_twirling", "trex"]
    names = [t.name for t in estimator_pipeline(_mitigation("resilience_level=1", "resilience.pec_mitigation=true"))]
    assert names == ["gate_twirling", "pec", "measure_twirling", "trex"]
    sampler = sampler_pipeline(
        finalize(spec_for(["backend=fake_manila", "primitive=sampler", "mitigation=twirling"]).mitigation)
    )
    assert [type(t) for t in sampler] == [GateTwirling, SampledMeasureTwirling]


def test_default_hooks_change_nothing(manila, bell_isa):
    technique = Technique()
    templates = [bell_isa.circuit]
    assert technique.transform(templates, _context(manila, bell_isa)) is templates
    assert technique.shots(100, {}) == 100 and technique.shot_weight({}) == 1.0
    no_terms: PubTerms = None  # type: ignore[assignment]
    assert (
        technique.term_scale(["ZZ"]) is None
        and technique.reduce(TermData(np.zeros(1), np.zeros(1)), no_terms, {}) is None
    )
    assert technique.diagnostics({}) == {} and technique.multipliers({}) == {}


def test_signatures_are_shared_by_the_estimator_and_the_sampler(manila, bell_isa):
    device = manila.device_info(bell_isa.physical_qubits)
    estimator = estimator_pipeline(_mitigation("mitigation=dd", "dynamical_decoupling.sequence_type=XY4"))
    sampler = sampler_pipeline(
        finalize(spec_for(["backend=fake_manila", "primitive=sampler", "mitigation=dd"]).mitigation)
    )
    assert estimator[0].signature(device) == "ddXY4alapmiddleFalse"
    assert sampler[0].signature(device) == "ddXXalapmiddleFalse"


def test_decoupling_fills_idle_time_and_refuses_the_ideal_simulator(manila):
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    isa = manila.compiler.compile(circuit)
    dd = DynamicalDecoupling("XX", "alap", "middle", False)
    (decoupled,) = dd.transform([isa.circuit], _context(manila, isa))
    assert "delay" in decoupled.count_ops()
    ideal = BuildContext(DeviceInfo("aer", None, 0, isa.physical_qubits), isa.circuit.num_qubits)
    with pytest.raises(ValueError, match="instruction durations"):
        dd.transform([isa.circuit], ideal)


def test_gate_twirl_template_binds_one_pauli_per_slot(manila, bell_isa):
    twirl = GateTwirling("active")
    (template,) = twirl.transform([bell_isa.circuit], _context(manila, bell_isa))
    columns = twirl.columns(template, 5, np.random.default_rng(0))
    assert template.num_parameters == len(columns) > 0
    assert all(column.shape == (5,) for column in columns.values())


def test_zne_folds_one_template_per_noise_factor_and_extrapolates(manila, bell_isa):
    zne = Zne(_mitigation("mitigation=zne", "resilience.zne.extrapolator=[linear]").resilience.zne)
    context = _context(manila, bell_isa)
    templates = zne.transform([bell_isa.circuit] * 3, context)
    assert [_two_qubit_gates(t) for t in templates] == [1, 3, 5]
    # the noise one unit of noise factor adds, from the device's reported gate errors
    from qrt_runner.execution.fake_backends import fake_backend

    device = fake_backend("fake_manila").target  # the whole device, indexed by its own qubits
    circuit, physical = bell_isa.circuit, bell_isa.physical_qubits
    gates = [i for i in circuit.data if i.operation.name in ("sx", "x", "cx", "ecr")]
    expected = sum(
        device[i.operation.name][tuple(physical[circuit.find_bit(q).index] for q in i.qubits)].error for i in gates
    )
    assert context.notes[FOLDED_ERROR] == pytest.approx(expected) and 0.005 < expected < 0.1
    noisy_1q = [sum(1 for i in t.data if i.operation.name in ("sx", "x")) for t in templates]
    assert noisy_1q[0] > 0 and noisy_1q == [noisy_1q[0] * f for f in (1, 3, 5)]  # their noise is amplified too
    assert zne.template_roles(["circuits"] * 3) == ["circuits", "zne", "zne"]
    # one term whose mean falls linearly with the noise factor: 0.9, 0.7, 0.5 -> 1.0 at zero noise
    means = np.array([0.9, 0.7, 0.5]).reshape(3, 1, 1)
    cov = np.full((3, 1, 1, 1), 1e-4)
    terms = PubTerms(np.ones((1, 1)), np.zeros(1), np.ones(1), ["ZZ"])
    reduced = zne.reduce(TermData(means, cov), terms, {})
    assert reduced is not None
    evs, stds, fits = reduced
    assert evs[0, 0] == pytest.approx(1.0) and stds[0, 0] > 0
    assert zne.diagnostics({})["noise_factors"] == [1.0, 3.0, 5.0]


def test_pec_and_pea_inject_channels_behind_the_twirled_layers(manila, bell_isa):
    context = _context(manila, bell_isa)
    (template,) = GateTwirling("active").transform([bell_isa.circuit], context)
    pec = Pec(None, "auto", 100.0)
    (cancelled,) = pec.transform([template], context)
    assert cancelled.num_qubits == bell_isa.circuit.num_qubits + 1  # the sign qubit
    assert context.notes[LAYER_NOISE] is not None
    assert pec.shot_weight(context.notes) > 1.0 and pec.shots(100, context.notes) > 100
    assert set(pec.diagnostics(context.notes)) == {"layer_noise_model", "pec"}
    pea_context = _context(manila, bell_isa)
    amplified = Pea(None, (1.0, 3.0)).transform([template, template], pea_context)
    assert amplified[0].size() <= amplified[1].size() and amplified[1].num_qubits == bell_isa.circuit.num_qubits
    nothing_measured = _context(manila, bell_isa, num_bases=0)
    assert Pec(None, "auto", 100.0).transform([template], nothing_measured) == [template]
    assert LAYER_NOISE not in nothing_measured.notes


def test_measure_twirl_and_trex_draw_in_order_and_rescale_terms(manila, bell_isa):
    twirl, trex = MeasureTwirling(), Trex(4, 16, True)
    rng = np.random.default_rng([3, 7])
    for technique in (twirl, trex):
        technique.draw(rng, 8, bell_isa.circuit)
    expected = np.random.default_rng([3, 7])
    assert np.array_equal(twirl.measurement_flips(), expected.integers(0, 2, size=(8, 2)))
    assert np.array_equal(trex.calibration_flips, expected.integers(0, 2, size=(4, 2)))
    measured = QuantumCircuit(2)
    measured.metadata = {"qrt_measured_qubits": [0, 1]}
    (calibration,) = trex.calibration_circuits([measured], _context(manila, bell_isa))
    values, shots = trex.calibration_rows(calibration)
    assert values is not None and values.shape == (4, 2) and shots == 16 and trex.calibration_shots() == 64
    trex.calibration = {"ZZ": (0.8, 0.01), "IZ": (1e-5, 0.01)}
    assert np.array_equal(trex.term_scale(["ZZ", "IZ"]), [0.8, 1e-3])  # floored near zero
    assert trex.diagnostics({}) == {"trex_calibration": {"ZZ": 0.8, "IZ": 1e-5}}


def _bell_estimate(backend: LocalBackend, mitigation):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    estimator = Estimator(backend, options=EstimatorOptions(default_precision=0.0625, mitigation=mitigation))
    result = estimator.run([(circuit, [SparsePauliOp("ZZ"), SparsePauliOp("XX")])]).result()[0]
    return result.data.evs, result.data.stds, result.metadata


def test_an_empty_pipeline_is_the_plain_estimator():
    plain = _bell_estimate(LocalBackend.create("fake_manila", threads=1, seed_simulator=11), None)
    off = _mitigation("resilience_level=0")
    assert estimator_pipeline(off) == []
    empty = _bell_estimate(LocalBackend.create("fake_manila", threads=1, seed_simulator=11), off)
    assert np.array_equal(plain[0], empty[0]) and np.array_equal(plain[1], empty[1])
    assert "mitigation" not in plain[2] and "mitigation" not in empty[2]


def test_same_seed_same_mitigated_result():
    """The techniques draw from the PUB's own generator (seeded by the job), so a fresh backend
    with the same seed reproduces the mitigated values and the TREX calibration exactly."""
    mitigation = _mitigation("resilience_level=1")
    first = _bell_estimate(LocalBackend.create("fake_manila", threads=1, seed_simulator=5), mitigation)
    again = _bell_estimate(LocalBackend.create("fake_manila", threads=1, seed_simulator=5), mitigation)
    assert np.array_equal(first[0], again[0])
    assert first[2]["mitigation"]["trex_calibration"] == again[2]["mitigation"]["trex_calibration"]
