"""Layer noise learned in the simulator: the learning circuits, the learned rates against the noise
actually simulated (the derived model), PEC and PEA with the learned model against exact values,
the model file, IBM's call shapes, the config, and ``qrt-run`` (MLflow artifact, replay, estimate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from qiskit import QuantumCircuit, QuantumRegister
from qiskit.quantum_info import SparsePauliOp, Statevector

from conftest import run_cli, spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.layer_noise import DeviceLayerNoise, load_layer_noise
from qrt_runner.mitigation.noise_learning import (
    LayerToLearn,
    LearnedLayerNoise,
    LearningOptions,
    learned,
    learning_circuit,
    measurement_bases,
)
from qrt_runner.mitigation.noise_learning_file import write_learned
from qrt_runner.mitigation.noise_learning_fit import conjugate_label, learnable_projection, model_fidelity
from qrt_runner.mitigation.options import finalize
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

DEVICE = "fake_manila"
# small enough for 2 busy cores (~2 s a layer), precise enough that the rates are known to ~30 %
OPTIONS = LearningOptions((0, 1, 2, 4, 8, 16), 16, 64)
LEARNING = [
    "mitigation.layer_noise.num_randomizations=16",
    "mitigation.layer_noise.shots_per_randomization=64",
    "mitigation.layer_noise.layer_pair_depths=[0,1,2,4,8,16]",
]
CLI_CASE = [
    "experiment=ising_estimator",
    "circuit.num_qubits=3",
    "circuit.reps=1",
    "circuit.parameter_values.num_sets=1",
    "backend=fake_manila",
    "mitigation=pec",
    "primitive.default_precision=0.05",
    "mitigation.layer_noise.source=learned",
]
Z_MAX = 4.0  # every learned value within 4 of its own standard deviations (15-39 values per layer)


@pytest.mark.parametrize("dressed", [False, True])
def test_learning_circuits_return_every_qubit_to_zero_without_noise(dressed):
    """Preparation, 2d twirled layers and the rotation back are the identity for every basis and twirl."""
    layer = LayerToLearn((("cx", 0, 1), ("cx", 2, 3)), (0, 1, 2, 3), dressed)
    bases = measurement_bases(4, [(0, 1), (1, 2), (2, 3)])
    assert len(bases) == 9 and {(b[1], b[2]) for b in bases} == {(a, c) for a in "XYZ" for c in "XYZ"}
    rng = np.random.default_rng(1)
    from qrt_runner.mitigation.twirling import twirl_angles

    for basis in bases[::4]:
        for depth in (0, 2):
            circuit = learning_circuit(layer, basis, depth)
            angles = {**twirl_angles(circuit, 1, rng), **{f"qrt_mt_{q}": np.array([np.pi]) for q in range(4)}}
            bound = circuit.assign_parameters({p: float(angles[p.name][0]) for p in circuit.parameters})
            assert Statevector(bound.remove_final_measurements(inplace=False)).probabilities()[0] == pytest.approx(1)


@pytest.mark.parametrize("dressed", [False, True])
def test_learned_rates_agree_with_the_simulated_model_within_their_error_bars(dressed):
    """fake_manila cx(0, 1), twirled as the estimator twirls (plain or with IBM's dressings): every
    pair fidelity f_P f_P' (what learning without SPAM can know) matches the derived model's within
    its error bar, and so do the rates against the derived model's learnable projection (its
    fidelities with the pairs' symmetry assumption); fixed Paulis' generators agree raw too."""
    key = (("cx", 0, 1),)
    layer = LayerToLearn(key, (0, 1), dressed)
    result = learned(DEVICE, layer, OPTIONS, seed=11)
    dressing = (("sx", 0), ("sx", 0), ("sx", 1), ("sx", 1)) if dressed else ()
    truth = DeviceLayerNoise(DEVICE).model(key, dressing)
    labels = list(result.fit.labels)
    assert len(labels) == 15
    partners = {label: conjugate_label(label, layer.compact_gates()) for label in labels}
    pairs, projected = learnable_projection(labels, partners, truth.labels, truth.rates)
    pair_z = [(result.pair_fidelities[p][0] - pairs[p]) / result.pair_fidelities[p][1] for p in labels]
    rate_z = [(r - t) / s for r, t, s in zip(result.fit.rates, projected, result.fit.rates_std)]
    assert max(map(abs, pair_z)) < Z_MAX and np.mean(np.square(pair_z)) < 3, pair_z
    assert max(map(abs, rate_z)) < Z_MAX and np.mean(np.square(rate_z)) < 3, rate_z
    # and the bars are not inflated: honest ones give mean squares of 0.7-1.4 per seed
    assert np.mean(np.square(pair_z)) > 0.2 and np.mean(np.square(rate_z)) > 0.2, (pair_z, rate_z)
    assert all(s < 0.5 * max(truth.rates) for s in result.fit.rates_std)  # the bars are informative
    fixed = [p for p in labels if partners[p] == p]
    assert fixed and all(
        abs(model_fidelity(p, truth.labels, truth.rates) ** 2 - result.pair_fidelities[p][0])
        < Z_MAX * result.pair_fidelities[p][1]
        for p in fixed
    )


def _mirror(pairs: int = 8) -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    for _ in range(2 * pairs):
        circuit.barrier()
        circuit.cx(0, 1)
    return circuit


def _estimate(overrides: list[str], seed: int = 5):
    spec = spec_for(["backend=fake_manila", *overrides])
    backend = LocalBackend.create(DEVICE, threads=1, seed_simulator=seed, seed_transpiler=5)
    options = EstimatorOptions(default_precision=1 / 48, mitigation=finalize(spec.mitigation))
    observables = [SparsePauliOp("ZZ"), SparsePauliOp("XX")]
    return Estimator(backend, options=options).run([(_mirror(), observables)]).result()[0]


@pytest.mark.parametrize("technique", ["mitigation=pec", "mitigation=pea"])
def test_mitigation_with_the_learned_model_is_as_accurate_as_with_the_derived_one(technique):
    """Bell state through 17 cx: exact <ZZ> = <XX> = 1 (Statevector). With the learned model the
    error is within the derived model's error plus 3 standard errors, and both are within 4 of
    exact; the raw value is far off."""
    exact = np.array([Statevector(_mirror()).expectation_value(SparsePauliOp(p)).real for p in ("ZZ", "XX")])
    raw = _estimate(["mitigation=none"])
    derived = _estimate([technique, "mitigation.layer_noise.source=device"])
    learned_run = _estimate([technique, "mitigation.layer_noise.source=learned", *LEARNING])
    assert learned_run.metadata["mitigation"]["layer_noise_model"]["source"] == f"learned on {DEVICE}"
    assert np.all(np.abs(raw.data.evs - exact) > 0.05)
    for result in (derived, learned_run):
        assert np.all(np.abs(result.data.evs - exact) < 4 * result.data.stds + 0.02), result.data.evs
    learned_error, derived_error = np.abs(learned_run.data.evs - exact), np.abs(derived.data.evs - exact)
    assert np.all(learned_error <= derived_error + 3 * np.hypot(learned_run.data.stds, derived.data.stds))


def test_a_learned_model_file_round_trips_and_mitigates_identically(tmp_path):
    """Learned layers written as a model file read back with the same rates; the model a PEC run
    learned and recorded, given back as source=file, gives the same values (same model, same draws)."""
    source = LearnedLayerNoise(DEVICE, OPTIONS, dressed=False, seed=5)
    model = source.model((("cx", 0, 1),))
    path = write_learned(tmp_path / "learned.json", list(source.layers.values()), OPTIONS, DEVICE)
    data = json.loads(path.read_text())
    assert data["layers"][0]["rates_std"] and data["layers"][0]["pair_fidelities"]["ZZ"]["std"] > 0
    assert data["learning"]["shots"] == 9 * 6 * 16 * 64
    assert load_layer_noise(str(path)).model((("cx", 0, 1),)) == model
    from_learning = _estimate(["mitigation=pec", "mitigation.layer_noise.source=learned", *LEARNING])
    recorded = from_learning.metadata["mitigation"]["layer_noise_model"]
    assert recorded["learning"]["layers_learned"] == 1 and recorded["num_unmodelled_layers"] == 0
    (tmp_path / "recorded.json").write_text(json.dumps(recorded))
    file = f"mitigation.layer_noise.file={tmp_path / 'recorded.json'}"
    from_file = _estimate(["mitigation=pec", "mitigation.layer_noise.source=file", file])
    np.testing.assert_array_equal(from_file.data.evs, from_learning.data.evs)


def test_noise_learner_v3_and_v2_keep_ibm_call_shapes_and_result_types():
    """IBM's local mode refuses; ours learns a boxed layer (IBM's find_unique_layers shape) into IBM's
    result classes; the maps go back into qrt_runner's layer model; the V2 learner finds the most
    frequent unique layers of its circuits, at most max_layers_to_learn."""
    from qiskit_ibm_runtime import NoiseLearnerV3 as IbmNoiseLearnerV3
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    from qiskit_ibm_runtime.options import NoiseLearnerOptions
    from qiskit_ibm_runtime.results import LayerError, NoiseLearnerResult, NoiseLearnerV3Results

    from qrt_runner.runtime.noise_learner import NoiseLearner, NoiseLearnerV3, layer_model

    with pytest.raises(ValueError, match="not supported in local mode"):
        IbmNoiseLearnerV3(FakeManilaV2())
    boxed = QuantumCircuit(QuantumRegister(5, "q"))
    with boxed.box():
        boxed.cx(0, 1)
    options = {"layer_pair_depths": list(OPTIONS.layer_pair_depths), "num_randomizations": 16}
    options["shots_per_randomization"] = 64
    learner = NoiseLearnerV3(FakeManilaV2(), options)
    job = learner.run([boxed.data[0]])
    results = job.result()
    assert isinstance(results, NoiseLearnerV3Results) and job.status() == "DONE" and len(results) == 1
    (pauli_map,) = results.to_pauli_lindblad_maps()
    assert pauli_map.num_qubits == 5 and pauli_map.num_terms == 15
    key, model = layer_model(boxed.data[0], pauli_map, 5)
    reference = learned(DEVICE, LayerToLearn(key, (0, 1)), OPTIONS, seed=0).model()
    nonzero = {label: rate for label, rate in zip(model.labels, model.rates) if rate > 0}
    assert key == (("cx", 0, 1),) and nonzero == pytest.approx(dict(zip(reference.labels, reference.rates)))
    circuit = QuantumCircuit(5)
    for _ in range(3):
        circuit.cx(0, 1)
    circuit.cx(1, 2)
    v2_options = NoiseLearnerOptions(layer_pair_depths=[0, 1, 2, 4], num_randomizations=4, shots_per_randomization=32)
    v2_options.max_layers_to_learn = 1
    result = NoiseLearner(FakeManilaV2(), v2_options).run([circuit]).result()
    assert isinstance(result, NoiseLearnerResult) and len(result) == 1 and isinstance(result[0], LayerError)
    assert result[0].qubits == [0, 1] and len(result[0].error.rates) == 15


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["mitigation.layer_noise.source=file"], "mitigation.layer_noise.source"),
        (
            ["mitigation.layer_noise.source=learned", "mitigation.layer_noise.file=x.json"],
            "mitigation.layer_noise.source",
        ),
        (["mitigation.layer_noise.layer_pair_depths=[4]"], "mitigation.layer_noise.layer_pair_depths"),
        (["mitigation.layer_noise.num_randomizations=0"], "mitigation.layer_noise.num_randomizations"),
        (["mitigation.layer_noise.source=guessed"], "mitigation.layer_noise.source"),
    ],
)
def test_layer_noise_config_is_refused_in_one_line(overrides, key):
    with pytest.raises(ConfigError) as caught:
        finalize(spec_for(["backend=fake_manila", "mitigation=pec", *overrides]).mitigation)
    assert caught.value.key == key and "\n" not in str(caught.value)


def test_estimate_counts_the_learning_without_running_it(monkeypatch):
    """qrt-run estimate's learning line: the ISA circuit's unique layers x nine bases x depths x
    randomisations x shots, and the jobs planned with the device's model (nothing learned)."""
    from qrt_runner.mitigation import noise_learning
    from qrt_runner.tasks.estimate import estimate, format_estimate
    from qrt_runner.tasks.workload import build_workload

    spec = spec_for([*CLI_CASE, *LEARNING, "mitigation.layer_noise.max_layers_to_learn=1"])
    monkeypatch.setattr(noise_learning, "learn_layer", lambda *a, **k: pytest.fail("the estimate learned"))
    est = estimate(spec, build_workload(spec))
    learning = est["layer_noise_learning"]
    assert learning["layers"] == 1 and learning["layers_not_learned"] == 1
    assert learning["shots"] == 9 * 6 * 16 * 64 and learning["qpu_s"] > 3
    assert est["total"]["jobs"] == 2 and est["total"]["shots"] == est["jobs"][0]["shots"] + learning["shots"]
    assert f"{9 * 6 * 16:,} randomised circuits, {9 * 6 * 16 * 64:,} shots" in format_estimate(est)


