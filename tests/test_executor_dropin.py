"""IBM's client-side primitives (``qiskit_ibm_runtime.executor_estimator`` / ``executor_sampler`` /
``options_models``, qiskit-ibm-runtime 0.50+) as ``qrt_runner.runtime``: a script written for
IBM's classes, as IBM's docs write them (options set attribute by attribute, a learned layer
model assigned as ``zip(layers, maps)``), runs with its import lines changed and nothing else.

References we did not write: exact values (Statevector); the readout-free noisy value (Aer's
density matrix with the device's noise model less its readout errors), which TREX alone must
reach; IBM's client-side Estimator and Sampler run side by side on the same ISA circuits,
options, shots and seeds (they run locally on fake devices, applying their mitigation).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import PauliLindbladMap, PauliList, SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.exceptions import IBMInputValueError
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qrt_runner.adapters.qiskit_ibm_runtime import finalize_estimator_options
from qrt_runner.mitigation.layer_noise import DeviceLayerNoise
from qrt_runner.runtime import Batch, EstimatorV2, Session, UnsupportedOption
from qrt_runner.runtime.client_options import ACCEPTED, APPLIED, estimator_dropin_options
from qrt_runner.runtime.executor_estimator import Estimator
from qrt_runner.runtime.executor_sampler import Sampler
from qrt_runner.runtime.layer_models import layer_key
from qrt_runner.runtime.options_models import EstimatorOptions

SHOTS = 4000
K = 4.0  # standard errors allowed

# The script, as IBM's docs write it; only its import lines differ between the two runs.
SCRIPT = """
import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
{imports}

backend = FakeManilaV2()
qc = QuantumCircuit(2)
qc.h(0)
qc.cx(0, 1)
qc.rz(0.3, 1)
qc.cx(0, 1)
qc.ry(0.4, 0)
qc.cx(0, 1)
pm = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1)
isa_qc = pm.run(qc)
isa_obs = [SparsePauliOp(label).apply_layout(isa_qc.layout) for label in ("ZZ", "XX", "ZI", "IZ")]
pubs = [(isa_qc, isa_obs)]
results = {{}}

for level in (0, 1, 2):
    estimator = Estimator(mode=backend)
    estimator.options.resilience_level = level
    estimator.options.default_shots = {shots}
    estimator.options.simulator.seed_simulator = 11
    results[level] = estimator.run(pubs).result()

estimator = Estimator(mode=backend)  # ZNE alone
estimator.options.resilience_level = 0
estimator.options.resilience.zne_mitigation = True
estimator.options.resilience.zne.noise_factors = (1, 3, 5)
estimator.options.resilience.zne.extrapolator = "linear"
estimator.options.default_shots = {shots}
estimator.options.simulator.seed_simulator = 12
results["zne"] = estimator.run(pubs).result()

estimator = Estimator(mode=backend)  # TREX alone
estimator.options.resilience_level = 0
estimator.options.resilience.measure_mitigation = True
estimator.options.default_shots = {shots}
estimator.options.simulator.seed_simulator = 13
results["trex"] = estimator.run(pubs).result()
{learned}
"""

LEARNED = """
estimator = Estimator(mode=backend)  # PEC with a learned layer noise model
estimator.options.resilience.pec_mitigation = True
estimator.options.default_shots = {shots}
estimator.options.simulator.seed_simulator = 14
layers = estimator.find_unique_layers(pubs)
learner = NoiseLearnerV3(mode=backend)
learner.options.num_randomizations = 16
learner.options.shots_per_randomization = 128
learner_result = learner.run(layers).result()
pauli_lindblad_maps = learner_result.to_pauli_lindblad_maps()
estimator.options.resilience.layer_noise_model = zip(layers, pauli_lindblad_maps)
results["pec"] = estimator.run(pubs).result()
"""

OURS = "from qrt_runner.runtime.executor_estimator import Estimator\nfrom qrt_runner.runtime import NoiseLearnerV3"
IBMS = "from qiskit_ibm_runtime.executor_estimator import Estimator"


def _run_script(imports: str, learned: str = "") -> dict:
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(SCRIPT.format(imports=imports, shots=SHOTS, learned=learned.format(shots=SHOTS)), namespace)  # noqa: S102
    return namespace["results"]


@pytest.fixture(scope="module")
def circuit():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(0.3, 1)
    qc.cx(0, 1)
    qc.ry(0.4, 0)
    qc.cx(0, 1)
    return qc


@pytest.fixture(scope="module")
def exact(circuit):
    return np.array([Statevector(circuit).expectation_value(SparsePauliOp(p)).real for p in ("ZZ", "XX", "ZI", "IZ")])


@pytest.fixture(scope="module")
def readout_free(circuit):
    """The device's noise without its readout errors (what TREX alone should give), exactly."""
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator

    backend = FakeManilaV2()
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(circuit)
    noise = NoiseModel.from_backend(backend, readout_error=False)
    aer = AerEstimator(
        options={"backend_options": {"method": "density_matrix", "noise_model": noise, "max_parallel_threads": 1}}
    )
    observables = [SparsePauliOp(p).apply_layout(isa.layout) for p in ("ZZ", "XX", "ZI", "IZ")]
    return aer.run([(isa, observables)], precision=0).result()[0].data.evs


