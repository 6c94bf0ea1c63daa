"""Pauli-term statistics of twirled shots: the spread between randomisations beyond shot noise."""

from __future__ import annotations

import numpy as np

from qrt_runner.mitigation.pauli_terms import between_randomizations, design_effect, mean_and_covariance


def _rows(rng, means: np.ndarray, shots: int):
    """Per randomisation, its +-1 shot values of two Paulis as (distinct values, counts)."""
    values, weights, lengths = [], [], []
    for mean in means:
        ones = rng.binomial(shots, (1 + mean) / 2)  # each Pauli on its own shots is enough here
        outcomes = np.array([[1.0, 1.0], [-1.0, -1.0]])
        values.append(outcomes)
        weights.append(np.array([ones, shots - ones], dtype=float))
        lengths.append(2)
    return np.concatenate(values), np.concatenate(weights), lengths


def test_spread_between_randomisations_is_estimated_without_bias():
    rng = np.random.default_rng(11)
    for spread in (0.0, 0.05):
        excess, within = [], []
        for _ in range(400):
            means = np.clip(0.6 + spread * rng.standard_normal(8), -1, 1)  # 8 randomisations
            values, weights, lengths = _rows(rng, means, 512)
            e, w = between_randomizations(values, weights, lengths)
            excess.append(e[0])
            within.append(w[0])
        # the variance between randomisations, against its standard error over 400 draws
        assert abs(np.mean(excess) - spread**2) < 4 * np.std(excess) / np.sqrt(400)
        assert abs(np.mean(within) - (1 - 0.6**2)) < 0.02  # one shot's variance, 1 - <P>^2
    one = between_randomizations(*_rows(rng, np.array([0.5]), 64))
    assert not np.any(one[0]) and not np.any(one[1])  # one randomisation: nothing to compare


def test_pooled_covariance_misses_the_spread_that_the_design_effect_restores():
    rng = np.random.default_rng(5)
    shots, count, spread = 1024, 8, 0.04
    estimates, pooled, excess, within = [], [], [], []
    for _ in range(300):
        means = 0.3 + spread * rng.standard_normal(count)
        values, weights, lengths = _rows(rng, means, shots)
        mean, cov = mean_and_covariance(values, weights)
        estimates.append(mean[0])
        pooled.append(cov[0, 0])
        e, w = between_randomizations(values, weights, lengths)
        excess.append(e[0])
        within.append(w[0])
    actual = np.var(estimates)
    assert np.mean(pooled) < 0.6 * actual  # shot noise alone: (1 - 0.09) / 8192 against + 0.04^2 / 8
    inflation = design_effect(float(np.sum(excess)), float(np.sum(within)), shots)
    assert 0.85 < np.mean(pooled) * inflation / actual < 1.2
    assert design_effect(-1.0, 1.0, shots) == 1.0 and design_effect(0.0, 0.0, shots) == 1.0  # no spread measured