@pytest.mark.slow
def test_cli_learns_logs_the_model_with_residuals_and_replays_it(tmp_path):
    from mlflow import MlflowClient

    base = [*CLI_CASE, *LEARNING, "backend.max_parallel_threads=1"]
    result = run_cli(base, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p.parent for p in tmp_path.glob("outputs/*/*/results.json")]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    local = client.download_artifacts(run.info.run_id, "layer_noise_model.json", str(tmp_path))
    model = json.loads(Path(local).read_text())
    assert model["source"] == f"learned on {DEVICE}" and model["learning"]["layers_learned"] == 2
    layer = model["layers"][0]
    assert set(layer["generators"]) <= set(layer["rates_std"]) and "max_abs_model_residual_std" in layer
    assert all("model_residual_std" in entry for entry in layer["pair_fidelities"].values())
    replay = run_cli(["replay", str(run_dir), "tracking=none"], cwd=tmp_path)
    assert replay.returncode == 0, replay.stderr
    report = replay.stdout.split("qrt-run replay of", 1)[1]
    assert "evs: identical" in report and "differ" not in report


def test_a_learned_model_across_gates_is_cancelled_exactly_in_small_channels():
    """Generators across two gates (a learned model's weight-2 terms on the edge between them) do
    not merge the gates' channels into one wide channel: each support gets its own (at most two
    qubits and the sign qubit), and the product is still the model: gamma <Q Z_sign> = <Q> / f_Q."""
    from qiskit.quantum_info import Pauli
    from qiskit_aer import AerSimulator

    from qrt_runner.mitigation.layer_channels import LayerNoisePlan, with_channels
    from qrt_runner.mitigation.layer_noise import FileLayerNoise, PauliLindblad
    from qrt_runner.mitigation.twirling import twirl_template

    labels, rates = ("IIIX", "IIZZ", "IXXI", "IZYI", "ZZII", "XIII"), (0.03, 0.02, 0.04, 0.01, 0.05, 0.02)
    model = PauliLindblad((0, 1, 2, 3), labels, rates)
    key = (("cx", 0, 1), ("cx", 2, 3))
    layer = QuantumCircuit(4)
    layer.cx(0, 1)
    layer.cx(2, 3)
    template = twirl_template(layer)
    plan = LayerNoisePlan(template, (0, 1, 2, 3), FileLayerNoise("test", {(key, ()): model}))
    channels = plan.channels(1.0, 4)[0]
    assert len(channels) == 5 and all(len(qubits) <= 3 for _, qubits in channels)
    corrected = with_channels(template, plan.channels(1.0, 4), sign=True)
    state = QuantumCircuit(5)
    for qubit in range(4):
        state.h(qubit)
    state.s(1)
    full = state.compose(corrected.assign_parameters({p: 0.0 for p in corrected.parameters}))
    fidelities = {label: model_fidelity(label, labels, rates) for label in ("XXXX", "IXYZ", "XIZY", "IIYZ")}
    assert len(set(fidelities.values())) == 3 and min(fidelities.values()) < 0.9
    for label in fidelities:
        noiseless = (
            Statevector(state.remove_final_measurements(inplace=False))
            .evolve(layer, qargs=[0, 1, 2, 3])
            .expectation_value(Pauli("I" + label))
        )
        assert abs(noiseless) > 0.5
        run = full.copy()
        run.save_expectation_value(Pauli("Z" + label), range(5))
        value = AerSimulator(method="density_matrix").run(run).result().data(0)["expectation_value"]
        gamma = np.exp(2 * sum(rates))
        assert gamma * value == pytest.approx(noiseless.real / model_fidelity(label, labels, rates), abs=1e-9), label


