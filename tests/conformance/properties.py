"""The checks of one case, run through qrt_runner and compared with its reference: what each
property of ``tests/test_conformance.py`` asserts for a drawn case, and each regression test of
``tests/test_conformance_regressions.py`` for an explicit one.

What qrt may refuse (cleanly, :func:`checks.assert_clean_refusal`) instead of computing: Estimator
PUBs whose circuit measures, resets or branches (the README limits Estimator circuits to unitary
ones), Sampler circuits whose classical bits no measurement writes, and Sampler circuits with
control flow (Aer 0.18 itself fails on some). Everything else must be computed, and right.
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.quantum_info import SparsePauliOp

from conformance import checks, references, runners
from conformance.runners import DEVICE, EstimatorRun, SamplerRun
from conformance.strategies import EstimatorCase, SamplerCase

RETRY_SEED = 7919  # attempt k of a confirmed check runs with seed + k * RETRY_SEED


def _pub_for(case: EstimatorCase | SamplerCase, circuit: QuantumCircuit | None) -> list:
    """The case's PUB as a list, on ``circuit`` (an ISA circuit) when given, its values rebound to
    that circuit's parameters (the transpiler may have dropped one)."""
    pub = list(case.pub(circuit))
    if circuit is None or case.values is None:
        return pub
    if isinstance(case, EstimatorCase):
        values = EstimatorPub.coerce(case.pub()).parameter_values
        pub[2] = references.rebind(values, circuit)
    else:
        pub[1] = references.rebind(SamplerPub.coerce(case.pub()).parameter_values, circuit)
    return pub


# -- Estimator -----------------------------------------------------------------------------------


def estimate(case: EstimatorCase, run: EstimatorRun, seed: int, attempt: int = 0, circuit=None, observables=None):
    """(result, exception) of one job on the case's PUB; attempt 1 has another seed and 4x the shots."""
    if attempt:
        run = run.scaled()
    pub = _pub_for(case, circuit)
    if observables is not None:
        pub[1] = observables
    if case.precision is not None and attempt:
        pub[3] = case.precision / 2
    return checks.attempt(lambda: run.run([tuple(pub)], seed + RETRY_SEED * attempt)[0])


def shots_per_basis(case: EstimatorCase, run: EstimatorRun, attempt: int = 0) -> int:
    run = run.scaled() if attempt else run
    if run.shots:
        return run.shots
    precision = case.precision / 2**attempt if case.precision is not None else run.precision
    assert precision
    return int(np.ceil(1 / precision**2))


def estimator_refused(case: EstimatorCase, run, exc: BaseException) -> None:
    """qrt refused the case: allowed for PUBs of dynamic circuits only, and only cleanly."""
    assert case.dynamic, (
        f"{run} raised on a unitary circuit, which it must compute: {type(exc).__name__}: {str(exc)[:600]}"
    )
    checks.assert_clean_refusal(exc, str(run))


def check_exact(case: EstimatorCase, run: EstimatorRun, seed: int) -> None:
    """Precision 0 on the ideal simulator: the exact values (Qiskit's StatevectorEstimator's for a
    unitary circuit, with its shapes and dtypes) to 1e-9, stds 0; or a clean refusal (dynamic)."""
    pub = EstimatorPub.coerce(case.pub(), 0)
    result, exc = estimate(case, run, seed)
    if exc is not None:
        return estimator_refused(case, run, exc)
    if case.dynamic:
        checks.assert_estimator_structure(result, pub.shape)
        checks.assert_exact(result, references.exact_evs(pub), str(run))
    else:
        reference = references.qiskit_estimator_result(pub)
        checks.assert_estimator_structure(result, pub.shape, reference)
        checks.assert_exact(result, np.asarray(reference.data.evs), str(run))