@pytest.fixture(scope="module")
def ours():
    return _run_script(OURS, LEARNED)


@pytest.fixture(scope="module")
def ibms():
    return _run_script(IBMS)


def _values(result):
    return np.asarray(result[0].data.evs), np.asarray(result[0].data.stds)


# ---------------------------------------------------------------- the acceptance script


@pytest.mark.parametrize("case", [2, "pec"])  # ZNE alone keeps the readout error: TREX does not run
def test_mitigated_values_agree_with_exact_ones_within_their_standard_errors(ours, exact, case):
    evs, stds = _values(ours[case])
    assert np.all(np.abs(evs - exact) <= K * stds), (case, evs, exact, stds)


@pytest.mark.parametrize("case", [1, 2, "trex", "pec"])
def test_mitigation_reduces_the_error_of_the_raw_values(ours, exact, case):
    raw_error = np.mean(np.abs(_values(ours[0])[0] - exact))
    mitigated_error = np.mean(np.abs(_values(ours[case])[0] - exact))
    assert mitigated_error < raw_error, (case, mitigated_error, raw_error)


@pytest.mark.parametrize("case", [1, "trex"])
def test_trex_alone_reaches_the_readout_free_value(ours, readout_free, case):
    evs, stds = _values(ours[case])
    calibration = 0.01 * np.abs(evs)  # the calibration's own shot noise (4096 shots), not in stds
    assert np.all(np.abs(evs - readout_free) <= K * np.hypot(stds, calibration)), (evs, readout_free, stds)


def test_pec_ran_with_the_learned_model_on_every_layer(ours):
    noise = ours["pec"][0].metadata["mitigation"]["layer_noise_model"]
    assert noise["num_unmodelled_layers"] == 0 and noise["num_layers"] == 3
    assert "layer_models" in noise["source"]  # the model assigned, not the device's


# ---------------------------------------------------------------- side by side with IBM's


@pytest.mark.parametrize("case", [0, 1, 2, "zne", "trex"])
def test_values_agree_with_ibms_client_side_estimator(ours, ibms, exact, case):
    (mine, my_stds), (theirs, their_stds) = _values(ours[case]), _values(ibms[case])
    calibration = 0.01 * np.abs(mine) if case != 0 else 0.0
    spread = np.sqrt(my_stds**2 + their_stds**2 + 2 * calibration**2)
    assert np.all(np.abs(mine - theirs) <= K * spread), (case, mine, theirs, spread)
    my_error, their_error = np.mean(np.abs(mine - exact)), np.mean(np.abs(theirs - exact))
    assert my_error <= their_error + K * np.mean(spread) / 2, (case, my_error, their_error)


@pytest.mark.slow
def test_over_six_seeds_ours_are_at_least_as_accurate_as_ibms(exact):
    """The figures of the README: mean |error| per case over 6 seeds, side by side (``pytest -s`` prints them)."""
    cases = [0, 1, 2, "zne", "trex"]
    errors: dict = {name: {case: [] for case in cases} for name in ("ours", "ibm")}
    for shift in range(6):
        for name, imports in (("ours", OURS), ("ibm", IBMS)):
            source = SCRIPT.format(imports=imports, shots=SHOTS, learned="")
            namespace: dict = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(source.replace("seed_simulator = 1", f"seed_simulator = {100 * shift}+1"), namespace)  # noqa: S102
            for case in cases:
                errors[name][case].append(np.mean(np.abs(_values(namespace["results"][case])[0] - exact)))
    for case in cases:
        mine, theirs = np.array(errors["ours"][case]), np.array(errors["ibm"][case])
        sem = np.hypot(mine.std(ddof=1), theirs.std(ddof=1)) / np.sqrt(len(mine))
        print(f"{case!s:5} qrt_runner {mine.mean():.4f}  IBM {theirs.mean():.4f}  (+- {sem:.4f})")
        assert mine.mean() <= theirs.mean() + 3 * sem, (case, mine.mean(), theirs.mean(), sem)


