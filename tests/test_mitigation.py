"""Mitigation: option finalisation as IBM's, extrapolators, folding, and physics on a noisy device."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector
from qiskit_ibm_runtime.options import EstimatorOptions as IbmEstimatorOptions

from conftest import FAST, spec_for
from qrt_runner.config.mitigation_schema import MitigationConfig
from qrt_runner.errors import ConfigError
from qrt_runner.execution import ibm
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.extrapolation import extrapolate, fit
from qrt_runner.mitigation.folding import effective_factor, fold_gates, fold_two_qubit_gates
from qrt_runner.mitigation.options import finalize
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions


def _config(**changes) -> MitigationConfig:
    return spec_for([f"mitigation.{k}={v}" for k, v in changes.items()]).mitigation


@pytest.mark.parametrize(
    "level,gates,measure,trex,zne",
    [(0, False, False, False, False), (1, False, True, True, False), (2, True, True, True, True)],
)
def test_resilience_level_defaults_fill_only_unset_fields(level, gates, measure, trex, zne):
    eff = finalize(_config(resilience_level=level))
    res, twirl = eff.resilience, eff.twirling
    assert (twirl.enable_gates, twirl.enable_measure, res.measure_mitigation, res.zne_mitigation) == (
        gates,
        measure,
        trex,
        zne,
    )
    assert res.zne.noise_factors == (1.0, 3.0, 5.0) and res.zne.extrapolator == ("exponential", "linear")


def test_level_2_with_an_explicit_field_keeps_the_rest_of_its_defaults():
    eff = finalize(_config(resilience_level=2, **{"twirling.enable_gates": "false"}))
    res, twirl = eff.resilience, eff.twirling
    assert res.zne_mitigation and res.measure_mitigation and twirl.enable_measure and not twirl.enable_gates


def test_explicit_fields_override_the_level_and_dependencies_are_forced():
    eff = finalize(_config(resilience_level=1, **{"resilience.measure_mitigation": "false"}))
    assert not eff.resilience.measure_mitigation and eff.twirling.enable_measure  # level 1 still twirls measurements
    eff = finalize(_config(**{"resilience.measure_mitigation": "true", "twirling.enable_measure": "false"}))
    assert eff.resilience.measure_mitigation and eff.twirling.enable_measure  # TREX forces measurement twirling


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"resilience.pec_mitigation": "true", "resilience.zne_mitigation": "true"}, "PEC cannot be combined with ZNE"),
        ({"resilience_level": 3}, "mitigation.resilience_level=3: must be 0, 1 or 2"),
        (
            {"resilience.zne.amplifier": "pea", "resilience.zne_mitigation": "true"},
            "PEA needs a layer noise model, and backend=aer is noiseless",
        ),
        ({"resilience.pec_mitigation": "true"}, "PEC needs a layer noise model, and backend=aer is noiseless"),
        (
            {"twirling.strategy": "some"},
            "mitigation.twirling.strategy='some': unknown strategy; choose one of active, active-accum",
        ),
        ({"resilience.pec.noise_gain": -1}, "mitigation.resilience.pec.noise_gain=-1: must be a number >= 0 or auto"),
        (
            {"resilience.pec.noise_gain": "lots"},
            "mitigation.resilience.pec.noise_gain='lots': must be a number >= 0 or auto",
        ),
        (
            {"resilience.layer_noise_model": "/nonexistent/model.json"},
            "mitigation.resilience.layer_noise_model='/nonexistent/model.json': no such file",
        ),
        ({"resilience.zne.amplifier": "magic"}, "mitigation.resilience.zne.amplifier='magic': unknown amplifier"),
        (
            {"resilience.zne.noise_factors": "[1,3]", "resilience.zne.extrapolator": "[polynomial_degree_2]"},
            "needs more than 3 noise factors, got 2",
        ),
        ({"resilience.zne.noise_factors": "[0.5,3]"}, "needs at least two factors, each between 1 and 100"),
        ({"twirling.num_randomizations": 0}, "mitigation.twirling.num_randomizations=0: must be at least 1"),
        (
            {"dynamical_decoupling.enable": "true", "dynamical_decoupling.scheduling_method": "asa"},
            "mitigation.dynamical_decoupling.scheduling_method='asa': unknown value",
        ),
    ],
)
def test_refused_combinations(changes, message):
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
    ):
        finalize(_config(**changes))


def test_sampler_has_no_resilience_levels_and_exact_mode_cannot_be_mitigated():
    with pytest.raises(ConfigError, match="the sampler has no resilience levels"):
        spec_for(["experiment=ghz_sampler", "mitigation=level1"])
    with pytest.raises(ConfigError, match="mitigation works on measured shots, not exact values"):
        spec_for(["mitigation=level1", "primitive.default_precision=0"])


@pytest.mark.parametrize("preset", ["none", "level1", "level2", "trex", "zne", "pec", "pea", "dd", "twirling"])
def test_presets_compose_and_round_trip_into_ibm_options(preset):
    spec = spec_for([f"mitigation={preset}", "backend=ibm"])
    options = ibm.runtime_options(spec)
    IbmEstimatorOptions(**options)  # IBM's own model accepts our tree unchanged
    assert options["resilience_level"] == spec.mitigation.resilience_level


# --- extrapolators on synthetic data with known answers -----------------------------------
X = np.array([1.0, 3.0, 5.0])
SIGMA = np.full(3, 1e-3)


def test_linear_and_polynomial_extrapolators_recover_known_intercepts():
    assert fit("linear", X, 0.8 - 0.05 * X, SIGMA, [0]).values[0] == pytest.approx(0.8)
    assert fit("polynomial_degree_2", X, 0.7 - 0.1 * X + 0.01 * X**2, SIGMA, [0]).values[0] == pytest.approx(0.7)
    line = fit("linear", X, 0.8 - 0.05 * X, SIGMA, [0])
    assert line.stds[0] == pytest.approx(np.sqrt(np.sum((np.array([13, 4, -5]) / 12) ** 2)) * 1e-3, rel=1e-6)


def test_exponential_and_double_exponential_recover_known_values():
    assert fit("exponential", X, 0.9 * np.exp(-X / 4), SIGMA, [0]).values[0] == pytest.approx(0.9)
    x5 = np.arange(1.0, 6.0)
    y5 = 0.5 * np.exp(-0.2 * x5) + 0.3 * np.exp(-1.0 * x5)
    assert fit("double_exponential", x5, y5, np.full(5, 1e-5), [0]).values[0] == pytest.approx(0.8, abs=1e-3)
    assert fit("fallback", X, np.array([0.5, 0.4, 0.3]), SIGMA, [0]).values[0] == 0.5


def test_exponential_fits_values_not_logs_so_a_decayed_point_near_zero_is_kept():
    truth = 0.4 * np.exp(-0.8 * X)  # 0.180, 0.036, 0.007: the last point is below the noise
    noisy = truth + np.array([0.0, 0.0, -0.012])  # ... and measured just below zero
    best, fits = extrapolate(("exponential", "linear"), X, noisy, np.full(3, 0.01), bound=1.0)
    assert fits[0].ok and best.name == "exponential"
    assert best.values[0] == pytest.approx(0.4, abs=0.05)  # linear would give 0.22
    flat = fit("exponential", X, np.full(3, 0.5), np.zeros(3), [0])  # exact, noise-free data
    assert flat.ok and flat.values[0] == pytest.approx(0.5) and flat.stds[0] == 0


def test_first_successful_extrapolator_is_picked():
    crossing = np.array([0.1, -0.05, -0.2])  # changes sign far beyond its errors: no exponential does
    best, fits = extrapolate(("exponential", "linear"), X, crossing, SIGMA, bound=1.0)
    assert not fits[0].ok and best.name == "linear"
    out_of_bounds = np.array([0.95, 0.6, 0.25])  # linear intercept 1.125 exceeds |O| <= 1
    best, _ = extrapolate(("linear", "fallback"), X, out_of_bounds, SIGMA, bound=1.0)
    assert best.name == "fallback"


# --- folding --------------------------------------------------------------------------------
def _bell_chain() -> QuantumCircuit:
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.rz(0.3, 2)
    circuit.cx(0, 2)
    circuit.cx(2, 1)
    return circuit


@pytest.mark.parametrize("factor,expected", [(1, 1.0), (3, 3.0), (5, 5.0), (2, 2.0)])
def test_folding_multiplies_two_qubit_gates_and_keeps_the_unitary(factor, expected):
    circuit = _bell_chain()
    folded = fold_two_qubit_gates(circuit, factor, "gate_folding", seed=1)
    assert effective_factor(circuit, folded) == pytest.approx(expected)
    assert Operator(folded).equiv(Operator(circuit))


@pytest.mark.parametrize("factor", [1, 3, 5])
def test_folding_all_gates_multiplies_the_noisy_single_qubit_gates_too(factor):
    circuit = QuantumCircuit(2)
    circuit.sx(0)
    circuit.rz(0.4, 0)
    circuit.x(1)
    circuit.cx(0, 1)
    circuit.sx(1)
    circuit.rx(0.3, 0)
    folded = fold_gates(circuit, factor, "gate_folding", seed=2)
    assert effective_factor(circuit, folded, qubits=1) == pytest.approx(factor)  # sx, x, rx; rz stays
    assert effective_factor(circuit, folded) == pytest.approx(factor)
    assert folded.count_ops()["rz"] == 1 + folded.count_ops()["sx"] - 2  # each sx^-1 is rz(pi) sx rz(pi)
    assert set(folded.count_ops()) <= {"sx", "rz", "x", "cx", "rx"}  # still the circuit's own gates
    assert Operator(folded).equiv(Operator(circuit))
    assert fold_two_qubit_gates(circuit, factor, "gate_folding", seed=2).count_ops()["sx"] == 2


def test_gate_twirling_template_keeps_the_circuit_for_every_randomisation():
    from qrt_runner.mitigation.twirling import twirl_angles, twirl_template

    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ecr(1, 0)
    circuit.cz(0, 1)
    template = twirl_template(circuit)
    # one u slot per qubit before the first layer, between consecutive layers and after the last
    assert template.num_parameters == 3 * 8 and template.count_ops()["u"] == 8
    columns = twirl_angles(template, 16, np.random.default_rng(4))
    distinct = {tuple(columns[p.name][r] for p in template.parameters) for r in range(16)}
    assert len(distinct) > 8  # really random Paulis
    for r in range(16):
        bound = template.assign_parameters({p: columns[p.name][r] for p in template.parameters})
        assert Operator(bound).equiv(Operator(circuit))


def test_dynamical_decoupling_runs_on_a_device_and_is_refused_on_the_ideal_simulator():
    from qrt_runner.tasks.runner import run_experiment

    with pytest.raises(ConfigError, match="needs a device's instruction durations"):
        spec_for(["mitigation.dynamical_decoupling.enable=true"])
    spec = spec_for(["experiment=default", "backend=fake_manila", "mitigation.dynamical_decoupling.enable=true", *FAST])
    result = run_experiment(spec)
    assert result.status == "FINISHED"
    assert result.to_dict()["mitigation"]["effective"]["dynamical_decoupling"]["enable"] is True
    assert abs(result.estimator.evs[1] - 1.0) < 0.4  # still a GHZ state


def test_partial_folding_front_and_back_choose_ends():
    circuit = _bell_chain()
    front = fold_two_qubit_gates(circuit, 1.5, "gate_folding_front", seed=0)
    back = fold_two_qubit_gates(circuit, 1.5, "gate_folding_back", seed=0)
    names = lambda c: [i.operation.name for i in c.data]  # noqa: E731
    assert names(front)[:4] == ["h", "cx", "cx", "cx"] and names(back)[-3:] == ["cx", "cx", "cx"]


# --- physics on a noisy fake device -----------------------------------------------------------
def _ghz(n=3) -> QuantumCircuit:
    circuit = QuantumCircuit(n)
    circuit.h(0)
    for q in range(n - 1):
        circuit.cx(q, q + 1)
    return circuit


def _run(mitigation: dict, circuit, observables, seed=3, precision=1 / 64):
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=seed, seed_transpiler=5)
    spec = spec_for([f"mitigation.{k}={v}" for k, v in mitigation.items()])
    options = EstimatorOptions(default_precision=precision, mitigation=finalize(spec.mitigation))
    return Estimator(backend, options=options).run([(circuit, observables)]).result()[0]


def test_trex_cuts_readout_error_on_a_noisy_device():
    circuit = _ghz()
    observables = [SparsePauliOp("ZZZ"), SparsePauliOp.from_list([("ZZI", 1.0), ("IZZ", 1.0)]), SparsePauliOp("XXX")]
    exact = np.array([Statevector(circuit).expectation_value(o).real for o in observables])
    raw = _run({"resilience_level": 0}, circuit, observables)
    trex = _run({"resilience_level": 1}, circuit, observables)
    raw_error = np.abs(raw.data.evs - exact)
    trex_error = np.abs(trex.data.evs - exact)
    margin = 3 * np.hypot(raw.data.stds, trex.data.stds)
    assert np.all(trex_error[1:] < raw_error[1:] - margin[1:])  # the non-zero observables
    assert "trex_calibration" in trex.metadata["mitigation"]
    assert all(0.5 < v < 1.0 for v in trex.metadata["mitigation"]["trex_calibration"].values())


@pytest.mark.parametrize("level, per_term", [(1, True), (2, True), (2, False)])
def test_trex_calibration_error_is_in_the_reported_standard_errors(level, per_term):
    circuit = QuantumCircuit(3)
    circuit.x([0, 1, 2])
    circuit.x([0, 1, 2])  # |000>: <ZZZ> = <ZZI> = 1, read out through the device's readout error
    observables = [SparsePauliOp("ZZZ"), SparsePauliOp("ZZI")]
    small = {  # 64 calibration shots against the PUB's 4096: the calibration's error dominates
        "resilience_level": level,
        "resilience.measure_noise_learning.num_randomizations": 4,
        "resilience.measure_noise_learning.shots_per_randomization": 16,
        "resilience.zne.extrapolate_per_term": str(per_term).lower(),
    }
    scores = []
    for seed in range(16):
        result = _run(small, circuit, observables, seed=seed)
        scores.append((result.data.evs - 1.0) / result.data.stds)
    spread = np.std(scores)
    assert 0.6 < spread < 1.5, spread  # without the calibration's error in the stds: 7 at level 1


def test_trex_calibration_takes_the_twirled_circuits_shots_per_randomisation_unless_set():
    circuit, observables = _ghz(), [SparsePauliOp("ZZZ")]
    twirl = {"resilience_level": 1, "twirling.num_randomizations": 8}
    auto = _run(twirl, circuit, observables).metadata["mitigation"]  # 4096 shots: 512 per randomisation
    assert auto["shots_per_randomization"] == 512
    assert auto["shots_spent"] == 2 * 8 * 512  # IBM's "auto": the twirl's 8 randomisations of 512
    fixed = {
        **twirl,
        "resilience.measure_noise_learning.shots_per_randomization": 16,
        "resilience.measure_noise_learning.num_randomizations": 32,
    }
    assert _run(fixed, circuit, observables).metadata["mitigation"]["shots_spent"] == 8 * 512 + 32 * 16


def _planned_calibration_shots(overrides: list[str], shots: int) -> dict:
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=1)
    options = EstimatorOptions(default_shots=shots, mitigation=finalize(spec_for(overrides).mitigation))
    return Estimator(backend, options=options).plan([(_ghz(), [SparsePauliOp("ZZZ")])]).multipliers


def test_trex_auto_calibration_is_sized_from_the_pubs_shots_not_pecs_sampling_overhead():
    pec = _planned_calibration_shots(["backend=fake_manila", "mitigation=pec"], 4096)
    assert pec["trex_calibration_shots"] == 4096  # 32 x 128, whatever PEC's overhead multiplies
    many = _planned_calibration_shots(["mitigation=level1", "mitigation.twirling.num_randomizations=256"], 8192)
    assert many["trex_calibration_shots"] == 8192  # 256 x 32: the twirl's randomisations too


def test_effective_calibration_and_allocation_say_what_runs():
    readout = spec_for(["mitigation=none", "mitigation.resilience.measure_mitigation=true"]).mitigation
    sampler = finalize(readout, primitive="sampler").to_dict()
    assert sampler["resilience"]["measure_noise_learning"] == {"num_randomizations": 32, "shots_per_randomization": 128}
    estimator = spec_for(["mitigation=level2"]).effective_mitigation.to_dict()["resilience"]
    assert estimator["measure_noise_learning"] == {"num_randomizations": "auto", "shots_per_randomization": "auto"}
    assert estimator["zne"]["shot_allocation"] == "inverse_sqrt"
    service = spec_for(["backend=ibm", "mitigation=level2"]).effective_mitigation.to_dict()["resilience"]
    assert service["zne"]["shot_allocation"] == "equal"  # what the service does


def test_zne_cuts_gate_error_on_a_deep_mirror_circuit():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)  # a Bell state, then a long identity made of CX pairs: <ZZ> = <XX> = 1
    for _ in range(16):
        circuit.barrier()  # keeps the transpiler from cancelling the pairs
        circuit.cx(0, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX")]
    # TREX leaves about 0.03 of gate error on ZZ: 1/128 makes that 4 standard errors, not 2
    trex = _run({"resilience_level": 1}, circuit, observables, precision=1 / 128)
    zne = _run({"resilience_level": 1, "resilience.zne_mitigation": "true"}, circuit, observables, precision=1 / 128)
    trex_error = np.abs(trex.data.evs - 1.0)
    zne_error = np.abs(zne.data.evs - 1.0)
    assert np.all(zne_error < trex_error - 2 * np.hypot(trex.data.stds, zne.data.stds))
    diagnostics = zne.metadata["mitigation"]
    assert diagnostics["noise_factors"] == [1.0, 3.0, 5.0]
    evs_by_factor = np.array(diagnostics["evs_noise_factors"])[0]  # (observables, factors)
    assert np.all(np.diff(evs_by_factor, axis=1) < 0)  # more folding, more noise


def test_level_2_beats_raw_on_a_noisy_ising_energy():
    from qrt_runner.tasks.runner import build_workload, run_experiment

    base = [
        "experiment=ising_estimator",
        "circuit.parameter_values.num_sets=4",
        "circuit.reps=3",
        "primitive.default_precision=0.01",
        "backend=fake_manila",
        *FAST,
    ]
    workload = build_workload(spec_for(base))
    exact = np.array(
        [
            Statevector(workload.circuit.assign_parameters(v)).expectation_value(workload.observables[0][1]).real
            for v in workload.parameter_values
        ]
    )
    raw = run_experiment(spec_for(base + ["mitigation=none"])).estimator
    level2 = run_experiment(spec_for(base + ["mitigation.resilience_level=2"])).estimator
    raw_error = np.abs(raw.evs[:, 0] - exact).mean()
    mitigated_error = np.abs(level2.evs[:, 0] - exact).mean()
    standard_error_of_mean_difference = np.sqrt(np.mean(raw.stds**2 + level2.stds**2) / len(exact))
    assert mitigated_error < raw_error - 2 * standard_error_of_mean_difference


def test_mitigated_cli_run_writes_effective_options_and_diagnostics(tmp_path):
    from qrt_runner.tasks.runner import run_experiment

    spec = spec_for(["experiment=default", "backend=fake_manila", "mitigation=zne", *FAST])
    result = run_experiment(spec)
    data = result.to_dict()
    assert data["mitigation"]["effective"]["resilience"]["zne_mitigation"] is True
    job = data["mitigation"]["jobs"][0]
    assert job["num_circuits"] == 7 and job["shots_spent"] > 0 and len(job["extrapolator"][0]) == 3
    from qrt_runner.records.plots import plot_zne

    path = plot_zne(result, tmp_path / "zne.png")
    assert path is not None and path.stat().st_size > 10_000
    assert plot_zne(run_experiment(spec_for(["experiment=default", *FAST])), tmp_path / "none.png") is None


# --- sampler readout mitigation ---------------------------------------------------------------
def _confuse(probabilities: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Apply per-bit confusion matrices (bit 0 = least significant) to a full distribution."""
    full = np.array([[1.0]])
    for matrix in matrices[::-1]:
        full = np.kron(full, matrix)
    return full @ probabilities