def check_ideal_sampled(case: EstimatorCase, run: EstimatorRun, seed: int) -> None:
    """Sampled values on the ideal simulator within 4 std (+ the shot floor) of exact, confirmed."""
    pub = EstimatorPub.coerce(case.pub(), 0.1)
    exact, norms, identity = references.exact_evs(pub), references.norm_bounds(pub), references.identity_only(pub)

    def misses(attempt: int) -> list[str]:
        result, exc = estimate(case, run, seed, attempt)
        if exc is not None:
            estimator_refused(case, run, exc)
            return []
        checks.assert_estimator_structure(result, pub.shape)
        shots = shots_per_basis(case, run, attempt)
        return checks.estimator_misses(result, exact, norms, shots, str(run), identity)

    checks.confirmed(misses)


def device_pub(case: EstimatorCase, run: EstimatorRun, seed: int):
    """The circuit and observables a job on the fake device gets: the logical ones for the native
    Estimator (it transpiles), an ISA circuit and laid-out observables for the drop-in (as IBM's
    scripts pass them)."""
    circuit = case.build()
    if run.api == "native":
        return circuit, None
    isa = runners.isa(circuit, DEVICE, seed % 5)
    return isa, runners.isa_observables(EstimatorPub.coerce(case.pub(circuit)).observables, isa)


def check_device_values(case: EstimatorCase, run: EstimatorRun, seed: int, bound: float | None) -> None:
    """On the fake device: the PUB's shapes; finite stds, at least ``checks.STD_FLOOR`` x norm except
    for multiples of the identity (whose values are exact, std 0); with ``bound``, |ev - exact| <=
    bound * norm + 4 std (confirmed)."""
    pub = EstimatorPub.coerce(case.pub(), run.precision or 0.1)
    exact, norms = references.exact_evs(pub), references.norm_bounds(pub)
    identity = references.identity_only(pub)
    circuit, observables = device_pub(case, run, seed)

    def misses(attempt: int) -> list[str]:
        result, exc = estimate(case, run, seed, attempt, circuit, observables)
        if exc is not None:
            estimator_refused(case, run, exc)
            return []
        checks.assert_estimator_structure(result, pub.shape)
        evs, stds = np.asarray(result.data.evs), np.asarray(result.data.stds)
        assert np.all(np.isfinite(evs)) and np.all(np.isfinite(stds)), f"{run}: evs {evs} stds {stds}"
        tiny = stds < checks.STD_FLOOR * norms
        assert not np.any(tiny & ~identity), f"{run}: a noisy estimate with std ~0: evs {evs} stds {stds}"
        np.testing.assert_allclose(evs[identity], exact[identity], atol=checks.EXACT_ATOL)
        assert np.all(stds[identity] == 0), f"{run}: the identity's value is exact, stds {stds}"
        if bound is None:
            return []
        tolerance = bound * norms + checks.N_SIGMA * stds
        return [
            f"{run} {i}: ev {evs[i]:.4f} exact {exact[i]:.4f}, |error| > {bound} norm + 4 std = {tolerance[i]:.3f}"
            for i in np.ndindex(evs.shape)
            if abs(evs[i] - exact[i]) > tolerance[i]
        ]

    checks.confirmed(misses)


def check_level_0_against_aer_device(case: EstimatorCase, run: EstimatorRun, seed: int) -> None:
    """Level 0 on the fake device against BackendEstimatorV2 on Aer's simulation of the whole device
    (the same ISA circuit, the device's own noise model): within 4 combined std + 0.02 x norm (qrt's
    basis changes are noisy device gates, the reference's are not) + the shot floor; confirmed."""
    assert run.level == 0 and run.shots
    logical = EstimatorPub.coerce(case.pub(), 0.1)
    norms = references.norm_bounds(logical)
    circuit, observables = device_pub(case, run, seed)
    if run.api == "native":  # the reference runs the ISA circuit qrt itself runs
        compiled = runners.backend(DEVICE, seed).compiler.compile(circuit).device_circuit
        reference_observables = runners.isa_observables(logical.observables, compiled)
    else:
        compiled, reference_observables = circuit, observables
    reference_values = references.rebind(logical.parameter_values, compiled)
    reference_pub = EstimatorPub.coerce((compiled, reference_observables, reference_values))

    def misses(attempt: int) -> list[str]:
        shots = run.shots * 4**attempt
        result, exc = estimate(case, run, seed, attempt, circuit, observables)
        if exc is not None:
            estimator_refused(case, run, exc)
            return []
        checks.assert_estimator_structure(result, logical.shape)
        reference = references.noisy_device_evs(DEVICE, reference_pub, shots, seed + attempt)
        evs, stds = np.asarray(result.data.evs), np.asarray(result.data.stds)
        theirs, their_stds = np.asarray(reference.data.evs), np.asarray(reference.data.stds)
        tolerance = checks.N_SIGMA * np.hypot(stds, their_stds) + 0.02 * norms + 20 * norms / shots
        return [
            f"{run} {i}: qrt {evs[i]:.4f} +- {stds[i]:.4f}, Aer device {theirs[i]:.4f} +- {their_stds[i]:.4f}"
            for i in np.ndindex(evs.shape)
            if abs(evs[i] - theirs[i]) > tolerance[i]
        ]

    checks.confirmed(misses)


