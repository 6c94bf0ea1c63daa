"""Clifford detection and the stabilizer form Aer's stabilizer method runs (clifford.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, transpile
from qiskit.circuit import Parameter
from qiskit.circuit.library import UnitaryGate, XXPlusYYGate
from qiskit.quantum_info import Clifford, Operator, Statevector, random_clifford
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

from qrt_runner.execution.simulation.clifford import AER_STABILIZER_GATES, is_clifford, stabilizer_form
from qrt_runner.workload.kicked_ising import kicked_ising

PI = math.pi
# Statistical tolerance of a sampled distribution: every outcome within 5 standard errors of its
# probability (|f - p| <= 5 sqrt(p (1 - p) / shots)); an outcome of probability 0 is never seen.
# With at most 16 outcomes a correct simulator fails this less than once in 10^5 seeds.
SIGMAS = 5
SHOTS = 4000
# What the rewritten circuits may hold: Aer's stabilizer gates, rz (at exact multiples of pi/2),
# and the non-unitary instructions the tests use.
ALLOWED = AER_STABILIZER_GATES | {"rz", "measure", "barrier", "reset", "delay", "if_else"}


def _simulator() -> AerSimulator:
    return AerSimulator(method="stabilizer", max_parallel_threads=1)


def _one_gate(name: str, *params, num_qubits: int = 1) -> QuantumCircuit:
    circuit = QuantumCircuit(num_qubits)
    getattr(circuit, name)(*params, *range(num_qubits))
    return circuit


def _assert_aer_form(circuit: QuantumCircuit) -> None:
    """Only gates Aer's stabilizer method takes, rz at exact float multiples of pi/2."""
    for instruction in circuit.data:
        assert instruction.name in ALLOWED, instruction.name
        if instruction.name == "rz":
            angle = float(instruction.params[0])
            assert angle == round(angle / (PI / 2)) * (PI / 2)


def _assert_sampled(counts: dict[str, int], probabilities: dict[str, float], shots: int) -> None:
    for outcome in set(counts) | set(probabilities):
        p = probabilities.get(outcome, 0.0)
        seen = counts.get(outcome, 0) / shots
        if p < 1e-12:
            assert seen == 0, (outcome, seen)
        else:
            assert abs(seen - p) <= SIGMAS * math.sqrt(p * (1 - p) / shots) + 1e-12, (outcome, seen, p)


@pytest.mark.parametrize(
    ("circuit", "expected"),
    [
        (_one_gate("rz", PI / 2), True),
        (_one_gate("rz", 0.3), False),
        (_one_gate("rz", -7 * PI / 2), True),
        (_one_gate("rz", PI / 2 + 5e-10), True),  # within the 1e-9 tolerance
        (_one_gate("rz", PI / 2 - 5e-9), False),
        (_one_gate("rz", 1e-10), True),
        (_one_gate("u", PI, 0, PI), True),
        (_one_gate("u", PI, PI / 2, PI / 2), True),
        (_one_gate("u", 0, 0.3, -0.3), True),  # the identity, though no angle is a quarter turn
        (_one_gate("u", PI / 2, 0.1, 0), False),
        (_one_gate("rzz", -PI / 2, num_qubits=2), True),
        (_one_gate("rzz", 0.3, num_qubits=2), False),
        (_one_gate("rx", PI / 2), True),
        (_one_gate("ry", -PI), True),
        (_one_gate("p", PI / 4), False),
        (_one_gate("t"), False),
        (_one_gate("cp", PI, num_qubits=2), True),
        (_one_gate("cp", PI / 2, num_qubits=2), False),
        (_one_gate("crz", PI, num_qubits=2), True),
        (_one_gate("iswap", num_qubits=2), True),
        (_one_gate("ccx", num_qubits=3), False),
        (_one_gate("rz", Parameter("a")), False),
        (_one_gate("rx", Parameter("a")), False),
        (_one_gate("u", PI, 0, Parameter("a")), False),
    ],
    ids=lambda value: (
        value
        if isinstance(value, bool)
        else str(value.data[0].operation.name)
        + str([float(p) if not isinstance(p, Parameter) else str(p) for p in value.data[0].params])
    ),
)
def test_is_clifford_single_gates(circuit, expected):
    assert is_clifford(circuit) is expected
    if expected:
        form = stabilizer_form(circuit)
        _assert_aer_form(form)
        assert np.allclose(Operator(form).data, Operator(circuit).data, atol=1e-8)  # global phase tracked
    else:
        with pytest.raises(ValueError, match="not a Clifford operation|unbound parameter"):
            stabilizer_form(circuit)