def test_a_decay_fit_that_fails_is_refused_not_replaced():
    """Synthetic decays: an honest one gives its fidelity; no signal (values around 0), a negative
    amplitude, or a fidelity left undetermined is refused in one line naming the Pauli, never a
    stand-in number (the old fallback gave 0.71 +- 2.4 for no signal)."""
    from qrt_runner.mitigation.noise_learning_fit import fit_decay

    depths = np.array([0.0, 1, 2, 4, 8, 16])
    stds = np.full(6, 0.02)
    lam, lam_std, amplitude, chi2 = fit_decay(depths, 0.95 * 0.97**depths, stds)
    assert lam == pytest.approx(0.97, abs=1e-6) and amplitude == pytest.approx(0.95, abs=1e-6) and chi2 < 1e-6
    assert 0 < lam_std < 0.01
    no_signal = np.random.default_rng(3).normal(0.0, 0.02, size=6)
    for values in (no_signal, -0.9 * 0.97**depths):
        with pytest.raises(ConfigError, match="decay of Pauli XZ of layer L cannot be fitted") as caught:
            fit_decay(depths, values, stds, "Pauli XZ of layer L")
        assert "shorter layer_pair_depths" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="undetermined"):
        fit_decay(np.array([0.0, 1]), np.array([0.9, 0.45]), np.array([0.02, 0.5]))