# -- Sampler -------------------------------------------------------------------------------------


def sample(case: SamplerCase, run: SamplerRun, seed: int, attempt: int = 0, circuit=None):
    """(result, exception) of one job on the case's PUB; attempt 1 has another seed and 4x the shots."""
    pub = _pub_for(case, circuit)
    shots = None
    if attempt:
        if case.shots is not None:
            pub[2] = case.shots * 4
        else:
            shots = run.shots * 4
    return checks.attempt(lambda: run.run([tuple(pub)], seed + RETRY_SEED * attempt, shots)[0])


def sampler_refused(case: SamplerCase, run, exc: BaseException) -> None:
    """qrt refused: allowed, cleanly, for circuits whose classical bits nothing writes and for
    circuits with control flow (Aer 0.18 itself fails on some: "unordered_map::at")."""
    assert not case.measures or case.branches, (
        f"{run} raised on a circuit with measurements, which it must sample: {type(exc).__name__}: {str(exc)[:600]}"
    )
    checks.assert_clean_refusal(exc, str(run))


def check_ideal_sampler(case: SamplerCase, run: SamplerRun, seed: int) -> None:
    """Counts on the ideal simulator: registers as Qiskit's sampler gives them; no outcome of
    probability 0; chi-square against the exact distribution per parameter set (confirmed)."""
    pub = SamplerPub.coerce(case.pub(), run.shots)
    exact = references.exact_distributions(pub)
    circuit = pub.circuit

    def misses(attempt: int) -> list[str]:
        result, exc = sample(case, run, seed, attempt)
        if exc is not None:
            sampler_refused(case, run, exc)
            return []
        if attempt == 0:
            checks.assert_sampler_structure(
                result, circuit, pub.shape, pub.shots, references.qiskit_sampler_result(pub), bool(run.twirling)
            )
        hard, soft = checks.sampler_misses(result, circuit, exact, str(run))
        assert not hard, "\n".join(hard)
        return soft

    checks.confirmed(misses)


def check_sampler_against_aer_device(case: SamplerCase, run: SamplerRun, seed: int, isa: QuantumCircuit | None = None):
    """Counts on the fake device (no mitigation) against Aer's simulation of the whole device on the
    same ISA circuit (qrt's own transpilation for the native Sampler given a logical circuit; the
    script's ISA circuit for the drop-in, or ``isa`` when given): two-sample chi-square per set."""
    logical = case.build()
    if isa is not None:
        circuit = compiled = isa
    elif run.api == "native":
        circuit, compiled = logical, runners.backend(DEVICE, seed).compiler.compile(logical).device_circuit
    else:
        circuit = compiled = runners.isa(logical, DEVICE, seed % 5)
    pub = SamplerPub.coerce(case.pub(), run.shots)
    bound = references.rebind(pub.parameter_values, compiled).bind_all(compiled)

    def misses(attempt: int) -> list[str]:
        shots = run.shots * 4**attempt
        result, exc = sample(case, run, seed, attempt, circuit)
        if exc is not None:
            sampler_refused(case, run, exc)
            return []
        checks.assert_sampler_structure(result, compiled, pub.shape, shots)
        flat = [bound[i] for i in np.ndindex(bound.shape)]
        theirs = references.noisy_device_counts(DEVICE, flat, shots, seed + attempt)
        out = []
        for k, index in enumerate(np.ndindex(bound.shape)):
            p = checks.two_sample_p(references.joined_outcomes(result.data, compiled, index), theirs[k])
            if p < checks.ALPHA:
                out.append(f"{run} {index}: two-sample chi-square p = {p:.2e} against Aer's device simulation")
        return out

    checks.confirmed(misses)