def test_readout_inversion_recovers_a_known_distribution_under_a_known_confusion_model():
    from qrt_runner.mitigation.readout import mitigate

    matrices = np.array([[[0.97, 0.06], [0.03, 0.94]], [[0.9, 0.1], [0.1, 0.9]], [[0.99, 0.02], [0.01, 0.98]]])
    truth = np.array([0.5, 0, 0, 0.1, 0, 0, 0, 0.4])
    observed = _confuse(truth, matrices)
    outcomes, quasi = mitigate(np.arange(8), observed * 1e6, matrices, [0, 1, 2])
    np.testing.assert_allclose(quasi, truth, atol=1e-9)


def test_readout_inversion_of_many_qubits_works_in_the_observed_subspace():
    from qrt_runner.mitigation import readout

    rng = np.random.default_rng(0)
    num_bits = 24
    outcomes = np.unique(rng.integers(0, 2**num_bits, size=300))
    counts = rng.integers(1, 50, size=len(outcomes)).astype(float)
    matrices = np.tile(np.array([[0.98, 0.03], [0.02, 0.97]]), (num_bits, 1, 1))
    _, dense = readout.mitigate(outcomes, counts, matrices, list(range(num_bits)))
    assert dense.shape == outcomes.shape and dense.sum() == pytest.approx(1.0)
    limit = readout._DENSE_LIMIT
    try:
        readout._DENSE_LIMIT = 10  # force the matrix-free GMRES path
        _, iterative = readout.mitigate(outcomes, counts, matrices, list(range(num_bits)))
    finally:
        readout._DENSE_LIMIT = limit
    np.testing.assert_allclose(iterative, dense, atol=1e-6)


