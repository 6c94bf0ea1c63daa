"""PEC and PEA: layer noise models, their sampling, twirling strategies, and physics on a noisy device."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator, SparsePauliOp

from conftest import run_cli, spec_for
from qrt_runner.backend import LocalBackend
from qrt_runner.mitigation.layer_noise import (
    CompactModel, PauliLindblad, _anticommutes, gate_model, load_layer_noise, pauli_fidelities, sample_paulis,
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

    from qrt_runner.fake_backends import fake_backend
    from qrt_runner.simulation.noise import sub_target

    model = gate_model("fake_manila", "cx", 1, 2)
    assert len(model.labels) == 15 and all(rate > 0 for rate in model.rates)
    errors = {(n, tuple(q)): e for n, q, e in basic_device_gate_errors(target=sub_target(fake_backend("fake_manila").target, (1, 2)))}
    for label, fidelity in pauli_fidelities(errors[("cx", (0, 1))]).items():
        predicted = np.exp(-2 * sum(r for g, r in zip(model.labels, model.rates) if _anticommutes(label, g)))
        assert predicted == pytest.approx(fidelity, abs=1e-9)


@pytest.mark.parametrize("change", [-1.0, 2.0])
def test_sampled_paulis_cancel_or_amplify_the_channel(change):
    """PEC (change -1): gamma * E[sign * (-1)^<Q, P>] = 1 / f_Q; PEA (change 2): E[(-1)^<Q, P>] = f_Q**2."""
    model = PauliLindblad((0, 1), ("XI", "IZ", "YY"), (0.05, 0.02, 0.08))
    compact = CompactModel.from_model(model, {0: 0, 1: 1}, 2)
    bits, signs, gamma = sample_paulis(compact, change, 200_000, np.random.default_rng(1))
    assert gamma == pytest.approx(np.exp(2 * 0.15) if change < 0 else 1.0)
    for label in ("ZI", "IX", "XX", "YZ"):  # qubit 0 is the last letter
        qx = np.array([label[1] in "XY", label[0] in "XY"])
        qz = np.array([label[1] in "YZ", label[0] in "YZ"])
        anticommute = ((bits[:, :, 0] & qz).sum(1) + (bits[:, :, 1] & qx).sum(1)) % 2
        estimate = gamma * np.mean(signs * (1 - 2 * anticommute))
        fidelity = np.exp(-2 * sum(r for g, r in zip(model.labels, model.rates) if _anticommutes(label, g)))
        expected = 1 / fidelity if change < 0 else fidelity**2
        assert estimate == pytest.approx(expected, abs=4 * gamma / np.sqrt(len(signs)))


@pytest.mark.parametrize("strategy,expected", [
    ("active", [(0, 1), (1, 2), (0, 1)]),
    ("active-accum", [(0, 1), (0, 1, 2), (0, 1, 2)]),
    ("active-circuit", [(0, 1, 2)] * 3),
    ("all", [(0, 1, 2, 3)] * 3),
])
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
    assert model["source"] == "fake_manila noise model" and model["num_layers"] == DEPTH + 1 and model["num_unique_layers"] == 1
    # shots grow with the overhead, spread over many randomisations
    assert diagnostics["shots_per_randomization"] == 1
    assert diagnostics["num_randomizations"] >= 1024 * diagnostics["pec"]["sampling_overhead"]


def test_pec_overhead_is_capped_by_max_overhead():
    capped = _run(["mitigation=pec", "mitigation.resilience.pec.max_overhead=1.2"])
    pec = capped.metadata["mitigation"]["pec"]
    assert pec["sampling_overhead"] == pytest.approx(1.2, rel=1e-6) and 0 < pec["noise_gain"] < 1
    with pytest.raises(ValueError, match=r"exceeds mitigation.resilience.pec.max_overhead=1.2: raise it or set pec.noise_gain=auto"):
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
    (key, layer), = loaded.layers.items()
    assert len(key) == 1 and key[0][0] == "cx" and set(key[0][1:]) == set(layer.qubits)
    assert layer.total_rate == pytest.approx(sum(model["layers"][0]["generators"].values()))
    from_file = _run(["mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert from_file.metadata["mitigation"]["pec"]["gamma"] == pytest.approx(pec.metadata["mitigation"]["pec"]["gamma"])
    np.testing.assert_allclose(from_file.data.evs, pec.data.evs)  # same model, same seeds
    path.write_text(json.dumps({"layers": []}))
    empty = _run(["mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert empty.metadata["mitigation"]["pec"]["gamma"] == 1.0
    assert empty.metadata["mitigation"]["layer_noise_model"]["num_unmodelled_layers"] == DEPTH + 1


@pytest.mark.parametrize("content,message", [
    ("{not json", "cannot be read"),
    ('{"layers": [{"gates": [["cx", 0, 1]], "qubits": [0, 1], "generators": {"XQ": 0.1}}]}', "must be 2 letters of I, X, Y, Z"),
    ('{"layers": [{"gates": [["cx", 0, 1]], "qubits": [0, 1], "generators": {"XX": -0.1}}]}', "must be finite and >= 0"),
    ('{"layers": [{"gates": [["cx", 0, 5]], "qubits": [0, 1], "generators": {}}]}', "must include every gate qubit"),
])
def test_malformed_layer_noise_files_are_refused_in_one_line(tmp_path, content, message):
    from qrt_runner.errors import ConfigError

    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as info:
        spec_for(["backend=fake_manila", "mitigation=pec", f"mitigation.resilience.layer_noise_model={path}"])
    assert "\n" not in str(info.value)


def test_cli_pec_run_logs_overhead_and_layer_model_and_the_model_file_feeds_back(tmp_path):
    from mlflow import MlflowClient

    base = ["experiment=ising_estimator", "circuit.num_qubits=3", "circuit.reps=1", "circuit.parameter_values.num_sets=1",
            "backend=fake_manila", "mitigation=pec", "primitive.default_precision=0.05", "backend.max_parallel_threads=1"]
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


def test_corrections_need_a_slot_and_idle_slots_provide_one():
    circuit = QuantumCircuit(3)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    x_on_qubit_2 = np.zeros((4, 3, 2), dtype=np.int64)
    x_on_qubit_2[:, 2, 0] = 1  # an X on qubit 2 right after layer 0, which leaves qubit 2 idle
    lean = twirl_template(circuit, "all")
    with pytest.raises(ValueError, match="qubit 2, which has no twirl slot there"):
        twirl_angles(lean, 4, np.random.default_rng(0), {0: x_on_qubit_2})
    template = twirl_template(circuit, "all", idle_slots=True)
    columns = twirl_angles(template, 4, np.random.default_rng(0), {0: x_on_qubit_2})
    expected = circuit.copy_empty_like()
    expected.cx(0, 1)
    expected.x(2)
    expected.cx(1, 2)
    for r in range(4):
        bound = template.assign_parameters({p: columns[p.name][r] for p in template.parameters})
        assert Operator(bound).equiv(Operator(expected))  # the correction applied, twirls cancelled
