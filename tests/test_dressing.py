"""Gate twirling with IBM's compiled dressings (``mitigation.twirling.dressing_noise``): the same
circuit for every randomisation, the same gates as IBM's template, and the same physics as IBM's
local mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator, SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager

from conftest import spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.execution import ibm
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.options import finalize
from qrt_runner.mitigation.twirling import twirl_angles, twirl_template
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions


def _ising(n: int, steps: int) -> tuple[QuantumCircuit, list[SparsePauliOp]]:
    circuit = QuantumCircuit(n)
    for _ in range(steps):
        for parity in (0, 1):
            for i in range(parity, n - 1, 2):
                circuit.rzz(0.4, i, i + 1)
        for i in range(n):
            circuit.rx(0.4, i)
    observables = [SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], 1.0)], n) for i in range(n - 1)]
    return circuit, observables


def test_every_randomisation_of_a_dressed_template_is_the_circuit():
    theta, phi = Parameter("theta"), Parameter("phi")
    circuit = QuantumCircuit(4)
    circuit.h(0)
    circuit.sx(3)
    circuit.ry(phi, 3)  # no Pauli pending on qubit 3 yet: its sx stays as it was
    circuit.cx(0, 1)
    circuit.rz(theta, 1)  # a parametrised gate ends qubit 1's dressing before it
    circuit.sx(2)
    circuit.cx(1, 2)
    circuit.barrier()
    circuit.x(0)
    circuit.ecr(0, 1)
    circuit.cz(2, 3)
    circuit.s(2)  # trailing gates go into the final dressings
    values = {"theta": 0.7, "phi": -1.1}
    for strategy in ("active", "active-accum", "active-circuit", "all"):
        template = twirl_template(circuit, strategy, dressed=True)
        ops = template.count_ops()
        dressings = template.metadata["qrt_twirl_dressings"]
        assert all(before or after for _, before, after, _ in dressings)  # each merges a Pauli
        assert "u" not in ops
        # qubit 3's sx stays (phi's ry ends its dressing before any Pauli), as does theta's rz
        assert ops["sx"] == 2 * len(dressings) + 1 and ops["rz"] == 3 * len(dressings) + 1
        columns = twirl_angles(template, 12, np.random.default_rng(3))
        expected = Operator(circuit.assign_parameters(values))
        for r in range(12):
            bound = {p: values.get(p.name, columns.get(p.name, [0.0] * 12)[r]) for p in template.parameters}
            assert Operator(template.assign_parameters(bound)).equiv(expected), (strategy, r)


def test_decoupling_pulses_stay_single_gates_in_a_dressed_template():
    """IBM adds dynamical decoupling after boxing: an idle window's X pulses stay X gates."""
    circuit = QuantumCircuit(3)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.delay(100, 0)
    circuit.x(0)
    circuit.delay(200, 0)
    circuit.x(0)
    circuit.delay(100, 0)
    circuit.cx(0, 1)
    template = twirl_template(circuit, "active-accum", dressed=True)
    ops = template.count_ops()
    assert ops["x"] == 2 and ops["delay"] == 3
    columns = twirl_angles(template, 8, np.random.default_rng(5))
    for r in range(8):
        bound = template.assign_parameters({p: columns[p.name][r] for p in template.parameters})
        assert Operator(bound.remove_final_measurements(inplace=False)).equiv(Operator(circuit))


def _ibm_template_ops(isa: QuantumCircuit, observables) -> dict:
    from qiskit_ibm_runtime.executor_estimator.prepare import prepare
    from qiskit_ibm_runtime.options_models import EstimatorOptions as IbmOptions

    options = IbmOptions(resilience_level=1, default_shots=1024)
    options.twirling.enable_gates = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program, _ = prepare([(isa, observables)], options, add_tags=True)
    return dict(program.items[0].circuit.count_ops())


@pytest.mark.parametrize("steps", [1, 3])
def test_dressings_cost_the_sx_gates_of_ibms_own_template(steps):
    backend = LocalBackend.create("fake_manila")
    circuit, observables = _ising(5, steps)  # every qubit of the device (IBM also dresses idle ones it measures)
    isa = generate_preset_pass_manager(optimization_level=2, backend=backend.device, seed_transpiler=0).run(circuit)
    ibm_ops = _ibm_template_ops(isa, [o.apply_layout(isa.layout) for o in observables])
    ours = twirl_template(isa, "active-accum", dressed=True).count_ops()
    assert ours["sx"] == ibm_ops["sx"] and ours["rz"] == ibm_ops["rz"] and ours["cx"] == ibm_ops["cx"]
    assert ours["sx"] > 2 * isa.count_ops().get("sx", 0)  # twirling is not free on the device


def _options(dressed: bool) -> EstimatorOptions:
    spec = spec_for(
        [
            "mitigation.resilience_level=0",
            "mitigation.twirling.enable_gates=true",
            "mitigation.twirling.num_randomizations=32",
            f"mitigation.twirling.dressing_noise={str(dressed).lower()}",
        ]
    )
    return EstimatorOptions(default_shots=2**18, mitigation=finalize(spec.mitigation))


def test_dressed_twirling_on_a_device_matches_ibms_local_mode():
    """IBM's local mode simulates its compiled dressings; so does qrt with dressing_noise, and
    without it qrt's twirled circuits are measurably less noisy (this test fails without it)."""
    from qiskit_ibm_runtime.executor_estimator import Estimator as IbmEstimator
    from qiskit_ibm_runtime.options_models import EstimatorOptions as IbmOptions

    backend = LocalBackend.create("fake_manila", threads=2, seed_simulator=11)
    circuit, observables = _ising(4, 8)  # 48 CX, about 170 dressings
    isa = generate_preset_pass_manager(optimization_level=2, backend=backend.device, seed_transpiler=0).run(circuit)
    options = IbmOptions(resilience_level=0, default_shots=2**18)
    options.twirling.enable_gates = True
    options.twirling.num_randomizations = 32
    options.twirling.shots_per_randomization = 2**18 // 32
    options.simulator.seed_simulator = 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = IbmEstimator(mode=backend.device, options=options).run(
            [(isa, [o.apply_layout(isa.layout) for o in observables])]
        )
        reference = reference.result()[0].data
    mean_difference = {}
    for dressed in (True, False):
        data = Estimator(backend, options=_options(dressed)).run([(circuit, observables)]).result()[0].data
        sigma = np.hypot(data.stds, reference.stds).mean() / np.sqrt(len(observables))
        mean_difference[dressed] = np.mean(data.evs - reference.evs) / sigma
    assert abs(mean_difference[True]) < 3
    assert mean_difference[False] > 4  # free Paulis: less decay than the device's dressings give


def test_dressing_noise_is_local_only_and_never_reaches_ibm():
    with pytest.raises(
        ConfigError, match="mitigation.twirling.dressing_noise=True: simulates the error of the hardware"
    ):
        spec_for(["backend=ibm", "mitigation=level2", "mitigation.twirling.dressing_noise=true"])
    spec = spec_for(["backend=ibm", "mitigation=level2", "mitigation.twirling.dressing_noise=false"])
    assert "dressing_noise" not in ibm.runtime_options(spec).get("twirling", {})
    assert "dressing_noise" not in finalize(spec_for(["mitigation=level2"]).mitigation).to_dict()["twirling"]
    dressed = spec_for(["mitigation=level2", "mitigation.twirling.dressing_noise=true"])
    assert finalize(dressed.mitigation).to_dict()["twirling"]["dressing_noise"] is True