def test_the_result_has_ibms_fields_and_shapes(ours, ibms):
    for case in (0, 2, "zne"):
        assert type(ours[case][0]) is type(ibms[case][0])  # IBM's EstimatorPubResult
        mine, theirs = ours[case][0].data, ibms[case][0].data
        assert sorted(mine.keys()) == sorted(theirs.keys()), case
        assert all(np.shape(mine[k]) == np.shape(theirs[k]) for k in mine.keys()), case
    assert set(ibms[2].metadata) - {"executor"} <= set(ours[2].metadata)
    assert ours[2].metadata["shots"] == SHOTS and ours[2].metadata["target_precision"] is None
    assert ours[2].metadata["options"] == ibms[2].metadata["options"]


def test_zne_fields_follow_a_broadcast_pub_shape():
    from qiskit.circuit import Parameter

    backend = FakeManilaV2()
    theta = Parameter("t")
    qc = QuantumCircuit(2)
    qc.ry(theta, 0)
    qc.cx(0, 1)
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(qc)
    observables = [[SparsePauliOp(p).apply_layout(isa.layout)] for p in ("ZZ", "XX")]  # (2, 1)
    estimator = Estimator(mode=backend)
    estimator.options.resilience_level = 2
    estimator.options.default_shots = 300
    data = estimator.run([(isa, observables, [[0.1], [0.7], [1.3]])]).result()[0].data  # params (3,)
    assert data.evs.shape == (2, 3) and data.evs_noise_factors.shape == (2, 3, 3)
    assert data.evs_extrapolated.shape == data.stds_extrapolated.shape == (2, 3, 2, 4)
    assert np.all(data.stds_extrapolated[..., 1:] > 0)  # the fits at the measured factors have errors
    exact = np.array([[1.0] * 3, np.sin([0.1, 0.7, 1.3])])  # ry(t) then cx: <ZZ> = 1, <XX> = sin t
    assert np.all(np.abs(data.evs_noise_factors[..., 0] - exact) < 0.25)  # each value in its place


def test_pec_agrees_with_ibms_on_ibms_own_layers(circuit, exact):
    """IBM's boxes (found by IBM's estimator) with maps of the device's layer noise, given to both;
    IBM's local simulator told not to inject them (``simulator.layer_noise_model = []``)."""
    from qiskit_ibm_runtime.executor_estimator import Estimator as IbmEstimator

    backend = FakeManilaV2()
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(circuit)
    pubs = [(isa, [SparsePauliOp(p).apply_layout(isa.layout) for p in ("ZZ", "XX", "ZI", "IZ")])]
    reference = IbmEstimator(mode=backend)
    reference.options.resilience.pec_mitigation = True
    layers = reference.find_unique_layers(pubs)
    maps = [_device_map(box, isa) for box in layers]
    values = {}
    for name, cls in (("ours", Estimator), ("ibm", IbmEstimator)):
        estimator = cls(mode=backend)
        estimator.options.resilience.pec_mitigation = True
        estimator.options.default_shots = SHOTS
        estimator.options.simulator.seed_simulator = 21
        estimator.options.simulator.layer_noise_model = []
        estimator.options.resilience.layer_noise_model = zip(layers, maps)
        values[name] = _values(estimator.run(pubs).result())
    (mine, my_stds), (theirs, their_stds) = values["ours"], values["ibm"]
    assert np.all(np.abs(mine - exact) <= K * my_stds)
    assert np.all(np.abs(mine - theirs) <= K * np.hypot(my_stds, their_stds))
    assert np.mean(np.abs(mine - exact)) <= np.mean(np.abs(theirs - exact)) + K * np.mean(their_stds) / 2


