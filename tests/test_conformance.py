"""Differential conformance: random PUBs through qrt_runner's Estimator and Sampler (native and the
IBM drop-in; ideal simulator exact and sampled; fake device at resilience levels 0, 1, 2) and
through references (Qiskit's StatevectorEstimator/StatevectorSampler for unitary circuits, an exact
density-matrix branch sum for circuits with resets, mid-circuit measurements and ``if_else``; Aer on
the whole fake device for level 0's noisy numbers).

Profiles: ``make test`` runs a small fixed-seed profile (``derandomize``: the same examples every
run, no shrinking); ``QRT_CONFORMANCE=large`` (``make conformance``) runs many more random ones and
shrinks what fails. A failing example prints as code (``note``); each becomes a named test in
``tests/test_conformance_regressions.py``. What each property asserts is in
``tests/conformance/properties.py``; the statistics and their false-alarm rates in
``tests/conformance/checks.py``.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, Phase, assume, given, note, settings, target
from hypothesis import strategies as st
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit.transpiler import generate_preset_pass_manager

from conformance import checks, properties, references
from conformance import strategies as gen
from conformance.runners import DEVICE, EstimatorRun, SamplerRun

PROFILE = os.environ.get("QRT_CONFORMANCE", "small")
if PROFILE not in ("small", "large"):
    raise ValueError(f"QRT_CONFORMANCE={PROFILE!r}: use small (the default) or large")
_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("qrt-conformance-small", derandomize=True, phases=(Phase.explicit, Phase.generate), **_COMMON)
settings.register_profile("qrt-conformance-large", derandomize=False, print_blob=True, **_COMMON)


def examples(small: int, large: int) -> settings:
    """Settings of one property: ``small`` examples in the small profile, ``large`` in the large one."""
    return settings(
        settings.get_profile(f"qrt-conformance-{PROFILE}"), max_examples=small if PROFILE == "small" else large
    )


seeds = st.integers(0, 2**20)
apis = st.sampled_from(["native", "dropin"])


# -- the reference itself ------------------------------------------------------------------------


@examples(10, 500)
@given(case=gen.estimator_cases(projectors=st.booleans()))
def test_branch_sum_reference_agrees_with_statevector_estimator(case):
    """The density-matrix branch sum gives the statevector's values on unitary circuits (projector
    labels included, expanded into Paulis for Qiskit's estimator)."""
    note(case.code())
    pub = EstimatorPub.coerce(case.pub())
    np.testing.assert_allclose(references.exact_evs(pub), references.qiskit_evs(pub), atol=1e-9)


@examples(6, 300)
@given(case=gen.estimator_cases(max_qubits=4, dynamic=True, dynamic_ops=("reset",)))
def test_branch_sum_reference_agrees_with_density_matrix_on_resets(case):
    """With resets: the branch sum gives what ``DensityMatrix`` evolution gives."""
    note(case.code())
    pub = EstimatorPub.coerce(case.pub())
    np.testing.assert_allclose(references.exact_evs(pub), references.density_matrix_evs(pub), atol=1e-9)


@examples(6, 300)
@given(case=gen.sampler_cases(max_qubits=4, final_measure="all"))
def test_branch_sum_distributions_agree_with_statevector_probabilities(case):
    """Unitary circuits measured at the end: the branch sum's distribution of the classical bits is
    the statevector's probabilities of the measured qubits (each writing its bit)."""
    note(case.code())
    circuit = case.build()
    written = [circuit.find_bit(inst.clbits[0]).index for inst in circuit.data if inst.operation.name == "measure"]
    assume(len(set(written)) == len(written))  # each bit written once (a later write wins otherwise)
    pub = SamplerPub.coerce(case.pub(), 10)
    for ours, theirs in zip(references.exact_distributions(pub), references.statevector_distributions(pub)):
        assert set(ours) == set(theirs) and all(abs(ours[k] - theirs[k]) < 1e-9 for k in ours), (ours, theirs)


# -- Estimator, ideal simulator ------------------------------------------------------------------


@examples(8, 600)
@given(case=gen.estimator_cases(max_ops=10), api=apis, seed=seeds)
def test_exact_estimator_equals_statevector_estimator(case, api, seed):
    """Precision 0 on the ideal simulator: Qiskit's values to 1e-9, stds 0, its shapes and dtypes."""
    run = EstimatorRun(api, "aer", precision=0)
    note(f"{run}\n{case.code()}")
    properties.check_exact(case, run, seed)