def test_non_unitary_instructions_and_bound_parameters():
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.barrier()
    circuit.delay(100, 0, unit="dt")
    circuit.measure(0, 0)
    circuit.reset(0)
    circuit.rx(theta, 1)
    circuit.measure(1, 1)
    assert not is_clifford(circuit)
    with pytest.raises(ValueError, match=r"instruction 5, rx\(theta\) on qubits \[1\], has an unbound parameter"):
        stabilizer_form(circuit)
    assert is_clifford(circuit.assign_parameters({theta: PI / 2}))
    assert not is_clifford(circuit.assign_parameters({theta: 0.3}))
    assert is_clifford(QuantumCircuit(3))


def test_error_names_the_first_non_clifford_instruction():
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.rz(PI / 2, 1)
    circuit.t(2)
    circuit.rz(0.3, 0)
    with pytest.raises(ValueError, match=r"instruction 2, t on qubits \[2\], is not a Clifford operation"):
        stabilizer_form(circuit)


def test_accepted_gates_kept_and_structure_preserved():
    qr, cr = QuantumRegister(3, "data"), ClassicalRegister(3, "out")
    circuit = QuantumCircuit(qr, cr, name="kept", metadata={"physical_qubits": [4, 5, 6], "x": 1})
    circuit.global_phase = 0.25
    circuit.h(qr[0])
    circuit.ecr(qr[0], qr[1])
    circuit.rz(PI / 2, qr[2])  # exact: kept as it is
    circuit.rz(-1.5707963267948968, qr[2])  # one ulp off -pi/2 (as transpilers leave): rewritten
    circuit.u(PI, 0, PI, qr[1])
    circuit.measure(qr[0], cr[0])
    circuit.delay(16, qr[1], unit="dt")
    circuit.sxdg(qr[1])
    circuit.measure(qr[1], cr[1])
    circuit.measure(qr[2], cr[2])
    form = stabilizer_form(circuit)
    assert form.qregs == circuit.qregs and form.cregs == circuit.cregs
    assert form.name == "kept" and form.metadata == circuit.metadata
    assert [i.name for i in form.data] == [
        "h",
        "ecr",
        "rz",
        "sdg",
        "x",
        "measure",
        "delay",
        "sxdg",
        "measure",
        "measure",
    ]
    assert form.data[2] == circuit.data[2]
    assert [form.find_bit(q).index for q in form.data[7].qubits] == [1]
    _assert_aer_form(form)
    unitary = circuit.remove_final_measurements(inplace=False)
    unitary.data = [i for i in unitary.data if i.name not in ("measure", "delay")]
    unitary_form = stabilizer_form(unitary)
    assert np.allclose(Operator(unitary_form).data, Operator(unitary).data)
    assert stabilizer_form(form).data == form.data  # idempotent


def test_control_flow_bodies_checked_and_rewritten():
    circuit = QuantumCircuit(2, 1)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.if_test((circuit.clbits[0], 1)) as else_:
        circuit.u(PI, 0, PI, 1)
    with else_:
        circuit.rx(PI / 2, 1)
    assert is_clifford(circuit)
    form = stabilizer_form(circuit)
    branches = form.data[2].operation.blocks
    assert [i.name for i in branches[0].data] == ["x"]
    assert [i.name for i in branches[1].data] == ["sx"]
    bad = QuantumCircuit(2, 1)
    bad.measure(0, 0)
    with bad.if_test((bad.clbits[0], 1)):
        bad.t(1)
    assert not is_clifford(bad)
    with pytest.raises(ValueError, match="has in its body.*t on qubits"):
        stabilizer_form(bad)