def _device_map(box, isa) -> PauliLindbladMap:
    """The fake device's model of a box's gates, as a map on the box's qubits."""
    gates, qubits = layer_key(box, [isa])
    model = DeviceLayerNoise("fake_manila").model(gates)
    position = {q: i for i, q in enumerate(qubits)}
    terms = []
    for label, rate in zip(model.labels, model.rates):
        on = [
            (label[len(label) - 1 - i], position[q])
            for i, q in enumerate(model.qubits)
            if label[len(label) - 1 - i] != "I"
        ]
        terms.append(("".join(p for p, _ in on), [i for _, i in on], rate))
    return PauliLindbladMap.from_sparse_list(terms, num_qubits=len(qubits))


def _bell() -> QuantumCircuit:
    bell = QuantumCircuit(2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    return bell


def _bell_isa(backend) -> QuantumCircuit:
    """A measured Bell circuit transpiled for ``backend`` (optimization level 1, seed 1)."""
    return generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(_bell())


def test_sampler_counts_agree_with_ibms_client_side_sampler():
    from qiskit_ibm_runtime.executor_sampler import Sampler as IbmSampler

    backend = FakeManilaV2()
    isa = _bell_isa(backend)
    shots = 4000
    counts, results = {}, {}
    for name, cls in (("ours", Sampler), ("ibm", IbmSampler)):
        sampler = cls(mode=backend)
        sampler.options.default_shots = shots
        sampler.options.simulator.seed_simulator = 5
        results[name] = sampler.run([isa]).result()
        counts[name] = results[name][0].data.meas.get_counts()
    assert type(results["ours"][0]) is type(results["ibm"][0])
    assert {k: results["ours"].metadata[k] for k in ("options", "shots")} == {
        k: results["ibm"].metadata[k] for k in ("options", "shots")
    }
    assert sum(counts["ours"].values()) == shots
    keys = sorted(set(counts["ours"]) | set(counts["ibm"]))
    mine = np.array([counts["ours"].get(k, 0) for k in keys]) / shots
    theirs = np.array([counts["ibm"].get(k, 0) for k in keys]) / shots
    sigma = np.sqrt((mine * (1 - mine) + theirs * (1 - theirs)) / shots) + 1 / shots
    assert np.all(np.abs(mine - theirs) <= K * sigma), counts


def test_sampler_shots_are_resolved_as_ibms_from_the_pubs():
    """A PUB's own shots are the job's (reported in the metadata, as IBM's); PUBs with different shots are
    IBM's refusal, with its message."""
    from qiskit_ibm_runtime.executor_sampler import Sampler as IbmSampler

    backend = FakeManilaV2()
    isa = _bell_isa(backend)
    for cls in (Sampler, IbmSampler):
        sampler = cls(mode=backend, options={"default_shots": 300})
        sampler.options.simulator.seed_simulator = 5
        result = sampler.run([(isa, None, 40), (isa, None, 40)]).result()
        assert result.metadata["shots"] == 40, cls
        assert [sum(pub.data.meas.get_counts().values()) for pub in result] == [40, 40], cls
        assert sampler.run([(isa, None, 40)], shots=40).result().metadata["shots"] == 40, cls
        with pytest.raises(
            IBMInputValueError, match=r"All pubs must have the same number of shots. Found: \{40, 300\}"
        ):
            sampler.run([(isa, None, 40), isa])  # the second takes default_shots


# ---------------------------------------------------------------- options, refusals, jobs

APPLIED_VALUES = {
    "default_precision": 0.05,
    "default_shots": 123,
    "resilience_level": 2,
    "max_execution_time": 60,
    "environment.log_level": "INFO",
    "environment.job_tags": ["a"],
    "simulator.seed_simulator": 7,
    "resilience.measure_mitigation": False,
    "resilience.measure_noise_learning.num_randomizations": 5,
    "resilience.zne_mitigation": True,
    "resilience.pec_mitigation": True,
    "resilience.pec.max_overhead": 50.0,
    "resilience.pec.noise_gain": 0.5,
    "twirling.enable_gates": True,
    "twirling.enable_measure": True,
    "twirling.num_randomizations": 7,
    "twirling.shots_per_randomization": 9,
    "twirling.strategy": "all",
    "dynamical_decoupling.enable": True,
    "dynamical_decoupling.sequence_type": "XY4",
    "dynamical_decoupling.extra_slack_distribution": "edges",
    "dynamical_decoupling.scheduling_method": "asap",
    "dynamical_decoupling.skip_reset_qubits": True,
    "resilience.zne.amplifier": "gate_folding_back",
    "resilience.zne.noise_factors": [1.0, 2.0, 3.0],
    "resilience.zne.extrapolator": "polynomial_degree_1",
    "resilience.zne.extrapolated_noise_factors": [0.0, 1.0],
}


def _set_path(root, path, value):
    *parents, leaf = path.split(".")
    for parent in parents:
        root = getattr(root, parent)
    setattr(root, leaf, value)


def _get_path(root, path):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def test_ibms_import_paths_are_there():
    import qiskit_ibm_runtime.options_models as ibm_models

    from qrt_runner.runtime import (
        NoiseLearnerV3,
        executor_estimator,
        executor_sampler,
        noise_learner_v3,
        options_models,
    )

    subclassed = {"EstimatorOptions", "ResilienceOptions"}  # layer_noise_model also takes IBM's learner result
    for name in {name for name in dir(ibm_models) if name.endswith("Options")}:
        ours, theirs = getattr(options_models, name), getattr(ibm_models, name)
        assert issubclass(ours, theirs) if name in subclassed else ours is theirs, name
    assert executor_estimator.EstimatorV2 is Estimator and executor_sampler.SamplerV2 is Sampler
    assert noise_learner_v3.NoiseLearnerV3 is NoiseLearnerV3


def test_every_option_of_ibms_models_is_applied_accepted_or_the_layer_model():
    from qiskit_ibm_runtime.options_models import EstimatorOptions as IbmEstimatorOptions
    from qiskit_ibm_runtime.options_models import SamplerOptions as IbmSamplerOptions

    def leaves(model, prefix=""):
        for name in type(model).model_fields:
            value = getattr(model, name)
            if hasattr(type(value), "model_fields"):
                yield from leaves(value, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    known = APPLIED | set(ACCEPTED) | {"resilience.layer_noise_model"}
    assert set(leaves(IbmEstimatorOptions())) | set(leaves(IbmSamplerOptions())) <= known
    assert set(APPLIED_VALUES) == APPLIED


@pytest.mark.parametrize("path", sorted(APPLIED_VALUES))
def test_every_applied_option_reaches_the_engines_options(path):
    options = EstimatorOptions()
    options.resilience_level = 1 if "measure_noise" in path else 0  # TREX's learning needs TREX
    _set_path(options, path, APPLIED_VALUES[path])
    dropin = estimator_dropin_options(finalize_estimator_options(options))
    got = _get_path(dropin, path)
    assert (list(got) if isinstance(got, tuple) else got) == APPLIED_VALUES[path], path
    local = EstimatorV2(mode=FakeManilaV2(), options=dropin)  # the deprecated drop-in's engine options
    backend = local._target()[0]
    if path == "simulator.seed_simulator":
        assert backend.seed_simulator == APPLIED_VALUES[path]
        return
    if path == "environment.job_tags":
        assert local.run([_tiny_pub()]).tags == APPLIED_VALUES[path]
        return
    engine = local.local_options(backend)  # the engine takes it
    if path == "environment.log_level":
        assert logging.getLogger("qrt_runner").getEffectiveLevel() == logging.INFO
        logging.getLogger("qrt_runner").setLevel(logging.WARNING)
        return
    got = _get_path(engine if "." not in path and path != "resilience_level" else engine.mitigation, path)
    expected = [APPLIED_VALUES[path]] if path == "resilience.zne.extrapolator" else APPLIED_VALUES[path]
    assert (list(got) if isinstance(got, tuple) else got) == expected, path


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("twirling.group", "local_c1", "options.twirling.group"),
        ("execution.init_qubits", False, "options.execution.init_qubits"),
        ("execution.scheduler_timing", True, "options.execution.scheduler_timing"),
        ("experimental", {"x": 1}, "options.experimental"),
        ("environment.private", True, "options.environment.private"),
        ("simulator.angle_decimals", 3, "options.simulator.angle_decimals"),
    ],
)
def test_an_option_qrt_runner_cannot_honour_is_refused_by_name(path, value, named):
    estimator = Estimator(mode=FakeManilaV2())
    *parents, leaf = path.split(".")
    node = estimator.options
    for parent in parents:
        node = getattr(node, parent)
    setattr(node, leaf, value)  # IBM's validation accepts it
    with pytest.raises(UnsupportedOption, match=rf"^{named}=.* is not supported by qrt_runner: \S"):
        estimator.run([_tiny_pub()])