def test_learning_without_signal_names_the_pauli_and_the_layer():
    """Pair depths far past the decay (no signal left at any depth) are refused by learn_layer,
    naming the Pauli and the layer."""
    from qrt_runner.mitigation.noise_learning import learn_layer

    layer = LayerToLearn((("cx", 0, 1),), (0, 1))
    with pytest.raises(ConfigError, match=r"decay of Pauli [IXYZ]{2} of layer cx\(0,1\) on fake_manila qubits"):
        learn_layer(DEVICE, layer, LearningOptions((60, 120), 1, 8), seed=3)


def test_learning_learns_the_noise_the_backend_simulates():
    """backend.noise reaches the learned source: its own cache key per noise, the Pauli form named
    in the record's source, and with noise=none the learned rates are exactly zero (the full device
    model would give rates of ~1e-2)."""
    from qrt_runner.mitigation.options import LayerNoiseOptions
    from qrt_runner.mitigation.techniques.learned_noise import layer_noise_plan, layer_noise_signature
    from qrt_runner.mitigation.twirling import twirl_template

    learning = LayerNoiseOptions("learned", None, (0, 1, 2, 4), 4, 32, None)
    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    template = twirl_template(layer)
    infos = {
        noise: LocalBackend.create(DEVICE, threads=1, seed_simulator=3, noise=noise).device_info((0, 1))
        for noise in ("device", "pauli", "none")
    }
    assert len({layer_noise_signature(None, info, learning) for info in infos.values()}) == 3
    plans = {noise: layer_noise_plan(template, None, info, learning) for noise, info in infos.items()}
    assert (
        plans["pauli"].source.noise == "pauli" and plans["pauli"].source.source == f"learned on {DEVICE} (pauli noise)"
    )
    assert plans["device"].source.source == f"learned on {DEVICE}"
    assert plans["none"].source.model((("cx", 0, 1),)).rates == ()