@examples(6, 600)
@given(case=gen.estimator_cases(dynamic=True, max_qubits=3, max_ops=8), api=apis, seed=seeds)
def test_exact_estimator_on_dynamic_circuits_is_exact_or_refused(case, api, seed):
    """Precision 0 on a circuit with resets, mid-circuit measurements or ``if_else``: the exact
    branch-sum values with std 0, or a clean refusal; never one sampled trajectory with std 0. Only
    PUBs whose trajectories differ (a value with a branch spread > 0) can tell, so only those are
    run; the large profile steers towards those whose trajectories differ most."""
    run = EstimatorRun(api, "aer", precision=0)
    note(f"{run}\n{case.code()}")
    spread = references.branch_spread(EstimatorPub.coerce(case.pub(), 0))
    assume(spread > 1e-9)
    target(spread, label="branch spread")
    properties.check_exact(case, run, seed)


ideal_sampled_runs = st.one_of(
    st.builds(EstimatorRun, api=apis, device=st.just("aer"), precision=st.sampled_from([0.04, 0.025])),
    st.builds(EstimatorRun, api=apis, device=st.just("aer"), shots=st.sampled_from([500, 1200])),
    st.builds(
        EstimatorRun, api=apis, device=st.just("aer"), precision=st.just(0.04), level=st.sampled_from([1, 1, 1, 2])
    ),
)


@examples(8, 500)
@given(
    case=gen.estimator_cases(precision=True, max_qubits=4, dynamic=st.booleans()), run=ideal_sampled_runs, seed=seeds
)
def test_sampled_estimator_on_ideal_simulator_agrees_within_4_sigma(case, run, seed):
    """Sampled values on the ideal simulator (levels 0-2: mitigation must not bias a noiseless
    run) are within 4 std (+ the shot floor) of the exact values, confirmed on a miss."""
    note(f"{run}\n{case.code()}\nprecision={case.precision}")
    properties.check_ideal_sampled(case, run, seed)


projector_runs = st.sampled_from(
    [
        EstimatorRun("native", "aer", precision=0),
        EstimatorRun("dropin", "aer", precision=0),
        EstimatorRun("native", "aer", precision=0.03),
        EstimatorRun("dropin", "aer", shots=1000),
        EstimatorRun("native", DEVICE, precision=0.04, level=1),
        EstimatorRun("dropin", DEVICE, precision=0.04, level=1),
    ]
)


@examples(6, 500)
@given(case=gen.estimator_cases(projectors=True, max_qubits=3, max_ops=6), run=projector_runs, seed=seeds)
def test_projector_observables_are_evaluated(case, run, seed):
    """Projector labels (``0 1 + - r l``, alone or in dicts beside Paulis), which Qiskit's
    ObservablesArray accepts: exact, within 4 std, or (fake device, level 1) within the noisy bound."""
    note(f"{run}\n{case.code()}")
    if run.device != "aer":
        properties.check_device_values(case, run, seed, checks.NOISY_BOUND)
    elif run.precision == 0:
        properties.check_exact(case, run, seed)
    else:
        properties.check_ideal_sampled(case, run, seed)


@examples(4, 200)
@given(case=gen.estimator_cases(max_params=0, max_qubits=3, shaped_empty_values=True), api=apis, seed=seeds)
def test_parameter_free_estimator_pubs_take_shaped_empty_values(case, api, seed):
    """A circuit without parameters with values of shape ``shape + (0,)`` (a BindingsArray of that
    shape, as Qiskit accepts): results of the broadcast shape, exact and sampled."""
    note(f"{api}\n{case.code()}")
    properties.check_exact(case, EstimatorRun(api, "aer", precision=0), seed)
    properties.check_ideal_sampled(case, EstimatorRun(api, "aer", shots=800), seed)


# -- Estimator, fake device ----------------------------------------------------------------------

small_device_cases = gen.estimator_cases(max_qubits=3, max_ops=6, max_params=2)
small_dynamic_device_cases = gen.estimator_cases(max_qubits=3, max_ops=6, max_params=2, dynamic=True)