def test_ibms_validation_and_input_checks_apply():
    estimator = Estimator(mode=FakeManilaV2(), options={"default_shots": 100})
    with pytest.raises(ValueError, match="resilience_level"):
        estimator.options.resilience_level = 5
    with pytest.raises(ValueError, match="no_such"):
        estimator.options.resilience.zne.no_such = 1
    with pytest.raises(TypeError, match="Expected EstimatorOptions or dict"):
        Estimator(mode=FakeManilaV2(), options=3)
    with pytest.raises(IBMInputValueError, match="same precision"):
        estimator.run([(*_tiny_pub(), None, 0.1), (*_tiny_pub(), None, 0.2)])
    estimator.options.resilience.pec_mitigation = True
    estimator.options.resilience.zne_mitigation = True
    with pytest.raises(IBMInputValueError, match="incompatible"):
        estimator.run([_tiny_pub()])
    with pytest.raises(ValueError, match=r"dry_run=True"):
        estimator.run([_tiny_pub()], dry_run=True)
    with pytest.raises(ValueError, match=r"types='all'"):
        estimator.find_unique_layers([_tiny_pub()], types="all")


def test_ibms_options_objects_are_kept_and_taken_as_ibms_are():
    """IBM's ``EstimatorOptions`` given to the constructor is the primitive's (a later change applies, as
    with IBM's Estimator), and IBM's ``ResilienceOptions`` is accepted as ``options.resilience``."""
    from qiskit_ibm_runtime.executor_estimator import Estimator as IbmEstimator
    from qiskit_ibm_runtime.options_models import EstimatorOptions as IbmEstimatorOptions
    from qiskit_ibm_runtime.options_models import ResilienceOptions as IbmResilienceOptions

    for cls in (Estimator, IbmEstimator):
        given = IbmEstimatorOptions()
        estimator = cls(mode=FakeManilaV2(), options=given)
        given.resilience_level = 2
        assert estimator.options is given and estimator.finalize_options().resilience.zne_mitigation, cls
        estimator.options.resilience = IbmResilienceOptions(zne_mitigation=True, measure_mitigation=False)
        finalized = estimator.finalize_options().resilience
        assert finalized.zne_mitigation and not finalized.measure_mitigation, cls
    ours = EstimatorOptions()
    ours.resilience = IbmResilienceOptions(pec_mitigation=True)
    assert ours.resilience.pec_mitigation and type(ours.resilience).__module__ == "qrt_runner.runtime.options_models"
    estimator = Estimator(mode=FakeManilaV2(), options=IbmEstimatorOptions(default_shots=200))
    estimator.options.resilience_level = 0
    estimator.options.simulator.seed_simulator = 3
    result = estimator.run([_tiny_pub()]).result()
    assert result.metadata["shots"] == 200 and result.metadata["options"]["resilience_level"] == 0