def test_loops_switch_and_break_run_on_aer_stabilizer():
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    with circuit.while_loop((circuit.clbits[0], 1)):
        circuit.u(PI / 2, 0, PI, 0)  # h
        circuit.measure(0, 0)
        with circuit.if_test((circuit.clbits[0], 0)):
            circuit.break_loop()
    with circuit.for_loop(range(3)):
        circuit.rx(PI, 1)
    with circuit.switch(circuit.clbits[0]) as case:
        with case(0):
            circuit.rz(PI / 2 + 1e-15, 1)
        with case(1):
            circuit.ry(PI / 2, 1)
    circuit.measure(1, 1)
    assert is_clifford(circuit)
    form = stabilizer_form(circuit)
    result = _simulator().run(form, shots=200, seed_simulator=1).result()
    assert result.success and result.get_counts() == {"10": 200}
    looped = QuantumCircuit(1)
    index = Parameter("i")
    with looped.for_loop(range(3), index):
        looped.rz(index * PI / 2, 0)
    assert not is_clifford(looped)  # the loop parameter is unbound in the body
    with pytest.raises(ValueError, match="for_loop on qubits \\[0\\], has in its body.*unbound parameter"):
        stabilizer_form(looped)


def test_custom_gates_are_classified_by_their_matrix_not_their_name():
    clifford_body = QuantumCircuit(3)
    clifford_body.h(0)
    clifford_body.cx(0, 1)
    clifford_body.cz(1, 2)
    other_body = QuantumCircuit(3)
    other_body.h(0)
    other_body.t(2)
    good = clifford_body.to_gate(label="mine")
    good.name = "mine"
    bad = other_body.to_gate(label="mine")
    bad.name = "mine"
    circuit = QuantumCircuit(4)
    circuit.append(good, [0, 1, 2])
    circuit.append(UnitaryGate(Operator(_one_gate("iswap", num_qubits=2))), [2, 3])
    circuit.append(random_clifford(4, seed=3), range(4))  # a Clifford object as an instruction
    circuit.append(XXPlusYYGate(PI, 0.0), [0, 3])
    assert is_clifford(circuit)
    form = stabilizer_form(circuit)
    _assert_aer_form(form)
    assert Clifford(form) == Clifford(circuit)
    circuit.append(bad, [1, 2, 3])
    assert not is_clifford(circuit)
    wide = QuantumCircuit(5)
    wide.h(0)
    for q in range(4):
        wide.cx(q, q + 1)
    wide.s(4)
    wide_gate = wide.to_gate()
    outer = QuantumCircuit(5)
    outer.append(wide_gate, range(5))
    assert is_clifford(outer)
    assert Clifford(stabilizer_form(outer)) == Clifford(wide)


@pytest.mark.parametrize(
    "basis", [["rz", "sx", "x", "ecr"], ["u", "cx"], ["rx", "rz", "rzz"], ["p", "sx", "cz"]], ids="-".join
)
@pytest.mark.parametrize("seed", range(4))
def test_random_clifford_circuits(basis, seed):
    num_qubits = 2 + seed % 3
    reference = random_clifford(num_qubits, seed=seed)
    circuit = transpile(reference.to_circuit(), basis_gates=basis, optimization_level=1, seed_transpiler=seed)
    assert is_clifford(circuit)
    form = stabilizer_form(circuit)
    _assert_aer_form(form)
    assert Clifford(form) == reference
    assert np.allclose(Operator(form).data, Operator(circuit).data, atol=1e-7)


