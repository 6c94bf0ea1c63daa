"""Third-party clients on qrt_runner's primitives, checked against references we did not write.

- qiskit-machine-learning: ``EstimatorQNN`` and ``SamplerQNN`` forward and backward passes.
- qiskit-algorithms: estimator gradients (parameter shift, linear combination) and sampler
  gradients (parameter shift, linear combination).
- qiskit-experiments: ``LocalReadoutError`` and ``T1`` on one physical qubit of ``FakeManilaV2``.

Each client runs unchanged on qrt's native primitives (``qrt_runner.primitives``) and on the
drop-in (``qrt_runner.runtime``), and its output is compared with:

- exact values where qrt promises exact values: the Estimator at precision 0 on the ideal
  simulator computes saved expectation values (no shots), so the client's result must equal the
  one it gets from ``qiskit.primitives.StatevectorEstimator`` to rounding (``EXACT_ATOL``);
- otherwise the exact value (``StatevectorEstimator``, ``qiskit.quantum_info.Statevector``,
  qiskit-machine-learning's exact ``QMLSampler``) within ``K_SIGMA`` standard errors of the shot
  noise, each standard error computed from the exact probabilities and the number of shots (the
  formula is stated at each test). Qiskit's own shot-based ``StatevectorSampler`` runs the same
  statistical checks as a control of the check itself;
- for qiskit-experiments, the device's own calibration (``FakeManilaV2().target`` and
  ``properties()``) and Aer's ``SamplerV2`` / qiskit's ``BackendSamplerV2`` run on the same
  placement.

Small sizes (1-3 qubits, a few thousand shots), fixed seeds, one Aer thread where the test sets it.
Each section is skipped, with the reason, when its package is not installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterVector
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from qrt_runner.execution.backend import LocalBackend
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions
from qrt_runner.primitives.sampler import Sampler, SamplerOptions

K_SIGMA = 4.0  # |estimate - exact| <= K_SIGMA standard errors (two-sided, ~6e-5 per element)
EXACT_ATOL = 1e-9  # exact means exact: only floating-point rounding
SEED = 11
_MISSING = "not installed; it comes with qrt_runner's optional `clients` extra"


def _need(module: str, package: str):
    return pytest.importorskip(module, reason=f"{package} {_MISSING}")


def _aer_simulator(**options):
    from qiskit_aer import AerSimulator

    return AerSimulator(**options)


# --------------------------------------------------------------------------------------------
# primitives under test
# --------------------------------------------------------------------------------------------
def _qrt_estimator(kind: str, *, precision: float | None = None, shots: int | None = None):
    """qrt's Estimator on the ideal simulator: ``native`` or the ``dropin``, with a default
    precision or default shots."""
    if kind == "native":
        backend = LocalBackend.create("aer", threads=1, seed_simulator=SEED)
        options = EstimatorOptions(default_shots=shots)
        if precision is not None:
            options.default_precision = precision
        return Estimator(backend, options=options)
    from qrt_runner.runtime import EstimatorV2

    options: dict = {"simulator": {"seed_simulator": SEED}}
    if precision is not None:
        options["default_precision"] = precision
    if shots is not None:
        options["default_shots"] = shots
    return EstimatorV2(mode=_aer_simulator(), options=options)


def _sampler(kind: str, shots: int):
    """A shot-based sampler on the ideal simulator: qrt's ``native`` or ``dropin``, or qiskit's
    ``statevector`` reference (the control)."""
    if kind == "native":
        backend = LocalBackend.create("aer", threads=1, seed_simulator=SEED)
        return Sampler(backend, options=SamplerOptions(default_shots=shots))
    if kind == "dropin":
        from qrt_runner.runtime import SamplerV2

        return SamplerV2(mode=_aer_simulator(), options={"default_shots": shots, "simulator": {"seed_simulator": SEED}})
    assert kind == "statevector"
    return StatevectorSampler(default_shots=shots, seed=SEED)


def _assert_within_sigma(observed, exact, sigma, what: str) -> None:
    """Every element of ``observed`` within K_SIGMA standard errors of ``exact``."""
    observed, exact, sigma = (np.asarray(a, dtype=float) for a in (observed, exact, sigma))
    assert observed.shape == exact.shape, f"{what}: shape {observed.shape}, expected {exact.shape}"
    z = np.abs(observed - exact) / np.maximum(sigma, 1e-12)
    worst = np.unravel_index(int(np.argmax(z)), z.shape) if z.size else ()
    assert np.all(z <= K_SIGMA), (
        f"{what}: {np.sum(z > K_SIGMA)} of {z.size} elements beyond {K_SIGMA} standard errors; worst at "
        f"{worst}: observed {observed[worst]:.5f}, exact {exact[worst]:.5f}, sigma {sigma[worst]:.5f} "
        f"({z[worst]:.1f} sigma)"
    )


# --------------------------------------------------------------------------------------------
# qiskit-machine-learning: EstimatorQNN and SamplerQNN
# --------------------------------------------------------------------------------------------
def _qnn_circuit(measure: bool) -> tuple[QuantumCircuit, list, list]:
    """2 qubits, 2 inputs, 2 weights; each parameter appears once (so one parameter shift per
    parameter, and the shot-noise formulas below hold)."""
    x, w = ParameterVector("x", 2), ParameterVector("w", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.ry(x[1], 1)
    circuit.cx(0, 1)
    circuit.ry(w[0], 0)
    circuit.rx(w[1], 1)
    if measure:
        circuit.measure_all()
    return circuit, list(x), list(w)


QNN_INPUTS = np.array([[0.1, 0.7], [1.2, -0.4], [-2.0, 2.5]])
QNN_WEIGHTS = np.array([0.3, -0.9])
QNN_OBSERVABLES = [SparsePauliOp("ZZ"), SparsePauliOp("XI"), SparsePauliOp.from_list([("ZI", 0.5), ("IY", -0.3)])]


def _estimator_qnn(estimator, precision: float):
    _need("qiskit_machine_learning", "qiskit-machine-learning")
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    circuit, inputs, weights = _qnn_circuit(measure=False)
    # no gradient given: the QNN builds its own ParamShiftEstimatorGradient on `estimator`
    return EstimatorQNN(
        circuit=circuit,
        observables=QNN_OBSERVABLES,
        input_params=inputs,
        weight_params=weights,
        estimator=estimator,
        input_gradients=True,
        default_precision=precision,
    )


def _forward_backward(qnn, inputs=QNN_INPUTS, weights=QNN_WEIGHTS):
    forward = qnn.forward(inputs, weights)
    input_grad, weight_grad = qnn.backward(inputs, weights)
    return forward, input_grad, weight_grad


def _gradient_sigmas(exact_qnn, sigma_of) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors of the parameter-shift input and weight gradients, shaped as the QNN's
    ``backward``: ``sigma_of(plus, minus)`` of the exact forward passes with each input (then each
    weight) shifted by +pi/2 and by -pi/2."""
    sigmas = []
    for shift_inputs in (True, False):
        per_parameter = []
        for index in range(2):
            shift = np.zeros(2)
            shift[index] = np.pi / 2
            if shift_inputs:
                plus = exact_qnn.forward(QNN_INPUTS + shift, QNN_WEIGHTS)
                minus = exact_qnn.forward(QNN_INPUTS - shift, QNN_WEIGHTS)
            else:
                plus = exact_qnn.forward(QNN_INPUTS, QNN_WEIGHTS + shift)
                minus = exact_qnn.forward(QNN_INPUTS, QNN_WEIGHTS - shift)
            per_parameter.append(sigma_of(plus, minus))
        sigmas.append(np.stack(per_parameter, axis=-1))
    return sigmas[0], sigmas[1]


