"""``circuit=kicked_ising`` and ``observables=kicked_ising``: IBM's utility-experiment circuit as a
config, checked against ``Statevector`` and against its Clifford points' exact answers, placed on
the device patch it was cut from."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from conftest import FAST, run_cli, spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.tasks.runner import build_workload, run_experiment
from qrt_runner.workload.kicked_ising import connected_patch

KICKED = ["circuit=kicked_ising", "observables=kicked_ising", "mitigation=none", *FAST]


def _exact(workload) -> np.ndarray:
    state = Statevector(workload.circuit)
    return np.array([state.expectation_value(operator).real for _, operator in workload.observables])


def test_ideal_values_are_statevector_values():
    spec = spec_for(
        [*KICKED, "backend=aer", "circuit.num_qubits=12", "circuit.steps=3", "circuit.theta=0.3"]
        + ["observables.weight=6", "primitive.default_precision=0"]
    )
    workload = build_workload(spec)
    assert [label.count("Z") for label, _ in workload.observables] == [1, 1, 1, 6]
    result = run_experiment(spec, workload)
    assert result.status == "FINISHED", result.error
    np.testing.assert_allclose(result.estimator.evs.ravel(), _exact(workload), atol=1e-10)
    assert np.all(result.estimator.stds == 0)


def test_on_its_device_the_circuit_runs_on_the_patch_it_was_cut_from():
    spec = spec_for([*KICKED, "backend=fake_sherbrooke", "circuit.num_qubits=20"])
    edges = [list(edge) for edge in spec.circuit.coupling]
    assert spec.transpile.initial_layout == connected_patch(edges, 20)
    other = spec_for([*KICKED, "backend=fake_sherbrooke", "circuit.num_qubits=20", "transpile.initial_layout=null"])
    assert other.transpile.initial_layout == spec.transpile.initial_layout  # null: the patch
    given = list(range(100, 120))
    mine = spec_for([*KICKED, "backend=fake_sherbrooke", "circuit.num_qubits=20", f"transpile.initial_layout={given}"])
    assert mine.transpile.initial_layout == given  # a layout the user gives is kept


def test_clifford_point_is_exact_at_width_on_the_device_layout():
    """theta = pi/2 at 60 qubits, ideal on the device's patch: the stabilizer method's exact values
    equal those of a statevector-free reference (the same Clifford circuit run by Aer's stabilizer
    method with its own expectation values)."""
    from qiskit.quantum_info import Clifford

    spec = spec_for(
        [*KICKED, "backend=fake_sherbrooke", "backend.noise=none", "circuit.num_qubits=60", "circuit.steps=3"]
        + [f"circuit.theta={math.pi / 2}", "primitive.default_precision=0"]
    )
    workload = build_workload(spec)
    assert workload.simulation["method"] == "stabilizer"
    result = run_experiment(spec, workload)
    assert result.status == "FINISHED", result.error
    clifford = Clifford(workload.circuit)
    from qiskit.quantum_info import StabilizerState

    state = StabilizerState(clifford)
    exact = [state.expectation_value(operator.paulis[0]) for _, operator in workload.observables]
    np.testing.assert_allclose(result.estimator.evs.ravel(), exact, atol=1e-12)


def test_theta_zero_keeps_every_z_at_one_and_noise_lowers_it():
    """theta = 0: every Z observable is exactly 1; under the device's Pauli noise the raw value is
    below 1 by many standard errors (the noise is simulated, not ignored)."""
    spec = spec_for(
        [*KICKED, "backend=fake_sherbrooke", "backend.noise=pauli", "circuit.num_qubits=12", "circuit.steps=2"]
        + ["observables.weight=6", "primitive.default_shots=2000"]
    )
    result = run_experiment(spec)
    assert result.status == "FINISHED", result.error
    evs, stds = result.estimator.evs.ravel(), result.estimator.stds.ravel()
    assert np.all(evs < 1 - 3 * stds)
    assert evs[-1] < min(evs[:-1])  # the weight-6 product decays faster than single sites


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["circuit.device=fake_nowhere"], "circuit.device"),
        (["circuit.num_qubits=128"], "circuit.num_qubits"),
        (["circuit.steps=-1"], "circuit.steps"),
        (["circuit.num_qubits=5", "observables.weight=6"], "observables.weight"),
        (["circuit.coupling=[[0,1],[2,3]]", "circuit.num_qubits=3"], "circuit.num_qubits"),
    ],
)
def test_bad_values_are_refused_naming_the_key(overrides, key):
    with pytest.raises(ConfigError) as error:
        build_workload(spec_for([*KICKED, "backend=aer", *overrides]))
    assert str(error.value).startswith(key), str(error.value)


def test_own_coupling_graph_runs_ideal():
    spec = spec_for(
        [*KICKED, "backend=aer", "circuit.coupling=[[0,1],[1,2],[2,3],[3,0]]", "circuit.num_qubits=4"]
        + ["observables.weight=4", "primitive.default_precision=0", "circuit.theta=0.7"]
    )
    workload = build_workload(spec)
    assert workload.circuit.metadata["edges"] == [[0, 1], [0, 3], [1, 2], [2, 3]]
    result = run_experiment(spec, workload)
    np.testing.assert_allclose(result.estimator.evs.ravel(), _exact(workload), atol=1e-10)


def test_cli_refuses_an_unknown_device_in_one_line(tmp_path):
    proc = run_cli([*KICKED, "circuit.device=fake_nowhere"], cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "circuit.device" in lines[0] and "fake_sherbrooke" in lines[0], proc.stderr
