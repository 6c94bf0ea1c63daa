"""``qrt_runner.runtime``'s options behave as qiskit-ibm-runtime's: checked on assignment (the same
assignments fail on both, ours with a one-line message naming ``options.<path>``), copied when
given to a primitive, ``asdict``/equality/``update``/printing as IBM's; and the primitives answer
``backend()``, ``mode``, ``_backend`` and ``default_precision`` as scripts and libraries read them.
Every check here is side by side with IBM's own options classes where IBM has the same thing.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings

import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import PauliList
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime import options as ibm
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qrt_runner.config import mitigation_schema as ms
from qrt_runner.runtime import (
    Batch,
    EstimatorOptions,
    EstimatorV2,
    NoSuchOption,
    SamplerOptions,
    SamplerV2,
    Session,
    UnsupportedOption,
)

QRT_ONLY = {
    "resilience.nearest_probability",
    "resilience.zne.extrapolator_choice",
    "resilience.zne.extrapolate_per_term",
    "resilience.zne.shot_allocation",
    "resilience.zne.randomization_allocation",
    "twirling.dressing_noise",
}


def _node(options, path: str):
    node, _, leaf = path.rpartition(".")
    for part in filter(None, node.split(".")):
        options = getattr(options, part)
    return options, leaf


def _set(options, path: str, value) -> None:
    target, leaf = _node(options, path)
    setattr(target, leaf, value)


def _get(options, path: str):
    target, leaf = _node(options, path)
    return getattr(target, leaf)


def _leaves(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        out.update(_leaves(value, path) if isinstance(value, dict) and key != "experimental" else {path: value})
    return out


BAD_VALUES = [
    ("resilience_level", 5, r"^options\.resilience_level=5: must be 0, 1 or 2$"),
    ("resilience_level", "a", r"^options\.resilience_level='a': must be 0, 1 or 2$"),
    (
        "default_precision",
        -0.1,
        r"^options\.default_precision=-0\.1: must be a number >= 0 \(0: exact values, on the ideal simulator only\)$",
    ),
    ("default_shots", -1, r"^options\.default_shots=-1: must be >=0$"),
    ("max_execution_time", 60.5, r"^options\.max_execution_time=60\.5: must be a valid integer$"),
    ("resilience.measure_mitigation", 2, r"^options\.resilience\.measure_mitigation=2: must be a valid boolean$"),
    ("resilience.zne.noise_factors", [0.5, 1], r"^options\.resilience\.zne\.noise_factors=\[0\.5, 1\]: .*>= 1$"),
    (
        "resilience.zne.extrapolator",
        "quadratic",
        r"^options\.resilience\.zne\.extrapolator='quadratic': must be one of 'linear', 'exponential', .* or 'fallback'$",
    ),
    (
        "resilience.zne.amplifier",
        "foo",
        r"^options\.resilience\.zne\.amplifier='foo': must be one of 'gate_folding', 'gate_folding_front', "
        r"'gate_folding_back' or 'pea'$",
    ),
    ("resilience.pec.max_overhead", 0, r"^options\.resilience\.pec\.max_overhead=0: must be >0$"),
    ("resilience.pec.noise_gain", -1, r"^options\.resilience\.pec\.noise_gain=-1: must be >=0$"),
    (
        "dynamical_decoupling.sequence_type",
        "XYZ",
        r"^options\.dynamical_decoupling\.sequence_type='XYZ': must be one of 'XX', 'XpXm' or 'XY4'$",
    ),
    ("twirling.strategy", "x", r"^options\.twirling\.strategy='x': must be one of 'active', .* or 'all'$"),
    ("twirling.num_randomizations", 0, r"^options\.twirling\.num_randomizations=0: must be >=1$"),
    (
        "twirling.num_randomizations",
        "x",
        r"^options\.twirling\.num_randomizations='x': must be a valid integer or one of 'auto'$",
    ),
    ("environment.log_level", "LOUD", r"^options\.environment\.log_level='LOUD': must be one of 'DEBUG', .*"),
    ("environment.job_tags", "t", r"^options\.environment\.job_tags='t': must be a valid list$"),
    ("simulator.seed_simulator", "a", r"^options\.simulator\.seed_simulator='a': must be a valid integer$"),
    ("twirling", 5, r"^options\.twirling=5: must be a dict or an options object$"),
]


@pytest.mark.parametrize(("path", "value", "message"), BAD_VALUES, ids=[f"{p}={v!r}" for p, v, _ in BAD_VALUES])
def test_a_bad_value_raises_at_assignment_as_on_ibms_options(path, value, message):
    with pytest.raises(ValueError):  # IBM's pydantic ValidationError is a ValueError
        _set(ibm.EstimatorOptions(), path, value)
    ours = EstimatorOptions()
    before = dataclasses.asdict(ours)
    with pytest.raises(ValueError, match=message):
        _set(ours, path, value)
    assert dataclasses.asdict(ours) == before  # nothing changed, here or in the mirror
    ours.resilience_level = 0
    assert ours.mitigation().resilience_level == 0


def test_bad_values_raise_at_once_on_the_primitive_and_the_sampler():
    estimator = EstimatorV2(mode=FakeManilaV2())
    with pytest.raises(ValueError, match=r"^options\.resilience_level=5: must be 0, 1 or 2$"):
        estimator.options.resilience_level = 5
    sampler = SamplerV2(mode=FakeManilaV2())
    with pytest.raises(ValueError, match=r"^options\.twirling\.shots_per_randomization=0: must be >=1$"):
        sampler.options.twirling.shots_per_randomization = 0
    with pytest.raises(ValueError):
        ibm.SamplerOptions().twirling.shots_per_randomization = 0
    with pytest.raises(ValueError, match=r"^options\.resilience_level=7: must be 0, 1 or 2$"):
        EstimatorV2(mode=FakeManilaV2(), options={"resilience_level": 7})


GOOD_VALUES = [
    ("dynamical_decoupling.enable", "yes"),
    ("resilience.zne.noise_factors", (1, 3)),
    ("resilience.zne.extrapolator", "linear"),
    ("default_precision", 1),
    ("twirling.num_randomizations", "auto"),
    ("resilience.pec.noise_gain", "auto"),
    ("max_execution_time", 60.0),
    ("environment.job_tags", ["a"]),
]


@pytest.mark.parametrize(("path", "value"), GOOD_VALUES, ids=[p for p, _ in GOOD_VALUES])
def test_a_good_value_is_stored_as_ibm_stores_it(path, value):
    theirs, ours = ibm.EstimatorOptions(), EstimatorOptions()
    _set(theirs, path, value)
    _set(ours, path, value)
    stored = _get(theirs, path)
    assert _get(ours, path) == (list(stored) if isinstance(stored, tuple) else stored)
    assert type(_get(ours, path)) is (list if isinstance(stored, tuple) else type(stored))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [("resilience.zne.noise_factors", [1, 3]), ("resilience.zne.extrapolator", "double_exponential")],
            r"^options\.resilience\.zne\.extrapolator='double_exponential': double_exponential requires at least 4",
        ),
        (
            [("resilience.pec_mitigation", True), ("resilience.zne_mitigation", True)],
            r"^options\.resilience\.zne_mitigation=True: 'pec_mitigation' and 'zne_mitigation' options cannot be",
        ),
        (
            [("resilience.measure_noise_learning.num_randomizations", 4), ("resilience.zne_mitigation", True)],
            r"^options\.resilience\.zne_mitigation=True: 'measure_noise_learning' options are set, but",
        ),
        (
            [("resilience", {"zne": {"noise_factors": [1, 3], "extrapolator": "polynomial_degree_3"}})],
            r"^options\.resilience\.zne: polynomial_degree_3 requires at least 4 noise_factors$",
        ),
    ],
    ids=["extrapolator-needs-factors", "pec-with-zne", "measure-learning-without-mitigation", "whole-subtree"],
)
def test_ibms_rules_across_leaves_apply_on_assignment(steps, message):
    theirs, ours = ibm.EstimatorOptions(), EstimatorOptions()
    *first, (path, value) = steps
    for step in first:
        _set(theirs, *step)
        _set(ours, *step)
    with pytest.raises(ValueError):
        _set(theirs, path, value)
    with pytest.raises(ValueError, match=message):
        _set(ours, path, value)


def test_qrt_runners_own_leaves_are_checked_by_qrt_runner():
    options = EstimatorOptions()
    with pytest.raises(ValueError, match=r"^options\.twirling\.dressing_noise=3: must be True, False or None$"):
        options.twirling.dressing_noise = 3
    with pytest.raises(
        ValueError, match=r"^options\.resilience\.zne\.extrapolator_choice='x': must be 'uncertainty' or 'order'"
    ):
        options.resilience.zne.extrapolator_choice = "x"
    with pytest.raises(ValueError, match=r"^options\.resilience\.layer_noise_model=5: must be the path of a"):
        options.resilience.layer_noise_model = 5
    options.update(twirling={"dressing_noise": True}, resilience={"zne": {"extrapolator_choice": "order"}})
    config = options.mitigation()
    assert config.twirling.dressing_noise is True and config.resilience.zne.extrapolator_choice == "order"


def test_unsupported_ibm_options_raise_but_accept_their_defaults():
    options = EstimatorOptions()
    with pytest.raises(
        UnsupportedOption,
        match=r"^options\.execution\.init_qubits is not supported by qrt_runner: .*\(got False\)$",
    ):
        options.execution.init_qubits = False
    options.environment.private = False
    options.execution.init_qubits = True
    options.resilience.layer_noise_learning = {}
    assert options.execution.init_qubits is True and options.environment.private is False
    assert options.resilience == EstimatorOptions().resilience
    given = ibm.EstimatorOptions()
    given.seed_estimator = 3
    with pytest.raises(UnsupportedOption, match=r"^options\.seed_estimator is not supported by qrt_runner"):
        EstimatorV2(mode=FakeManilaV2(), options=given)


def test_a_name_ibm_does_not_have_raises_for_reads_writes_and_dicts():
    with pytest.raises(ValueError):
        ibm.EstimatorOptions().resilience.zne_mitigations = True
    options = EstimatorOptions()
    for action in (
        lambda: setattr(options.resilience, "zne_mitigations", True),
        lambda: options.resilience.zne_mitigations,
        lambda: options.update(resilience={"zne_mitigations": True}),
    ):
        with pytest.raises(NoSuchOption, match=r"^options\.resilience\.zne_mitigations: no such option"):
            action()
    assert issubclass(NoSuchOption, AttributeError) and issubclass(NoSuchOption, ValueError)
    assert not hasattr(SamplerOptions(), "resilience")  # the sampler has no resilience options, as IBM's


@pytest.mark.parametrize(
    ("ours", "theirs"), [(EstimatorOptions, ibm.EstimatorOptions), (SamplerOptions, ibm.SamplerOptions)]
)
def test_asdict_has_ibms_keys_and_class_names(ours, theirs):
    mine, ibms = _leaves(dataclasses.asdict(ours())), _leaves(dataclasses.asdict(theirs()))
    assert set(ibms) <= set(mine)
    assert set(mine) - set(ibms) == (QRT_ONLY if ours is EstimatorOptions else {"twirling.dressing_noise"})
    assert list(dataclasses.asdict(ours())) == list(dataclasses.asdict(theirs()))  # the same order
    for field in dataclasses.fields(theirs):  # printed with IBM's class names
        if dataclasses.is_dataclass(getattr(theirs(), field.name)):
            assert type(getattr(ours(), field.name)).__name__ == type(getattr(theirs(), field.name)).__name__
    assert repr(ours()).startswith(f"{ours.__name__}(_VERSION=2, max_execution_time=None, environment=Environment")


def test_layer_noise_learning_options_make_pec_and_pea_learn_unless_a_model_is_given():
    options = EstimatorOptions()
    assert options.mitigation().layer_noise == ms.LayerNoiseConfig()  # the device's model
    options.resilience.layer_noise_learning.num_randomizations = 8
    options.resilience.layer_noise_learning.layer_pair_depths = (0, 2, 8)
    learned = options.mitigation().layer_noise
    assert (learned.source, learned.num_randomizations, learned.layer_pair_depths) == ("learned", 8, [0, 2, 8])
    assert learned.shots_per_randomization == ms.LayerNoiseConfig().shots_per_randomization  # IBM's default
    options.resilience.layer_noise_model = "model.json"  # IBM: a given model skips the learning
    assert options.mitigation().layer_noise == ms.LayerNoiseConfig()


def test_ibms_learner_result_is_read_as_a_layer_noise_model_file():
    from qiskit_ibm_runtime.results import LayerError, NoiseLearnerResult, PauliLindbladError

    from qrt_runner.mitigation.layer_noise import load_layer_noise

    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    result = NoiseLearnerResult([LayerError(layer, [3, 4], PauliLindbladError(PauliList(["IX", "ZZ"]), [0.01, 0.02]))])
    options = EstimatorOptions()
    options.resilience.layer_noise_model = result
    model = load_layer_noise(options.resilience.layer_noise_model).model((("cx", 3, 4),))
    assert model.qubits == (3, 4) and dict(zip(model.labels, model.rates)) == {"IX": 0.01, "ZZ": 0.02}


def test_a_learner_results_model_file_is_in_the_users_cache_and_its_content_checked(monkeypatch, tmp_path):
    from qiskit_ibm_runtime.results import LayerError, PauliLindbladError

    from qrt_runner.mitigation.layer_noise import load_layer_noise

    monkeypatch.setenv("QRT_CACHE_DIR", str(tmp_path))
    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    options = EstimatorOptions()
    options.resilience.layer_noise_model = [LayerError(layer, [3, 4], PauliLindbladError(PauliList(["ZZ"]), [0.02]))]
    path = options.resilience.layer_noise_model
    assert path.startswith(str(tmp_path / "layer_models")) and path.endswith(".json")
    with open(path, "w") as damaged:  # a file of that name with other content is not the model
        damaged.write('{"format": 1, "layers": []}')
    options.resilience.layer_noise_model = [LayerError(layer, [3, 4], PauliLindbladError(PauliList(["ZZ"]), [0.02]))]
    assert options.resilience.layer_noise_model == path
    model = load_layer_noise(path).model((("cx", 3, 4),))
    assert dict(zip(model.labels, model.rates)) == {"ZZ": 0.02}
    assert sorted(p.name for p in (tmp_path / "layer_models").iterdir()) == [path.rpartition("/")[2]]  # no leftovers


def test_a_learner_result_that_models_none_of_the_layers_run_is_refused():
    """IBM's ``LayerError`` for cx on qubits [0, 1], and a PUB that is not ISA: the engine transpiles it and
    its layers land elsewhere. PEC with no layer modelled is refused in one line (it would be raw values,
    labelled PEC); with the layer of the PUB's ISA circuit modelled, PEC runs on every layer."""
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_ibm_runtime.results import LayerError, PauliLindbladError

    backend = FakeManilaV2()
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.4, 1)
    qc.cx(0, 1)
    error = PauliLindbladError(PauliList(["IX", "ZZ"]), [0.01, 0.02])
    layer = QuantumCircuit(2)
    layer.cx(0, 1)
    estimator = EstimatorV2(mode=backend)
    estimator.options.default_shots = 100
    estimator.options.simulator.seed_simulator = 3
    estimator.options.resilience.pec_mitigation = True
    estimator.options.resilience.pec.max_overhead = 10
    estimator.options.resilience.layer_noise_model = [LayerError(layer, [0, 1], error)]
    with pytest.raises(ValueError, match=r"^options\.resilience\.layer_noise_model has no model for any of the 2 "):
        estimator.run([(qc, "ZZ")]).result()
    isa = generate_preset_pass_manager(backend=backend, optimization_level=1, seed_transpiler=1).run(qc)
    gate = next(i for i in isa.data if i.operation.num_qubits == 2)
    layer = QuantumCircuit(2)
    layer.append(gate.operation, [0, 1])
    estimator.options.resilience.layer_noise_model = [
        LayerError(layer, [isa.find_bit(q).index for q in gate.qubits], error)
    ]
    observable = "".join("Z" if q in isa.layout.final_index_layout()[:2] else "I" for q in reversed(range(5)))
    model = estimator.run([(isa, observable)]).result()[0].metadata["mitigation"]["layer_noise_model"]
    assert model["num_layers"] == 2 and model["num_unmodelled_layers"] == 0