def test_estimator_qnn_exact_at_precision_zero():
    """EstimatorQNN forward and backward (parameter shift) at precision 0 on the ideal simulator
    equal StatevectorEstimator's: qrt's native Estimator saves exact expectation values, no shots.
    (The drop-in, as IBM's EstimatorV2, refuses a precision of 0: it is checked with shots below.)"""
    reference = _forward_backward(_estimator_qnn(StatevectorEstimator(), 0.0))
    observed = _forward_backward(_estimator_qnn(_qrt_estimator("native", precision=0.0), 0.0))
    for name, got, want in zip(("forward", "input gradient", "weight gradient"), observed, reference):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=0, atol=EXACT_ATOL, err_msg=name)
    assert np.abs(reference[2]).max() > 0.1  # the gradients checked are not trivially zero


@pytest.mark.parametrize("kind", ["native", "dropin"])
def test_estimator_qnn_shot_noise_within_standard_errors(kind):
    """EstimatorQNN at precision p = 0.03 on single-Pauli observables (Z Z and X I): a value from
    n = 1/p**2 shots of +-1 outcomes has standard error p * sqrt(1 - <P>**2); a parameter-shift
    derivative (<P>(+) - <P>(-)) / 2 has p * sqrt(2 - <P>(+)**2 - <P>(-)**2) / 2. The exact
    values come from StatevectorEstimator through the same QNN."""
    precision = 0.03
    _need("qiskit_machine_learning", "qiskit-machine-learning")
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    circuit, inputs, weights = _qnn_circuit(measure=False)
    observables = QNN_OBSERVABLES[:2]

    def qnn(estimator, p):
        return EstimatorQNN(
            circuit=circuit,
            observables=observables,
            input_params=inputs,
            weight_params=weights,
            estimator=estimator,
            input_gradients=True,
            default_precision=p,
        )

    exact_qnn = qnn(StatevectorEstimator(), 0.0)
    forward, input_grad, weight_grad = _forward_backward(qnn(_qrt_estimator(kind, precision=precision), precision))
    exact_forward, exact_input_grad, exact_weight_grad = _forward_backward(exact_qnn)
    _assert_within_sigma(forward, exact_forward, precision * np.sqrt(1 - exact_forward**2), "forward")

    input_sigma, weight_sigma = _gradient_sigmas(
        exact_qnn, lambda plus, minus: precision * np.sqrt(2 - plus**2 - minus**2) / 2
    )
    _assert_within_sigma(input_grad, exact_input_grad, input_sigma, "input gradient")
    _assert_within_sigma(weight_grad, exact_weight_grad, weight_sigma, "weight gradient")