def test_a_layer_model_missing_a_layer_is_refused_naming_it():
    backend = FakeManilaV2()
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.cx(1, 2)
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(qc)
    pub = (isa, SparsePauliOp("ZZZ").apply_layout(isa.layout))
    estimator = Estimator(mode=backend)
    estimator.options.resilience.pec_mitigation = True
    layers = estimator.find_unique_layers([pub])
    assert len(layers) == 2 and all(box.operation.name == "box" for box in layers)
    estimator.options.resilience.layer_noise_model = [(layers[0], _device_map(layers[0], isa))]
    with pytest.raises(ValueError, match=r"has no model for the layer cx\(\d,\d\) of PUB 0"):
        estimator.run([pub])
    estimator.options.default_shots = 200
    estimator.options.resilience.pec_mitigation = False  # only PEC and PEA read the model
    assert "layer_noise_model" not in estimator.run([pub]).result()[0].metadata["mitigation"]
    estimator.options.resilience.pec_mitigation = True
    estimator.options.resilience.layer_noise_model = zip(layers, [_device_map(box, isa) for box in layers])
    model = estimator.run([pub]).result()[0].metadata["mitigation"]["layer_noise_model"]
    assert model["num_layers"] == 2 and model["num_unmodelled_layers"] == 0  # the engine's layers are these


