"""The utility paper's kicked-Ising circuit (kicked_ising.py)."""

from __future__ import annotations

import math
from collections import deque
from functools import reduce

import numpy as np
import pytest
from qiskit.circuit import Parameter
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeSherbrooke

from qrt_runner.execution.simulation.clifford import is_clifford, stabilizer_form
from qrt_runner.workload.kicked_ising import (
    connected_patch,
    heavy_hex_layers,
    kicked_ising,
    kicked_ising_observables,
)

PI = math.pi
SHERBROOKE_EDGES = FakeSherbrooke().coupling_map.get_edges()


def _undirected(edges) -> set[tuple[int, int]]:
    return {(min(a, b), max(a, b)) for a, b in edges if a != b}


def _assert_matchings_covering(layers, edges) -> None:
    for layer in layers:
        qubits = [q for edge in layer for q in edge]
        assert len(qubits) == len(set(qubits)), "a layer's gates share a qubit"
    listed = [edge for layer in layers for edge in layer]
    assert len(listed) == len(set(listed)) == len(edges)
    assert set(listed) == edges


def _connected(qubits, edges) -> bool:
    inside = set(qubits)
    neighbours: dict[int, set[int]] = {q: set() for q in inside}
    for a, b in edges:
        if a in inside and b in inside:
            neighbours[a].add(b)
            neighbours[b].add(a)
    start = next(iter(inside))
    seen, queue = {start}, deque([start])
    while queue:
        for n in neighbours[queue.popleft()] - seen:
            seen.add(n)
            queue.append(n)
    return seen == inside


def test_sherbrooke_heavy_hex_gives_three_matchings():
    layers = heavy_hex_layers(SHERBROOKE_EDGES, range(127))
    assert len(layers) == 3
    edges = _undirected(SHERBROOKE_EDGES)
    assert len(edges) == 144
    _assert_matchings_covering(layers, edges)


def test_layers_dedupe_and_restrict_to_the_qubits():
    edges = [(1, 0), (0, 1), (1, 2), (2, 1), (2, 3), (3, 4), (4, 4)]
    layers = heavy_hex_layers(edges, [0, 1, 2, 3])
    _assert_matchings_covering(layers, {(0, 1), (1, 2), (2, 3)})
    assert len(layers) == 2
    assert heavy_hex_layers(edges, [0]) == []
    assert heavy_hex_layers([], range(5)) == []


def test_greedy_overflow_recoloured_with_max_degree_layers():
    # a path (bipartite, degree 2) whose sorted-order greedy colouring needs three colours
    edges = [(0, 2), (0, 3), (1, 4), (1, 5), (2, 5), (3, 6)]
    layers = heavy_hex_layers(edges, range(7))
    assert len(layers) == 2
    _assert_matchings_covering(layers, set(edges))
    # an odd cycle cannot do with two: the greedy colouring stands
    triangle = heavy_hex_layers([(0, 1), (1, 2), (0, 2)], range(3))
    assert len(triangle) == 3
    _assert_matchings_covering(triangle, {(0, 1), (1, 2), (0, 2)})


@pytest.mark.parametrize("num_qubits", [1, 2, 20, 50, 100, 127])
def test_circuit_on_a_connected_patch(num_qubits):
    circuit = kicked_ising(num_qubits, 2, 0.3, SHERBROOKE_EDGES)
    physical = circuit.metadata["physical_qubits"]
    assert physical == sorted(physical) and len(set(physical)) == num_qubits == circuit.num_qubits
    assert physical[0] == 0 and _connected(physical, SHERBROOKE_EDGES)
    patch_edges = {
        (physical.index(a), physical.index(b))
        for a, b in _undirected(SHERBROOKE_EDGES)
        if a in physical and b in physical
    }
    assert {tuple(edge) for edge in circuit.metadata["edges"]} == patch_edges
    assert len(circuit.metadata["layers"]) == (0 if num_qubits == 1 else 1 if num_qubits == 2 else 3)
    ops = circuit.count_ops()
    assert ops["rx"] == 2 * num_qubits
    assert ops.get("rzz", 0) == 2 * len(patch_edges)
    gates = [i for i in circuit.data if i.name == "rzz"]
    assert all(float(i.params[0]) == -PI / 2 for i in gates)
    # the edges in a step follow the layers, in order
    step = [tuple(circuit.find_bit(q).index for q in i.qubits) for i in gates[: len(patch_edges)]]
    assert step == [tuple(edge) for layer in circuit.metadata["layers"] for edge in layer]


def test_edge_cases():
    empty = kicked_ising(5, 0, 0.3, SHERBROOKE_EDGES)
    assert len(empty.data) == 0 and empty.num_qubits == 5
    measured = kicked_ising(4, 1, 0.3, SHERBROOKE_EDGES, measure=True)
    assert measured.count_ops()["measure"] == 4
    with pytest.raises(ValueError, match="only 4 qubits"):
        kicked_ising(5, 1, 0.3, [(0, 1), (1, 2), (2, 3), (7, 8)])
    with pytest.raises(ValueError):
        kicked_ising(0, 1, 0.3, SHERBROOKE_EDGES)
    with pytest.raises(ValueError):
        kicked_ising(3, -1, 0.3, SHERBROOKE_EDGES)
    assert connected_patch([(0, 1), (1, 2), (5, 6)], 2, start=5) == [5, 6]


