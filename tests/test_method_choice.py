"""The simulation method chosen for the work after transpilation, checked against exact answers
(``Statevector``, circuits whose values are known) and against what Aer itself runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from qiskit import QuantumCircuit
from qiskit.circuit.library import QFTGate
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator

from conftest import run_cli, spec_for
from qrt_runner.errors import CapacityError
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.execution.method_choice import choose_method
from qrt_runner.mitigation.options import finalize
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler, SamplerOptions


def ghz(width: int, measure: bool = False) -> QuantumCircuit:
    circuit = QuantumCircuit(width)
    circuit.h(0)
    for qubit in range(width - 1):
        circuit.cx(qubit, qubit + 1)
    if measure:
        circuit.measure_all()
    return circuit


def chain(width: int, layers: int, seed: int) -> QuantumCircuit:
    """Random single-qubit rotations and CZs between neighbours: little entanglement per cut."""
    rng = np.random.default_rng(seed)
    circuit = QuantumCircuit(width)
    for layer in range(layers):
        for qubit in range(width):
            circuit.ry(rng.uniform(0, np.pi), qubit)
            circuit.rz(rng.uniform(0, np.pi), qubit)
        for qubit in range(layer % 2, width - 1, 2):
            circuit.cz(qubit, qubit + 1)
    return circuit


@pytest.mark.parametrize(
    ("circuit", "noise", "shots", "told", "runs"),
    [
        (ghz(100, True), "none", 1000, "stabilizer", "stabilizer"),
        (ghz(5, True), "none", 1000, "automatic", "stabilizer"),  # Aer's own choice for a Clifford circuit
        (chain(4, 2, 1), "none", 1000, "automatic", "statevector"),
        (chain(4, 2, 1), "device", 1000, "automatic", "density_matrix"),
        (chain(4, 2, 1), "device", 4, "automatic", "statevector"),  # trajectories below 8 shots
        (ghz(20, True), "pauli", 100, "stabilizer", "stabilizer"),
        (chain(60, 3, 2), "none", 100, "matrix_product_state", "matrix_product_state"),
    ],
)
def test_the_cheapest_exact_method_that_fits_is_chosen(circuit, noise, shots, told, runs):
    choice = choose_method("automatic", circuit, noise, shots)
    assert (choice.method, choice.runs) == (told, runs)
    record = choice.record("automatic", noise)
    assert record["method"] == runs and record["reason"] and record["estimated_seconds"] >= 0


@pytest.mark.parametrize(
    ("requested", "circuit", "noise", "fragments"),
    [
        ("automatic", ghz(40), "device", ["40-qubit statevector", "not a Pauli channel", "backend.noise=pauli"]),
        ("automatic", chain(40, 2, 3), "pauli", ["not Clifford", "use fewer qubits"]),
        ("automatic", QuantumCircuit(40).compose(QFTGate(40), range(40)).decompose(), "none", ["statevector"]),
        ("statevector", ghz(40), "none", ["needs 16.0 TiB", "backend.method=stabilizer (the circuit is Clifford)"]),
        ("density_matrix", ghz(20), "none", ["20-qubit density matrix needs 16.0 TiB"]),
        ("stabilizer", chain(3, 1, 4), "none", ["cannot simulate non-Clifford gates"]),
        ("stabilizer", ghz(3), "device", ["not a Pauli channel", "backend.noise=pauli"]),
    ],
)
def test_what_fits_nowhere_is_refused_in_one_line(requested, circuit, noise, fragments):
    with pytest.raises(CapacityError) as refused:
        choose_method(requested, circuit, noise, 1000)
    message = str(refused.value)
    assert "\n" not in message and all(fragment in message for fragment in fragments), message


@pytest.mark.parametrize("circuit", [ghz(6, True), chain(5, 2, 5).measure_all(inplace=False)])
def test_the_method_predicted_for_automatic_is_the_one_aer_runs(circuit):
    choice = choose_method("automatic", circuit, "none", 100)
    result = AerSimulator(method=choice.method, max_parallel_threads=1).run(circuit, shots=100).result()
    assert result.results[0].metadata["method"] == choice.runs


def _exact(backend: LocalBackend, circuit: QuantumCircuit, observables: list[str]) -> tuple[np.ndarray, np.ndarray]:
    estimator = Estimator(backend, options=EstimatorOptions(default_precision=0.0))
    data = estimator.run([(circuit, [SparsePauliOp(label) for label in observables])]).result()[0].data
    return np.asarray(data.evs), np.asarray(data.stds)


def test_a_40_qubit_ideal_ghz_is_exact_on_the_stabilizer_method():
    backend = LocalBackend.create("aer", threads=1)
    evs, stds = _exact(backend, ghz(40), ["Z" * 40, "X" * 40, "Z" + "I" * 38 + "Z", "I" * 39 + "Z"])
    np.testing.assert_allclose(evs, [1.0, 1.0, 1.0, 0.0], atol=1e-12)
    assert np.all(stds == 0)
    counts = Sampler(backend, options=SamplerOptions(default_shots=500)).run([ghz(40, True)]).result()[0]
    assert set(counts.data.meas.get_counts()) == {"0" * 40, "1" * 40}
    assert [choice.runs for choice in backend.method_choices.values()] == ["stabilizer", "stabilizer"]


def test_a_50_qubit_mirror_circuit_is_exact_on_matrix_product_states():
    forward = chain(50, 3, 6)
    mirror = forward.compose(forward.inverse())
    backend = LocalBackend.create("aer", threads=1)
    labels = ["I" * (49 - q) + "Z" + "I" * q for q in (0, 17, 49)]
    evs, stds = _exact(backend, mirror, labels)
    np.testing.assert_allclose(evs, 1.0, atol=1e-9)
    assert np.all(stds == 0)
    assert {choice.runs for choice in backend.method_choices.values()} == {"matrix_product_state"}


def test_matrix_product_states_match_the_statevector_where_both_run():
    circuit = chain(8, 4, 7)
    labels = ["ZZIIIIII", "IIIXXIII", "YIIIIIIZ"]
    evs, _ = _exact(LocalBackend.create("aer", method="matrix_product_state", threads=1), circuit, labels)
    state = Statevector(circuit)
    np.testing.assert_allclose(evs, [state.expectation_value(SparsePauliOp(label)).real for label in labels], atol=1e-9)


def test_pauli_noise_gives_the_same_distribution_on_the_stabilizer_method_as_on_density_matrices():
    """The twirled estimator's circuits (Paulis as bound ``u`` gates) rewritten for the stabilizer
    method sample what the density-matrix method samples, under the same Pauli noise."""
    mitigation = finalize(spec_for(["backend=fake_manila", "mitigation=twirling"]).mitigation)
    values = {}
    for method in ("stabilizer", "density_matrix"):
        backend = LocalBackend.create("fake_manila", method=method, threads=1, seed_simulator=11, noise="pauli")
        options = EstimatorOptions(default_precision=None, default_shots=4000, mitigation=mitigation)
        data = Estimator(backend, options=options).run([(ghz(4), ["ZZZZ", "IIZZ", "XXXX"])]).result()[0].data
        values[method] = (np.asarray(data.evs), np.asarray(data.stds))
    (stab, stab_std), (dense, dense_std) = values["stabilizer"], values["density_matrix"]
    assert np.all(np.abs(stab - dense) < 4 * np.hypot(stab_std, dense_std)), (stab, dense)
    assert np.all(stab < 0.99)  # the noise acts


def test_cli_runs_a_100_qubit_ghz_ideal_and_under_pauli_noise_and_records_the_method(tmp_path):
    for name, overrides in {
        "ideal": ["backend=aer"],
        "pauli": ["backend=fake_sherbrooke", "backend.noise=pauli"],
    }.items():
        proc = run_cli(
            [
                "circuit=ghz",
                "circuit.num_qubits=100",
                "primitive=sampler",
                "primitive.default_shots=200",
                *overrides,
                "backend.max_parallel_threads=1",
                f"hydra.run.dir={name}",
            ],
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        assert "simulation: stabilizer" in proc.stdout
        results = json.loads((tmp_path / name / "results.json").read_text())
        assert results["simulation"]["method"] == "stabilizer"
        assert results["simulation"]["noise"] == ("none" if name == "ideal" else "pauli")
        counts = results["counts"][0]
        # neighbours agree on every shot of an ideal GHZ state, on half of uniformly random bits
        agree = sum(n * np.mean([a == b for a, b in zip(bits, bits[1:])]) for bits, n in counts.items()) / 200
        assert agree == 1.0 if name == "ideal" else 0.75 < agree < 0.99
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("qrt_runner").experiment_id])
    assert {run.data.tags["simulation.method"] for run in runs} == {"stabilizer"}
    assert {run.data.tags["simulation.noise"] for run in runs} == {"none", "pauli"}


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (["backend=fake_sherbrooke"], "use backend.noise=pauli"),
        (["backend=fake_sherbrooke", "circuit.num_qubits=128"], "fake_sherbrooke has only 127 qubits"),
        (["backend=aer", "backend.noise=pauli"], "backend.noise='pauli': backend=aer has no device noise"),
        (["backend=aer", "backend.method=statevector"], "a 100-qubit statevector needs"),
    ],
)
def test_cli_refuses_what_does_not_fit_with_one_line_and_exit_2(tmp_path, overrides, fragment):
    proc = run_cli(
        ["circuit=ghz", "circuit.num_qubits=100", "primitive=sampler", *overrides, "tracking=none"], cwd=tmp_path
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], proc.stderr
    assert not list(tmp_path.rglob("results.json"))