def test_sampler_readout_mitigation_raises_ghz_fidelity_on_a_noisy_device():
    from qrt_runner.tasks.runner import run_experiment

    base = ["experiment=ghz_sampler", "backend=fake_manila", *FAST]
    raw = run_experiment(spec_for(base)).sampler
    mitigated = run_experiment(spec_for(base + ["mitigation.resilience.measure_mitigation=true"])).sampler
    assert raw.quasi_dists is None
    assert sum(mitigated.quasi_dists[0].values()) == pytest.approx(1.0)
    assert mitigated.hellinger_fidelity_mitigated[0] > mitigated.hellinger_fidelity[0] + 0.05
    assert all(0 < p01 < 0.2 and 0 < p10 < 0.2 for p01, p10 in mitigated.readout_calibration)


@pytest.mark.parametrize("preset", ["level1", "zne"])
def test_measurement_twirl_continued_from_one_density_matrix_per_parameter_set_agrees_with_statevector(preset):
    """Level 1 and ZNE by folding share one simulation of the circuit per parameter set and noise
    factor: every set still gets its own values, within 4 standard errors of the exact ones."""
    from qiskit.circuit import Parameter

    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX"), SparsePauliOp("ZI")]
    values = np.array([[0.3], [1.2], [2.5]])
    exact = np.array(
        [[Statevector(circuit.assign_parameters(v)).expectation_value(o).real for o in observables] for v in values]
    )
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=2)
    options = EstimatorOptions(
        default_precision=1 / 64, mitigation=finalize(spec_for([f"mitigation={preset}"]).mitigation)
    )
    result = Estimator(backend, options=options).run([(circuit, observables, values[:, None, :])]).result()[0]
    assert result.data.evs.shape == (3, 3)
    assert np.all(np.abs(result.data.evs - exact) < 4 * result.data.stds)
    assert np.ptp(result.data.evs[:, 2]) > 1  # <ZI> = cos(theta) differs between the sets