@pytest.mark.parametrize("kind", ["native", "dropin", "statevector"])
def test_sampler_qnn_within_standard_errors(kind):
    """SamplerQNN forward (outcome probabilities) and backward (its ParamShiftSamplerGradient)
    with a shot-based sampler, against qiskit-machine-learning's exact ``QMLSampler()``. With n
    shots a probability has standard error sqrt(p (1 - p) / n) and a parameter-shift derivative
    (p(+) - p(-)) / 2 has sqrt(p(+) (1 - p(+)) + p(-) (1 - p(-))) / (2 sqrt(n)), the p from the
    exact QNN at the shifted parameters. ``statevector``: qiskit's StatevectorSampler, the control."""
    shots = 4000
    _need("qiskit_machine_learning", "qiskit-machine-learning")
    from qiskit_machine_learning.neural_networks import SamplerQNN
    from qiskit_machine_learning.primitives import QMLSampler

    circuit, inputs, weights = _qnn_circuit(measure=True)

    def qnn(sampler):
        return SamplerQNN(
            circuit=circuit, input_params=inputs, weight_params=weights, sampler=sampler, input_gradients=True
        )

    exact_qnn = qnn(QMLSampler())
    exact_forward, exact_input_grad, exact_weight_grad = _forward_backward(exact_qnn)
    forward, input_grad, weight_grad = _forward_backward(qnn(_sampler(kind, shots)))
    _assert_within_sigma(forward, exact_forward, np.sqrt(exact_forward * (1 - exact_forward) / shots), "forward")

    input_sigma, weight_sigma = _gradient_sigmas(
        exact_qnn, lambda plus, minus: np.sqrt(plus * (1 - plus) + minus * (1 - minus)) / (2 * math.sqrt(shots))
    )
    _assert_within_sigma(input_grad, exact_input_grad, input_sigma, "input gradient")
    _assert_within_sigma(weight_grad, exact_weight_grad, weight_sigma, "weight gradient")
    assert np.abs(exact_weight_grad).max() > 0.1


# --------------------------------------------------------------------------------------------
# qiskit-algorithms: gradients
# --------------------------------------------------------------------------------------------
def _gradient_circuit(measure: bool) -> QuantumCircuit:
    """2 qubits, 3 parameters, each appearing once."""
    w = ParameterVector("w", 3)
    circuit = QuantumCircuit(2)
    circuit.ry(w[0], 0)
    circuit.rx(w[1], 1)
    circuit.cx(0, 1)
    circuit.ry(w[2], 1)
    circuit.rz(0.4, 0)
    circuit.h(0)
    if measure:
        circuit.measure_all()
    return circuit


