"""Right or refused at the edges: circuits that measure, reset or branch; projector labels; ISA
circuits placed on chosen qubits; samplers without measurements; every fake device.

Each case was measured wrong (or a traceback) before; the references are exact values worked
out by hand, Qiskit's reference primitives, or the device's own calibration data.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.quantum_info import DensityMatrix, Operator, Pauli, SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime import fake_provider
from qiskit_ibm_runtime.fake_provider import FakeFractionalBackend, FakeManilaV2

from conftest import FAST, run_cli
from qrt_runner.execution.fake_backends import _device_name, fake_backend_names
from qrt_runner.runtime import EstimatorV2, SamplerV2
from qrt_runner.workload.observables import parse_observable


def _exact(circuit, observables):
    return EstimatorV2(mode=AerSimulator(), options={"default_precision": 0}).run([(circuit, observables)]).result()[0]


def _bell_reset() -> QuantumCircuit:
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.reset(0)
    return circuit


def _branching() -> QuantumCircuit:
    """h(0); measure 0; if the bit is 1: x(1) else h(1); then cx(0, 1)."""
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)) as orelse:
        circuit.x(1)
    with orelse:
        circuit.h(1)
    circuit.cx(0, 1)
    return circuit


# -- exact values of circuits that are not one pure state -----------------------------------------
def test_exact_value_after_a_reset_is_the_average_not_one_trajectory():
    result = _exact(_bell_reset(), ["ZI", "IZ", "IX", "XX"])
    # qubit 0 is |0> again; qubit 1 is maximally mixed: <IZ> = 1, every other term 0
    np.testing.assert_allclose(result.data.evs, [0.0, 1.0, 0.0, 0.0], atol=1e-12)
    assert np.all(result.data.stds == 0)
    reference = DensityMatrix(_bell_reset())  # Qiskit's density matrix applies reset as a channel
    for label, value in zip(["ZI", "IZ", "IX", "XX"], result.data.evs):
        assert value == pytest.approx(reference.expectation_value(SparsePauliOp(label)).real, abs=1e-12)


def test_exact_value_after_mid_circuit_measurements():
    circuit = QuantumCircuit(1, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    assert _exact(circuit, "Z").data.evs == pytest.approx(0.0, abs=1e-12)  # was -1 or +1 with std 0
    measured_bell = QuantumCircuit(2, 2)
    measured_bell.h(0)
    measured_bell.cx(0, 1)
    measured_bell.measure([0, 1], [0, 1])  # final measurements dephase: <XX> 0, <ZZ> 1
    np.testing.assert_allclose(_exact(measured_bell, ["XX", "ZZ"]).data.evs, [0.0, 1.0], atol=1e-12)


def test_exact_value_of_a_branch_on_a_measured_bit():
    # outcome 1 (p 1/2): x(1), then cx flips it back: q1 q0 = |0>|1>; outcome 0: h(1): |+>|0>, cx idle
    result = _exact(_branching(), ["ZI", "XI", "IZ", "ZZ"])
    np.testing.assert_allclose(result.data.evs, [0.5, 0.5, 0.0, -0.5], atol=1e-12)


def test_exact_values_that_cannot_be_computed_are_refused_by_name():
    circuit = QuantumCircuit(1, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 1)):
        circuit.h(0)
        circuit.measure(0, 0)
    with pytest.raises(ValueError, match=r"^precision 0 \(exact\) is not available for a circuit with while_loop: "):
        _exact(circuit, "Z")
    wide = QuantumCircuit(20, 1)
    for _ in range(8):
        wide.h(0)
        wide.measure(0, 0)
    with pytest.raises(ValueError, match=r"needs 28 qubits \(one more per measurement and reset\), over 26"):
        _exact(wide, "Z" * 20)


# -- mitigation on dynamic circuits ----------------------------------------------------------------
def _on_manila(circuit: QuantumCircuit, observable: str, **options):
    device = FakeManilaV2()
    isa = transpile(circuit, device, optimization_level=1, seed_transpiler=1)
    estimator = EstimatorV2(mode=device, options={"default_shots": 4000, "simulator": {"seed_simulator": 2}, **options})
    return estimator.run([(isa, SparsePauliOp(observable).apply_layout(isa.layout))]).result()[0]


def test_mid_circuit_measurement_at_level_1_is_not_one_branch():
    circuit = QuantumCircuit(1, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    result = _on_manila(circuit, "Z")  # level 1 (IBM's default): TREX with measurement twirling
    assert abs(result.data.evs) < 5 * result.data.stds + 0.02  # exact 0; it was -0.996 (one density matrix)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"resilience_level": 0, "resilience": {"pec_mitigation": True}},
            r"^resilience\.pec_mitigation=True: cannot be used on a circuit with measure: its layer noise model",
        ),
        (
            {"resilience_level": 2, "resilience": {"zne": {"amplifier": "pea"}}},
            r"^resilience\.zne\.amplifier='pea': cannot be used on a circuit with measure: ",
        ),
    ],
)
def test_layer_noise_techniques_refuse_mid_circuit_measurements(options, message):
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure(0, 0)
    with pytest.raises(ValueError, match=message):
        _on_manila(circuit, "ZZ", **options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resilience_level": 2}, r"^resilience\.zne_mitigation=True: cannot be used on a circuit with if_else: "),
        (
            {"dynamical_decoupling": {"enable": True}},
            r"^dynamical_decoupling\.enable=True: cannot be used on a circuit with if_else: the idle windows",
        ),
    ],
)
def test_techniques_that_cannot_reach_into_branches_refuse_control_flow(options, message):
    with pytest.raises(ValueError, match=message):
        _on_manila(_branching(), "ZZ", **options)


def test_dynamical_decoupling_on_the_sampler_refuses_control_flow():
    circuit = _branching()
    circuit.measure(1, 0)
    device = FakeManilaV2()
    sampler = SamplerV2(mode=device, options={"dynamical_decoupling": {"enable": True}})
    with pytest.raises(
        ValueError, match=r"^dynamical_decoupling\.enable=True: cannot be used on a circuit with if_else"
    ):
        sampler.run([transpile(circuit, device, seed_transpiler=1)])


# -- projector labels ---------------------------------------------------------------------------
PROJECTOR_LABELS = ["1X", "1+", "0+", "rl", "1-", "-r", "0Z"]


def _projector_reference(circuit: QuantumCircuit, labels: list[str]) -> np.ndarray:
    """Qiskit's StatevectorEstimator refuses projector labels: the projectors as matrices instead."""
    kets = {"0": [1, 0], "1": [0, 1], "+": [1, 1], "-": [1, -1], "r": [1, 1j], "l": [1, -1j]}
    single = {letter: np.outer(k, np.conj(k)) / np.vdot(k, k) for letter, k in kets.items()}
    single.update({p: Pauli(p).to_matrix() for p in "IXYZ"})
    state = Statevector(circuit)
    values = []
    for label in labels:
        matrix = np.array([[1.0]])
        for letter in label:  # leftmost letter: highest qubit, as Qiskit's kron order
            matrix = np.kron(matrix, single[letter])
        values.append(state.expectation_value(Operator(matrix)).real)
    return np.array(values)