def test_every_leaf_of_qrt_runners_mitigation_config_is_an_option():
    # but mitigation.layer_noise.* (device|learned|file, the learning options): the config runner's;
    # a script gives its model as resilience.layer_noise_model (a file here, learned maps in executor_estimator)
    config = [
        leaf for leaf in _leaves(dataclasses.asdict(ms.MitigationConfig())) if not leaf.startswith("layer_noise.")
    ]
    options = _leaves(dataclasses.asdict(EstimatorOptions()))
    assert set(config) <= set(options)


def test_equality_update_and_assignment_as_ibms():
    theirs, ours = ibm.EstimatorOptions(), EstimatorOptions()
    assert ours == EstimatorOptions() and theirs == ibm.EstimatorOptions()
    for options in (theirs, ours):
        options.twirling.strategy = "all"
        options.update(twirling={"num_randomizations": 3}, default_shots=100)  # update merges a subtree
        assert (options.twirling.strategy, options.twirling.num_randomizations) == ("all", 3)
        options.twirling = {"enable_gates": True}  # assignment replaces it
        assert not options.twirling.strategy and options.twirling.enable_gates is True
        options.update(_VERSION=5)  # skipped, as IBM's update skips private names
    assert ours != EstimatorOptions() and ours.default_shots == 100
    same = EstimatorOptions()
    same.update(twirling={"enable_gates": True}, default_shots=100)
    assert same == ours