GRADIENT_VALUES = [[0.3, -0.9, 1.1], [1.7, 0.2, -0.5]]
GRADIENT_OBSERVABLE = SparsePauliOp.from_list([("ZZ", 1.0), ("XI", 0.5), ("IY", -0.3)])


def _estimator_gradient(name: str):
    gradients = _need("qiskit_algorithms.gradients", "qiskit-algorithms")
    return getattr(gradients, name)


@pytest.mark.parametrize("gradient", ["ParamShiftEstimatorGradient", "LinCombEstimatorGradient"])
def test_estimator_gradient_exact_at_precision_zero(gradient):
    """qiskit-algorithms' estimator gradients on qrt's native Estimator at precision 0 (ideal
    simulator) equal those on StatevectorEstimator, and report the precision used (0). LinComb
    goes through ``qiskit_algorithms.run_estimator_job``, which reads ``estimator.default_precision``
    (as StatevectorEstimator has it)."""
    cls = _estimator_gradient(gradient)
    circuit = _gradient_circuit(measure=False)
    circuits, observables = [circuit] * len(GRADIENT_VALUES), [GRADIENT_OBSERVABLE] * len(GRADIENT_VALUES)
    reference = cls(StatevectorEstimator()).run(circuits, observables, GRADIENT_VALUES).result()
    observed = cls(_qrt_estimator("native", precision=0.0)).run(circuits, observables, GRADIENT_VALUES).result()
    for got, want in zip(observed.gradients, reference.gradients):
        np.testing.assert_allclose(got, want, rtol=0, atol=EXACT_ATOL)
    assert observed.precision == 0.0
    assert max(np.abs(g).max() for g in reference.gradients) > 0.1


def _shifted_evs(circuit: QuantumCircuit, observable: SparsePauliOp, values) -> tuple[np.ndarray, np.ndarray]:
    """Exact <O> at each parameter shifted by +pi/2 and by -pi/2 (StatevectorEstimator)."""
    values = np.asarray(values, dtype=float)
    shifts = np.eye(len(values)) * np.pi / 2
    job = StatevectorEstimator().run([(circuit, observable, np.concatenate([values + shifts, values - shifts]))])
    evs = job.result()[0].data.evs
    return evs[: len(values)], evs[len(values) :]


@pytest.mark.parametrize("kind", ["native", "dropin"])
@pytest.mark.parametrize("gradient", ["ParamShiftEstimatorGradient", "LinCombEstimatorGradient"])
def test_estimator_gradient_within_standard_errors(gradient, kind):
    """qiskit-algorithms' estimator gradients of a single Pauli (Z Z) on an estimator with default
    precision p = 0.03 (n = 1/p**2 shots per basis): the reported precision is p (the result
    metadata's ``target_precision``, or ``estimator.default_precision`` for LinComb), and the
    gradient is within K_SIGMA standard errors of StatevectorEstimator's: parameter shift
    (<P>(+) - <P>(-)) / 2 has p sqrt(2 - <P>(+)**2 - <P>(-)**2) / 2; linear combination measures
    the single Pauli Z Z (x) Z(ancilla), whose value g is the derivative: p sqrt(1 - g**2)."""
    precision = 0.03
    cls = _estimator_gradient(gradient)
    circuit = _gradient_circuit(measure=False)
    observable = SparsePauliOp("ZZ")
    circuits, observables = [circuit] * len(GRADIENT_VALUES), [observable] * len(GRADIENT_VALUES)
    observed = cls(_qrt_estimator(kind, precision=precision)).run(circuits, observables, GRADIENT_VALUES).result()
    assert observed.precision == pytest.approx(precision)
    reference = cls(StatevectorEstimator()).run(circuits, observables, GRADIENT_VALUES).result()
    for values, got, exact in zip(GRADIENT_VALUES, observed.gradients, reference.gradients):
        if gradient.startswith("ParamShift"):
            plus, minus = _shifted_evs(circuit, observable, values)
            sigma = precision * np.sqrt(2 - plus**2 - minus**2) / 2
        else:
            sigma = precision * np.sqrt(1 - exact**2)
        _assert_within_sigma(got, exact, sigma, f"gradient at {values}")