def test_projector_labels_are_their_pauli_sums_exact_and_sampled():
    circuit = QuantumCircuit(2)
    circuit.x(1)
    circuit.h(0)
    circuit.ry(0.4, 1)
    reference = _projector_reference(circuit, PROJECTOR_LABELS)
    exact = _exact(circuit, PROJECTOR_LABELS)
    np.testing.assert_allclose(exact.data.evs, reference, atol=1e-12)
    plain = QuantumCircuit(2)
    plain.x(1)
    plain.h(0)
    assert _exact(plain, "1X").data.evs == pytest.approx(1.0)  # |1>|+>: was 0 +- 0 sampled
    sampled = (
        EstimatorV2(mode=AerSimulator(), options={"default_precision": 0.01, "simulator": {"seed_simulator": 4}})
        .run([(circuit, PROJECTOR_LABELS)])
        .result()[0]
    )
    assert np.all(sampled.data.stds[np.abs(reference - np.round(reference)) > 1e-9] > 0)  # 0 only on eigenstates
    assert np.all(np.abs(sampled.data.evs - reference) < 4 * sampled.data.stds + 1e-9)


def test_projector_labels_under_trex_on_a_device():
    circuit = QuantumCircuit(2)
    circuit.x(1)
    circuit.h(0)
    result = _on_manila(circuit, "IX", resilience_level=1)
    device = FakeManilaV2()
    isa = transpile(circuit, device, optimization_level=1, seed_transpiler=1)
    layout = isa.layout.final_index_layout()
    labels = ["I"] * isa.num_qubits
    labels[isa.num_qubits - 1 - layout[1]] = "1"
    labels[isa.num_qubits - 1 - layout[0]] = "+"
    estimator = EstimatorV2(mode=device, options={"default_shots": 4000, "simulator": {"seed_simulator": 2}})
    projected = estimator.run([(isa, "".join(labels))]).result()[0]
    assert projected.data.evs == pytest.approx(1.0, abs=5 * projected.data.stds + 0.05)  # exact 1
    assert result.data.evs == pytest.approx(1.0, abs=5 * result.data.stds + 0.05)