# -- invalid input -------------------------------------------------------------------------------

INVALID = (
    "sampler shots=0",
    "sampler shots<0",
    "sampler pub shots=0",
    "sampler default_shots=0",
    "estimator precision<0",
    "estimator pub precision<0",
    "estimator default_shots=0",
    "estimator precision=0 on a fake device",
    "missing parameter values",
    "observables of another width",
    "observable that sums to 0",
)


def _invalid_pub(defect: str, circuit: QuantumCircuit, values) -> tuple:
    z = "Z" * circuit.num_qubits
    if defect.startswith("sampler"):
        shots = -3 if defect == "sampler shots<0" else 0
        return (circuit, values, shots) if "pub" in defect else (circuit, values)
    if defect == "estimator pub precision<0":
        return (circuit, z, values, -0.1)
    if defect == "missing parameter values":
        return (circuit, z)
    if defect == "observables of another width":
        return (circuit, z + "Z", values)
    if defect == "observable that sums to 0":
        return (
            circuit,
            SparsePauliOp.from_list(
                [(z, 0.5), ("I" * circuit.num_qubits, 1.0), (z, -0.5), ("I" * circuit.num_qubits, -1.0)]
            ),
            values,
        )
    return (circuit, z, values)


def qiskit_refuses(defect: str, circuit: QuantumCircuit, values) -> bool | None:
    """Whether Qiskit's statevector primitives refuse the input (None: no Qiskit counterpart; False:
    nothing is wrong with it, e.g. no values missing for a circuit without parameters)."""
    pub = _invalid_pub(defect, circuit, values)
    if defect == "sampler default_shots=0":
        job = lambda: StatevectorSampler(default_shots=0).run([pub])  # noqa: E731
    elif defect.startswith("sampler"):
        shots = -3 if defect == "sampler shots<0" else 0
        job = lambda: StatevectorSampler().run([pub], shots=None if "pub" in defect else shots)  # noqa: E731
    elif defect == "estimator precision<0":
        job = lambda: StatevectorEstimator().run([pub], precision=-0.1)  # noqa: E731
    elif defect in (
        "estimator pub precision<0",
        "missing parameter values",
        "observables of another width",
        "observable that sums to 0",
    ):
        job = lambda: StatevectorEstimator().run([pub])  # noqa: E731
    else:
        return None
    _, exc = checks.attempt(lambda: job().result())
    return exc is not None


def qrt_job(defect: str, circuit: QuantumCircuit, values, api: str, seed: int):
    """The same input to qrt_runner (``api`` native or dropin), as a callable."""
    pub = _invalid_pub(defect, circuit, values)
    if defect.startswith("sampler"):
        run = SamplerRun(api, "aer", shots=0 if "default_shots" in defect else 100)
        shots = None if "pub" in defect or "default" in defect else (-3 if defect == "sampler shots<0" else 0)
        return lambda: run.run([pub], seed, shots)
    if defect == "estimator precision<0":
        return lambda: EstimatorRun(api, "aer", precision=0.05).estimator(seed).run([pub], precision=-0.1).result()
    if defect == "estimator default_shots=0":
        return lambda: EstimatorRun(api, "aer", shots=0).run([pub], seed)
    if defect == "estimator precision=0 on a fake device":
        return lambda: EstimatorRun(api, DEVICE, precision=0).run([pub], seed)
    return lambda: EstimatorRun(api, "aer", precision=0.05).run([pub], seed)