@pytest.mark.parametrize("kind", ["native", "dropin"])
def test_estimator_gradient_with_default_shots(kind):
    """An estimator with ``default_shots`` n measures n shots per basis: the precision a
    qiskit-algorithms gradient reports (the result metadata's ``target_precision``) is
    1/sqrt(n), as IBM's local mode reports it, and the derivative of a single Pauli, (<P>(+) -
    <P>(-)) / 2, is within K_SIGMA standard errors sqrt(2 - <P>(+)**2 - <P>(-)**2) / (2
    sqrt(n)) of StatevectorEstimator's exact gradient."""
    shots = 1000
    cls = _estimator_gradient("ParamShiftEstimatorGradient")
    circuit = _gradient_circuit(measure=False)
    observable = SparsePauliOp("ZZ")
    values = np.array(GRADIENT_VALUES[0])
    observed = cls(_qrt_estimator(kind, shots=shots)).run([circuit], [observable], [values]).result()
    assert observed.precision == pytest.approx(1 / math.sqrt(shots), rel=1e-6), "target_precision with default_shots"
    exact = cls(StatevectorEstimator()).run([circuit], [observable], [values]).result().gradients[0]
    plus, minus = _shifted_evs(circuit, observable, values)
    sigma = np.sqrt(2 - plus**2 - minus**2) / (2 * math.sqrt(shots))
    _assert_within_sigma(observed.gradients[0], exact, sigma, "gradient")


def _exact_probabilities(circuit: QuantumCircuit, values) -> np.ndarray:
    """Outcome probabilities (integer outcome = measured bits, qubit i -> bit i) from Statevector."""
    return Statevector(circuit.remove_final_measurements(inplace=False).assign_parameters(values)).probabilities()


def _exact_probability_gradient(circuit: QuantumCircuit, values) -> np.ndarray:
    """d p(b) / d theta_k, shape (parameters, outcomes): qiskit-algorithms' parameter-shift
    estimator gradient of the projectors |b><b| on StatevectorEstimator (exact)."""
    cls = _estimator_gradient("ParamShiftEstimatorGradient")
    unmeasured = circuit.remove_final_measurements(inplace=False)
    dim = 2**unmeasured.num_qubits
    projectors = [SparsePauliOp.from_operator(Operator(np.diag(np.eye(dim)[b]))) for b in range(dim)]
    result = cls(StatevectorEstimator()).run([unmeasured] * dim, projectors, [values] * dim).result()
    return np.stack(result.gradients, axis=1)


def _dense(gradient: list[dict], dim: int) -> np.ndarray:
    out = np.zeros((len(gradient), dim))
    for k, dist in enumerate(gradient):
        for outcome, value in dist.items():
            out[k, int(outcome)] = value
    return out


@pytest.mark.parametrize("kind", ["native", "dropin", "statevector"])
@pytest.mark.parametrize("gradient", ["ParamShiftSamplerGradient", "LinCombSamplerGradient"])
def test_sampler_gradient_within_standard_errors(gradient, kind):
    """qiskit-algorithms' sampler gradients, d p(b) / d theta_k from n shots, against the exact
    derivative. Standard errors: parameter shift (p(+) - p(-)) / 2: sqrt(p(+) (1 - p(+)) + p(-)
    (1 - p(-))) / (2 sqrt(n)), exact p from Statevector; linear combination q(b, 0) - q(b, 1)
    (frequencies of the outcome with the ancilla read 0 and 1): at most sqrt(1 / n) (variance
    (q0 + q1 - (q0 - q1)**2) / n <= 1 / n), so it gets more shots. ``statevector``: qiskit's
    StatevectorSampler, the control."""
    shots = 4000 if gradient.startswith("ParamShift") else 16000
    gradients = _need("qiskit_algorithms.gradients", "qiskit-algorithms")
    cls = getattr(gradients, gradient)
    circuit = _gradient_circuit(measure=True)
    dim = 2**circuit.num_qubits
    result = cls(_sampler(kind, shots)).run([circuit] * len(GRADIENT_VALUES), GRADIENT_VALUES).result()
    assert result.shots == shots
    for values, observed in zip(GRADIENT_VALUES, result.gradients):
        exact = _exact_probability_gradient(circuit, values)
        if gradient.startswith("ParamShift"):
            sigma = np.zeros_like(exact)
            for k in range(circuit.num_parameters):
                shift = np.eye(circuit.num_parameters)[k] * np.pi / 2
                plus = _exact_probabilities(circuit, np.asarray(values) + shift)
                minus = _exact_probabilities(circuit, np.asarray(values) - shift)
                sigma[k] = np.sqrt(plus * (1 - plus) + minus * (1 - minus)) / (2 * math.sqrt(shots))
        else:
            sigma = np.full_like(exact, 1 / math.sqrt(shots))
        _assert_within_sigma(_dense(observed, dim), exact, sigma, f"gradient at {values}")
        assert np.abs(exact).max() > 0.1