@pytest.mark.parametrize("dressed", [False, True])
def test_gate_twirled_bases_continued_from_one_density_matrix_per_randomisation_agree(dressed, monkeypatch):
    """Level 2 measuring in several bases simulates each randomisation of each noise factor once
    (``row`` prefixes) and continues every basis from it: the values agree with a run that
    simulates every basis whole (same shots spent), and with the exact ones."""
    from qiskit.circuit import Parameter

    from qrt_runner.primitives import estimator_plan

    theta = Parameter("theta")
    circuit = QuantumCircuit(3)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    observables = [SparsePauliOp("ZZI"), SparsePauliOp("XXX"), SparsePauliOp("IYY"), SparsePauliOp("IIZ")]
    values = np.array([[0.4], [2.0]])
    exact = np.array(
        [[Statevector(circuit.assign_parameters(v)).expectation_value(o).real for o in observables] for v in values]
    )
    overrides = ["mitigation=level2", f"mitigation.twirling.dressing_noise={str(dressed).lower()}"]
    mitigation = finalize(spec_for(overrides).mitigation)
    modes = []
    original = estimator_plan._PubPlan._prefix_mode

    def recorded(plan, backend):
        modes.append(original(plan, backend))
        return modes[-1]

    monkeypatch.setattr(estimator_plan._PubPlan, "_prefix_mode", recorded)

    def run():
        backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=4)
        options = EstimatorOptions(default_precision=1 / 64, mitigation=mitigation)
        return Estimator(backend, options=options).run([(circuit, observables, values[:, None, :])]).result()[0]

    shared = run()
    monkeypatch.setattr(estimator_plan, "ROW_STATES_BYTES", 0)  # too little room: every basis simulated whole
    whole = run()
    assert modes == ["row", ""]
    assert shared.metadata["mitigation"]["shots_spent"] == whole.metadata["mitigation"]["shots_spent"]
    assert np.all(np.abs(shared.data.evs - whole.data.evs) < 4 * np.hypot(shared.data.stds, whole.data.stds))
    assert np.all(np.abs(shared.data.evs - exact) < 4 * shared.data.stds)
    assert np.ptp(shared.data.evs[:, 3]) > 1  # <Z> of qubit 0 = cos(theta) differs between the sets