def test_cli_parser_takes_projector_labels():
    assert parse_observable("1X") == SparsePauliOp.from_list([("IX", 0.5), ("ZX", -0.5)])
    assert parse_observable("ZZ+XX") == SparsePauliOp.from_list([("ZZ", 1), ("XX", 1)])  # + between Paulis joins
    assert (
        parse_observable("1X + 0.5*0+").simplify()
        == (
            SparsePauliOp.from_list([("IX", 0.5), ("ZX", -0.5)])
            + 0.5 * SparsePauliOp.from_list([("II", 0.25), ("IX", 0.25), ("ZI", 0.25), ("ZX", 0.25)])
        ).simplify()
    )


# -- samplers -----------------------------------------------------------------------------------
def test_unmeasured_classical_bits_read_zero():
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    result = SamplerV2(mode=AerSimulator()).run([circuit], shots=50).result()[0]
    assert result.data.c.get_counts() == {"00": 50}
    partly = QuantumCircuit(2, 3)
    partly.x(0)
    partly.measure(0, 2)
    assert SamplerV2(mode=AerSimulator()).run([partly], shots=20).result()[0].data.c.get_counts() == {"100": 20}


@pytest.mark.parametrize("shots", [0, -5])
def test_non_positive_shots_raise_as_qiskit_raises(shots):
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    from qiskit.primitives import StatevectorSampler

    with pytest.raises(ValueError, match="shots must be positive"):
        StatevectorSampler().run([circuit], shots=shots)
    with pytest.raises(ValueError, match="shots must be positive"):
        SamplerV2(mode=AerSimulator()).run([circuit], shots=shots)


# -- every fake device ----------------------------------------------------------------------------
def test_every_fake_provider_class_maps_to_its_backend_name():
    names = set(fake_backend_names())
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if not (attr.startswith("Fake") and isinstance(cls, type) and hasattr(cls, "backend_name")):
            continue
        if "Provider" in attr:
            continue
        source = inspect.getsource(inspect.getmodule(cls))
        declared = re.search(r"backend_name\s*=\s*[\"']([\w.-]+)[\"']", source)
        if declared is None:
            continue
        assert _device_name(attr) == declared.group(1), attr
        assert declared.group(1) in names, attr


def test_fractional_device_runs_as_mode():
    device = FakeFractionalBackend()
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rzz(0.4, 0, 1)
    circuit.cx(0, 1)
    isa = transpile(circuit, device, optimization_level=1, seed_transpiler=1)
    estimator = EstimatorV2(mode=device, options={"default_shots": 4000, "simulator": {"seed_simulator": 3}})
    result = estimator.run([(isa, SparsePauliOp("ZZ").apply_layout(isa.layout))]).result()[0]
    # exact <ZZ> = 1 (rzz commutes with ZZ; cx maps the Bell-like state onto ZZ eigenstates): noisy, TREX-mitigated
    assert result.data.evs == pytest.approx(1.0, abs=5 * result.data.stds + 0.08)


# -- ISA circuits run where they are placed -----------------------------------------------------
@pytest.mark.parametrize("qubit", [0, 2])
def test_isa_circuit_runs_on_the_qubit_it_names(qubit):
    device = FakeManilaV2()
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    isa = transpile(circuit, device, initial_layout=[qubit], optimization_level=1)
    shots = 20000
    options = {"default_shots": shots, "simulator": {"seed_simulator": 1}}
    ours = SamplerV2(mode=device, options=options).run([isa]).result()[0].data.c.get_counts().get("0", 0) / shots
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from qiskit_aer.primitives import SamplerV2 as AerSampler

        aer = AerSampler.from_backend(device, seed=5).run([isa], shots=shots).result()[0]
    theirs = aer.data.c.get_counts().get("0", 0) / shots
    error = device.target["measure"][(qubit,)].error
    sigma = np.sqrt(error * (1 - error) / shots)
    assert abs(ours - theirs) < 5 * np.sqrt(2) * sigma  # the same qubit as Aer's own sampler (was qubit 3)
    assert abs(ours - error) < 0.3 * error  # the device's readout error of that qubit (prep error aside)