def test_both_noise_learner_shapes_refuse_experimental_options_by_name():
    """IBM's ``experimental`` options are not simulated: V3 and V2 refuse them in one line."""
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2
    from qiskit_ibm_runtime.options import NoiseLearnerOptions

    from qrt_runner.runtime.noise_learner import NoiseLearner, NoiseLearnerV3

    circuit = QuantumCircuit(5)
    circuit.cx(0, 1)
    v2_options = NoiseLearnerOptions()
    v2_options.experimental = {"anything": 1}
    for learner in (
        NoiseLearnerV3(FakeManilaV2(), {"experimental": {"anything": 1}}),
        NoiseLearner(FakeManilaV2(), v2_options),
    ):
        with pytest.raises(ConfigError, match="options.experimental") as caught:
            learner.run([circuit] if isinstance(learner, NoiseLearner) else [(("cx", 0, 1),)])
        assert "\n" not in str(caught.value)


def test_a_learned_run_of_several_jobs_is_replayed_with_every_jobs_layers(tmp_path):
    """Jobs that learned different layers: the record's model file and the replay hold every job's
    layers (not the first job's only); jobs that give one layer different models are refused."""
    from qrt_runner.records.results import merged_layer_noise_model
    from qrt_runner.reproduce.replay import Record, replay_overlay

    def job(gates, rate, unmodelled=0):
        layer = {
            "gates": gates,
            "qubits": sorted({q for g in gates for q in g[1:]}),
            "generators": {"IX": rate},
            "learning_cost": {"circuits": 9},
        }
        layer["learning_cost"].update(shots=90, wall_s=1.0)
        learning = {"options": {"num_randomizations": 1}, "layers_learned": 1, "circuits": 9, "shots": 90}
        learning.update(layers_not_learned=0, wall_s=1.0)
        source = f"learned on {DEVICE}"
        return {
            "source": source,
            "num_layers": 2,
            "num_unmodelled_layers": unmodelled,
            "layers": [layer],
            "learning": learning,
        }

    first, second = job([["cx", 0, 1]], 0.01), job([["cx", 1, 2]], 0.02)
    assert merged_layer_noise_model([first, None, first]) is first
    merged = merged_layer_noise_model([first, second])
    assert [layer["gates"] for layer in merged["layers"]] == [[["cx", 0, 1]], [["cx", 1, 2]]]
    assert merged["learning"]["layers_learned"] == 2 and merged["learning"]["shots"] == 180
    assert "num_unmodelled_layers" not in merged and "total_rate" not in merged
    with pytest.raises(ValueError, match=r"differ on layer \[\['cx', 0, 1\]\]"):
        merged_layer_noise_model([first, job([["cx", 0, 1]], 0.03)])
    config = {"mitigation": {"layer_noise": {"source": "learned"}}}

    def replayed(jobs):
        results = {"mitigation": {"jobs": [{"layer_noise_model": model} for model in jobs]}}
        record = Record("run", None, tmp_path, json.loads(json.dumps(config)), results, [])
        return replay_overlay(record, [])["mitigation"]["layer_noise"]

    layer_noise = replayed([first, second])
    assert layer_noise["source"] == "file" and load_layer_noise(layer_noise["file"]).model((("cx", 1, 2),)).rates == (
        0.02,
    )
    for jobs in ([first, job([["cx", 0, 1]], 0.03)], [first, job([["cx", 1, 2]], 0.02, unmodelled=1)]):
        with pytest.raises(ConfigError, match="cannot be replayed") as caught:
            replayed(jobs)
        assert "\n" not in str(caught.value)