def test_zne_shares_shots_among_noise_factors_by_inverse_square_root_unless_equal():
    circuit, observables = _ghz(), [SparsePauliOp("ZZI"), SparsePauliOp("XXX")]
    level2 = {"resilience_level": 2, "twirling.num_randomizations": 8}
    weighted = _run(level2, circuit, observables).metadata["mitigation"]  # 4096 shots: 512 per randomisation
    raw = np.array([1, 3, 5]) ** -0.5
    expected = np.round(512 * raw / raw.mean()).astype(int).tolist()
    assert weighted["shots_per_randomization_by_factor"] == expected == [759, 438, 339]
    assert sum(weighted["shots_per_randomization_by_factor"]) == 3 * 512  # the total of an equal split
    bases = 2  # ZZI and XXX
    assert weighted["shots_spent"] == 8 * bases * sum(expected) + 8 * 512  # plus TREX's calibration
    equal = _run({**level2, "resilience.zne.shot_allocation": "equal"}, circuit, observables).metadata["mitigation"]
    assert "shots_per_randomization_by_factor" not in equal
    assert equal["shots_spent"] == 8 * bases * 3 * 512 + 8 * 512
    assert finalize(spec_for(["mitigation=level2"]).mitigation).to_dict()["resilience"]["zne"]["shot_allocation"] == (
        "inverse_sqrt"
    )