def _independent_state(num_qubits: int, steps: int, theta: float, edges) -> np.ndarray:
    """exp(i pi/4 sum_edges Z_a Z_b) (x)_q exp(-i theta/2 X_q), applied steps times, from numpy."""
    rx = np.array([[math.cos(theta / 2), -1j * math.sin(theta / 2)], [-1j * math.sin(theta / 2), math.cos(theta / 2)]])
    kick = reduce(np.kron, [rx] * num_qubits)
    index = np.arange(2**num_qubits)
    spins = [1 - 2 * ((index >> q) & 1) for q in range(num_qubits)]  # Z eigenvalue of qubit q (little-endian)
    energy = sum(spins[a] * spins[b] for a, b in edges)
    ising = np.exp(1j * PI / 4 * energy)  # RZZ(-pi/2) = exp(+i pi/4 ZZ) on every edge
    state = np.zeros(2**num_qubits, dtype=complex)
    state[0] = 1
    for _ in range(steps):
        state = ising * (kick @ state)
    return state


def _z_expectation(state: np.ndarray, num_qubits: int, qubits) -> float:
    index = np.arange(2**num_qubits)
    sign = reduce(np.multiply, [1 - 2 * ((index >> q) & 1) for q in qubits])
    return float(np.sum(sign * np.abs(state) ** 2))


@pytest.mark.parametrize("theta", [0.3, PI / 2, 1.1])
def test_statevector_matches_an_independent_construction(theta):
    num_qubits, steps = 8, 2
    circuit = kicked_ising(num_qubits, steps, theta, SHERBROOKE_EDGES)
    edges = circuit.metadata["edges"]
    assert len(edges) == 7  # the 8-qubit patch (physical 0-4, 14, 18, 19) is a tree with a branch at 0
    expected = _independent_state(num_qubits, steps, theta, edges)
    state = Statevector(circuit)
    assert np.allclose(state.data, expected, atol=1e-10)
    for q in range(num_qubits):
        ez = state.expectation_value(SparsePauliOp.from_sparse_list([("Z", [q], 1)], num_qubits)).real
        assert ez == pytest.approx(_z_expectation(expected, num_qubits, [q]), abs=1e-10)


def test_theta_parameter():
    theta = Parameter("theta_h")
    circuit = kicked_ising(6, 3, theta, SHERBROOKE_EDGES)
    assert circuit.parameters == {theta}
    assert not is_clifford(circuit)
    bound = circuit.assign_parameters({theta: 0.3})
    assert Statevector(bound).equiv(Statevector(kicked_ising(6, 3, 0.3, SHERBROOKE_EDGES)))
    assert is_clifford(circuit.assign_parameters({theta: PI / 2}))


def test_theta_zero_leaves_every_z_at_one():
    circuit = kicked_ising(10, 3, 0.0, SHERBROOKE_EDGES)
    state = Statevector(circuit)
    for label, observable in kicked_ising_observables(10, circuit.metadata["edges"], weight=10):
        assert state.expectation_value(observable).real == pytest.approx(1.0, abs=1e-12), label
    for q in range(10):
        z = SparsePauliOp.from_sparse_list([("Z", [q], 1)], 10)
        assert state.expectation_value(z).real == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("theta", "clifford"), [(0.0, True), (PI / 2, True), (0.3, False), (PI, True)])
def test_clifford_exactly_at_quarter_turns(theta, clifford):
    assert is_clifford(kicked_ising(20, 2, theta, SHERBROOKE_EDGES)) is clifford


def test_clifford_point_sampled_by_aer_stabilizer():
    circuit = kicked_ising(8, 4, PI / 2, SHERBROOKE_EDGES)
    probabilities = {k: p for k, p in Statevector(circuit).probabilities_dict().items() if p > 1e-12}
    assert len(probabilities) == 32  # 224 of the 256 outcomes never occur: a sharp check
    circuit.measure_all()
    shots = 4000
    simulator = AerSimulator(method="stabilizer", max_parallel_threads=1)
    counts = simulator.run(stabilizer_form(circuit), shots=shots, seed_simulator=3).result().get_counts()
    for outcome in set(counts) | set(probabilities):
        p = probabilities.get(outcome, 0.0)
        seen = counts.get(outcome, 0) / shots
        if p < 1e-12:
            assert seen == 0
        else:  # 5 standard errors
            assert abs(seen - p) <= 5 * math.sqrt(p * (1 - p) / shots)


def test_observables():
    circuit = kicked_ising(20, 1, 0.3, SHERBROOKE_EDGES)
    edges = circuit.metadata["edges"]
    observables = kicked_ising_observables(20, edges)
    labels = [label for label, _ in observables]
    assert labels[0] == "I" * 9 + "Z" + "I" * 10  # qubit 10, little-endian: 10th character from the right
    assert labels[1] == "I" * 19 + "Z" and labels[2] == "Z" + "I" * 19
    heavy_label, heavy = observables[3]
    assert heavy.paulis[0].to_label() == heavy_label and heavy.num_qubits == 20
    support = [q for q in range(20) if heavy_label[19 - q] == "Z"]
    assert len(support) == 10 and 10 in support and set(heavy_label) == {"I", "Z"}
    assert _connected(support, [tuple(edge) for edge in edges])
    weight_17 = kicked_ising_observables(20, edges, weight=17)[-1][0]
    assert weight_17.count("Z") == 17
    assert len(kicked_ising_observables(8, kicked_ising(8, 1, 0.3, SHERBROOKE_EDGES).metadata["edges"])) == 3
    assert [label for label, _ in kicked_ising_observables(1, [])] == ["Z"]
    with pytest.raises(ValueError):
        kicked_ising_observables(12, [(0, 1), (1, 2)], weight=10)