@pytest.mark.parametrize("given", ["ours", "ibms", "dict"])
def test_options_are_copied_when_given_to_a_primitive(given):
    if given == "dict":
        options = {"resilience_level": 0, "twirling": {"enable_gates": False}}
    else:
        options = EstimatorOptions() if given == "ours" else ibm.EstimatorOptions()
        options.resilience_level = 0
        options.twirling.enable_gates = False
    estimator = EstimatorV2(mode=FakeManilaV2(), options=options)
    if given == "dict":
        options["resilience_level"] = 2
        options["twirling"]["enable_gates"] = True
    else:
        options.resilience_level = 2
        options.twirling.enable_gates = True
    assert estimator.options.resilience_level == 0 and estimator.options.twirling.enable_gates is False
    with pytest.raises(AttributeError):
        estimator.options = EstimatorOptions()  # read-only, as IBM's


def test_copies_are_independent_and_bound_to_their_own_mirror():
    options = EstimatorOptions(resilience_level=2, resilience={"zne": {"noise_factors": [1, 3, 5, 7]}})
    for clone in (copy.deepcopy(options), dataclasses.replace(options)):
        assert clone == options
        clone.resilience.zne.extrapolator = "double_exponential"  # 4 factors: valid in the clone's mirror
        clone.resilience.zne.noise_factors = [1, 3, 5, 7, 9]
        assert options.resilience.zne.noise_factors == [1, 3, 5, 7] and options.resilience.zne.extrapolator is None
    with pytest.raises(ValueError, match="double_exponential requires at least 4"):
        options.resilience.zne.noise_factors = [1, 3]
        options.resilience.zne.extrapolator = "double_exponential"