def test_zne_gives_high_noise_factors_fewer_randomisations_of_more_shots_unless_equal():
    circuit, observables = _ghz(), [SparsePauliOp("ZZI"), SparsePauliOp("XXX")]
    exact = np.array([Statevector(circuit).expectation_value(o).real for o in observables])
    level2 = {
        "resilience_level": 2,
        "twirling.num_randomizations": 8,
        "resilience.zne.randomization_allocation": "inverse_factor",
    }
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=3, seed_transpiler=5)
    mitigation = finalize(spec_for([f"mitigation.{k}={v}" for k, v in level2.items()]).mitigation)
    options = EstimatorOptions(default_precision=1 / 64, mitigation=mitigation)
    job = Estimator(backend, options=options).run([(circuit, observables)])  # 4096 shots: 512 per randomisation
    result = job.result()[0]
    thinned = result.metadata["mitigation"]
    assert thinned["randomizations_by_factor"] == [8, 3, 2]  # ceil(8 / f)
    per_randomization = [759, 438, 339]  # 1/sqrt(f) of 512 (see above), each factor's total kept, rounded up
    assert (
        thinned["shots_per_randomization_by_factor"]
        == [-(-8 * s // r) for s, r in zip(per_randomization, [8, 3, 2])]
        == [759, 1168, 1356]
    )
    bases = 2  # ZZI and XXX
    assert thinned["shots_spent"] == bases * (8 * 759 + 3 * 1168 + 2 * 1356) + 8 * 512  # plus TREX's calibration
    assert job.shots_spent == thinned["shots_spent"]  # counted in the outcomes the simulator returned
    assert np.all(np.abs(result.data.evs - exact) < 4 * result.data.stds)
    level2.pop("resilience.zne.randomization_allocation")  # the default: IBM's, every factor all of them
    equal = _run(level2, circuit, observables)
    assert "randomizations_by_factor" not in equal.metadata["mitigation"]
    assert equal.metadata["mitigation"]["shots_per_randomization_by_factor"] == per_randomization
    effective = spec_for(["mitigation=level2"]).effective_mitigation.to_dict()["resilience"]["zne"]
    assert effective["randomization_allocation"] == "equal"
    service = spec_for(["backend=ibm", "mitigation=level2"]).effective_mitigation.to_dict()["resilience"]["zne"]
    assert service["randomization_allocation"] == "equal"  # what the service does
    with pytest.raises(ConfigError, match="randomization_allocation='inverse_factor': the hardware service runs"):
        spec_for(
            ["backend=ibm", "mitigation=level2", "mitigation.resilience.zne.randomization_allocation=inverse_factor"]
        )


@pytest.mark.parametrize(
    "mitigation",
    [
        {  # "row" prefixes, measurement circuits without parameters (no measurement twirl)
            "resilience_level": 2,
            "twirling.enable_measure": "false",
            "resilience.measure_mitigation": "false",
        },
        {"resilience_level": 1, "resilience.zne_mitigation": "true"},  # "set" prefixes: twirled readout only
    ],
)
def test_fewer_randomisations_at_high_noise_factors_in_every_prefix_mode(mitigation):
    circuit, observables = _ghz(), [SparsePauliOp("ZZI"), SparsePauliOp("XXX")]

    def run(allocation):
        settings = {
            **mitigation,
            "twirling.num_randomizations": 8,
            "resilience.zne.randomization_allocation": allocation,
        }
        backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=3, seed_transpiler=5)
        spec = spec_for([f"mitigation.{k}={v}" for k, v in settings.items()])
        options = EstimatorOptions(default_precision=1 / 64, mitigation=finalize(spec.mitigation))
        job = Estimator(backend, options=options).run([(circuit, observables)])
        return job, job.result()[0]

    job, thinned = run("inverse_factor")
    record = thinned.metadata["mitigation"]
    assert record["randomizations_by_factor"] == [8, 3, 2]
    assert job.shots_spent == record["shots_spent"]
    _, equal = run("equal")  # the same estimate (readout error left in where there is no TREX)
    assert np.all(np.abs(thinned.data.evs - equal.data.evs) < 4 * np.hypot(thinned.data.stds, equal.data.stds))


def test_pea_refuses_fewer_randomisations_at_high_noise_factors():
    with pytest.raises(ConfigError, match="randomization_allocation='inverse_factor': PEA samples its injected noise"):
        spec_for(
            [
                "backend=fake_manila",
                "mitigation=pea",
                "mitigation.resilience.zne.randomization_allocation=inverse_factor",
            ]
        )


def test_unequal_shot_allocation_is_refused_for_the_hardware_service():
    with pytest.raises(ConfigError, match="shot_allocation='inverse_sqrt': the hardware service gives every noise"):
        spec_for(["backend=ibm", "mitigation=level2", "mitigation.resilience.zne.shot_allocation=inverse_sqrt"])
    spec_for(["backend=ibm", "mitigation=level2", "mitigation.resilience.zne.shot_allocation=equal"])


def test_the_hardware_service_records_the_extrapolator_rule_and_split_it_applies():
    """Unset, qrt_runner's own ZNE options record what IBM's service does, not the local defaults."""
    service = spec_for(["backend=ibm", "mitigation=level2"]).effective_mitigation.resilience.zne
    assert (service.extrapolator_choice, service.shot_allocation) == ("order", "equal")
    local = spec_for(["backend=fake_manila", "mitigation=level2"]).effective_mitigation.resilience.zne
    assert (local.extrapolator_choice, local.shot_allocation) == ("uncertainty", "inverse_sqrt")