@examples(5, 400)
@given(case=small_device_cases, api=apis, level=st.sampled_from([0, 1]), seed=seeds)
def test_estimator_on_fake_device_levels_0_and_1(case, api, level, seed):
    """On the fake device: the PUB's shapes, finite stds > 0 (0 only for a multiple of the
    identity, whose value is exact), and at level 1 values within 0.1 x norm + 4 std of the noiseless
    ones (readout errors are mitigated; the gate noise of <= 6 gates on <= 3 qubits stays inside,
    see checks.NOISY_BOUND). Level 0's values are checked against Aer's device simulation below."""
    run = EstimatorRun(api, DEVICE, precision=0.04, level=level)
    note(f"{run}\n{case.code()}")
    properties.check_device_values(case, run, seed, checks.NOISY_BOUND if level else None)


@examples(4, 400)
@given(case=small_dynamic_device_cases, api=apis, level=st.sampled_from([0, 1]), seed=seeds)
def test_estimator_on_fake_device_with_dynamic_circuits(case, api, level, seed):
    """As above, for circuits with resets, mid-circuit measurements and ``if_else`` (or a clean
    refusal of them) whose trajectories differ, so that one trajectory's value cannot pass."""
    run = EstimatorRun(api, DEVICE, precision=0.04, level=level)
    note(f"{run}\n{case.code()}")
    spread = references.branch_spread(EstimatorPub.coerce(case.pub(), 0))
    assume(spread > 1e-9)
    target(spread, label="branch spread")
    properties.check_device_values(case, run, seed, checks.NOISY_BOUND if level else None)


@examples(2, 100)
@given(case=gen.estimator_cases(max_qubits=3, max_ops=6, max_params=2, dynamic=st.booleans()), api=apis, seed=seeds)
def test_estimator_on_fake_device_level_2(case, api, seed):
    """Level 2 (gate twirling, TREX, ZNE) on the fake device: as level 1."""
    run = EstimatorRun(api, DEVICE, precision=0.05, level=2)
    note(f"{run}\n{case.code()}")
    properties.check_device_values(case, run, seed, checks.NOISY_BOUND)


@examples(4, 300)
@given(case=gen.estimator_cases(max_qubits=3, max_ops=6, max_params=2, dynamic=st.booleans()), api=apis, seed=seeds)
def test_level_0_on_fake_device_agrees_with_aer_device_simulation(case, api, seed):
    """Level 0 (no mitigation) on the fake device against BackendEstimatorV2 on Aer's simulation of
    the whole device, same ISA circuit, same noise model."""
    run = EstimatorRun(api, DEVICE, shots=1500, level=0)
    note(f"{run}\n{case.code()}")
    properties.check_level_0_against_aer_device(case, run, seed)


# -- Sampler -------------------------------------------------------------------------------------

ideal_sampler_runs = st.one_of(
    st.builds(SamplerRun, api=apis, device=st.just("aer"), shots=st.sampled_from([800, 2000])),
    st.builds(
        SamplerRun,
        api=st.just("dropin"),
        device=st.just("aer"),
        shots=st.just(1000),
        twirling=st.sampled_from(
            [
                (("enable_measure", True),),
                (("enable_gates", True), ("enable_measure", True), ("num_randomizations", 5)),
            ]
        ),
    ),
)


@examples(8, 600)
@given(case=gen.sampler_cases(shots=True, max_qubits=4, dynamic=st.booleans()), run=ideal_sampler_runs, seed=seeds)
def test_sampler_on_ideal_simulator_matches_exact_distribution(case, run, seed):
    """Counts on the ideal simulator (with the drop-in's measurement and gate twirling too): no
    outcome of probability 0, a chi-square test against the exact (branch-sum) distribution per
    parameter set, and registers as Qiskit's sampler gives them."""
    note(f"{run}\n{case.code()}\nshots={case.shots}")
    properties.check_ideal_sampler(case, run, seed)


@examples(3, 150)
@given(
    case=gen.sampler_cases(max_qubits=3, max_ops=4, final_measure="none", registers=True),
    run=ideal_sampler_runs,
    seed=seeds,
)
def test_sampler_reads_zeros_from_classical_bits_nothing_writes(case, run, seed):
    """Classical registers that no measurement writes: every shot reads 0, as Qiskit's sampler
    gives (or a clean refusal)."""
    note(f"{run}\n{case.code()}")
    properties.check_ideal_sampler(case, run, seed)