# --------------------------------------------------------------------------------------------
# qiskit-experiments: readout error and T1 on one physical qubit of FakeManilaV2
# --------------------------------------------------------------------------------------------
QUBIT = 2  # FakeManilaV2's qubit 2: readout error 0.0964 (the others 0.014-0.035), T1 158.6 us
READOUT_SHOTS = 4000
T1_SHOTS = 2000
T1_DELAYS = np.linspace(0, 500e-6, 20)
EXPERIMENT_SAMPLERS = ["aer_sampler", "backend_sampler", "qrt_dropin"]


@pytest.fixture(scope="module")
def device():
    _need("qiskit_experiments.library", "qiskit-experiments")
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    return FakeManilaV2()


def _experiment_sampler(kind: str, device):
    """The sampler a qiskit-experiments user passes to ``experiment.run(sampler=...)``."""
    if kind == "aer_sampler":
        from qiskit_aer.primitives import SamplerV2 as AerSamplerV2

        return AerSamplerV2.from_backend(
            _aer_simulator_from(device, max_parallel_threads=1, seed_simulator=SEED), seed=SEED
        )
    if kind == "backend_sampler":
        from qiskit.primitives import BackendSamplerV2

        return BackendSamplerV2(backend=_aer_simulator_from(device, max_parallel_threads=1, seed_simulator=SEED))
    assert kind == "qrt_dropin"
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    from qrt_runner.runtime import SamplerV2

    return SamplerV2(mode=FakeManilaV2(), options={"simulator": {"seed_simulator": SEED}})


def _aer_simulator_from(device, **options):
    from qiskit_aer import AerSimulator

    return AerSimulator.from_backend(device, **options)


def _run_experiment(experiment, sampler, shots: int, path: str):
    """``run``: ``experiment.run(sampler=...)``, qiskit-experiments' own way (it takes the
    backend from ``sampler._backend`` and reads ``job.backend()``). ``add_jobs``: the
    experiment's circuits transpiled as the experiment transpiles them (its transpile options,
    ``initial_layout`` = its physical qubits: ISA circuits on that qubit), run by the sampler,
    added to an ``ExperimentData`` and analysed by the experiment's analysis."""
    from qiskit_experiments.framework import ExperimentData, ExperimentStatus

    if path == "run":
        data = experiment.run(sampler=sampler, shots=shots).block_for_results()
    else:
        circuits = transpile(
            experiment.circuits(),
            experiment.backend,
            initial_layout=list(experiment.physical_qubits),
            **experiment.transpile_options.__dict__,
        )
        data = ExperimentData(experiment=experiment)
        data.add_jobs([sampler.run(circuits, shots=shots)])
        data = experiment.analysis.run(data).block_for_results()
    assert data.status() == ExperimentStatus.DONE, f"experiment {data.status()}: {data.errors()}"
    return data


def _check_recorded_backend(data, kind: str, device) -> None:
    """The drop-in's experiment data names the fake device it ran on, as with IBM's SamplerV2
    (qiskit-experiments takes it from ``sampler._backend`` and ``job.backend()``)."""
    if kind == "qrt_dropin":
        assert data.backend is not None and data.backend.name == device.name, data.backend


def _readout(device, kind: str, path: str) -> tuple[float, float]:
    """(P(1|0), P(0|1)) of QUBIT from LocalReadoutError's assignment matrix."""
    from qiskit_experiments.library import LocalReadoutError

    experiment = LocalReadoutError(physical_qubits=[QUBIT], backend=device)
    data = _run_experiment(experiment, _experiment_sampler(kind, device), READOUT_SHOTS, path)
    _check_recorded_backend(data, kind, device)
    mitigator = data.analysis_results("Local Readout Mitigator", dataframe=True).iloc[0]["value"]
    matrix = mitigator.assignment_matrix(QUBIT)
    return float(matrix[1, 0]), float(matrix[0, 1])