def check_invalid(defect: str, circuit: QuantumCircuit, values, api: str, seed: int) -> None:
    """What Qiskit refuses, qrt refuses (cleanly); what has no Qiskit counterpart but cannot be
    computed (0 shots, exact values on a noisy device), qrt refuses too."""
    if defect.startswith("sampler"):
        circuit = circuit.copy()
        circuit.measure_all()
    theirs = qiskit_refuses(defect, circuit, values)
    if theirs is False:
        return
    _, exc = checks.attempt(qrt_job(defect, circuit, values, api, seed))
    assert exc is not None, f"{defect} ({api}): " + ("Qiskit refuses it, qrt ran it" if theirs else "qrt ran it")
    checks.assert_clean_refusal(exc, f"{defect} ({api})")


# -- jobs of several PUBs -------------------------------------------------------------------------


def check_estimator_job(cases: list[EstimatorCase], run: EstimatorRun, seed: int) -> None:
    """One job of several PUBs: one result per PUB, in order, each with its PUB's shape and values
    (exact, or within 4 std, confirmed by rerunning the job)."""
    pubs = [EstimatorPub.coerce(case.pub(), run.precision or 0.1) for case in cases]
    exact = [references.exact_evs(pub) for pub in pubs]
    norms = [references.norm_bounds(pub) for pub in pubs]
    identity = [references.identity_only(pub) for pub in pubs]

    def misses(attempt: int) -> list[str]:
        scaled = run.scaled() if attempt else run
        job = [tuple(_pub_for(case, None)[:3]) + _precision(case, attempt) for case in cases]
        results, exc = checks.attempt(lambda: scaled.run(job, seed + RETRY_SEED * attempt))
        if exc is not None:
            assert any(case.dynamic for case in cases), f"{run} raised on unitary circuits: {type(exc).__name__}: {exc}"
            checks.assert_clean_refusal(exc, str(run))
            return []
        assert len(results) == len(cases), f"{run}: {len(results)} results for {len(cases)} PUBs"
        out = []
        for k, (case, pub, result) in enumerate(zip(cases, pubs, results)):
            checks.assert_estimator_structure(result, pub.shape)
            if run.precision == 0:
                checks.assert_exact(result, exact[k], f"{run} PUB {k}")
            else:
                shots = shots_per_basis(case, run, attempt)
                out += checks.estimator_misses(result, exact[k], norms[k], shots, f"{run} PUB {k}", identity[k])
        return out

    checks.confirmed(misses)


def _precision(case: EstimatorCase, attempt: int) -> tuple:
    return () if case.precision is None else (case.precision / 2**attempt,)


def check_sampler_job(cases: list[SamplerCase], run: SamplerRun, seed: int) -> None:
    """One job of several PUBs (their own shots or the job's): one result per PUB, in order, each
    with its PUB's registers, shape and shots, and counts from its exact distribution."""
    pubs = [SamplerPub.coerce(case.pub(), run.shots) for case in cases]
    exact = [references.exact_distributions(pub) for pub in pubs]

    def misses(attempt: int) -> list[str]:
        job = []
        for case in cases:
            pub = _pub_for(case, None)
            if attempt and case.shots is not None:
                pub[2] = case.shots * 4
            job.append(tuple(pub))
        shots = run.shots * 4 if attempt else None
        results, exc = checks.attempt(lambda: run.run(job, seed + RETRY_SEED * attempt, shots))
        if exc is not None:
            assert not all(case.measures for case in cases), f"{run} raised: {type(exc).__name__}: {exc}"
            checks.assert_clean_refusal(exc, str(run))
            return []
        assert len(results) == len(cases), f"{run}: {len(results)} results for {len(cases)} PUBs"
        out = []
        for k, (pub, result) in enumerate(zip(pubs, results)):
            expected_shots = pub.shots * 4 if attempt else pub.shots
            checks.assert_sampler_structure(result, pub.circuit, pub.shape, expected_shots)
            hard, soft = checks.sampler_misses(result, pub.circuit, exact[k], f"{run} PUB {k}")
            assert not hard, "\n".join(hard)
            out += soft
        return out

    checks.confirmed(misses)