@pytest.mark.parametrize("basis", [["rz", "sx", "x", "ecr"], ["u", "cx"]], ids="-".join)
@pytest.mark.parametrize("seed", range(3))
def test_aer_stabilizer_samples_the_form(basis, seed):
    num_qubits = 4
    state_prep = random_clifford(num_qubits, seed=100 + seed).to_circuit()
    circuit = transpile(state_prep, basis_gates=basis, optimization_level=1, seed_transpiler=seed)
    probabilities = Statevector(circuit).probabilities_dict()
    circuit.measure_all()
    result = _simulator().run(stabilizer_form(circuit), shots=SHOTS, seed_simulator=seed).result()
    assert result.success
    _assert_sampled(result.get_counts(), probabilities, SHOTS)


@pytest.mark.parametrize("seed", range(3))
def test_aer_implements_each_accepted_gate(seed):
    """Random circuits of every gate the form may use, sampled against Statevector (ecr, cy, sxdg ...)."""
    rng = np.random.default_rng(seed)
    names = sorted(AER_STABILIZER_GATES - {"pauli"})
    circuit = QuantumCircuit(3)
    for _ in range(30):
        name = str(rng.choice([*names, "rz"]))
        if name == "rz":
            circuit.rz(int(rng.integers(-5, 6)) * (PI / 2), int(rng.integers(3)))
            continue
        width = 2 if name in ("cx", "cy", "cz", "ecr", "swap") else 1
        qubits = [int(q) for q in rng.permutation(3)[:width]]
        getattr(circuit, name)(*qubits)
    circuit.pauli("XYZ", [0, 1, 2])
    probabilities = Statevector(circuit).probabilities_dict()
    circuit.measure_all()
    assert stabilizer_form(circuit).data == circuit.data
    result = _simulator().run(circuit, shots=SHOTS, seed_simulator=seed).result()
    assert result.success
    _assert_sampled(result.get_counts(), probabilities, SHOTS)


def test_large_kicked_ising_completes():
    """127 qubits, 60 steps (not timed): as built, and a few steps transpiled for FakeSherbrooke."""
    device = FakeSherbrooke()
    edges = device.coupling_map.get_edges()
    circuit = kicked_ising(127, 60, PI / 2, edges, measure=True)
    assert is_clifford(circuit)
    form = stabilizer_form(circuit)
    assert set(form.count_ops()) <= ALLOWED
    assert not is_clifford(kicked_ising(127, 60, 0.3, edges))
    small = kicked_ising(127, 2, PI / 2, edges, measure=True)
    isa = transpile(
        small, device, optimization_level=1, initial_layout=small.metadata["physical_qubits"], seed_transpiler=1
    )
    assert is_clifford(isa)
    _assert_aer_form(stabilizer_form(isa))


def test_pauli_noise_channels_pass_and_other_channels_do_not():
    """PEA's and PEC's layer noise (a PauliLindbladError) and a Pauli QuantumError are sampled by
    Aer's stabilizer method, so they pass; amplitude damping is not a Clifford channel."""
    from qiskit.quantum_info import Pauli
    from qiskit_aer.noise import PauliLindbladError, amplitude_damping_error, pauli_error

    flips = PauliLindbladError([Pauli("XX")], [0.2])
    cases = [
        (flips, True),
        (pauli_error([("XI", 0.1), ("II", 0.9)]), True),
        (amplitude_damping_error(0.1).tensor(amplitude_damping_error(0.1)), False),
    ]
    for error, expected in cases:
        circuit = QuantumCircuit(2)
        circuit.h(0)
        circuit.append(error.to_instruction(), [0, 1])
        assert is_clifford(circuit) is expected
    circuit = QuantumCircuit(2)
    circuit.append(flips.to_instruction(), [0, 1])
    circuit.measure_all()
    counts = AerSimulator(method="stabilizer").run(stabilizer_form(circuit), shots=4000, seed_simulator=5).result()
    flipped = counts.get_counts().get("11", 0) / 4000
    assert abs(flipped - (1 - math.exp(-2 * 0.2)) / 2) < 4 * math.sqrt(0.17 * 0.83 / 4000)
