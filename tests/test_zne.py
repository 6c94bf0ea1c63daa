"""ZNE: extrapolator choice that weighs uncertainty, extrapolation per Pauli term, and the
standard errors propagated through the fits."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp, Statevector

from conftest import spec_for
from qrt_runner.errors import ConfigError
from qrt_runner.execution.backend import LocalBackend
from qrt_runner.mitigation.extrapolation import (
    MAX_STD_RATIO,
    choose,
    decay_interval,
    decay_profile,
    extrapolate,
    fit,
    polynomial,
)
from qrt_runner.mitigation.options import finalize
from qrt_runner.mitigation.techniques.zne import STEEPEST_DECAY
from qrt_runner.mitigation.zne import TermData, extrapolate_pub
from qrt_runner.primitives.estimator import Estimator, EstimatorOptions

X = np.array([1.0, 3.0, 5.0])
# <ZZZ> of the default demo (GHZ(3), fake_manila, level 2) at noise factors 1, 3, 5; exact 0
DEMO = np.array([-0.0444, -0.0033, 0.0202])
DEMO_STD = np.full(3, 0.0209)
DEMO_DECAY = float(np.exp(-4 * 0.0174))  # the steepest decay its device's gate errors allow (STEEPEST_DECAY)
# a QAOA <ZZ> (exact -0.459) on fake_quito, whose folded gates' errors sum to 1.4: resolved at noise
# factor 1, gone by 3
GONE, GONE_STD = np.array([-0.087, 0.002, 0.006]), np.array([0.013, 0.017, 0.019])


def test_ill_conditioned_exponential_gives_way_to_the_next_extrapolator():
    ibm, fits = extrapolate(("exponential", "linear"), X, DEMO, DEMO_STD, bound=1.0, choice="order")
    assert ibm.name == "exponential" and ibm.values[0] == pytest.approx(-0.225, abs=0.001)
    assert ibm.stds[0] > MAX_STD_RATIO * DEMO_STD.max()  # within the bounds, but its error is 65x the data's
    assert abs(DEMO[0]) < 3 * DEMO_STD[0]  # ... and the data resolve no signal
    # the demo's device: its folded gates' errors sum to 0.017, so no expectation decays faster than
    # exp(-4 x 0.017) per unit of noise factor, and the line's error barely widens
    chosen, _ = extrapolate(
        ("exponential", "linear"), X, DEMO, DEMO_STD, 1.0, choice="uncertainty", min_decay=DEMO_DECAY
    )
    assert chosen.name == "linear" and chosen.values[0] == pytest.approx(fits[1].values[0])
    assert (
        fits[1].stds[0] <= chosen.stds[0] < 1.5 * fits[1].stds[0] and abs(chosen.values[0]) < 3 * chosen.stds[0] < 0.15
    )
    # knowing nothing of the device, a decay steep enough to hide any zero-noise value fits: the
    # error spans the whole range
    anything, _ = extrapolate(("exponential", "linear"), X, DEMO, DEMO_STD, 1.0, choice="uncertainty", min_decay=0.0)
    assert anything.values[0] == chosen.values[0] and anything.stds[0] > (1.0 - abs(DEMO[0])) / 1.96 - 0.01


def test_uncertainty_choice_keeps_a_well_conditioned_exponential():
    decaying = 0.9 * np.exp(-X / 4)
    chosen, _ = extrapolate(("exponential", "linear"), X, decaying, np.full(3, 0.01), bound=1.0, choice="uncertainty")
    assert chosen.name == "exponential" and chosen.values[0] == pytest.approx(0.9)


def test_when_no_fit_is_well_conditioned_the_most_certain_usable_one_is_taken():
    from qrt_runner.mitigation.extrapolation import Fit, choose

    def fake(name, value, std):
        return Fit(name, np.array([value]), np.array([std]), True, np.zeros((1, 3)))

    unresolved, stds = np.array([0.01, 0.005, 0.0]), np.full(3, 0.01)
    fits = [fake("exponential", 0.3, 0.5), fake("double_exponential", -0.2, 0.3), fake("linear", 2.0, 0.02)]
    assert choose(fits, X, unresolved, stds, bound=1.0).name == "double_exponential"  # linear is out of bounds
    assert choose(fits, X, unresolved, stds, bound=1.0, choice="order").name == "exponential"
    resolved = np.array([0.2, 0.05, 0.01])  # a signal 20 errors above zero, decaying steeply: its fit is kept
    assert choose(fits, X, resolved, stds, bound=1.0).name == "exponential"


def test_fit_gradients_match_finite_differences():
    data = 0.6 * np.exp(-0.3 * X) + np.array([0.004, -0.003, 0.002])
    sigma = np.array([0.01, 0.012, 0.015])
    for name in ("linear", "exponential", "polynomial_degree_2", "fallback"):
        base = fit(name, X, data, sigma, [0.0])
        numeric = [
            (
                fit(name, X, data + 1e-7 * e, sigma, [0.0]).values[0]
                - fit(name, X, data - 1e-7 * e, sigma, [0.0]).values[0]
            )
            / 2e-7
            for e in np.eye(3)
        ]
        np.testing.assert_allclose(base.gradient[0], numeric, rtol=0.05, atol=1e-6, err_msg=name)


def _two_terms(rates=(0.1, 0.5), amplitudes=(1.0, 0.8)):
    """Two Pauli terms decaying exponentially at different rates, one observable (their mean)."""
    means = np.stack([a * np.exp(-r * X) for a, r in zip(amplitudes, rates)], axis=1)[
        :, None, :
    ]  # (factors, 1 set, 2 terms)
    cov = np.zeros((3, 1, 2, 2))
    cov[:, 0] = np.diag([1e-4, 1e-4])
    return TermData(means, cov), np.array([[0.5, 0.5]])


def test_per_term_extrapolation_recovers_terms_that_decay_at_different_rates():
    data, coeffs = _two_terms()
    args = (X, data, coeffs, np.zeros(1), np.ones(1), ("exponential", "linear"), (0.0,), "uncertainty")
    per_term, _, diagnostics = extrapolate_pub(*args, per_term=True, labels=["ZI", "IZ"])
    per_observable, _, _ = extrapolate_pub(*args, per_term=False)
    assert per_term[0, 0] == pytest.approx(0.9, abs=1e-9)  # (1.0 + 0.8) / 2 exactly
    assert abs(per_observable[0, 0] - 0.9) > 0.01  # a sum of two exponentials is not one
    assert diagnostics["term_extrapolators"] == [{"ZI": "exponential", "IZ": "exponential"}]
    assert diagnostics["term_error_scales"] == [{}]  # exact decays: no error scaled


def test_each_noise_factors_reported_error_includes_the_readout_calibrations():
    data, coeffs = _two_terms()
    args = (X, data, coeffs, np.zeros(1), np.ones(1), ("exponential", "linear"), (0.0,), "uncertainty", True)
    evs, _, plain = extrapolate_pub(*args)
    data.scale_cov = np.diag([4e-4, 9e-4])  # the scales' relative variances (TREX's calibration)
    calibrated_evs, _, calibrated = extrapolate_pub(*args)
    shots = (0.25 * 1e-4) * 2  # (1/2)^2 x 1e-4 per term, two independent terms
    calibration = (0.5 * data.means[:, 0, 0]) ** 2 * 4e-4 + (0.5 * data.means[:, 0, 1]) ** 2 * 9e-4
    assert np.asarray(plain["stds_noise_factors"])[0, 0] == pytest.approx(np.full(3, np.sqrt(shots)))
    assert np.asarray(calibrated["stds_noise_factors"])[0, 0] == pytest.approx(np.sqrt(shots + calibration))
    assert calibrated_evs[0, 0] == evs[0, 0]  # the fits weigh the shots' errors only


def test_per_term_standard_error_includes_the_covariance_of_terms_sharing_shots():
    data, coeffs = _two_terms(rates=(0.0, 0.0))  # lines fit them exactly: no scale for scatter
    independent = extrapolate_pub(X, data, coeffs, np.zeros(1), np.ones(1), ("linear",), (0.0,), "order", True)[1][0, 0]
    data.cov[:, 0, 0, 1] = data.cov[:, 0, 1, 0] = 1e-4  # fully correlated terms: the errors add, not in quadrature
    correlated = extrapolate_pub(X, data, coeffs, np.zeros(1), np.ones(1), ("linear",), (0.0,), "order", True)[1][0, 0]
    assert correlated == pytest.approx(np.sqrt(2) * independent, rel=1e-9)
    line = fit("linear", X, data.means[:, 0, 0], np.full(3, 1e-2), [0.0])
    assert independent == pytest.approx(line.stds[0] * np.sqrt(0.5), rel=1e-9)  # 0.5^2 + 0.5^2 of one line's variance


def test_per_term_zne_on_a_noisy_mean_correlation_beats_raw():
    from qiskit import QuantumCircuit

    n = 4
    circuit = QuantumCircuit(n)
    for _ in range(5):  # Trotterised transverse-field Ising chain: 30 CX on the device
        for first in (0, 1):
            for i in range(first, n - 1, 2):
                circuit.rzz(0.4, i, i + 1)
        circuit.rx(0.4, range(n))
    correlation = SparsePauliOp.from_sparse_list([("ZZ", [i, i + 1], 1 / (n - 1)) for i in range(n - 1)], n)
    exact = Statevector(circuit).expectation_value(correlation).real

    def run(overrides):
        backend = LocalBackend.create("fake_manila", threads=1, seed_simulator=5, seed_transpiler=5)
        options = EstimatorOptions(default_precision=1 / 64, mitigation=finalize(spec_for(overrides).mitigation))
        return Estimator(backend, options=options).run([(circuit, [correlation])]).result()[0]

    raw = run(["mitigation=none"])
    level2 = run(["mitigation=level2"])
    assert level2.metadata["mitigation"]["per_term"] is True
    assert len(level2.metadata["mitigation"]["term_extrapolators"][0]) == n - 1
    raw_error, error = abs(raw.data.evs[0] - exact), abs(level2.data.evs[0] - exact)
    assert error < raw_error - 2 * np.hypot(raw.data.stds[0], level2.data.stds[0])


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["mitigation.resilience.zne.extrapolator_choice=best"],
            "mitigation.resilience.zne.extrapolator_choice='best': unknown choice; choose uncertainty",
        ),
        (
            ["backend=ibm", "mitigation=level2", "mitigation.resilience.zne.extrapolator_choice=uncertainty"],
            "extrapolator_choice='uncertainty': the hardware service takes the first successful extrapolator; set it to order or null",
        ),
        (
            ["backend=ibm", "mitigation=level2", "mitigation.resilience.zne.extrapolate_per_term=false"],
            "extrapolate_per_term=False: the hardware service extrapolates every Pauli term on its own",
        ),
    ],
)
def test_zne_choice_options_are_checked_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        spec = spec_for(overrides)
        finalize(spec.mitigation)
    assert "\n" not in str(info.value)


def test_ibm_receives_its_own_zne_options_only():
    from qiskit_ibm_runtime.options import EstimatorOptions as IbmEstimatorOptions

    from qrt_runner.execution import ibm

    spec = spec_for(
        [
            "backend=ibm",
            "mitigation=level2",
            "mitigation.resilience.zne.extrapolator_choice=order",
            "mitigation.resilience.zne.extrapolate_per_term=true",
            "mitigation.resilience.zne.noise_factors=[1,2,3]",
        ]
    )
    options = ibm.runtime_options(spec)
    assert options["resilience"] == {"zne": {"noise_factors": [1.0, 2.0, 3.0]}}
    IbmEstimatorOptions(**options)


def test_a_value_just_beyond_the_bound_is_clipped_to_it_and_a_far_one_gives_way():
    near = 1.004 * np.exp(-0.05 * X)  # exponential intercept 1.004: beyond 1 by less than 2 standard errors
    chosen, fits = extrapolate(("exponential", "linear"), X, near, np.full(3, 0.01), bound=1.0, choice="uncertainty")
    assert fits[0].values[0] == pytest.approx(1.004) and chosen.name == "exponential"
    assert chosen.values[0] == 1.0 and chosen.stds[0] == pytest.approx(fits[0].stds[0])
    ibm, _ = extrapolate(("exponential", "linear"), X, near, np.full(3, 0.01), bound=1.0, choice="order")
    assert ibm.name == "linear"  # strictly out of bounds
    # a steep, resolved decay (a deep mirror or Clifford circuit): exponential 1.05 +- 0.12 is
    # within 2 standard errors of the bound and is clipped to it, not handed to a linear 0.55
    steep = np.array([0.4735, 0.1012, 0.0081])
    chosen, fits = extrapolate(("exponential", "linear"), X, steep, np.full(3, 0.02), bound=1.0, choice="uncertainty")
    assert 1.0 < fits[0].values[0] < 1.0 + 2 * fits[0].stds[0] and fits[0].stds[0] < 0.3
    assert chosen.name == "exponential" and chosen.values[0] == 1.0 and fits[1].values[0] < 0.6
    far = 1.2 * np.exp(-0.05 * X)
    chosen, _ = extrapolate(("exponential", "fallback"), X, far, np.full(3, 0.01), bound=1.0, choice="uncertainty")
    assert chosen.name == "fallback"


def test_a_fit_its_data_contradict_has_its_error_scaled_and_gives_way():
    steep = np.array([0.3121, 0.0222, -0.005])  # a mirror circuit's <Z...Z> (exact 1): resolved at factor 1 only
    sigma = np.full(3, 0.014)
    chosen, (exponential, linear) = extrapolate(("exponential", "linear"), X, steep, sigma, 1.0, choice="uncertainty")
    assert not linear.consistent and linear.scale > 3  # a line through a steep decay: chi2 ~ 60 on 1 dof
    unscaled = polynomial(X, steep, sigma, 1, np.array([0.0])).stds[0]
    assert linear.stds[0] == pytest.approx(linear.scale * unscaled) and linear.scale == pytest.approx(
        np.sqrt(linear.chi2)
    )
    assert exponential.consistent and exponential.stds[0] > 0.3  # 1.2 +- 0.4: the data say little more
    assert chosen.name == "exponential" and chosen.values[0] == 1.0  # clipped to the bound, its error kept
    assert abs(chosen.values[0] - 1.0) <= chosen.stds[0]
    exact = fit("linear", X, 0.5 - 0.05 * X, np.full(3, 0.01), [0.0])
    assert exact.consistent and exact.scale == 1.0 and exact.chi2 == pytest.approx(0.0, abs=1e-12)


def test_uncertainty_choice_reports_no_value_many_errors_from_the_truth():
    # Exponential decays (the model of twirled, folded Pauli noise) from shallow to steep, with shot
    # noise: a value more than 5 of its reported errors from the truth is a wrong number with an
    # error bar that hides it (a line through a steep decay gave 0.35 +- 0.015 for 1).
    rng = np.random.default_rng(11)
    misses = 0
    for _ in range(400):
        amplitude, rate, noise = rng.uniform(0.3, 1.0), rng.uniform(0.02, 1.5), rng.uniform(0.005, 0.02)
        data = amplitude * np.exp(-rate * X) + rng.normal(0, noise, 3)
        chosen, _ = extrapolate(("exponential", "linear"), X, data, np.full(3, noise), 1.0, choice="uncertainty")
        misses += abs(chosen.values[0] - amplitude) > 5 * chosen.stds[0]
    assert misses <= 4  # 1%


def test_a_contradicted_fit_that_alone_is_usable_has_its_error_widened_to_the_standing_fits_value():
    vanished = np.array([0.1722, 0.0019, 0.0127])  # exact 0.647 at zero noise: gone by factor 3
    sigma = np.full(3, 0.007)
    chosen, (exponential, linear) = extrapolate(
        ("exponential", "linear"), X, vanished, sigma, 1.0, choice="uncertainty"
    )
    assert exponential.consistent and exponential.stds[0] > 1.0  # stands, but says nothing: not usable
    assert not linear.consistent and linear.stds[0] < 0.1
    assert chosen.name == "linear" and chosen.stds[0] == pytest.approx(1.0 - linear.values[0])  # reaches 1 (clipped)
    assert abs(chosen.values[0] - 0.647) < chosen.stds[0]
    # the per-term path propagates the same widened error through the fit's gradient
    means = vanished[:, None, None]
    cov = (sigma**2)[:, None, None, None] * np.ones((3, 1, 1, 1))
    args = (X, TermData(means, cov), np.ones((1, 1)), np.zeros(1), np.ones(1), ("exponential", "linear"), (0.0,))
    per_term = extrapolate_pub(*args, "uncertainty", True, labels=["Z"])
    per_observable = extrapolate_pub(*args, "uncertainty", False)
    assert per_term[1][0, 0] == pytest.approx(chosen.stds[0]) == pytest.approx(per_observable[1][0, 0])


def test_a_decay_the_data_cannot_pin_down_gets_an_error_bar_over_every_value_it_leaves_standing():
    # the QAOA <ZZ> gone by factor 3: a line through it said -0.10 +- 0.02 (21 errors from the truth)
    gone, sigma = GONE, GONE_STD
    steepest = float(np.exp(-4 * 1.4))
    chosen, (exponential, linear) = extrapolate(
        ("exponential", "linear"), X, gone, sigma, 1.0, choice="uncertainty", min_decay=steepest
    )
    assert linear.consistent and abs(linear.values[0] + 0.459) > 15 * linear.stds[0]
    low, high = decay_interval(X, gone, sigma, 1.0, steepest)
    assert low == -1.0 and -0.2 < high < -0.05  # every steep enough decay, up to the bound
    assert chosen.values[0] == linear.values[0]  # the value stays; its error bar spans the interval
    assert (
        chosen.stds[0] == pytest.approx((linear.values[0] - low) / 1.96)
        and abs(chosen.values[0] + 0.459) < chosen.stds[0]
    )
    # on a quiet device (folded error 0.1) no decay is that steep: the values it leaves are few
    low, high = decay_interval(X, gone, sigma, 1.0, float(np.exp(-4 * 0.1)))
    assert -0.2 < low < high < -0.05
    # data that no decay the device allows fits (the demo's <ZZZ> = 0 drifting across zero, on a
    # device whose folded error is 0.017) contradict every extrapolation's premise: the line's
    # error (0.079 +- 0.024, 3.3 errors from 0) is scaled by their Birge ratio against the best decay
    drifting, spread = np.array([0.052, 0.0086, -0.051]), np.array([0.019, 0.024, 0.027])
    assert decay_interval(X, drifting, spread, 1.0, DEMO_DECAY) is None
    low, high, chi2, dof = decay_profile(X, drifting, spread, 1.0, DEMO_DECAY)
    kept, (_, line) = extrapolate(
        ("exponential", "linear"), X, drifting, spread, 1.0, choice="uncertainty", min_decay=DEMO_DECAY
    )
    assert abs(line.values[0]) > 3 * line.stds[0] and chi2 > 8 and dof == 1
    assert kept.values[0] == line.values[0] and kept.stds[0] == pytest.approx(line.stds[0] * np.sqrt(chi2))
    assert abs(kept.values[0]) < 1.96 * kept.stds[0]
    # a <ZZ> that noise drives the other way as it grows (exact -0.126; QAOA on fake_manila)
    growing, spread = np.array([-0.016, 0.051, 0.085]), np.array([0.010, 0.013, 0.014])
    kept, (_, line) = extrapolate(
        ("exponential", "linear"), X, growing, spread, 1.0, choice="uncertainty", min_decay=float(np.exp(-4 * 0.35))
    )
    assert abs(line.values[0] + 0.126) > 5 * line.stds[0] and abs(kept.values[0] + 0.126) < 1.96 * kept.stds[0]
    # and the per-term path reports the same widened error
    means, cov = gone[:, None, None], (sigma**2)[:, None, None, None] * np.ones((3, 1, 1, 1))
    args = (X, TermData(means, cov), np.ones((1, 1)), np.zeros(1), np.ones(1), ("exponential", "linear"), (0.0,))
    per_term = extrapolate_pub(*args, "uncertainty", True, labels=["Z"], min_decay=steepest)
    assert per_term[1][0, 0] == pytest.approx(chosen.stds[0])
    widened = chosen.stds[0] / linear.stds[0]  # and records by how much
    assert widened > 2 and per_term[2]["term_error_scales"] == [{"Z": pytest.approx(widened, abs=1e-3)}]
    per_observable = extrapolate_pub(*args, "uncertainty", False, min_decay=steepest)
    assert per_observable[2]["error_scales"] == [[pytest.approx(widened, abs=1e-3)]]


def test_steep_decays_are_covered_by_their_error_bars():
    # Signals that noise has mostly erased by factor 1 (5-60% left) and that are gone by factor 3:
    # the fits' own errors covered the truth within 2 of them for 59% of 400 draws, and missed by
    # more than 5 for 122; the device's bound is as Zne sets it, from a folded error that the true
    # rate is 0.8 of (the families' median observable).
    rng = np.random.default_rng(5)
    within, misses = 0, 0
    for _ in range(400):
        amplitude = rng.uniform(0.2, 1.0) * rng.choice([-1, 1])
        rate, noise = rng.uniform(0.5, 3.0), rng.uniform(0.005, 0.02)
        data = amplitude * np.exp(-rate * X) + rng.normal(0, noise, 3)
        steepest = float(np.exp(-STEEPEST_DECAY * rate / 0.8))  # folded error: the median decay is 0.8 of it
        chosen, _ = extrapolate(
            ("exponential", "linear"), X, data, np.full(3, noise), 1.0, choice="uncertainty", min_decay=steepest
        )
        z = abs(chosen.values[0] - amplitude) / chosen.stds[0]
        within += z <= 2
        misses += z > 5
    assert within >= 0.93 * 400 and misses <= 12


def test_error_bars_are_widened_only_where_the_device_is_known_and_around_what_decays():
    gone, sigma = GONE, GONE_STD
    names = ("exponential", "linear")
    unknown, (_, line) = extrapolate(names, X, gone, sigma, 1.0, choice="uncertainty")  # the ideal simulator
    assert unknown.stds[0] == line.stds[0]
    assert extrapolate(("linear",), X, gone, sigma, 1.0, choice="uncertainty", min_decay=0.0)[0].stds[0] == line.stds[0]
    # an observable 0.5 I + Z whose <Z> (exact 0.9) decays steeply: its identity part never decays,
    # so the interval is that of <Z> shifted by 0.5 (the raw values, 0.5 + a decay, would miss 1.4)
    data = 0.5 + 0.9 * np.exp(-1.2 * X) + np.array([0.004, -0.006, 0.003])
    spread = np.full(3, 0.01)
    fits = [fit(name, X, data, spread, [0.0]) for name in names]
    chosen = choose(fits, X, data, spread, 1.5, "uncertainty", min_decay=float(np.exp(-4 * 1.2)), offset=0.5)
    assert abs(chosen.values[0] - 1.4) < 1.96 * chosen.stds[0]
    # two noise factors that grow with the factor: no decay fits, nothing is widened
    assert decay_interval(np.array([1.0, 3.0]), np.array([0.1, 0.3]), np.full(2, 0.01), 1.0) is None