def _t1(device, kind: str, path: str):
    """(T1, base) fitted by T1Analysis (uncertainties' ufloats): the decay constant, and the
    excited-state population read at long delays (= P(1|0), the readout error)."""
    from qiskit_experiments.library import T1

    experiment = T1(physical_qubits=[QUBIT], delays=T1_DELAYS, backend=device)
    data = _run_experiment(experiment, _experiment_sampler(kind, device), T1_SHOTS, path)
    _check_recorded_backend(data, kind, device)
    t1 = data.analysis_results("T1", dataframe=True).iloc[0]["value"]
    base = data.artifacts("fit_summary").data.ufloat_params["base"]
    return t1, base


@pytest.fixture(scope="module")
def aer_readout(device):
    """Aer's SamplerV2 on the same placement (the reference qrt is compared with)."""
    return _readout(device, "aer_sampler", "run")


@pytest.fixture(scope="module")
def aer_t1(device):
    return _t1(device, "aer_sampler", "run")


def _readout_sigma(p: float) -> float:
    return math.sqrt(p * (1 - p) / READOUT_SHOTS)


@pytest.mark.parametrize("path", ["run", "add_jobs"])
@pytest.mark.parametrize("kind", EXPERIMENT_SAMPLERS)
def test_readout_error_of_the_chosen_qubit(device, kind, path):
    """LocalReadoutError on qubit 2 measures qubit 2: P(1|0) and P(0|1) are the device's readout
    error of qubit 2 (``target['measure'][(2,)].error`` = ``properties().readout_error(2)``,
    which Aer's noise model applies symmetrically) within K_SIGMA binomial standard errors
    sqrt(e (1 - e) / shots); any other qubit of the device is >= 0.06 away (over 12 sigma)."""
    error = device.target["measure"][(QUBIT,)].error
    assert error == pytest.approx(device.properties().readout_error(QUBIT))
    p10, p01 = _readout(device, kind, path)
    sigma = _readout_sigma(error)
    _assert_within_sigma([p10, p01], [error, error], [sigma, sigma], f"{kind}: readout error of qubit {QUBIT}")


@pytest.mark.parametrize("path", ["run", "add_jobs"])
def test_readout_error_matches_aer_on_the_same_placement(device, aer_readout, path):
    """The drop-in's readout error of qubit 2 agrees with Aer's SamplerV2 on the same qubit,
    within K_SIGMA standard errors of the difference of two binomial estimates."""
    observed = _readout(device, "qrt_dropin", path)
    sigma = [math.sqrt(2) * _readout_sigma(p) for p in aer_readout]
    _assert_within_sigma(observed, aer_readout, sigma, "qrt_dropin vs Aer SamplerV2")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["run", "add_jobs"])
@pytest.mark.parametrize("kind", EXPERIMENT_SAMPLERS)
def test_t1_of_the_chosen_qubit(device, kind, path):
    """T1 on qubit 2 (20 delays up to 500 us, 2000 shots each): the fitted T1 within K_SIGMA of
    its fit's standard error of ``qubit_properties(2).t1`` (158.6 us; the nearest other qubits
    144.7 and 179.1 us), and the fitted base (P(1) after full decay = P(1|0)) within K_SIGMA of
    its standard error of qubit 2's readout error (0.0964; the others <= 0.035)."""
    t1, base = _t1(device, kind, path)
    _assert_within_sigma(t1.nominal_value, device.qubit_properties(QUBIT).t1, t1.std_dev, f"{kind}: T1 (s)")
    error = device.target["measure"][(QUBIT,)].error
    _assert_within_sigma(base.nominal_value, error, base.std_dev, f"{kind}: T1 fit base")


@pytest.mark.slow
@pytest.mark.parametrize("path", ["run", "add_jobs"])
def test_t1_matches_aer_on_the_same_placement(device, aer_t1, path):
    """The drop-in's T1 fit of qubit 2 agrees with Aer's on the same qubit, within K_SIGMA
    standard errors of the difference (the two fits' errors in quadrature)."""
    t1, base = _t1(device, "qrt_dropin", path)
    aer_value, aer_base = aer_t1
    _assert_within_sigma(
        [t1.nominal_value, base.nominal_value],
        [aer_value.nominal_value, aer_base.nominal_value],
        [math.hypot(t1.std_dev, aer_value.std_dev), math.hypot(base.std_dev, aer_base.std_dev)],
        "qrt_dropin vs Aer SamplerV2 (T1, base)",
    )