@examples(3, 200)
@given(
    case=gen.sampler_cases(max_params=0, max_qubits=3, shaped_empty_values=True, dynamic=st.booleans()),
    api=apis,
    seed=seeds,
)
def test_parameter_free_sampler_pubs_take_shaped_empty_values(case, api, seed):
    """Values of shape ``shape + (0,)`` for a circuit without parameters: one set of shots per
    element of ``shape``, as Qiskit's sampler gives."""
    run = SamplerRun(api, "aer", shots=500)
    note(f"{run}\n{case.code()}")
    properties.check_ideal_sampler(case, run, seed)


@examples(4, 300)
@given(
    case=gen.sampler_cases(max_qubits=4, max_ops=6, dynamic=st.booleans(), final_measure="all"), api=apis, seed=seeds
)
def test_sampler_on_fake_device_matches_aer_device_simulation(case, api, seed):
    """Counts on the fake device (no mitigation) against Aer's simulation of the whole device on
    the same ISA circuit: a two-sample chi-square test per parameter set."""
    run = SamplerRun(api, DEVICE, shots=3000)
    note(f"{run}\n{case.code()}")
    properties.check_sampler_against_aer_device(case, run, seed)


@examples(3, 250)
@given(
    spec=gen.circuits(max_qubits=3, max_ops=5, max_params=0, final_measure="all"),
    layout=st.permutations(range(5)),
    api=apis,
    seed=seeds,
)
def test_isa_circuit_runs_on_the_qubits_it_names(spec, layout, api, seed):
    """An ISA circuit laid out by the script (``initial_layout``) runs on the physical qubits it
    names: its counts match Aer's simulation of that very circuit on the whole device (the
    device's qubits differ: readout error 0.12 on qubit 2, 0.02-0.05 elsewhere)."""
    from qrt_runner.execution.fake_backends import fake_backend

    isa = generate_preset_pass_manager(
        optimization_level=1,
        backend=fake_backend(DEVICE),
        initial_layout=list(layout[: spec.num_qubits]),
        seed_transpiler=1,
    ).run(spec.build())
    run = SamplerRun(api, DEVICE, shots=4000)
    note(f"{run} initial_layout={layout[: spec.num_qubits]}\n{spec.code()}")
    properties.check_sampler_against_aer_device(gen.SamplerCase(None, None, circuit=isa), run, seed, isa)


# -- jobs of several PUBs ------------------------------------------------------------------------

job_runs = st.sampled_from(
    [
        EstimatorRun("native", "aer", precision=0),
        EstimatorRun("dropin", "aer", precision=0),
        EstimatorRun("native", "aer", precision=0.04),
        EstimatorRun("dropin", "aer", shots=700),
    ]
)


@examples(4, 300)
@given(
    cases=st.lists(gen.estimator_cases(precision=True, max_qubits=3, max_ops=6), min_size=2, max_size=3),
    run=job_runs,
    seed=seeds,
)
def test_estimator_job_of_several_pubs(cases, run, seed):
    """Several PUBs in one job (different circuits, widths, shapes and precisions): one result per
    PUB, in order, each its own PUB's values."""
    if run.precision == 0:
        cases = [gen.EstimatorCase(c.spec, c.observables, c.values) for c in cases]  # no PUB precision
    note(f"{run}\n" + "\n---\n".join(case.code() for case in cases))
    properties.check_estimator_job(cases, run, seed)


@examples(3, 300)
@given(
    cases=st.lists(
        gen.sampler_cases(shots=True, max_qubits=3, max_ops=5, dynamic=st.booleans()), min_size=2, max_size=3
    ),
    api=apis,
    seed=seeds,
)
def test_sampler_job_of_several_pubs(cases, api, seed):
    """Several PUBs in one job, with their own shots or the job's: one result per PUB, in order."""
    run = SamplerRun(api, "aer", shots=700)
    note(f"{run}\n" + "\n---\n".join(case.code() for case in cases))
    properties.check_sampler_job(cases, run, seed)


# -- refusals ------------------------------------------------------------------------------------


@examples(10, 400)
@given(
    case=gen.sampler_cases(max_qubits=3, max_ops=4, final_measure="none", registers=False),
    defect=st.sampled_from(properties.INVALID),
    api=apis,
    seed=seeds,
)
def test_invalid_input_is_refused_as_qiskit_refuses_it(case, defect, api, seed):
    """What Qiskit's primitives refuse, qrt refuses (cleanly); what has no Qiskit counterpart but
    cannot be computed (0 shots, exact values on a noisy device), qrt refuses too."""
    note(f"{defect} {api}\n{case.code()}")
    properties.check_invalid(defect, case.build(), case.values, api, seed)