def test_ibms_options_object_is_taken_with_its_values_and_qrt_runners_defaults():
    given = ibm.EstimatorOptions()
    given.resilience_level = 2
    given.resilience.zne.noise_factors = (1, 3)
    given.twirling.strategy = "all"
    options = EstimatorV2(mode=FakeManilaV2(), options=given).options
    assert options.resilience.zne.noise_factors == [1.0, 3.0] and options.twirling.strategy == "all"
    assert options.default_precision == 0.015625 and options.resilience_level == 2  # Unset: IBM's documented default


def test_ibms_deprecation_of_its_own_validation_does_not_leak():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ibm.EstimatorOptions().resilience.measure_noise_learning.shots_per_randomization = 33
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)  # IBM's own does warn
    options = EstimatorOptions()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        options.resilience.measure_noise_learning.shots_per_randomization = 33
        SamplerOptions()
    assert options.mitigation().resilience.measure_noise_learning.shots_per_randomization == 33


def test_the_primitives_answer_backend_mode_and_what_libraries_read():
    device, aer = FakeManilaV2(), AerSimulator()
    estimator = EstimatorV2(mode=device, options={"default_precision": 0.05})
    assert estimator.mode is None and estimator.backend() is device and estimator._backend is device
    assert estimator.default_precision == 0.05  # qiskit-algorithms' run_estimator_job reads it
    estimator.options.default_precision = 0.1
    assert estimator.default_precision == 0.1
    with pytest.raises(AttributeError):
        estimator.default_precision = 0.2  # type: ignore[misc]
    sampler = SamplerV2(mode=aer, options={"default_shots": 123})
    assert sampler.mode is None and sampler.backend() is aer and sampler._backend is aer  # qiskit-experiments
    assert sampler.default_shots == 123  # qiskit-algorithms' MLAE reads it
    by_name = SamplerV2(mode="fake_manila").backend()
    assert by_name.name == "fake_manila" and by_name is SamplerV2(mode="fake_manila")._backend
    for kind in (Session, Batch):
        with kind(backend=device) as mode:
            primitive = EstimatorV2(mode=mode)
            assert primitive.mode is mode and primitive.backend() is device and mode.backend() == "fake_manila"


def test_ibms_own_primitive_answers_the_same():
    from qiskit_ibm_runtime import EstimatorV2 as IbmEstimator

    device = FakeManilaV2()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 0.50 deprecates the class, not what is read here
        theirs = IbmEstimator(mode=device)
    ours = EstimatorV2(mode=device)
    assert (theirs.mode, theirs.backend(), theirs._backend) == (ours.mode, ours.backend(), ours._backend)
    with pytest.raises(AttributeError):
        theirs.options = ibm.EstimatorOptions()
