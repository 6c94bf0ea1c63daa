"""PEC and PEA: layer noise models, their channels, twirling strategies, and physics on a noisy device."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator, Pauli, SparsePauliOp

from conftest import run_cli, spec_for
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.layer_channels import LayerNoisePlan, with_channels
from qrt_runner.mitigation.layer_noise import (
    DeviceLayerNoise,
    FileLayerNoise,
    PauliLindblad,
    anticommutes,
    gate_model,
    load_layer_noise,
    pauli_fidelities,
    single_gate_model,
)
from qrt_runner.mitigation.options import finalize
from qrt_runner.mitigation.twirling import twirl_angles, twirl_layers, twirl_template
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

DEPTH = 32


def _mirror() -> QuantumCircuit:
    """A Bell state, then 32 CX kept apart by barriers (an identity): <ZZ> = <XX> = 1 exactly."""
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    for _ in range(DEPTH):
        circuit.barrier()
        circuit.cx(0, 1)
    return circuit


def _run(overrides: list[str], circuit=None, observables=None, seed=3):
    spec = spec_for(["backend=fake_manila", *overrides])
    backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=seed, seed_transpiler=5)
    options = EstimatorOptions(default_precision=1 / 32, mitigation=finalize(spec.mitigation))
    circuit = circuit if circuit is not None else _mirror()
    observables = observables or [SparsePauliOp("ZZ"), SparsePauliOp("XX")]
    return Estimator(backend, options=options).run([(circuit, observables)]).result()[0]


def test_device_gate_model_reproduces_the_twirled_gate_error_exactly():
    from qiskit_aer.noise.device.models import basic_device_gate_errors

    from qrt_runner.execution.fake_backends import fake_backend
    from qrt_runner.execution.simulation.noise import sub_target

    model = gate_model("fake_manila", "cx", 1, 2)
    assert len(model.labels) == 15 and all(rate > 0 for rate in model.rates)
    errors = {
        (n, tuple(q)): e
        for n, q, e in basic_device_gate_errors(target=sub_target(fake_backend("fake_manila").target, (1, 2)))
    }
    for label, fidelity in pauli_fidelities(errors[("cx", (0, 1))]).items():
        predicted = np.exp(-2 * sum(r for g, r in zip(model.labels, model.rates) if anticommutes(label, g)))
        assert predicted == pytest.approx(fidelity, abs=1e-9)


def _fidelity(model: PauliLindblad, label: str) -> float:
    return float(np.exp(-2 * sum(r for g, r in zip(model.labels, model.rates) if anticommutes(label, g))))


def _exact_pauli_expectation(circuit: QuantumCircuit, label: str, sign_qubit: int | None = None) -> float:
    """<label> (times the sign qubit's Z when given) of ``circuit``'s final state, by density matrix."""
    from qiskit_aer import AerSimulator

    run = circuit.copy()
    qubits = list(range(len(label))) + ([sign_qubit] if sign_qubit is not None else [])
    run.save_expectation_value(Pauli(("Z" if sign_qubit is not None else "") + label), qubits)
    return float(AerSimulator(method="density_matrix").run(run).result().data(0)["expectation_value"])


@pytest.mark.parametrize("scale", [1.0, 2.0])
@pytest.mark.parametrize("sign", [True, False])
def test_layer_channels_cancel_or_amplify_the_model(sign, scale):
    """PEC (sign qubit): gamma * <Q x Z_sign> = <Q> / f_Q**scale; PEA: <Q> f_Q**scale, exactly."""
    model = PauliLindblad((0, 1), ("XI", "IZ", "YY"), (0.05, 0.02, 0.08))
    source = FileLayerNoise("test", {((("cx", 0, 1),), ()): model})
    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    plan = LayerNoisePlan(twirl_template(layer), (0, 1), source)
    assert plan.total_rate == pytest.approx(0.15)
    gamma = np.exp(2 * scale * 0.15) if sign else 1.0
    for label, prepare in (
        ("ZZ", []),
        ("XX", ["h0", "h1"]),
        ("YZ", ["h1", "s1"]),
        ("XZ", ["h1"]),
        ("XY", ["h0", "s0", "h1"]),
    ):
        state = QuantumCircuit(2)
        for gate in prepare:  # a state with <Q> != 0 after the cx
            getattr(state, gate[0])(int(gate[1]))
        template = twirl_template(layer)
        corrected = with_channels(template, plan.channels(scale, 2 if sign else None), sign=sign)
        assert len(corrected.data) == len(template.data) + 1  # one channel right behind the layer
        full = QuantumCircuit(corrected.num_qubits)
        full.compose(state, qubits=[0, 1], inplace=True)
        full.compose(corrected.assign_parameters({p: 0.0 for p in corrected.parameters}), inplace=True)
        noiseless = _exact_pauli_expectation(state.compose(layer), label)
        assert abs(noiseless) > 0.5
        value = gamma * _exact_pauli_expectation(full, label, 2 if sign else None)
        fidelity = _fidelity(model, label)
        expected = noiseless / fidelity**scale if sign else noiseless * fidelity**scale
        assert value == pytest.approx(expected, abs=1e-9), label


def test_dressed_layer_carries_single_qubit_errors_through_the_layer():
    """sx errors before cx(1, 2) join the layer's model as G P G^dagger: on the control X -> XX,
    Y -> XY (target X), Z -> Z; on the target X -> X, Y -> ZY, Z -> ZZ (labels: qubit 2 first)."""
    device = DeviceLayerNoise("fake_manila")
    bare = dict(zip(*_labels_rates(device.model((("cx", 1, 2),)))))
    dressed = dict(zip(*_labels_rates(device.model((("cx", 1, 2),), (("sx", 1), ("rz", 2), ("sx", 2))))))
    control = dict(zip(*_labels_rates(single_gate_model("fake_manila", "sx", 1))))
    target = dict(zip(*_labels_rates(single_gate_model("fake_manila", "sx", 2))))
    assert set(control) == set(target) == {"X", "Y", "Z"} and min(control.values()) > 0
    moved = {
        "XX": control["X"],
        "XY": control["Y"],
        "IZ": control["Z"],
        "XI": target["X"],
        "YZ": target["Y"],
        "ZZ": target["Z"],
    }
    assert set(dressed) == set(bare)
    for label, rate in dressed.items():
        assert rate == pytest.approx(bare[label] + moved.get(label, 0.0), rel=1e-12), label


def _labels_rates(model: PauliLindblad):
    return model.labels, model.rates


@pytest.mark.parametrize(
    "strategy,expected",
    [
        ("active", [(0, 1), (1, 2), (0, 1)]),
        ("active-accum", [(0, 1), (0, 1, 2), (0, 1, 2)]),
        ("active-circuit", [(0, 1, 2)] * 3),
        ("all", [(0, 1, 2, 3)] * 3),
    ],
)
def test_twirling_strategy_picks_the_twirled_qubits_and_keeps_the_unitary(strategy, expected):
    circuit = QuantumCircuit(4)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.sx(3)
    circuit.ecr(1, 2)
    circuit.rz(0.4, 1)
    circuit.cz(0, 1)
    template = twirl_template(circuit, strategy)
    layers = twirl_layers(template)
    assert [layer.twirled for layer in layers] == expected
    assert [layer.gates for layer in layers] == [(("cx", 0, 1),), (("ecr", 1, 2),), (("cz", 0, 1),)]
    columns = twirl_angles(template, 8, np.random.default_rng(2))
    for r in range(8):
        bound = template.assign_parameters({p: columns[p.name][r] for p in template.parameters})
        assert Operator(bound).equiv(Operator(circuit))


def _assert_closer(mitigated, reference, exact=1.0):
    """Mean absolute error of ``mitigated`` below ``reference``'s by 2 standard errors of the difference."""
    error = np.abs(mitigated.data.evs - exact).mean()
    reference_error = np.abs(reference.data.evs - exact).mean()
    margin = 2 * np.sqrt(np.sum(mitigated.data.stds**2 + reference.data.stds**2)) / mitigated.data.evs.size
    assert error < reference_error - margin, (error, reference_error, margin)


def test_pec_cuts_gate_error_beyond_trex_and_reports_its_overhead():
    trex = _run(["mitigation=level1"])
    pec = _run(["mitigation=pec"])
    _assert_closer(pec, trex)
    diagnostics = pec.metadata["mitigation"]
    assert diagnostics["pec"]["noise_gain"] == 0.0
    assert 1.5 < diagnostics["pec"]["sampling_overhead"] < 100
    assert diagnostics["pec"]["gamma"] ** 2 == pytest.approx(diagnostics["pec"]["sampling_overhead"])
    model = diagnostics["layer_noise_model"]
    assert (
        model["source"] == "fake_manila noise model"
        and model["num_layers"] == DEPTH + 1
        and model["num_unique_layers"] == 1
    )
    # shots grow with the overhead; the signs are drawn per shot inside each twirled circuit
    assert diagnostics["num_randomizations"] == 32
    assert (
        diagnostics["num_randomizations"] * diagnostics["shots_per_randomization"]
        >= 1024 * diagnostics["pec"]["sampling_overhead"]
    )
    assert set(diagnostics["simulate_s_by_technique"]) == {"pec", "trex"}


def test_pec_overhead_is_capped_by_max_overhead():
    capped = _run(["mitigation=pec", "mitigation.resilience.pec.max_overhead=1.2"])
    pec = capped.metadata["mitigation"]["pec"]
    assert pec["sampling_overhead"] == pytest.approx(1.2, rel=1e-6) and 0 < pec["noise_gain"] < 1
    with pytest.raises(
        ValueError, match=r"exceeds mitigation.resilience.pec.max_overhead=1.2: raise it or set pec.noise_gain=auto"
    ):
        _run(["mitigation=pec", "mitigation.resilience.pec.max_overhead=1.2", "mitigation.resilience.pec.noise_gain=0"])


def test_pea_extrapolates_closer_than_trex():
    trex = _run(["mitigation=level1"])
    pea = _run(["mitigation=pea"])
    _assert_closer(pea, trex)
    diagnostics = pea.metadata["mitigation"]
    assert diagnostics["noise_factors"] == [1.0, 3.0, 5.0]
    evs_by_factor = np.array(diagnostics["evs_noise_factors"])[0]  # (observables, factors): decays with injected noise
    assert np.all(evs_by_factor[:, -1] < evs_by_factor[:, 0] - 0.05)


def test_layer_noise_model_file_round_trips_and_missing_layers_are_noiseless(tmp_path):
    pec = _run(["mitigation=pec"])
    model = pec.metadata["mitigation"]["layer_noise_model"]
    path = tmp_path / "model.json"
    path.write_text(json.dumps(model))
    loaded = load_layer_noise(str(path))
    # the first layer is dressed with the sx of the Bell state's H, the others are bare
    assert [len(layer.get("dressing", [])) > 0 for layer in model["layers"]] == [True, False]
    for ((key, _dressing), layer), written in zip(loaded.layers.items(), model["layers"]):
        assert len(key) == 1 and key[0][0] == "cx" and set(key[0][1:]) == set(layer.qubits)
        assert layer.total_rate == pytest.approx(sum(written["generators"].values()))
    from_file = _run(["mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert from_file.metadata["mitigation"]["pec"]["gamma"] == pytest.approx(pec.metadata["mitigation"]["pec"]["gamma"])
    np.testing.assert_allclose(from_file.data.evs, pec.data.evs)  # same model, same seeds
    path.write_text(json.dumps({"layers": []}))
    empty = _run(["mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert empty.metadata["mitigation"]["pec"]["gamma"] == 1.0
    assert empty.metadata["mitigation"]["layer_noise_model"]["num_unmodelled_layers"] == DEPTH + 1


@pytest.mark.parametrize(
    "content,message",
    [
        ("{not json", "cannot be read"),
        (
            '{"layers": [{"gates": [["cx", 0, 1]], "qubits": [0, 1], "generators": {"XQ": 0.1}}]}',
            "must be 2 letters of I, X, Y, Z",
        ),
        (
            '{"layers": [{"gates": [["cx", 0, 1]], "qubits": [0, 1], "generators": {"XX": -0.1}}]}',
            "must be finite and >= 0",
        ),
        (
            '{"layers": [{"gates": [["cx", 0, 5]], "qubits": [0, 1], "generators": {}}]}',
            "must include every gate qubit",
        ),
    ],
)
def test_malformed_layer_noise_files_are_refused_in_one_line(tmp_path, content, message):
    from qrt_runner.errors import ConfigError

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        spec_for(["backend=fake_manila", "mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert "\n" not in str(info.value)


def test_cli_pec_run_logs_overhead_and_layer_model_and_the_model_file_feeds_back(tmp_path):
    from mlflow import MlflowClient

    base = [
        "experiment=ising_estimator",
        "circuit.num_qubits=3",
        "circuit.reps=1",
        "circuit.parameter_values.num_sets=1",
        "backend=fake_manila",
        "mitigation=pec",
        "primitive.default_precision=0.05",
        "backend.max_parallel_threads=1",
    ]
    result = run_cli(base, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = [p.parent for p in tmp_path.glob("outputs/*/*/results.json")]
    data = json.loads((run_dir / "results.json").read_text())
    effective = data["mitigation"]["effective"]
    assert effective["resilience"]["pec_mitigation"] and effective["twirling"]["enable_gates"]
    assert effective["twirling"]["num_randomizations"] == "auto" and effective["twirling"]["strategy"] == "active-accum"
    overhead = data["mitigation"]["jobs"][0]["pec"]["sampling_overhead"]
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    assert run.data.metrics["pec_sampling_overhead"] == pytest.approx(overhead) and overhead > 1
    assert "layer_noise_model.json" in {a.path for a in client.list_artifacts(run.info.run_id)}
    model_file = run_dir / "layer_noise_model.json"
    again = run_cli([*base, "tracking=none", f"mitigation.resilience.layer_noise_model={model_file}"], cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    (second,) = [p for p in tmp_path.glob("outputs/*/*/results.json") if p.parent != run_dir]
    job = json.loads(second.read_text())["mitigation"]["jobs"][0]
    assert job["layer_noise_model"]["source"] == str(model_file)
    assert job["pec"]["sampling_overhead"] == pytest.approx(overhead)