@pytest.mark.slow
def test_cli_runs_an_isa_qasm_circuit_on_its_qubits_and_honours_initial_layout(tmp_path):
    placed = tmp_path / "placed.qasm"
    placed.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[5];\ncreg c[1];\nx q[2];\nmeasure q[2] -> c[0];\n')
    done = run_cli(
        ["primitive=sampler", "circuit=qasm", f"circuit.path={placed}", "backend=fake_manila", *FAST], tmp_path
    )
    assert done.returncode == 0, done.stderr
    import json

    (path,) = tmp_path.glob("outputs/*/*/results.json")
    transpiled = json.loads(path.read_text())["transpiled"]
    assert transpiled["physical_qubits"] == [2] and transpiled["transpiled"] is False
    bell = tmp_path / "bell.qasm"
    bell.write_text(
        'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
    )
    args = ["primitive=sampler", "circuit=qasm", f"circuit.path={bell}", "backend=fake_manila", *FAST]
    done = run_cli([*args, "transpile.initial_layout=[4,3]", "hydra.run.dir=laid"], tmp_path)
    assert done.returncode == 0, done.stderr
    transpiled = json.loads((tmp_path / "laid" / "results.json").read_text())["transpiled"]
    assert transpiled["layout"] == [4, 3] and transpiled["transpiled"] is True
    refused = run_cli([*args, "transpile.initial_layout=[4,7]", "hydra.run.dir=refused"], tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "qrt-run: invalid config: transpile.initial_layout=[4, 7]: qubit 7 is not on fake_manila "
        "(5 qubits: 0 to 4); choose device qubits that exist"
    ]
    assert not (tmp_path / "refused").exists()


# -- metadata says what ran -----------------------------------------------------------------------
def test_metadata_reports_the_precision_the_shots_give():
    circuit = QuantumCircuit(1)
    circuit.h(0)
    estimator = EstimatorV2(mode=AerSimulator(), options={"default_shots": 100, "simulator": {"seed_simulator": 1}})
    metadata = estimator.run([(circuit, "X")]).result()[0].metadata
    assert metadata["shots"] == 100 and metadata["target_precision"] == pytest.approx(0.1)
    device = FakeManilaV2()
    isa = transpile(circuit, device, seed_transpiler=1)
    twirled = EstimatorV2(
        mode=device,
        options={"default_shots": 256, "twirling": {"num_randomizations": 4}, "simulator": {"seed_simulator": 1}},
    )
    metadata = twirled.run([(isa, SparsePauliOp("X").apply_layout(isa.layout))]).result()[0].metadata
    assert metadata["num_randomizations"] == 4 and metadata["target_precision"] == pytest.approx(1 / 16)


# -- Aer binds controlled rotations wrongly at run time ------------------------------------------------
def test_parametrised_controlled_rotations_bound_at_run_time_are_right():
    """Aer 0.18's parameter_binds keeps a wrong angle for cp, crx, cry, crz and cu (the ideal
    simulator runs such an ISA circuit as given): qrt gave <IZ> = 1 where the value is -0.255."""
    from qiskit.circuit import Parameter
    from qiskit.primitives import StatevectorEstimator

    p = Parameter("p")
    circuit = QuantumCircuit(2)
    circuit.x(1)
    circuit.cry(p, 1, 0)
    circuit.crx(p, 0, 1)
    circuit.h(0)
    circuit.cp(p, 0, 1)
    circuit.crz(p, 1, 0)
    circuit.h(0)
    circuit.cu(p, 0.2, p, 0.1, 0, 1)
    pub = (circuit, ["IZ", "ZI", "XX"], [[[1.0]], [[0.3]]])
    reference = StatevectorEstimator().run([pub]).result()[0].data.evs
    np.testing.assert_allclose(_exact_pub(pub).data.evs, reference, atol=1e-12)
    measured = circuit.copy()
    measured.measure_all()
    counts = SamplerV2(mode=AerSimulator()).run([(measured, [1.0])], shots=4000).result()[0].data.meas.get_counts()
    exact = Statevector(circuit.assign_parameters([1.0])).probabilities_dict()
    for outcome, probability in exact.items():
        assert abs(counts.get(outcome, 0) / 4000 - probability) < 5 * np.sqrt(probability / 4000) + 0.005


def _exact_pub(pub):
    return EstimatorV2(mode=AerSimulator(), options={"default_precision": 0}).run([pub]).result()[0]