def test_a_layer_model_for_a_circuit_that_is_not_isa_is_refused():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cz(0, 1)
    estimator = Estimator(mode=FakeManilaV2())
    estimator.options.resilience.pec_mitigation = True
    pub = (qc, SparsePauliOp("ZZ"))
    layers = estimator.find_unique_layers([pub])
    noise = PauliLindbladMap.from_list([("IX", 0.01)])
    estimator.options.resilience.layer_noise_model = zip(layers, [noise])
    with pytest.raises(ValueError, match=r"PUB 0 is not an ISA circuit \(2 qubits, the backend has 5\)"):
        estimator.run([pub])
    wide = QuantumCircuit(5)
    wide.cz(0, 1)
    estimator.options.resilience.layer_noise_model = zip(estimator.find_unique_layers([(wide, "ZZIII")]), [noise])
    with pytest.raises(ValueError, match=r"PUB 0 is not an ISA circuit \(cz on qubits \(0, 1\) is not the backend's"):
        estimator.run([(wide, "ZZIII")])


def test_pec_on_the_ideal_simulator_is_refused():
    from qiskit_aer import AerSimulator

    estimator = Estimator(mode=AerSimulator())
    estimator.options.resilience.pec_mitigation = True
    with pytest.raises(ValueError, match=r"^options\.resilience: PEC and PEA act on a device's noise"):
        estimator.run([(QuantumCircuit(2), "ZZ")])


def test_ibms_older_learner_result_is_accepted_as_a_layer_model():
    """A list of IBM's ``LayerError`` (the V2 ``NoiseLearner``'s result) becomes the model PEC uses."""
    from qiskit_ibm_runtime.results import LayerError, PauliLindbladError

    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    error = PauliLindbladError(PauliList(["IX", "ZZ"]), [0.01, 0.02])
    options = EstimatorOptions()
    options.resilience.layer_noise_model = [LayerError(layer, [0, 1], error)]
    box, noise = options.resilience.layer_noise_model[0]
    assert box.operation.label == "qrt_layer:0,1" and noise.num_qubits == 2
    assert sorted((p, tuple(i), r) for p, i, r in noise.to_sparse_list()) == [("X", (0,), 0.01), ("ZZ", (0, 1), 0.02)]
    estimator = Estimator(mode=FakeManilaV2(), options=options)
    estimator.options.resilience.pec_mitigation = True
    estimator.options.default_shots = 200
    result = estimator.run([_tiny_pub()]).result()
    model = result[0].metadata["mitigation"]["layer_noise_model"]
    assert model["layers"][0]["generators"] == {"IX": 0.01, "ZZ": 0.02}


def test_jobs_sessions_and_batches_look_like_ibms():
    backend = FakeManilaV2()
    with Session(backend=backend, max_time="10m") as session:
        estimator = Estimator(mode=session)
        assert estimator.mode is session and estimator.backend() is backend
        estimator.options.default_shots = 200
        job = estimator.run([_tiny_pub()])
        assert job.result()[0].data.evs.shape == () and job.done() and job.status() == "DONE"
        assert job.session_id == session.session_id and job.primitive_id == "executor"
        assert job.backend() is backend and job.error_message() is None and job.usage() >= 0
        assert job.result() is job.result()  # converted once
    with Batch(backend=backend) as batch:
        sampler = Sampler(mode=batch, options={"default_shots": 100})
        assert sum(sampler.run([_bell()]).result()[0].data.meas.get_counts().values()) == 100
    assert Estimator(mode=backend).mode is None


def test_a_job_waited_on_with_a_timeout_raises_ibms_timeout_error_and_goes_on():
    from qiskit_ibm_runtime.exceptions import RuntimeJobTimeoutError

    estimator = Estimator(mode=FakeManilaV2(), options={"default_shots": 100, "resilience_level": 2})
    job = estimator.run([_tiny_pub()])  # ZNE: several circuits, simulated in another process
    with pytest.raises(RuntimeJobTimeoutError, match=r"Timed out waiting for job to complete after 0 secs"):
        job.result(timeout=0)  # wait_for_final_state(timeout=0), which raises
    job.wait_for_final_state(timeout=120)
    assert job.done() and job.result(timeout=0)[0].data.evs.shape == ()


def _tiny_pub():
    backend = FakeManilaV2()
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(qc)
    return isa, SparsePauliOp("ZZ").apply_layout(isa.layout)
